using System.Text.Json.Nodes;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Every supported pipeline piece against Hugging Face's tokenizers (Tokenizers.DotNet), each in a tokenizer.json written by
/// the test: the real all-MiniLM WordPiece vocabulary under several normalizer / pre-tokenizer / post-processor
/// combinations, and a "character" Unigram vocabulary (one piece per code point of the scripts in the texts) whose ids spell
/// out exactly the text the normalizer produced, so NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, Replace, Strip and the
/// pre-tokenizers are compared character by character.
/// </summary>
public class PipelineVariantTests
{
    /// <summary>Texts that exercise normalization: compatibility characters, canonical reordering, Hangul, composed and
    /// decomposed accents, whitespace of every kind, punctuation.</summary>
    private static readonly string[] NormalizationTexts =
    [
        "\ufb01 \ufb02 \u2460\u2461 \u00bd \u2122 \u3392 \u33a1 x\u00b2 H\u2082O \u2126 \u212b \u212a",
        "e\u0301\u0323 e\u0323\u0301 \u1e0b\u0323 q\u0307\u0323 \u00e9\u0323",
        "\ud55c\uad6d\uc5b4 \u1100\u1161\u11a8 \u1100\u1161 \uac00\u11a8",
        "CAF\u00c9 cafe\u0301 \u00c5ngstr\u00f6m \u0130stanbul \u1e9e \u00df \u03a3\u0391\u03a3",
        "\uff26\uff55\uff4c\uff4c \uff57\uff49\uff44\uff54\uff48\uff01 \uff11\uff12\uff13 \uff76\uff9e",
        "  tabs\tnew\nlines\r\n and\u3000ideographic\u00a0nbsp  ",
        "punctuation: (a), [b]; {c}! \u00bfd? \u201ce\u201d \u2014 f\u2026 g_h i-j",
        "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \ufdfa \u0915\u094d\u0937 \u0e20\u0e32\u0e29\u0e32",
    ];

    private static IReadOnlyList<string> CharacterTexts => [.. NormalizationTexts, .. PipelineFixtures.Texts.Take(40)];

    /// <summary>One single-character piece for every code point in the ranges the texts use (plus ▁ and an unknown piece).</summary>
    private static JsonObject CharacterUnigram()
    {
        var vocab = new JsonArray { new JsonArray("<unk>", 0.0) };
        var ranges = new (int, int)[] { (0x20, 0x24FF), (0x2C00, 0x33FF), (0x4E00, 0x4E10), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFB00, 0xFFEF) };
        foreach (var (start, end) in ranges)
            for (int cp = start; cp <= end; cp++)
                if (cp is < 0xD800 or > 0xDFFF) vocab.Add(new JsonArray(char.ConvertFromUtf32(cp), -1.0 - (cp % 7) * 0.125));
        return new JsonObject { ["type"] = "Unigram", ["unk_id"] = 0, ["vocab"] = vocab, ["byte_fallback"] = false };
    }

    private static string Write(JsonObject model, JsonNode? normalizer, JsonNode? preTokenizer, JsonNode? postProcessor, JsonArray? added = null)
    {
        var root = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added ?? new JsonArray(),
            ["normalizer"] = normalizer, ["pre_tokenizer"] = preTokenizer, ["post_processor"] = postProcessor, ["decoder"] = null, ["model"] = model,
        };
        string path = Path.Combine(Path.GetTempPath(), $"variant-{Guid.NewGuid():N}.tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    private static JsonObject T(string type, params (string Key, JsonNode? Value)[] fields)
    {
        var o = new JsonObject { ["type"] = type };
        foreach (var (k, v) in fields) o[k] = v;
        return o;
    }

    private static JsonObject Seq(string key, params JsonNode[] items) => T("Sequence", (key, new JsonArray(items)));

    private static void AssertSameAsOracle(string path, IReadOnlyList<string> texts, string what)
    {
        try
        {
            var ours = PipelineTokenizer.FromTokenizerJson(path);
            int[][] expected = PipelineFixtures.Oracle(path, texts);
            var failures = new List<string>();
            for (int i = 0; i < texts.Count; i++)
            {
                int[] actual = ours.EncodeSingle(texts[i], int.MaxValue).InputIds;
                if (!actual.SequenceEqual(expected[i]))
                    failures.Add($"[{i}] {string.Concat(texts[i].Take(80).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()))}\n   hf:   {string.Join(' ', expected[i].Take(40))}\n   ours: {string.Join(' ', actual.Take(40))}");
            }
            Assert.True(failures.Count == 0, $"{what}: {failures.Count} of {texts.Count} texts differ:\n" + string.Join("\n", failures.Take(5)));
        }
        finally { File.Delete(path); }
    }

    public static TheoryData<string> CharacterVariants => new()
    {
        "NFC", "NFD", "NFKC", "NFKD", "NFKD+Lowercase+StripAccents", "Lowercase", "Strip+Replace", "Prepend+Sequence",
        "Whitespace", "WhitespaceSplit", "Punctuation", "Punctuation-removed", "Bert", "Metaspace-first", "Metaspace-never-nosplit",
    };

    [Theory]
    [MemberData(nameof(CharacterVariants))]
    public void CharacterLevelPipelinesMatchHuggingFace(string variant)
    {
        JsonNode meta = T("Metaspace", ("replacement", "\u2581"), ("prepend_scheme", "always"), ("split", true));
        (JsonNode? normalizer, JsonNode? pre) = variant switch
        {
            "NFC" or "NFD" or "NFKC" or "NFKD" => (T(variant), meta),
            "NFKD+Lowercase+StripAccents" => (Seq("normalizers", T("NFKD"), T("Lowercase"), T("StripAccents")), meta),
            "Lowercase" => (T("Lowercase"), meta),
            "Strip+Replace" => (Seq("normalizers", T("Strip", ("strip_left", true), ("strip_right", true)),
                T("Replace", ("pattern", new JsonObject { ["Regex"] = "\\s+" }), ("content", " ")), T("Replace", ("pattern", new JsonObject { ["String"] = "a" }), ("content", "AA"))), meta),
            "Prepend+Sequence" => (Seq("normalizers", T("NFC"), T("Prepend", ("prepend", "\u2581"))), Seq("pretokenizers", T("WhitespaceSplit"), T("Punctuation", ("behavior", "Isolated")))),
            "Whitespace" => (T("NFC"), T("Whitespace")),
            "WhitespaceSplit" => (T("NFC"), T("WhitespaceSplit")),
            "Punctuation" => (T("NFC"), T("Punctuation", ("behavior", "Isolated"))),
            "Punctuation-removed" => (T("NFC"), Seq("pretokenizers", T("Punctuation", ("behavior", "Removed")), T("WhitespaceSplit"))),
            "Bert" => (T("BertNormalizer", ("clean_text", true), ("handle_chinese_chars", true), ("strip_accents", null), ("lowercase", true)), T("BertPreTokenizer")),
            "Metaspace-first" => (T("NFKC"), T("Metaspace", ("replacement", "\u2581"), ("prepend_scheme", "first"), ("split", true))),
            "Metaspace-never-nosplit" => (T("NFKC"), T("Metaspace", ("replacement", "\u2581"), ("prepend_scheme", "never"), ("split", false))),
            _ => throw new ArgumentException(variant),
        };
        var added = new JsonArray { new JsonObject { ["id"] = 0, ["content"] = "<unk>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true } };
        AssertSameAsOracle(Write(CharacterUnigram(), normalizer, pre, null, added), CharacterTexts, variant);
    }

    private static JsonObject MiniLmModel()
    {
        var vocab = new JsonObject();
        string[] lines = File.ReadAllLines(TokenizationFixture.VocabPath);
        for (int i = 0; i < lines.Length; i++) vocab[lines[i]] = i;
        return new JsonObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = vocab };
    }

    private static JsonArray BertSpecials() =>
        new(new[] { ("[PAD]", 0), ("[UNK]", 100), ("[CLS]", 101), ("[SEP]", 102), ("[MASK]", 103) }
            .Select(t => (JsonNode)new JsonObject { ["id"] = t.Item2, ["content"] = t.Item1, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true }).ToArray());

    private static IReadOnlyList<string> WordPieceTexts => [.. TokenizationFixture.Singles.Select(s => s.Text), .. NormalizationTexts];

    [Fact]
    public void TheRealMiniLmTokenizerJsonMatchesHuggingFaceThroughThePipeline()
    {
        // The fixture's tokenizer.json as make-reference.mjs writes it; Rust tokenizers also wants the template's special_tokens.
        var root = JsonNode.Parse(File.ReadAllText(TokenizationFixture.TokenizerJsonPath))!.AsObject();
        root["post_processor"]!["special_tokens"] = new JsonObject
        {
            ["[CLS]"] = new JsonObject { ["id"] = "[CLS]", ["ids"] = new JsonArray(101), ["tokens"] = new JsonArray("[CLS]") },
            ["[SEP]"] = new JsonObject { ["id"] = "[SEP]", ["ids"] = new JsonArray(102), ["tokens"] = new JsonArray("[SEP]") },
        };
        string path = Path.Combine(Path.GetTempPath(), $"variant-{Guid.NewGuid():N}.tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        AssertSameAsOracle(path, WordPieceTexts, "MiniLM tokenizer.json");
        // A model folder with this (BERT-shaped) tokenizer.json keeps the tuned BertTokenizer.
        Assert.IsType<BertTokenizer>(TokenizerLoader.FromModelFolder(Path.GetDirectoryName(TokenizationFixture.TokenizerJsonPath)!));
    }

    [Fact]
    public void WordPieceWithUnicodeNormalizersAndSplitPreTokenizersMatchesHuggingFace()
    {
        JsonNode Special(string id, int type) => new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        JsonNode Sequence(string id, int type) => new JsonObject { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        var template = T("TemplateProcessing",
            ("single", new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0))),
            ("pair", new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0), Sequence("B", 1), Special("[SEP]", 1))),
            ("special_tokens", new JsonObject
            {
                ["[CLS]"] = new JsonObject { ["id"] = "[CLS]", ["ids"] = new JsonArray(101), ["tokens"] = new JsonArray("[CLS]") },
                ["[SEP]"] = new JsonObject { ["id"] = "[SEP]", ["ids"] = new JsonArray(102), ["tokens"] = new JsonArray("[SEP]") },
            }));
        string path = Write(MiniLmModel(), Seq("normalizers", T("NFD"), T("Lowercase"), T("StripAccents")),
            Seq("pretokenizers", T("WhitespaceSplit"), T("Punctuation", ("behavior", "Isolated"))), template, BertSpecials());
        AssertSameAsOracle(path, WordPieceTexts, "NFD+Lowercase+StripAccents / WhitespaceSplit+Punctuation / Template");
    }

    [Fact]
    public void WithoutAPostProcessorThereAreNoSpecialTokensAndBertProcessingAddsThem()
    {
        AssertSameAsOracle(Write(MiniLmModel(), T("NFKC"), T("Whitespace"), null, BertSpecials()), WordPieceTexts, "no post_processor");
        AssertSameAsOracle(Write(MiniLmModel(), T("Lowercase"), T("BertPreTokenizer"),
            T("BertProcessing", ("sep", new JsonArray("[SEP]", 102)), ("cls", new JsonArray("[CLS]", 101))), BertSpecials()), WordPieceTexts, "BertProcessing");
    }

    [Fact]
    public void PairsFollowTheTemplateAndTruncateLongestFirst()
    {
        // Tokenizers.DotNet encodes one text at a time, so pairs are checked as: the oracle's single encodings, without
        // specials, placed into the template (RobertaProcessing: <s> A </s></s> B </s>, all type 0).
        var tokenizer = PipelineTokenizer.FromTokenizerJson(PipelineFixtures.UnigramTokenizerJson);
        string query = PipelineFixtures.Texts[0], document = PipelineFixtures.Texts[60];
        int[][] hf = PipelineFixtures.Oracle(PipelineFixtures.UnigramTokenizerJson, [query, document]);
        var pair = tokenizer.EncodePair(query, document, 10_000);
        Assert.Equal([0, .. hf[0][1..^1], 2, 2, .. hf[1][1..^1], 2], pair.InputIds);
        Assert.All(pair.TokenTypeIds, t => Assert.Equal(0, t));
        // 4 specials: a budget of 24 leaves 20; the query (21 tokens here or fewer) and the long document share it.
        var cut = tokenizer.EncodePair(query, document, 24);
        Assert.Equal(24, cut.Length);
        int q = hf[0].Length - 2;
        Assert.Equal(Math.Min(q, 10), q - cut.Truncation.QueryTokensRemoved);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.EncodePair(query, document, 3));
    }

    [Fact]
    public void UnsupportedPiecesAreNamedWhenLoading()
    {
        string bpe = Write(new JsonObject { ["type"] = "BPE", ["vocab"] = new JsonObject { ["a"] = 0 }, ["merges"] = new JsonArray(), ["dropout"] = 0.1 }, null, null, null);
        string byteLevel = Write(CharacterUnigram(), null, T("Digits"), null);
        try
        {
            Assert.Contains("model.dropout is 0.1", Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromTokenizerJson(bpe)).Message);
            Assert.Contains("unsupported pre_tokenizer 'Digits'", Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromTokenizerJson(byteLevel)).Message);
        }
        finally
        {
            File.Delete(bpe);
            File.Delete(byteLevel);
        }
    }
}
