namespace CrossEncoder.Native.Tokenization;

/// <summary>How a pair that does not fit in <c>max_length</c> is shortened, as in Hugging Face tokenizers.</summary>
public enum TruncationStrategy
{
    /// <summary>
    /// Hugging Face's default for pairs (Rust tokenizers, truncation.rs): cut the longer sequence first; if the shorter one does
    /// not fit in half the budget, both get half and an odd budget gives its extra token to the longer one (the document on a
    /// tie). Not quite the slow Python tokenizer's one-at-a-time loop, which gives the tie's extra token to the query.
    /// </summary>
    LongestFirst,
    /// <summary>Remove tokens only from the second sequence (the document); fails if that is not enough.</summary>
    OnlySecond,
}
