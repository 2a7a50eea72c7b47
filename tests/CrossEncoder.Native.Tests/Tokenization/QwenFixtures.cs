using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// The committed Qwen3 tokenizer fixtures (Fixtures/tokenization/qwen3, made by tools/bpe/make_fixtures.sh): Qwen3-Reranker-0.6B's
/// real vocab.json and merges.txt (gzipped) and tokenizer_config.json, the texts, and Hugging Face tokenizers' ids of each
/// under the tokenizer.json Qwen2TokenizerFast builds from those files. The tests need neither ../shared nor the native oracle.
/// </summary>
internal static class QwenFixtures
{
    /// <summary>sha256 of the files at Qwen/Qwen3-Reranker-0.6B revision e61197ed (../shared/models/SOURCES.md).</summary>
    public const string VocabJsonSha256 = "ca10d7e9fb3ed18575dd1e277a2579c16d108e32f27439684afa0e10b1440910";
    public const string MergesTxtSha256 = "8831e4f1a044471340f7c0a83d7bd71306a5b867e95fd870f74d0c5308a904d5";
    public const string TokenizerConfigSha256 = "253153d0738ceb4c668d2eff957714dd2bea0b56de772a9fdccd96cbf517e6a0";
    public const string TokenizerJsonSha256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4";   // absent from the repo: 11 MB

    /// <summary>The prompt pieces of the two decoder rerankers (tools/bpe/make_qwen_texts.py has the same strings).</summary>
    public const string Qwen3Prefix = "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n";
    public const string Qwen3Suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
    public const string Qwen3Instruction = "Given a web search query, retrieve relevant passages that answer the query";

    public static string SourceFolder => Path.Combine(PipelineFixtures.Folder, "qwen3");

    private static readonly Lazy<string> LazyFolder = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), $"qwen3-tokenizer-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        foreach (string name in (string[])["vocab.json", "merges.txt"])
        {
            using var gzip = new GZipStream(File.OpenRead(Path.Combine(SourceFolder, name + ".gz")), CompressionMode.Decompress);
            using var file = File.Create(Path.Combine(folder, name));
            gzip.CopyTo(file);
        }
        File.Copy(Path.Combine(SourceFolder, "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"), overwrite: true);
        return folder;
    });

    /// <summary>A model folder with Qwen3-Reranker-0.6B's vocab.json, merges.txt and tokenizer_config.json (no tokenizer.json),
    /// unpacked once per test run into the temp folder.</summary>
    public static string ModelFolder => LazyFolder.Value;

    private static readonly Lazy<PipelineTokenizer> LazyTokenizer = new(() => (PipelineTokenizer)TokenizerLoader.FromModelFolder(ModelFolder));

    /// <summary>The folder's tokenizer through <see cref="TokenizerLoader.FromModelFolder"/>, loaded once.</summary>
    public static PipelineTokenizer Tokenizer => LazyTokenizer.Value;

    private static readonly Lazy<(string Text, int[] Ids)[]> LazyCases = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(SourceFolder, "qwen3-ids.json"))).RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!,
                c.GetProperty("ids").GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()))
            .ToArray());

    /// <summary>Every text with Hugging Face's ids under Qwen3's tokenizer.json (which adds no special tokens).</summary>
    public static (string Text, int[] Ids)[] Cases => LazyCases.Value;

    private static readonly Lazy<Dictionary<string, int[]>> LazyById = new(() => Cases.ToDictionary(c => c.Text, c => c.Ids, StringComparer.Ordinal));

    /// <summary>Hugging Face's ids of a fixture text.</summary>
    public static int[] OracleIds(string text) => LazyById.Value[text];

    public static bool HasOracleIds(string text) => LazyById.Value.ContainsKey(text);

    public static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
