using System.Text.Json;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>The committed Unigram fixtures (tools/sentencepiece/make_fixtures.sh) and the oracle: Hugging Face's Rust
/// tokenizers through the Tokenizers.DotNet package.</summary>
internal static class PipelineFixtures
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenization");
    public static string UnigramModel => Path.Combine(Folder, "unigram-ir.model");
    public static string UnigramTokenizerJson => Path.Combine(Folder, "unigram-ir.tokenizer.json");

    private static readonly Lazy<string[]> LazyTexts = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "unigram-texts.json"))).RootElement.GetProperty("texts").EnumerateArray().Select(e => e.GetString()!).ToArray());

    /// <summary>Inputs: the multilingual cases of tools/reference-tokenizer, IR queries and passages, whitespace/normalization edge cases.</summary>
    public static string[] Texts => LazyTexts.Value;

    /// <summary>spm_encode's raw SentencePiece ids for every single-line text.</summary>
    public static (string Text, int[] Ids)[] SpmReference() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "unigram-spm-ids.json"))).RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray())).ToArray();

    private static readonly object OracleLock = new();

    /// <summary>Hugging Face tokenizers' ids (with the post-processor's special tokens) for each text.</summary>
    public static int[][] Oracle(string tokenizerJsonPath, IEnumerable<string> texts)
    {
        lock (OracleLock)
        {
            using var tokenizer = new Tokenizers.DotNet.Tokenizer(tokenizerJsonPath);
            return texts.Select(t => tokenizer.Encode(t).Select(i => (int)i).ToArray()).ToArray();
        }
    }
}
