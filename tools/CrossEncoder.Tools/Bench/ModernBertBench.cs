using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using CrossEncoder.Conversion.Checkpoints;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.ModernBert;

namespace CrossEncoder.Tools.Bench;

/// <summary>
/// The ModernBERT model the suite's <c>modernbert</c> cases time: a folder given with <c>--modernbert</c>, or a random
/// checkpoint of gte-reranker-modernbert-base's real shape (its committed config.json, 22 layers, H 768) written once per run
/// to a temporary folder. Its peer is PyTorch on a plain forward pass of the same checkpoint (<c>tools/peers/modernbert_torch.py</c>,
/// run by <see cref="PeerPython"/> in a child process per case).
/// </summary>
public sealed class ModernBertBench : IDisposable
{
    /// <summary>The interpreter of Debian's python3-torch (the python3 first on PATH may be another one without torch).</summary>
    public const string PeerPython = "/usr/bin/python3";

    /// <summary>Largest |ours - peer| logit accepted as "the same model" (fp32 both sides; 22 layers, up to 8192 tokens).</summary>
    public const double LogitTolerance = 1e-3;

    private readonly string? _temporaryFolder;
    private readonly KernelCapabilities _kernels;
    private readonly Dictionary<(int, int), PeerResult> _peerRuns = [];
    private ITransformerModel? _int8;
    private string? _peerScript;
    private string? _peerProbe;

    private ModernBertBench(string directory, string? temporaryFolder, ITransformerModel model, KernelCapabilities kernels, string note)
    {
        Directory = directory;
        _temporaryFolder = temporaryFolder;
        Model = model;
        _kernels = kernels;
        Note = note;
        Config = ((ModernBertModel)model).Config;
    }

    /// <summary>The folder timed (config.json + model.safetensors).</summary>
    public string Directory { get; }

    /// <summary>What the folder is, for the report.</summary>
    public string Note { get; }

    /// <summary>Our engine on the folder, fp32.</summary>
    internal ITransformerModel Model { get; }

    /// <summary>The architecture timed.</summary>
    internal ModernBertConfig Config { get; }

    /// <summary>Our engine on the folder in int8 (loaded on first use).</summary>
    internal ITransformerModel Int8Model => _int8 ??= ModelLoader.Load(Directory, Precision.Int8, capabilities: _kernels).Model;

    /// <summary>Loads <paramref name="directory"/>, or writes the random gte-reranker-modernbert-base checkpoint (seed 1) when it is null.</summary>
    public static ModernBertBench Open(string? directory, int threads)
    {
        var kernels = KernelCapabilities.Default with { MaxThreads = threads };
        string? temporary = null;
        string note = $"the folder {directory}";
        if (directory is null)
        {
            temporary = directory = Path.Combine(Path.GetTempPath(), "crossencoder-bench-modernbert-" + Guid.NewGuid().ToString("N"));
            ModernBertCheckpoint.Write(directory, ReadEmbeddedConfig(), seed: 1, withClassifier: true);
            note = "random weights (seed 1) at gte-reranker-modernbert-base's shape: 22 layers, H 768, 12 heads, I 1152, window 128, global every 3";
        }
        try
        {
            var model = ModelLoader.Load(directory, Precision.Fp32, capabilities: kernels).Model;
            if (model is not ModernBertModel) throw new InvalidOperationException($"--modernbert {directory}: not a ModernBERT folder (model_type {model.Description.ModelType}).");
            return new ModernBertBench(directory, temporary, model, kernels, note);
        }
        catch
        {
            if (temporary is not null) DeleteQuietly(temporary);
            throw;
        }
    }

    /// <summary>
    /// Flops of one forward pass over <paramref name="pairs"/> sequences of <paramref name="tokens"/> tokens: 2 x (weights of
    /// the encoder's linear layers) x B T, plus attention 4 T keys H per sequence and layer (QK^T and PV, a multiply-add
    /// counted as 2) with keys = T on global layers and min(T, local_attention + 1) on local ones, plus the head's two
    /// linears on the B pooled rows. Embedding lookup, norms, rotary, softmax and GELU are not counted.
    /// </summary>
    internal static double Flops(ModernBertConfig config, int pairs, int tokens)
    {
        long h = config.HiddenSize, i = config.IntermediateSize;
        long linearPerLayer = 3 * h * h + h * h + 2 * i * h + i * h;           // Wqkv, attn.Wo, Wi, mlp.Wo
        long bt = (long)pairs * tokens;
        double flops = 2.0 * linearPerLayer * config.NumHiddenLayers * bt;
        long localKeys = Math.Min(tokens, 2L * config.WindowRadius + 1);
        foreach (bool global in config.GlobalLayers) flops += 4.0 * bt * (global ? tokens : localKeys) * h;
        if (config.IsSequenceClassifier) flops += 2.0 * pairs * (h * h + config.NumLabels * h);   // head.dense, classifier
        return flops;
    }

    /// <summary>Flops of one attention call over one sequence of T tokens (<see cref="Flops"/>'s per-layer term).</summary>
    public static double AttentionFlops(int tokens, int hidden, int window) =>
        4.0 * tokens * Math.Min(tokens, 2L * window + 1) * hidden;

    /// <summary>
    /// The peer on <paramref name="pairs"/> x <paramref name="tokens"/> ids: one child process (load, warm-up call whose
    /// logits come back, then timed calls for <paramref name="seconds"/>, at least one). Runs once per shape in a run (the
    /// int8 rows reuse the fp32 rows' peer). Returns a failed result with the reason when Python or torch is missing.
    /// </summary>
    public PeerResult RunPeer(int[] ids, int pairs, int tokens, int threads, double seconds)
    {
        if (_peerRuns.TryGetValue((pairs, tokens), out var cached)) return cached;
        if (Probe() is { } missing) return new PeerResult(double.NaN, [], missing, null);
        string idsFile = Path.Combine(Path.GetTempPath(), $"crossencoder-bench-ids-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(idsFile, MemoryMarshal.AsBytes(ids.AsSpan()).ToArray());   // int32 little-endian, row-major
            var (code, stdout, stderr) = RunPython(PeerScript(), "--model", Directory, "--ids", idsFile,
                "--batch", pairs.ToString(CultureInfo.InvariantCulture), "--tokens", tokens.ToString(CultureInfo.InvariantCulture),
                "--threads", threads.ToString(CultureInfo.InvariantCulture), "--seconds", seconds.ToString(CultureInfo.InvariantCulture));
            string? line = stdout.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
            if (code != 0 || line is null)
                return new PeerResult(double.NaN, [], $"peer failed (exit {code}): {LastLine(stderr)}", null);
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var result = new PeerResult(root.GetProperty("per_s").GetDouble(),
                [.. root.GetProperty("logits").EnumerateArray().Select(e => (float)e.GetDouble())], null,
                root.GetProperty("torch").GetString())
            {
                CallMilliseconds = root.GetProperty("call_ms").GetDouble(),
                Blas = root.TryGetProperty("blas", out var blas) ? blas.GetString() : null,
                Calls = root.GetProperty("calls").GetInt32(),
            };
            _peerRuns[(pairs, tokens)] = result;
            return result;
        }
        finally
        {
            DeleteQuietly(idsFile);
        }
    }

    /// <summary>Null when <see cref="PeerPython"/> imports torch and numpy, else one line saying what is missing (checked once).</summary>
    public string? Probe()
    {
        if (_peerProbe is not null) return _peerProbe.Length == 0 ? null : _peerProbe;
        if (!File.Exists(PeerPython)) _peerProbe = $"no peer: {PeerPython} not found (Debian: apt-get install -y python3-torch)";
        else
        {
            var (code, _, stderr) = RunPython("-c", "import torch, numpy");
            _peerProbe = code == 0 ? "" : $"no peer: {PeerPython} cannot import torch/numpy ({LastLine(stderr)}; Debian: apt-get install -y python3-torch)";
        }
        return _peerProbe.Length == 0 ? null : _peerProbe;
    }

    /// <summary>The peer script, written from the embedded copy of tools/peers/modernbert_torch.py (so the bench runs from any folder).</summary>
    private string PeerScript()
    {
        if (_peerScript is not null) return _peerScript;
        string path = Path.Combine(Path.GetTempPath(), $"crossencoder-bench-modernbert_torch-{Environment.ProcessId}.py");
        using (var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("modernbert_torch.py")
            ?? throw new InvalidOperationException("the embedded peer modernbert_torch.py is missing."))
        using (var file = File.Create(path))
            stream.CopyTo(file);
        return _peerScript = path;
    }

    private static (int Code, string Stdout, string Stderr) RunPython(params string[] arguments)
    {
        var start = new ProcessStartInfo(PeerPython) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        int threads = Array.IndexOf(arguments, "--threads") is int at and >= 0 ? int.Parse(arguments[at + 1], CultureInfo.InvariantCulture) : 0;
        if (threads > 0)
            foreach (string pool in new[] { "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS" }) start.Environment[pool] = threads.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {PeerPython}.");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";

    private static System.Text.Json.Nodes.JsonObject ReadEmbeddedConfig()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("gte-reranker-modernbert-base.config.json")
            ?? throw new InvalidOperationException("the embedded gte-reranker-modernbert-base.config.json is missing.");
        return System.Text.Json.Nodes.JsonNode.Parse(stream) as System.Text.Json.Nodes.JsonObject
            ?? throw new InvalidDataException("gte-reranker-modernbert-base.config.json is not a JSON object.");
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            if (System.IO.Directory.Exists(path)) System.IO.Directory.Delete(path, recursive: true);
            else if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_peerScript is not null) DeleteQuietly(_peerScript);
        if (_temporaryFolder is not null) DeleteQuietly(_temporaryFolder);
    }
}

/// <summary>One run of the peer process.</summary>
/// <param name="PerSecond">Pairs per second over its timed calls (NaN when it did not run).</param>
/// <param name="Logits">Its warm-up call's logits [B, labels].</param>
/// <param name="Failure">Why it did not run, or null.</param>
/// <param name="Version">torch.__version__.</param>
public sealed record PeerResult(double PerSecond, float[] Logits, string? Failure, string? Version)
{
    /// <summary>Median timed call, milliseconds.</summary>
    public double CallMilliseconds { get; init; } = double.NaN;

    /// <summary>The BLAS library the peer loaded (path), if it said.</summary>
    public string? Blas { get; init; }

    /// <summary>Timed calls.</summary>
    public int Calls { get; init; }
}
