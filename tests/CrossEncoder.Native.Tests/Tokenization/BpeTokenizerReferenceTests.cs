using System.Text.Json.Nodes;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// <see cref="PipelineTokenizer"/> on ModernBERT-base's real tokenizer.json (NFC + ByteLevel + BPE + TemplateProcessing, 116
/// added tokens including whitespace runs) against the committed ids of Hugging Face's Rust tokenizers
/// (Fixtures/tokenization/bpe-modernbert-ids.json): single texts, pairs with truncation, both merge formats, and the folder loader.
/// </summary>
public class BpeTokenizerReferenceTests
{
    private static readonly Lazy<PipelineTokenizer> ModernBert = new(() => PipelineTokenizer.FromTokenizerJson(BpeFixtures.ModernBertTokenizerJson));

    private const int Cls = 50281, Sep = 50282;

    private static string Escape(string s) => string.Concat(s.Take(120).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));

    private static void AssertAllCasesMatch(PipelineTokenizer tokenizer)
    {
        var cases = BpeFixtures.ModernBertCases;
        var failures = new List<string>();
        foreach (var (text, expected) in cases)
        {
            int[] actual = tokenizer.EncodeSingle(text, int.MaxValue).InputIds;
            if (!actual.SequenceEqual(expected))
                failures.Add($"{Escape(text)}\n   hf:   {string.Join(' ', expected)}\n   ours: {string.Join(' ', actual)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Length} texts differ:\n" + string.Join("\n", failures.Take(8)));
    }

    [Fact]
    public void Fixtures_hold_at_least_150_texts_and_real_ir_text()
    {
        var cases = BpeFixtures.ModernBertCases;
        Assert.True(cases.Length >= 150, $"{cases.Length} texts");
        Assert.True(cases.Sum(c => c.Ids.Length) > 20_000);
        Assert.Contains(cases, c => c.Text.Contains('\n') && c.Ids.Length > 100);   // raw IR documents, line breaks kept
    }

    [Fact]
    public void ModernBert_tokenizer_json_matches_hugging_face_on_every_fixture_text() => AssertAllCasesMatch(ModernBert.Value);

    [Fact]
    public void EncodeToIds_is_the_single_encoding_without_cls_and_sep()
    {
        foreach (var (text, expected) in BpeFixtures.ModernBertCases)
            Assert.Equal(expected[1..^1], ModernBert.Value.EncodeToIds(text));
    }

    [Fact]
    public void Merges_written_as_pairs_give_the_same_ids_as_merges_written_as_strings()
    {
        // gte-reranker-modernbert-base and the Ettin rerankers ship ModernBERT's tokenizer with [["a", "b"], ...] merges.
        var root = JsonNode.Parse(File.ReadAllText(BpeFixtures.ModernBertTokenizerJson))!.AsObject();
        var merges = root["model"]!["merges"]!.AsArray();
        var pairs = new JsonArray();
        foreach (JsonNode? merge in merges)
        {
            string[] parts = merge!.GetValue<string>().Split(' ');
            pairs.Add(new JsonArray(parts[0], parts[1]));
        }
        root["model"]!["merges"] = pairs;
        string path = Path.Combine(Path.GetTempPath(), $"modernbert-pairs-{Guid.NewGuid():N}.tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        try { AssertAllCasesMatch(PipelineTokenizer.FromTokenizerJson(path)); }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(512)]
    [InlineData(64)]
    [InlineData(17)]
    [InlineData(3)]
    public void Pairs_follow_cls_a_sep_b_sep_and_truncate_longest_first(int maxLength)
    {
        // tokenizers encodes each side of a pair on its own (so the oracle's singles are the sides) and then applies
        // truncation.rs with max_length less the template's 3 specials; ModernBERT's template types B as 0.
        var cases = BpeFixtures.ModernBertCases;
        for (int i = 0; i + 1 < cases.Length; i += 3)
        {
            var (query, queryIds) = cases[i];
            var (document, documentIds) = cases[(i * 7 + 5) % cases.Length];
            int[] a = queryIds[1..^1], b = documentIds[1..^1];
            int budget = maxLength == int.MaxValue ? int.MaxValue : maxLength - 3;
            int keepA = a.Length, keepB = b.Length;
            if (budget != int.MaxValue && keepA + keepB > budget)
            {
                // LongestFirst as tokenizers writes it: the shorter side keeps all it can up to half, the longer the rest.
                int shorter = Math.Min(keepA, keepB), longer = Math.Max(keepA, keepB);
                int n1 = shorter, n2 = Math.Max(shorter, budget - shorter);
                if (n1 + n2 > budget) { n1 = budget / 2; n2 = n1 + budget % 2; }
                (keepA, keepB) = keepA <= keepB ? (Math.Min(n1, keepA), Math.Min(n2, keepB)) : (Math.Min(n2, keepA), Math.Min(n1, keepB));
            }
            int[] expected = [Cls, .. a[..keepA], Sep, .. b[..keepB], Sep];
            var pair = ModernBert.Value.EncodePair(query, document, maxLength);
            Assert.Equal(expected, pair.InputIds);
            Assert.All(pair.TokenTypeIds, t => Assert.Equal(0, t));
            Assert.Equal(a.Length - keepA, pair.Truncation.QueryTokensRemoved);
            Assert.Equal(b.Length - keepB, pair.Truncation.DocumentTokensRemoved);
            Assert.Equal(pair.InputIds.Select(ModernBert.Value.IdToToken), pair.Tokens);
        }
    }

    [Fact]
    public void Single_texts_truncate_to_max_length_with_the_specials()
    {
        var (text, ids) = BpeFixtures.ModernBertCases.First(c => c.Ids.Length > 100);
        var single = ModernBert.Value.EncodeSingle(text, 50);
        Assert.Equal([.. ids[..49], Sep], single.InputIds);
        Assert.Equal(ids.Length - 50, single.Truncation.QueryTokensRemoved);
    }

    [Fact]
    public void Model_folder_with_a_bpe_tokenizer_json_loads_a_working_tokenizer()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"modernbert-folder-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            File.Copy(BpeFixtures.ModernBertTokenizerJson, Path.Combine(folder, "tokenizer.json"));
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"model_max_length": 8192, "tokenizer_class": "PreTrainedTokenizerFast"}""");
            ITextPairTokenizer tokenizer = TokenizerLoader.FromModelFolder(folder);
            Assert.IsType<PipelineTokenizer>(tokenizer);
            Assert.Equal(8192, tokenizer.ModelMaxLength);
            Assert.Equal(50368, tokenizer.VocabularySize);   // ModernBERT's embedding rows: the added tokens reach id 50367
            foreach (var (text, expected) in BpeFixtures.ModernBertCases.Take(40))
                Assert.Equal(expected, tokenizer.EncodeSingle(text, int.MaxValue).InputIds);
            Assert.Equal("[CLS]", tokenizer.IdToToken(Cls));
            Assert.Equal("Ġworld", tokenizer.IdToToken(tokenizer.EncodeToIds("hello world")[1]));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
