using System.Globalization;
using System.Runtime.InteropServices;
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
    /// <summary>The peer's interpreter (<see cref="TorchPeer.Python"/>).</summary>
    public const string PeerPython = TorchPeer.Python;

    /// <summary>Largest |ours - peer| logit accepted as "the same model" (fp32 both sides; 22 layers, up to 8192 tokens).</summary>
    public const double LogitTolerance = 1e-3;

    private readonly string? _temporaryFolder;
    private readonly KernelCapabilities _kernels;
    private readonly Dictionary<(int, int), PeerResult> _peerRuns = [];
    private readonly TorchPeer _peer = new("modernbert_torch.py");
    private ITransformerModel? _int8;

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
            ModernBertCheckpoint.Write(directory, BenchContext.ReadEmbeddedConfig("gte-reranker-modernbert-base.config.json"), seed: 1, withClassifier: true);
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
            if (temporary is not null) TorchPeer.DeleteQuietly(temporary);
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
        if (TorchPeer.Probe() is { } missing) return PeerResult.Failed(missing);
        string idsFile = Path.Combine(Path.GetTempPath(), $"crossencoder-bench-ids-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(idsFile, MemoryMarshal.AsBytes(ids.AsSpan()).ToArray());   // int32 little-endian, row-major
            var result = _peer.Run("--model", Directory, "--ids", idsFile,
                "--batch", pairs.ToString(CultureInfo.InvariantCulture), "--tokens", tokens.ToString(CultureInfo.InvariantCulture),
                "--threads", threads.ToString(CultureInfo.InvariantCulture), "--seconds", seconds.ToString(CultureInfo.InvariantCulture));
            if (result.Failure is null) _peerRuns[(pairs, tokens)] = result;
            return result;
        }
        finally
        {
            TorchPeer.DeleteQuietly(idsFile);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _peer.Dispose();
        if (_temporaryFolder is not null) TorchPeer.DeleteQuietly(_temporaryFolder);
    }
}
