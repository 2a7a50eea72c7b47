namespace CrossEncoder.Native.Tokenization;

/// <summary>How much of an input was cut to fit the model's maximum length.</summary>
/// <param name="QueryTokensRemoved">Word-piece tokens removed from the end of the query (first sequence).</param>
/// <param name="DocumentTokensRemoved">Word-piece tokens removed from the end of the document (second sequence).</param>
public readonly record struct TruncationInfo(int QueryTokensRemoved, int DocumentTokensRemoved)
{
    /// <summary>True when any token was removed.</summary>
    public bool Truncated => QueryTokensRemoved > 0 || DocumentTokensRemoved > 0;
}

/// <summary>A model input: <c>[CLS] query [SEP] document [SEP]</c> (or <c>[CLS] text [SEP]</c>) with segment ids.</summary>
/// <param name="InputIds">Token ids, specials included.</param>
/// <param name="TokenTypeIds">0 for [CLS], the query and the first [SEP]; 1 for the document and the last [SEP].</param>
/// <param name="Tokens">The token strings, same length as <paramref name="InputIds"/>.</param>
/// <param name="Truncation">What was cut.</param>
public sealed record EncodedPair(int[] InputIds, int[] TokenTypeIds, string[] Tokens, TruncationInfo Truncation)
{
    /// <summary>Number of tokens, specials included.</summary>
    public int Length => InputIds.Length;
}

/// <summary>A token's place in the original text: the UTF-16 units [<paramref name="Start"/>, <paramref name="End"/>).</summary>
/// <param name="Start">First unit.</param>
/// <param name="End">One past the last unit.</param>
public readonly record struct TokenOffsets(int Start, int End)
{
    /// <summary>Number of units covered.</summary>
    public int Length => End - Start;
}
