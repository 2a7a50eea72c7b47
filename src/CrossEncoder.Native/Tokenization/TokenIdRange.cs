namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// The id -> token table is sized by the largest id a tokenizer file names, so one absurd id (1e9) would allocate
/// gigabytes before anything else fails. Ids may leave gaps (Hugging Face allows them), but not gaps out of all
/// proportion to the file: the largest id must stay below four times the number of entries, or 2^20 for small files.
/// </summary>
internal static class TokenIdRange
{
    public static void Check(string path, IEnumerable<KeyValuePair<string, int>> vocabulary, IEnumerable<AddedToken> added)
    {
        long entries = 0;
        (string Token, int Id) largest = ("", -1);
        foreach ((string token, int id) in vocabulary) { entries++; if (id > largest.Id) largest = (token, id); }
        foreach (AddedToken token in added) { entries++; if (token.Id > largest.Id) largest = (token.Content, token.Id); }
        long limit = Math.Max(1L << 20, 4 * entries);
        if (largest.Id >= limit)
            throw new TokenizerFormatException(path, $"token '{TextForMessage(largest.Token)}' has id {largest.Id}, far beyond the file's {entries} entries (ids up to {limit - 1} are accepted).");
    }

    /// <summary>A token as it may appear in an error message: at most 40 characters, control characters escaped.</summary>
    internal static string TextForMessage(string token)
    {
        var text = new System.Text.StringBuilder();
        foreach (char c in token.Length > 40 ? token[..40] : token)
            text.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return token.Length > 40 ? text.Append("...").ToString() : text.ToString();
    }
}
