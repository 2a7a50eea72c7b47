namespace CrossEncoder.Native.Tokenization;

/// <summary>How a pair that does not fit in <c>max_length</c> is shortened, as in Hugging Face tokenizers.</summary>
public enum TruncationStrategy
{
    /// <summary>Remove tokens one at a time from whichever sequence is currently longer (ties: the second). Hugging Face's default for pairs.</summary>
    LongestFirst,
    /// <summary>Remove tokens only from the second sequence (the document); fails if that is not enough.</summary>
    OnlySecond,
}
