using System.Text.Json.Nodes;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// <see cref="PipelineTokenizer.EncodeToIdsWithOffsets"/> on ModernBERT's tokenizer: the same ids as EncodeToIds, and ranges
/// that hold exactly the text each token decodes to. (Hugging Face's own offsets are compared in OffsetsReferenceTests.)
/// </summary>
public class BpeOffsetsTests
{
    private static readonly Lazy<PipelineTokenizer> ModernBert = new(() => PipelineTokenizer.FromTokenizerJson(BpeFixtures.ModernBertTokenizerJson));

    /// <summary>Tokens whose ranges overlap (bytes of one character) form a group; each group's decoded bytes must be the
    /// original text of its range; added tokens must cover their content.</summary>
    internal static void AssertOffsetsHoldTheTokens(PipelineTokenizer tokenizer, string text, bool textIsNormalized)
    {
        var (ids, offsets) = tokenizer.EncodeToIdsWithOffsets(text);
        Assert.Equal(tokenizer.EncodeToIds(text), ids);
        Assert.Equal(ids.Length, offsets.Length);
        for (int i = 0; i < offsets.Length; i++)
        {
            Assert.InRange(offsets[i].Start, 0, text.Length - 1);
            Assert.InRange(offsets[i].End, offsets[i].Start + 1, text.Length);
            if (i > 0) Assert.True(offsets[i].Start >= offsets[i - 1].Start, $"offsets go back at token {i} of {text}");
        }
        if (!textIsNormalized) return;
        for (int i = 0; i < ids.Length;)
        {
            int j = i + 1, end = offsets[i].End;
            while (j < ids.Length && offsets[j].Start < end) end = Math.Max(end, offsets[j++].End);
            string expected = text[offsets[i].Start..end];
            string decoded = ByteLevel.Decode(ids[i..j].Select(tokenizer.IdToToken));
            if (decoded != expected)   // an added token: its content, with any whitespace it strips
                Assert.True(j == i + 1 && expected.Trim() == tokenizer.IdToToken(ids[i]).Trim(), $"token {i} '{decoded}' vs text '{expected}' in {text}");
            i = j;
        }
    }

    [Fact]
    public void Every_fixture_text_gets_the_same_ids_and_ranges_holding_its_tokens()
    {
        foreach (var (text, _) in BpeFixtures.ModernBertCases)
            AssertOffsetsHoldTheTokens(ModernBert.Value, text, textIsNormalized: UnicodeNormalization.Normalize(text, System.Text.NormalizationForm.FormC) == text);
    }

    [Fact]
    public void Ranges_point_into_the_original_text_across_normalization_and_added_tokens()
    {
        string text = "cafe\u0301 [SEP] x  y \U0001F600";
        var (ids, offsets) = ModernBert.Value.EncodeToIdsWithOffsets(text);
        string[] pieces = offsets.Select(o => text[o.Start..o.End]).ToArray();
        Assert.Equal(ModernBert.Value.EncodeToIds(text), ids);
        Assert.Contains("[SEP]", pieces);
        Assert.DoesNotContain("\u0301", string.Concat(pieces));      // NFC's é is traced to its "e" only, as tokenizers aligns a composition
        Assert.Equal("  ", pieces[Array.IndexOf(ids, 50276)]);      // ModernBERT's two-space added token
        Assert.Equal(text.Length, offsets[^1].End);                // the emoji's bytes reach the end
        Assert.All(offsets.Where(o => text[o.Start..o.End].Contains('\uD83D')), o => Assert.Equal("\U0001F600", text[o.Start..o.End].Trim()));
    }

    [Fact]
    public void Qwen_style_split_with_prefix_space_traces_every_piece()
    {
        var root = JsonNode.Parse(File.ReadAllText(BpeFixtures.ModernBertTokenizerJson))!.AsObject();
        root["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+" }, ["behavior"] = "Isolated", ["invert"] = false },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = false }),
        };
        string path = Path.Combine(Path.GetTempPath(), $"qwen-offsets-{Guid.NewGuid():N}.tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        try
        {
            var tokenizer = PipelineTokenizer.FromTokenizerJson(path);
            var (_, offsets) = tokenizer.EncodeToIdsWithOffsets("Hi there, 42!");
            // "Hi" gets a prefix "Ġ", traced to its first character; the Split pieces are "Hi", " there", ",", " ", "4", "2", "!".
            Assert.Equal(0, offsets[0].Start);
            Assert.All(offsets, o => Assert.InRange(o.End, o.Start + 1, 13));
            foreach (var (text, _) in BpeFixtures.ModernBertCases.Take(60))
            {
                var (ids, traced) = tokenizer.EncodeToIdsWithOffsets(text);
                Assert.Equal(tokenizer.EncodeToIds(text), ids);
                Assert.All(traced, o => Assert.InRange(o.End, o.Start + 1, text.Length));
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Unigram_offsets_hold_their_pieces_text()
    {
        // The Unigram tokenizer (Precompiled + Replace + Metaspace): every piece, "▁" read as a space, is its span's text
        // on plain lower-case ASCII (OffsetsReferenceTests compares all texts with Hugging Face's offsets).
        var unigram = PipelineTokenizer.FromTokenizerJson(PipelineFixtures.UnigramTokenizerJson);
        const string text = "the boundary layer of a flat plate";
        var (ids, offsets) = unigram.EncodeToIdsWithOffsets(text);
        Assert.Equal(unigram.EncodeToIds(text), ids);
        for (int i = 0; i < ids.Length; i++)
            Assert.Equal(unigram.IdToToken(ids[i]).Replace('\u2581', ' ').Trim(), text[offsets[i].Start..offsets[i].End].Trim());
    }
}
