using System.Text.Encodings.Web;
using System.Text.Json;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Qwen3's byte-level BPE (Qwen2Tokenizer: NFC + Qwen's Split pattern + ByteLevel + BPE, 26 added tokens) loaded from a folder
/// with only vocab.json, merges.txt and tokenizer_config.json, against the committed ids of Hugging Face's Rust tokenizers
/// (Fixtures/tokenization/qwen3/qwen3-ids.json) on the tokenizer.json Qwen2TokenizerFast builds from those files; and the
/// same folder with that tokenizer.json through the tokenizer.json path.
/// </summary>
public class QwenTokenizerReferenceTests
{
    private static string Escape(string s) => string.Concat(s.Take(120).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));

    private static void AssertAllCasesMatch(ITextPairTokenizer tokenizer)
    {
        var failures = new List<string>();
        foreach (var (text, expected) in QwenFixtures.Cases)
        {
            int[] actual = tokenizer.EncodeToIds(text);
            if (!actual.SequenceEqual(expected))
                failures.Add($"{Escape(text)}\n   hf:   {string.Join(' ', expected.Take(40))}\n   ours: {string.Join(' ', actual.Take(40))}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {QwenFixtures.Cases.Length} texts differ:\n" + string.Join("\n", failures.Take(8)));
    }

    [Fact]
    public void Fixtures_are_the_published_files_and_hold_at_least_150_texts()
    {
        Assert.Equal(QwenFixtures.VocabJsonSha256, QwenFixtures.Sha256(Path.Combine(QwenFixtures.ModelFolder, "vocab.json")));
        Assert.Equal(QwenFixtures.MergesTxtSha256, QwenFixtures.Sha256(Path.Combine(QwenFixtures.ModelFolder, "merges.txt")));
        Assert.Equal(QwenFixtures.TokenizerConfigSha256, QwenFixtures.Sha256(Path.Combine(QwenFixtures.ModelFolder, "tokenizer_config.json")));
        var cases = QwenFixtures.Cases;
        Assert.True(cases.Length >= 150, $"{cases.Length} texts");
        Assert.True(cases.Sum(c => c.Ids.Length) > 50_000);
        Assert.Contains(cases, c => c.Text.Length >= 20_000 && !c.Text.Any(char.IsWhiteSpace));   // the long word
        Assert.Contains(cases, c => c.Text.StartsWith(QwenFixtures.Qwen3Prefix) && c.Text.EndsWith(QwenFixtures.Qwen3Suffix));
        Assert.Contains(cases, c => c.Text.Length > 0 && c.Text.All(char.IsWhiteSpace));
    }

    [Fact]
    public void Vocab_and_merges_folder_matches_hugging_face_on_every_fixture_text() => AssertAllCasesMatch(QwenFixtures.Tokenizer);

    [Fact]
    public void Folder_has_qwen3s_vocabulary_size_length_limit_and_token_ids()
    {
        PipelineTokenizer tokenizer = QwenFixtures.Tokenizer;
        Assert.Equal(151669, tokenizer.VocabularySize);   // config.json vocab_size: 151,643 BPE entries + 26 added tokens
        Assert.Equal(131072, tokenizer.ModelMaxLength);
        // The ids Hugging Face gives these one-token texts are the ids of their tokens.
        foreach (string token in (string[])["yes", "no", "1", "0", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|endoftext|>"])
        {
            int[] oracle = QwenFixtures.OracleIds(token);
            Assert.Single(oracle);
            Assert.True(tokenizer.TryGetTokenId(token, out int id), token);
            Assert.Equal(oracle[0], id);
            Assert.Equal(token, tokenizer.IdToToken(id));
        }
        Assert.True(tokenizer.TryGetTokenId("yes", out int yes) && yes == 9693);
        Assert.True(tokenizer.TryGetTokenId("no", out int no) && no == 2152);
        Assert.True(tokenizer.TryGetTokenId("<|im_start|>", out int imStart) && imStart == 151644);
        Assert.True(tokenizer.TryGetTokenId("\u0120yes", out int spaceYes));   // " yes" is "Ġyes" in the byte alphabet
        Assert.Equal(QwenFixtures.OracleIds(" yes"), new[] { spaceYes });
        Assert.False(tokenizer.TryGetTokenId(" yes", out _));                // text, not a token: nothing is tokenized
        Assert.False(tokenizer.TryGetTokenId("not one token", out _));
        Assert.Equal(QwenFixtures.OracleIds("yes"), tokenizer.EncodeSingle("yes", 8).InputIds);   // no BOS/EOS template
    }

    [Fact]
    public void Pairs_are_the_two_texts_back_to_back_without_special_tokens()
    {
        var cases = QwenFixtures.Cases;
        for (int i = 0; i + 1 < cases.Length; i += 7)
        {
            var (a, aIds) = cases[i];
            var (b, bIds) = cases[i + 1];
            EncodedPair pair = QwenFixtures.Tokenizer.EncodePair(a, b, int.MaxValue);
            Assert.Equal([.. aIds, .. bIds], pair.InputIds);
            Assert.Equal(aIds.Length, pair.TokenTypeIds.TakeWhile(t => t == 0).Count());
        }
    }

    [Fact]
    public void Offsets_give_the_same_ids_and_ranges_holding_each_token()
    {
        foreach (var (text, expected) in QwenFixtures.Cases)
        {
            var (ids, _) = QwenFixtures.Tokenizer.EncodeToIdsWithOffsets(text);
            Assert.Equal(expected, ids);
            BpeOffsetsTests.AssertOffsetsHoldTheTokens(QwenFixtures.Tokenizer, text,
                textIsNormalized: UnicodeNormalization.Normalize(text, System.Text.NormalizationForm.FormC) == text);
        }
        string prompt = QwenFixtures.Qwen3Prefix + "<Query>: caf\u00e9 <think>";
        var (promptIds, offsets) = QwenFixtures.Tokenizer.EncodeToIdsWithOffsets(prompt);
        Assert.Equal("<think>", prompt[offsets[^1].Start..offsets[^1].End]);
        Assert.Equal(151667, promptIds[^1]);
        Assert.Equal("<|im_start|>", prompt[offsets[0].Start..offsets[0].End]);
    }

    /// <summary>
    /// Qwen's tokenizer.json as tools/bpe/make_qwen_tokenizer_json.py writes it (tokenizers' layout), built here from the
    /// committed files; its sha256 proves it is byte for byte the file Qwen publishes.
    /// </summary>
    private static byte[] BuildQwenTokenizerJson()
    {
        string folder = QwenFixtures.ModelFolder;
        using var vocab = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "vocab.json")));
        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "tokenizer_config.json")));
        string[] merges = File.ReadAllText(Path.Combine(folder, "merges.txt")).Split('\n').Skip(1).Where(l => l.Length > 0).ToArray();

        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            void ByteLevel()
            {
                w.WriteStartObject();
                w.WriteString("type", "ByteLevel");
                w.WriteBoolean("add_prefix_space", false);
                w.WriteBoolean("trim_offsets", false);
                w.WriteBoolean("use_regex", false);
                w.WriteEndObject();
            }
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            foreach (JsonProperty entry in config.RootElement.GetProperty("added_tokens_decoder").EnumerateObject().OrderBy(e => int.Parse(e.Name)))
            {
                w.WriteStartObject();
                w.WriteNumber("id", int.Parse(entry.Name));
                w.WriteString("content", entry.Value.GetProperty("content").GetString());
                foreach (string flag in (string[])["single_word", "lstrip", "rstrip", "normalized", "special"])
                    w.WriteBoolean(flag, entry.Value.GetProperty(flag).GetBoolean());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("normalizer");
            w.WriteString("type", "NFC");
            w.WriteEndObject();
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", PipelineTokenizer.Qwen2SplitPattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            ByteLevel();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WritePropertyName("post_processor");
            ByteLevel();
            w.WritePropertyName("decoder");
            ByteLevel();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteString("continuing_subword_prefix", "");
            w.WriteString("end_of_word_suffix", "");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            foreach (JsonProperty entry in vocab.RootElement.EnumerateObject().OrderBy(e => e.Value.GetInt32()))
                w.WriteNumber(entry.Name, entry.Value.GetInt32());
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (string merge in merges)
            {
                string[] parts = merge.Split(' ');
                w.WriteStartArray();
                w.WriteStringValue(parts[0]);
                w.WriteStringValue(parts[1]);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    [Fact]
    public void Folder_with_qwens_real_tokenizer_json_gives_the_same_ids_through_the_tokenizer_json_path()
    {
        byte[] tokenizerJson = BuildQwenTokenizerJson();
        Assert.Equal(QwenFixtures.TokenizerJsonSha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tokenizerJson)));
        string folder = Path.Combine(Path.GetTempPath(), $"qwen3-tokenizer-json-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            File.WriteAllBytes(Path.Combine(folder, "tokenizer.json"), tokenizerJson);
            File.Copy(Path.Combine(QwenFixtures.ModelFolder, "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"));
            ITextPairTokenizer tokenizer = TokenizerLoader.FromModelFolder(folder);
            Assert.Equal(151669, tokenizer.VocabularySize);
            Assert.Equal(131072, tokenizer.ModelMaxLength);
            Assert.True(tokenizer.TryGetTokenId("yes", out int yes) && yes == 9693);
            AssertAllCasesMatch(tokenizer);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
