namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// How many word-piece tokens of each sequence survive truncation: a port of <c>truncate_encodings</c> in Hugging Face
/// tokenizers (tokenizers/src/utils/truncation.rs), which the fast tokenizers behind transformers and sentence-transformers use.
/// </summary>
internal static class PairTruncation
{
    /// <summary>
    /// Lengths to keep for a pair of <paramref name="firstLength"/> and <paramref name="secondLength"/> tokens when at most
    /// <paramref name="maxLength"/> may remain (the caller has already subtracted the special tokens, as tokenizers does).
    /// </summary>
    public static (int First, int Second) Keep(int firstLength, int secondLength, int maxLength, TruncationStrategy strategy)
    {
        // max_length 0: both sequences are emptied, whatever the strategy.
        if (maxLength == 0) return (0, 0);
        int toRemove = firstLength + secondLength - maxLength;
        if (toRemove <= 0) return (firstLength, secondLength);

        switch (strategy)
        {
            case TruncationStrategy.LongestFirst:
            {
                // n1 is the shorter sequence. If it fits in half the budget it is kept whole and the longer one gets the rest;
                // otherwise both get half, and the odd token goes to n2: the longer sequence, or the second one on a tie.
                int n1 = firstLength, n2 = secondLength;
                bool swap = n1 > n2;
                if (swap) (n1, n2) = (n2, n1);
                n2 = n1 > maxLength ? n1 : Math.Max(n1, maxLength - n1);
                if (n1 + n2 > maxLength)
                {
                    n1 = maxLength / 2;
                    n2 = n1 + maxLength % 2;
                }
                if (swap) (n1, n2) = (n2, n1);
                // Encoding::truncate never lengthens.
                return (Math.Min(n1, firstLength), Math.Min(n2, secondLength));
            }
            case TruncationStrategy.OnlySecond:
                // tokenizers requires the target to keep at least one token ("target_len > to_remove").
                if (secondLength > toRemove) return (firstLength, secondLength - toRemove);
                throw new ArgumentException(
                    $"Truncation error: the document is too short to respect max_length with OnlySecond: the query has {firstLength} tokens, " +
                    $"the document {secondLength}, and only {maxLength} fit besides the special tokens. Use LongestFirst or a larger maxLength.",
                    "strategy");
            default:
                throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "Unknown truncation strategy.");
        }
    }
}
