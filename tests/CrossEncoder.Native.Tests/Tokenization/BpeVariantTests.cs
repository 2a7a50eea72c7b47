using System.Text.Json.Nodes;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// The BPE pieces ModernBERT's file does not use, against Hugging Face's tokenizers run here (Tokenizers.DotNet, as in
/// <see cref="PipelineVariantTests"/>), on tokenizer.json files the test writes: ModernBERT's vocabulary and merges under
/// Qwen's Split pattern, GPT-2/RoBERTa's prefix space and processing, ignore_merges, no added tokens (whitespace runs reach
/// BPE), and a character-level BPE with byte fallback, unk and fuse_unk (Llama/Mistral style) trained by the test.
/// </summary>
public class BpeVariantTests
{
    private const string QwenPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static JsonObject T(string type, params (string Key, JsonNode? Value)[] fields)
    {
        var o = new JsonObject { ["type"] = type };
        foreach (var (k, v) in fields) o[k] = v;
        return o;
    }

    private static JsonObject ByteLevelStep(bool addPrefixSpace, bool useRegex) =>
        T("ByteLevel", ("add_prefix_space", addPrefixSpace), ("trim_offsets", true), ("use_regex", useRegex));

    private static JsonObject ModernBert() => JsonNode.Parse(File.ReadAllText(BpeFixtures.ModernBertTokenizerJson))!.AsObject();

    private static string[] Texts => BpeFixtures.ModernBertCases.Select(c => c.Text).ToArray();

    private static void AssertSameAsOracle(JsonObject root, IReadOnlyList<string> texts, string what, Func<string, bool>? knownDifference = null)
    {
        string path = Path.Combine(Path.GetTempPath(), $"bpe-variant-{Guid.NewGuid():N}.tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        try
        {
            var ours = PipelineTokenizer.FromTokenizerJson(path);
            int[][] expected = PipelineFixtures.Oracle(path, texts);
            var failures = new List<string>();
            for (int i = 0; i < texts.Count; i++)
            {
                int[] actual = ours.EncodeSingle(texts[i], int.MaxValue).InputIds;
                if (!actual.SequenceEqual(expected[i]) && knownDifference?.Invoke(texts[i]) != true)
                    failures.Add($"[{i}] {string.Concat(texts[i].Take(80).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()))}\n   hf:   {string.Join(' ', expected[i].Take(40))}\n   ours: {string.Join(' ', actual.Take(40))}");
            }
            Assert.True(failures.Count == 0, $"{what}: {failures.Count} of {texts.Count} texts differ:\n" + string.Join("\n", failures.Take(5)));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Qwen_split_pattern_then_byte_level_without_regex_matches_hugging_face()
    {
        var root = ModernBert();
        root["pre_tokenizer"] = T("Sequence", ("pretokenizers", new JsonArray(
            T("Split", ("pattern", new JsonObject { ["Regex"] = QwenPattern }), ("behavior", "Isolated"), ("invert", false)),
            ByteLevelStep(addPrefixSpace: false, useRegex: false))));
        root["post_processor"] = ByteLevelStep(addPrefixSpace: false, useRegex: false);
        // Astral letters and digits next to BMP ones: one \p{L}+ run in Oniguruma, where .NET's Regex alone would see halves.
        string[] astral =
        [
            "a\U0001d400b \U0001d7ce1 x\U00020000y", "\U0001d400\U0001d401 \U0001d7ce\U0001d7cf", "'\U0001d400s \U0001F600a \U0001F600\U0001F600!",
            "\U00010400\U00010428 deseret \U000104a0 osmanya digit", "\U0001d7ce\U0001d7cf\U0001d7d0 digits one by one", "\u00e9\U0001d400\u0301x",
        ];
        AssertSameAsOracle(root, [.. Texts, .. astral], "Qwen Split + ByteLevel");
    }

    [Fact]
    public void Qwen_split_pieces_with_astral_characters_match_hugging_face()
    {
        // ByteLevel's prefix space after Split puts a "Ġ" in front of every piece, so the ids show where Split cut.
        var root = ModernBert();
        root["pre_tokenizer"] = T("Sequence", ("pretokenizers", new JsonArray(
            T("Split", ("pattern", new JsonObject { ["Regex"] = QwenPattern }), ("behavior", "Isolated"), ("invert", false)),
            ByteLevelStep(addPrefixSpace: true, useRegex: false))));
        root["post_processor"] = null;
        string[] astral =
        [
            "a\U0001d400b \U0001d7ce1 x\U00020000y", "\U0001d400\U0001d401 \U0001d7ce\U0001d7cf", "'\U0001d400s \U0001F600abc \U0001F600\U0001F600!",
            "\U00010400\U00010428 deseret \U000104a0 digit", "\U0001d7ce\U0001d7cf\U0001d7d0 digits one by one", "\u00e9\U0001d400\u0301x",
            "(\U0001d400) [\U00020000]\n\U0001F600\n x", "plain text, no astral: Hello world 123",
        ];
        AssertSameAsOracle(root, [.. astral, .. Texts.Where(t => t.Any(char.IsSurrogate))], "Qwen Split pieces");
        var words = new List<string>();
        new SplitPreTokenizer(null, QwenPattern, DelimiterBehavior.Isolated, invert: false).Split("x\U0001d400y \U0001F600abc", true, words);
        Assert.Equal(["x\U0001d400y", " \U0001F600", "abc"], words);   // the emoji is no letter: " ?[^\s\p{L}\p{N}]+" takes it
    }

    [Fact]
    public void Gpt2_prefix_space_and_roberta_processing_match_hugging_face()
    {
        var root = ModernBert();
        root["pre_tokenizer"] = ByteLevelStep(addPrefixSpace: true, useRegex: true);
        root["post_processor"] = T("RobertaProcessing", ("sep", new JsonArray("[SEP]", 50282)), ("cls", new JsonArray("[CLS]", 50281)),
            ("trim_offsets", true), ("add_prefix_space", true));
        AssertSameAsOracle(root, Texts, "ByteLevel(add_prefix_space) + RobertaProcessing");
    }

    [Fact]
    public void Without_added_tokens_whitespace_runs_go_through_bpe_and_match_hugging_face()
    {
        var root = ModernBert();
        // ModernBERT's whitespace-run tokens removed. They are also in the BPE vocabulary, so the other added tokens keep
        // their ids: Rust tokenizers ignores an added token's "id" and numbers those outside the vocabulary after it, in order.
        root["added_tokens"] = new JsonArray(root["added_tokens"]!.AsArray()
            .Where(t => t!["content"]!.GetValue<string>().Trim().Length > 0).Select(t => t!.DeepClone()).ToArray());
        root["normalizer"] = null;
        AssertSameAsOracle(root, Texts, "no added tokens, no normalizer");
    }

    [Fact]
    public void Ignore_merges_and_a_sequence_post_processor_match_hugging_face()
    {
        var root = ModernBert();
        root["model"]!["ignore_merges"] = true;
        root["post_processor"] = T("Sequence", ("processors", new JsonArray(ByteLevelStep(false, true), root["post_processor"]!.DeepClone())));
        AssertSameAsOracle(root, Texts, "ignore_merges + Sequence[ByteLevel, Template]");
    }

    /// <summary>A deterministic little BPE trainer: base symbols are ▁, ASCII letters and digits; each round merges the most
    /// frequent adjacent pair (ties: ordinal order) over the Metaspace words of the texts.</summary>
    private static (JsonObject Vocab, JsonArray Merges) TrainCharacterBpe(IEnumerable<string> texts, int rounds)
    {
        var tokens = new List<string> { "<unk>" };
        tokens.AddRange(Enumerable.Range(0, 256).Where(b => b != 0xF0).Select(b => $"<0x{b:X2}>"));   // no F0: emoji become <unk>
        var alphabet = new SortedSet<string>(StringComparer.Ordinal) { "\u2581" };
        foreach (char c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") alphabet.Add(c.ToString());
        tokens.AddRange(alphabet);
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string text in texts)
            foreach (string word in ("\u2581" + text.Replace(' ', '\u2581')).Split('\u2581', StringSplitOptions.RemoveEmptyEntries))
                if (word.All(c => alphabet.Contains(c.ToString()))) words["\u2581" + word] = words.GetValueOrDefault("\u2581" + word) + 1;
        var split = words.ToDictionary(w => w.Key, w => w.Key.Select(c => c.ToString()).ToList(), StringComparer.Ordinal);
        var merges = new JsonArray();
        for (int round = 0; round < rounds; round++)
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (var (word, symbols) in split)
                for (int i = 0; i + 1 < symbols.Count; i++) counts[(symbols[i], symbols[i + 1])] = counts.GetValueOrDefault((symbols[i], symbols[i + 1])) + words[word];
            if (counts.Count == 0) break;
            var best = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1, StringComparer.Ordinal).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First().Key;
            merges.Add(best.Item1 + " " + best.Item2);
            tokens.Add(best.Item1 + best.Item2);
            foreach (var symbols in split.Values)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2) { symbols[i] += symbols[i + 1]; symbols.RemoveAt(i + 1); }
        }
        var vocab = new JsonObject();
        for (int i = 0; i < tokens.Count; i++) vocab[tokens[i]] = i;
        return (vocab, merges);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Character_bpe_with_byte_fallback_and_unk_matches_hugging_face(bool fuseUnk)
    {
        var (vocab, merges) = TrainCharacterBpe(Texts.Take(80), rounds: 400);
        var root = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null,
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 0, ["content"] = "<unk>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true }),
            ["normalizer"] = T("NFC"),
            ["pre_tokenizer"] = T("Metaspace", ("replacement", "\u2581"), ("prepend_scheme", "always"), ("split", true)),
            ["post_processor"] = null, ["decoder"] = null,
            ["model"] = T("BPE", ("dropout", null), ("unk_token", "<unk>"), ("continuing_subword_prefix", null), ("end_of_word_suffix", null),
                ("fuse_unk", fuseUnk), ("byte_fallback", true), ("ignore_merges", false), ("vocab", vocab), ("merges", merges)),
        };
        AssertSameAsOracle(root, Texts, $"character BPE, byte_fallback, fuse_unk={fuseUnk}");
    }
}
