using System.Text;
using System.Text.RegularExpressions;
using CrossEncoder.Native.Tokenization;
using Microsoft.ML.Tokenizers;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// The WordPiece step (Microsoft.ML.Tokenizers' WordPieceTokenizer behind <see cref="WordPiece"/>): the evidence for using
/// it, and its equality with the mod.rs twin <see cref="WordPieceReference"/> on real and awkward inputs.
/// </summary>
public partial class WordPieceTests
{
    [GeneratedRegex(@"\[(?:PAD|UNK|CLS|SEP|MASK)\]")]
    private static partial Regex AddedTokenLiteral();

    /// <summary>Words of a text as the tokenizer hands them to WordPiece: normalized, pre-tokenized, added tokens kept apart.</summary>
    private static IEnumerable<(string? Word, string? AddedToken)> Words(string text)
    {
        var normalizer = new BertNormalizer(cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true);
        int position = 0;
        foreach (Match literal in AddedTokenLiteral().Matches(text).Append(Match.Empty))
        {
            int end = literal.Success ? literal.Index : text.Length;
            var buffer = new PooledBuffer<char>(16);
            normalizer.Normalize(text.AsSpan(position, end - position), ref buffer);
            string normalized = buffer.Span.ToString();
            buffer.Dispose();
            int at = 0;
            while (BertPreTokenizer.NextWord(normalized, ref at, out int start, out int length))
                yield return (normalized.Substring(start, length), null);
            if (!literal.Success) yield break;
            yield return (null, literal.Value);
            position = literal.Index + literal.Length;
        }
    }

    [Fact]
    public void Ml_tokenizers_wordpiece_alone_gives_the_hugging_face_ids_of_every_reference_case()
    {
        // The decision record: WordPieceTokenizer created straight from vocab.txt, none of our adjustments, fed the words of
        // our Hugging Face-exact normalizer and pre-tokenizer, reproduces every reference text and both sides of every pair.
        WordPieceTokenizer ml = WordPieceTokenizer.Create(TokenizationFixture.VocabPath, new WordPieceOptions { MaxInputCharsPerWord = 100 });
        (Dictionary<string, int> vocabularyIds, _) = MiniLm();
        var texts = TokenizationFixture.Singles.Select(s => (s.Name, s.Text, s.Ids))
            .Concat(TokenizationFixture.Pairs.SelectMany(p => new[] { (p.Name + "/query", p.Query, p.QueryIds), (p.Name + "/document", p.Document, p.DocumentIds) }))
            .ToArray();
        int words = 0;
        foreach ((string name, string text, int[] expected) in texts)
        {
            var ids = new List<int>();
            foreach ((string? word, string? added) in Words(text))
            {
                if (added is not null) ids.Add(vocabularyIds[added]); // added tokens are matched before WordPiece
                else { ids.AddRange(ml.EncodeToIds(word!, considerPreTokenization: false, considerNormalization: false)); words++; }
            }
            Assert.True(expected.SequenceEqual(ids), $"{name}: expected [{string.Join(' ', expected)}], ML.Tokenizers gave [{string.Join(' ', ids)}]");
        }
        Assert.True(texts.Length >= 160 && words > 5000, $"{texts.Length} texts, {words} words");
    }

    [Fact]
    public void Every_word_of_the_reference_texts_matches_the_mod_rs_twin()
    {
        (Dictionary<string, int> vocabulary, WordPiece wordPiece) = MiniLm();
        var twin = new WordPieceReference(vocabulary, unkId: 100, "##", maxInputCharsPerWord: 100);
        var words = TokenizationFixture.Singles.Select(s => s.Text).Concat(TokenizationFixture.Pairs.SelectMany(p => new[] { p.Query, p.Document }))
            .SelectMany(Words).Where(w => w.Word is not null).Select(w => w.Word!).Distinct().ToArray();
        Assert.True(words.Length > 1000, $"{words.Length} distinct words");
        foreach (string word in words) Assert.Equal(twin.Tokenize(word), Encode(wordPiece, word));
    }

    [Fact]
    public void Awkward_vocabularies_and_words_match_the_twin()
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["[UNK]"] = 0, ["hello"] = 5, ["##s"] = 6,           // ids 1-4 are a gap, as tokenizer.json allows
            ["x"] = 7, ["y"] = 7,                                 // two tokens sharing an id
            ["a b"] = 8, ["line\nbreak"] = 9, ["cr\rlf"] = 10,   // whitespace inside: never a word
            ["\uFEFFbom"] = 11,                                   // a leading U+FEFF that is part of the token
            ["𝑥"] = 12, ["##𝑥"] = 13,                           // astral: 2 UTF-16 units per piece
            [""] = 14, ["##"] = 15,
            ["un"] = 16, ["##aff"] = 17, ["##able"] = 18, ["##y"] = 19,
        };
        string[] words =
        [
            "hello", "hellos", "x", "y", "xy", "yy", "\uFEFFbom", "bom", "unaffable", "unaffables", "zzz", "hellox", "a", "b",
            string.Concat(Enumerable.Repeat("𝑥", 60)),   // 60 code points, 120 UTF-16 units: split, not [UNK]
            string.Concat(Enumerable.Repeat("𝑥", 100)),
            string.Concat(Enumerable.Repeat("𝑥", 101)),  // over the limit in code points: [UNK]
            "𝑥s", "s𝑥",
        ];
        var twin = new WordPieceReference(vocabulary, 0, "##", 100);
        var wordPiece = new WordPiece(vocabulary, 0, "##", 100);
        foreach (string word in words) Assert.Equal(twin.Tokenize(word), Encode(wordPiece, word));
        Assert.Equal([7], Encode(wordPiece, "y"));
        Assert.Equal([7, 19], Encode(wordPiece, "yy"));
        Assert.Equal([12, .. Enumerable.Repeat(13, 59)], Encode(wordPiece, string.Concat(Enumerable.Repeat("𝑥", 60))));

        // The unknown token sharing its id with another token, or holding a line break.
        foreach (var unknown in new[] { new Dictionary<string, int> { ["<unk>"] = 0, ["[UNK]"] = 0, ["a"] = 1 }, new Dictionary<string, int> { ["[U\nNK]"] = 0, ["a"] = 1 } })
        {
            var small = new WordPiece(unknown, 0, "##", 100);
            Assert.Equal([1], Encode(small, "a"));
            Assert.Equal([0], Encode(small, "ab"));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new WordPiece(vocabulary, 0, "##", WordPiece.MaxInputCharsPerWordLimit + 1));
    }

    private static (Dictionary<string, int>, WordPiece) MiniLm()
    {
        string[] lines = File.ReadAllLines(TokenizationFixture.VocabPath); // CRLF
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < lines.Length; id++) if (lines[id].Length > 0) vocabulary[lines[id]] = id;
        return (vocabulary, new WordPiece(vocabulary, 100, "##", 100));
    }

    private static int[] Encode(WordPiece wordPiece, string word)
    {
        var ids = new PooledBuffer<int>(8);
        try
        {
            wordPiece.Encode(word, ref ids);
            return ids.Span.ToArray();
        }
        finally { ids.Dispose(); }
    }
}
