using System.IO.Compression;
using System.Text.Json;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// <see cref="ITextPairTokenizer.EncodeToIdsWithOffsets"/> against Hugging Face tokenizers' own offsets
/// (Fixtures/tokenization/offsets-reference.json.gz, made by tools/reference-offsets/make-offsets.mjs with the Rust library's
/// Node binding; Tokenizers.DotNet returns ids only): all-MiniLM-L6-v2's WordPiece (BertTokenizer, and the same tokenizer.json
/// through PipelineTokenizer), ModernBERT's byte-level BPE, the XLM-R-style Unigram (Precompiled + Replace + Metaspace) and
/// Qwen3's byte-level BPE from vocab.json + merges.txt, each on every text of its committed fixture plus accents, combining
/// marks, CJK, emoji, compatibility characters and whitespace runs.
/// </summary>
public class OffsetsReferenceTests
{
    private sealed record Case(string Text, int[] Ids, TokenOffsets[] Offsets);

    private static readonly Lazy<JsonElement> Reference = new(() =>
    {
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(PipelineFixtures.Folder, "offsets-reference.json.gz")), CompressionMode.Decompress);
        return JsonDocument.Parse(gzip).RootElement.Clone();
    });

    private static List<Case> Cases(string tokenizer) =>
        Reference.Value.GetProperty(tokenizer).EnumerateArray().Select(c =>
        {
            int[] flat = c.GetProperty("offsets").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            return new Case(c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                Enumerable.Range(0, flat.Length / 2).Select(i => new TokenOffsets(flat[2 * i], flat[2 * i + 1])).ToArray());
        }).ToList();

    private static void AssertAll(ITextPairTokenizer tokenizer, string name, int minimumCases)
    {
        List<Case> cases = Cases(name);
        Assert.True(cases.Count >= minimumCases, $"{name}: {cases.Count} cases");
        var failures = new List<string>();
        foreach (Case c in cases)
        {
            var (ids, offsets) = tokenizer.EncodeToIdsWithOffsets(c.Text);
            if (!ids.SequenceEqual(c.Ids)) { failures.Add($"ids differ for {Show(c.Text)}"); continue; }
            Assert.Equal(tokenizer.EncodeToIds(c.Text), ids);
            for (int i = 0; i < ids.Length; i++)
                if (offsets[i] != c.Offsets[i])
                {
                    failures.Add($"token {i} ({tokenizer.IdToToken(ids[i])}) of {Show(c.Text)}: {offsets[i]} vs Hugging Face {c.Offsets[i]}");
                    break;
                }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} texts differ:\n" + string.Join("\n", failures.Take(15)));
    }

    private static string Show(string text) => JsonSerializer.Serialize(text.Length > 80 ? text[..80] + "..." : text);

    [Fact]
    public void Wordpiece_bert_tokenizer_gives_hugging_faces_offsets() => AssertAll(TokenizationFixture.FromVocab, "minilm", 100);

    [Fact]
    public void Wordpiece_through_the_pipeline_gives_hugging_faces_offsets() =>
        AssertAll(PipelineTokenizer.FromTokenizerJson(TokenizationFixture.TokenizerJsonPath), "minilm", 100);

    [Fact]
    public void Byte_level_bpe_of_modernbert_gives_hugging_faces_offsets() =>
        AssertAll(PipelineTokenizer.FromTokenizerJson(BpeFixtures.ModernBertTokenizerJson), "modernbert", 280);

    [Fact]
    public void Unigram_with_precompiled_charsmap_and_metaspace_gives_hugging_faces_offsets() =>
        AssertAll(PipelineTokenizer.FromTokenizerJson(PipelineFixtures.UnigramTokenizerJson), "unigram", 160);

    [Fact]
    public void Qwen3_byte_level_bpe_from_vocab_and_merges_gives_hugging_faces_offsets() => AssertAll(QwenFixtures.Tokenizer, "qwen3", 500);

    [Fact]
    public void Offsets_point_at_original_characters_across_lowercasing_accents_cjk_and_emoji()
    {
        // Hand-checked: the spans are the original characters, not the normalized ones.
        const string text = "Café İstanbul 北京 😀 naïve";
        var (ids, offsets) = TokenizationFixture.FromVocab.EncodeToIdsWithOffsets(text);
        string[] pieces = offsets.Select(o => text[o.Start..o.End]).ToArray();
        Assert.Equal(["Café", "İstanbul", "北", "京", "😀", "naïve"], pieces);
        Assert.Equal(TokenizationFixture.FromVocab.UnknownTokenId, ids[4]);   // the emoji is [UNK], spanning both of its units
    }
}
