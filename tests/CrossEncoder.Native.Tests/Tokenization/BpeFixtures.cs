using System.IO.Compression;
using System.Text.Json;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>The committed byte-level BPE fixtures (tools/bpe/make_fixtures.sh): ModernBERT-base's real tokenizer.json
/// (gzipped), the texts, and Hugging Face tokenizers' ids for each, so the tests need neither ../shared nor the native oracle.</summary>
internal static class BpeFixtures
{
    private static string Folder => PipelineFixtures.Folder;

    private static readonly Lazy<string> LazyTokenizerJson = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"modernbert-{Environment.ProcessId}.tokenizer.json");
        using (var gzip = new GZipStream(File.OpenRead(Path.Combine(Folder, "modernbert.tokenizer.json.gz")), CompressionMode.Decompress))
        using (var file = File.Create(path))
            gzip.CopyTo(file);
        return path;
    });

    /// <summary>ModernBERT-base's tokenizer.json, unpacked once per test run into the temp folder.</summary>
    public static string ModernBertTokenizerJson => LazyTokenizerJson.Value;

    private static readonly Lazy<(string Text, int[] Ids)[]> LazyCases = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "bpe-modernbert-ids.json"))).RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!,
                c.GetProperty("ids").GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()))
            .ToArray());

    /// <summary>Every text with Hugging Face's ids under ModernBERT-base's tokenizer.json ([CLS] and [SEP] included).</summary>
    public static (string Text, int[] Ids)[] ModernBertCases => LazyCases.Value;
}
