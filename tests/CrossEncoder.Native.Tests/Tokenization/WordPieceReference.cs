using System.Text;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// The readable twin of the production WordPiece step: Hugging Face tokenizers/src/models/wordpiece/mod.rs,
/// <c>WordPiece::tokenize</c>, restated line by line over code points (Rust slices <c>&amp;str</c> only at char boundaries).
/// </summary>
internal sealed class WordPieceReference(IReadOnlyDictionary<string, int> vocabulary, int unkId, string continuingSubwordPrefix, int maxInputCharsPerWord)
{
    public int[] Tokenize(string word)
    {
        // "if char_len > self.max_input_chars_per_word { return unk }": chars().count(), i.e. code points.
        string[] chars = word.EnumerateRunes().Select(r => r.ToString()).ToArray();
        if (chars.Length > maxInputCharsPerWord) return [unkId];
        var pieces = new List<int>();
        int start = 0;
        while (start < chars.Length)
        {
            int end = chars.Length;
            int? current = null;
            while (start < end)
            {
                string substr = string.Concat(chars[start..end]);
                if (start > 0) substr = continuingSubwordPrefix + substr;
                if (vocabulary.TryGetValue(substr, out int id))
                {
                    current = id;
                    break;
                }
                end--;
            }
            if (current is null) return [unkId]; // "is_bad": the whole word is unknown
            pieces.Add(current.Value);
            start = end;
        }
        return [.. pieces];
    }
}
