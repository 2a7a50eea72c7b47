using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using CrossEncoder.Conversion.Checkpoints;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Qwen;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Tools.Bench;

/// <summary>
/// The decoder reranker the suite's <c>qwen</c> cases time: a folder given with <c>--qwen</c>, or a random checkpoint of
/// Qwen3-Reranker-0.6B's real shape (its committed config.json: 28 layers, H 1024, 16 query / 8 key-value heads of 128,
/// I 3072, the real vocabulary of 151,669 rows, tied embeddings), BF16 as Qwen ships it, written once per run to a
/// temporary folder. The workload is one query's candidates as ids (<see cref="Workload"/>), our side run through
/// <see cref="IPrefixCachingModel"/> with and without the prefix cache; the peer is PyTorch on the same ids
/// (<c>tools/peers/qwen3_torch.py</c>, with and without <c>--cache</c>), one child process per (candidates, cache).
/// </summary>
public sealed class QwenBench : IDisposable
{
    /// <summary>
    /// Largest |ours - peer| logit difference accepted as "the same model" (fp32 both sides). The random checkpoint's
    /// logits are large (the answer rows are embedding rows of N(0, 1) entries, so logit(yes) - logit(no) is O(sqrt(2H)),
    /// about 45), and the two engines sum in different orders over 28 layers of K = 1024 .. 3072 products: at fp32's
    /// 6e-8 relative rounding that is ~1e-5 .. 1e-4 absolute; 1e-3 leaves room and is still 1e-5 of the logits, while a
    /// wrong convention (rotary, mask, grouped heads) moves them by 1e-2 or more (QwenModelTests).
    /// </summary>
    public const double LogitTolerance = 1e-3;

    /// <summary>Tokens every candidate shares: Qwen3-Reranker's system prompt, instruction and a short query are about this many.</summary>
    public const int PrefixTokens = 60;

    /// <summary>Mean tokens of a candidate's own part (document and the closing template); lengths vary ±25 % around it.</summary>
    public const int SuffixTokens = 200;

    /// <summary>Token budget of one forward pass: <c>RerankerOptions.MaxBatchTokens</c>'s default, as the Reranker packs.</summary>
    public const int BatchTokens = 8192;

    /// <summary>Most sequences of one forward pass: <c>RerankerOptions.MaxBatchSequences</c>'s default.</summary>
    public const int BatchSequences = 128;

    private readonly string? _temporaryFolder;
    private readonly KernelCapabilities _kernels;
    private readonly ITextPairTokenizer? _tokenizer;
    private readonly string _prompt;
    private readonly TorchPeer _peer = new("qwen3_torch.py");
    private readonly Dictionary<(int Candidates, bool Cached), PeerResult> _peerRuns = [];
    private readonly Dictionary<(int Candidates, bool Cached, bool Int8), OursRun> _oursRuns = [];
    private QwenModel? _int8;

    private QwenBench(string directory, string? temporaryFolder, KernelCapabilities kernels, ITextPairTokenizer? tokenizer, string prompt, string note)
    {
        Directory = directory;
        _temporaryFolder = temporaryFolder;
        _kernels = kernels;
        _tokenizer = tokenizer;
        _prompt = prompt;
        Note = note;
        (Model, Fp32Memory) = LoadMeasured(Precision.Fp32);
    }

    /// <summary>The folder timed (config.json + model.safetensors).</summary>
    public string Directory { get; }

    /// <summary>What the folder is, for the report.</summary>
    public string Note { get; }

    /// <summary>Our engine on the folder, fp32.</summary>
    internal QwenModel Model { get; }

    /// <summary>The architecture timed.</summary>
    internal QwenConfig Config => Model.Config;

    /// <summary>What loading the fp32 model added to the process.</summary>
    public ResidentSize Fp32Memory { get; }

    /// <summary>What loading the int8 model added to the process (null until <see cref="Int8Model"/> is first used).</summary>
    public ResidentSize? Int8Memory { get; private set; }

    /// <summary>Our engine on the folder in int8 (loaded, and its size measured, on first use).</summary>
    internal QwenModel Int8Model
    {
        get
        {
            if (_int8 is null)
            {
                (_int8, var size) = LoadMeasured(Precision.Int8);
                Int8Memory = size;
            }
            return _int8;
        }
    }

    /// <summary>
    /// Loads <paramref name="directory"/> (its tokenizer.json, if any, gives the answer tokens; its name or model_type the
    /// prompt), or writes the random Qwen3-Reranker-0.6B checkpoint (seed 1) when it is null. <paramref name="config"/>
    /// replaces the committed config for the random checkpoint (tests write a tiny one; its vocabulary must hold Qwen's
    /// answer ids, see <see cref="AnswerTokenizer"/>).
    /// </summary>
    public static QwenBench Open(string? directory, int threads, JsonObject? config = null)
    {
        var kernels = KernelCapabilities.Default with { MaxThreads = threads };
        string? temporary = null;
        string note = $"the folder {directory}";
        if (directory is null)
        {
            config ??= BenchContext.ReadEmbeddedConfig("Qwen3-Reranker-0.6B.config.json");
            temporary = directory = Path.Combine(Path.GetTempPath(), "crossencoder-bench-qwen-" + Guid.NewGuid().ToString("N"));
            QwenCheckpoint.Write(directory, config, seed: 1, layout: new CheckpointLayout(CheckpointDType.BFloat16));
            note = string.Create(CultureInfo.InvariantCulture,
                $"random weights (seed 1, BF16 as Qwen ships, widened to fp32 at load) at Qwen3-Reranker-0.6B's shape: {config["num_hidden_layers"]} layers, " +
                $"H {config["hidden_size"]}, {config["num_attention_heads"]} query / {config["num_key_value_heads"]} key-value heads of {config["head_dim"]}, " +
                $"I {config["intermediate_size"]}, V {config["vocab_size"]} (the real vocabulary), tied embeddings; answer ids yes {AnswerTokenizer.Yes} / no {AnswerTokenizer.No}");
        }
        try
        {
            var folderConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")))!.AsObject();
            string modelType = folderConfig["model_type"]?.GetValue<string>() ?? "";
            if (modelType is not ("qwen3" or "qwen2")) throw new InvalidOperationException($"--qwen {directory}: not a Qwen3 / Qwen2 folder (model_type '{modelType}').");
            string prompt = RerankPrompt.FromName(directory)?.Name ?? (modelType == "qwen2" ? RerankPrompt.MxbaiRerankV2.Name : RerankPrompt.Qwen3Reranker.Name);
            // A real folder's tokenizer knows its answer tokens; the random checkpoint has none and gets Qwen's ids.
            ITextPairTokenizer? tokenizer = File.Exists(Path.Combine(directory, "tokenizer.json")) ? null
                : new AnswerTokenizer(folderConfig["vocab_size"]?.GetValue<int>() ?? 0);
            return new QwenBench(directory, temporary, kernels, tokenizer, prompt, note);
        }
        catch
        {
            if (temporary is not null) TorchPeer.DeleteQuietly(temporary);
            throw;
        }
    }

    private (QwenModel Model, ResidentSize Size) LoadMeasured(Precision precision)
    {
        var before = ResidentSize.Now();
        var model = ModelLoader.Load(Directory, precision, _tokenizer, _kernels, _prompt).Model as QwenModel
            ?? throw new InvalidOperationException($"--qwen {Directory}: not a Qwen decoder.");
        if (model.AnswerTokenIds.Length != 2) throw new InvalidOperationException($"--qwen {Directory}: an embedding model, not a reranker.");
        return (model, ResidentSize.Now() - before);
    }

    /// <summary>
    /// One query and <paramref name="candidates"/> candidates as token ids, seeded (the first candidates of a larger
    /// workload are those of a smaller one): a prefix of <see cref="PrefixTokens"/> and suffixes of
    /// <see cref="SuffixTokens"/> ± 25 %, ids uniform over the vocabulary (a dense decoder's cost does not depend on them).
    /// </summary>
    public QwenWorkload Workload(int candidates)
    {
        int vocabulary = Config.VocabSize;
        var random = new Random(2024);
        int[] prefix = [.. Enumerable.Range(0, PrefixTokens).Select(_ => random.Next(vocabulary))];
        int low = SuffixTokens * 3 / 4, high = SuffixTokens * 5 / 4;
        var suffixes = new int[candidates][];
        for (int c = 0; c < candidates; c++)
        {
            int length = random.Next(low, high + 1);
            suffixes[c] = [.. Enumerable.Range(0, length).Select(_ => random.Next(vocabulary))];
        }
        return new QwenWorkload(prefix, suffixes);
    }

    /// <summary>
    /// Flops our engine runs for one query: per layer and token 2 x (q|k|v + o_proj + gate|up + down_proj weights), plus
    /// attention 4 x keys x nH dH per query token (QK^T and PV, keys = position + 1: causal), plus the two answer rows
    /// (4H) per candidate. As the engine computes: each scored pass's last layer goes past attention for its last token only
    /// (its other tokens' keys and values are still computed); the prefix pass (<paramref name="cached"/>) stops its last
    /// layer after the keys and values. Norms, rotary, softmax, SiLU and the embedding gather are not counted.
    /// </summary>
    internal static double Flops(QwenConfig config, int prefixLength, IReadOnlyList<int> suffixLengths, bool cached)
    {
        double h = config.HiddenSize, width = (double)config.NumAttentionHeads * config.HeadDim;
        double qkv = 2 * h * config.QueryKeyValueWidth;                              // q|k|v per token
        double rest = 2 * width * h + 2 * h * 2 * config.IntermediateSize + 2 * config.IntermediateSize * h;   // o_proj, gate|up, down_proj
        double attention = 4 * width;                                                // per (query, key) pair
        int layers = config.NumHiddenLayers;
        double flops = 0;
        if (cached)
        {
            Pass(0, prefixLength, scored: false);
            foreach (int s in suffixLengths) Pass(prefixLength, prefixLength + s, scored: true);
        }
        else
            foreach (int s in suffixLengths) Pass(0, prefixLength + s, scored: true);
        return flops;

        // One sequence's tokens at positions [begin, end) in one pass.
        void Pass(int begin, int end, bool scored)
        {
            double tokens = end - begin, keys = ((double)end * (end + 1) - (double)begin * (begin + 1)) / 2;   // sum of (position + 1)
            flops += (layers - 1) * (tokens * (qkv + rest) + attention * keys);
            flops += tokens * qkv;                                                   // last layer: every token's keys and values
            if (scored) flops += attention * end + rest + 4 * h;                     // the last token only; then lm_head's two rows
        }
    }

    /// <summary>Tokens one query computes: without the cache every candidate whole (N P + sum of suffixes), with it P + sum.</summary>
    internal static long ComputedTokens(QwenWorkload workload, bool cached) =>
        (cached ? workload.Prefix.Length : (long)workload.Prefix.Length * workload.Suffixes.Length) + workload.Suffixes.Sum(s => (long)s.Length);

    /// <summary>
    /// Our side of one row, measured once per run (the cached row reuses the uncached one's measurement for the saving):
    /// a short warm-up, then calls of <see cref="ScoreQuery"/> for about <paramref name="seconds"/> (at least one; the
    /// first call's logits are kept for the comparison).
    /// </summary>
    internal OursRun MeasureOurs(int candidates, bool cached, bool int8, double seconds)
    {
        if (_oursRuns.TryGetValue((candidates, cached, int8), out var done)) return done;
        var model = int8 ? Int8Model : Model;
        var workload = Workload(candidates);
        int longest = workload.Prefix.Length + workload.Suffixes.Max(s => s.Length);
        var workspace = model.CreateWorkspace(Math.Max(BatchTokens, longest), BatchSequences, longest);
        var logits = new float[candidates];
        // JIT warm-up on two short candidates, both paths: calls of minutes need no more (their kernels are optimized code
        // from the start: AggressiveOptimization), and a full warm-up call would double the row.
        ScoreQuery(model, workspace, new QwenWorkload(workload.Prefix, [.. workload.Suffixes.Take(2).Select(s => s[..8])]), cached: true, new float[2]);
        ScoreQuery(model, workspace, new QwenWorkload(workload.Prefix, [.. workload.Suffixes.Take(2).Select(s => s[..8])]), cached: false, new float[2]);
        float[]? first = null;
        var times = BenchCases.TimeCalls(seconds, () =>
        {
            ScoreQuery(model, workspace, workload, cached, logits);
            first ??= [.. logits];
        });
        return _oursRuns[(candidates, cached, int8)] = new OursRun(first!, times);
    }

    /// <summary>
    /// Scores one query's candidates into <paramref name="logits"/> as the Reranker does: with <paramref name="cached"/>
    /// the prefix once (<see cref="IPrefixCachingModel.ComputePrefix"/>), then the suffixes packed in batches of at most
    /// <see cref="BatchTokens"/> tokens; without it every candidate whole (prefix + suffix) in such batches.
    /// </summary>
    internal static void ScoreQuery(QwenModel model, ModelWorkspace workspace, QwenWorkload workload, bool cached, Span<float> logits)
    {
        var batch = workspace.Batch;
        if (cached) model.ComputePrefix(workspace, workload.Prefix);
        int[] whole = [];
        try
        {
            int next = 0;
            while (next < workload.Suffixes.Length)
            {
                batch.Clear();
                int first = next;
                for (; next < workload.Suffixes.Length; next++)
                {
                    int[] suffix = workload.Suffixes[next];
                    int length = cached ? suffix.Length : workload.Prefix.Length + suffix.Length;
                    if (!batch.CanAdd(length)) break;
                    if (cached) batch.Add(suffix);
                    else
                    {
                        if (whole.Length != length) whole = new int[length];
                        workload.Prefix.CopyTo(whole, 0);
                        suffix.CopyTo(whole, workload.Prefix.Length);
                        batch.Add(whole);
                    }
                }
                model.Forward(workspace).CopyTo(logits[first..next]);                // [b]: logit(yes) - logit(no)
            }
        }
        finally
        {
            if (cached) model.ClearPrefix(workspace);
        }
    }

    /// <summary>
    /// The peer on the same ids, with or without <c>--cache</c>: one child process (load, then timed calls for
    /// <paramref name="seconds"/>, at least one, <c>--warmup 0</c>: a call takes seconds to minutes, and its logits are the
    /// first timed call's). Runs once per (candidates, cache) in a run (the int8 rows reuse the fp32 rows' peer).
    /// </summary>
    public PeerResult RunPeer(int candidates, bool cached, int threads, double seconds)
    {
        if (_peerRuns.TryGetValue((candidates, cached), out var done)) return done;
        if (TorchPeer.Probe() is { } missing) return PeerResult.Failed(missing);
        var workload = Workload(candidates);
        string stem = Path.Combine(Path.GetTempPath(), $"crossencoder-bench-qwen-ids-{Guid.NewGuid():N}");
        string prefixFile = stem + ".prefix.bin", suffixesFile = stem + ".suffixes.bin";
        try
        {
            // int32 little-endian: the prefix ids; then N, and N times (length, ids) (the script's header).
            File.WriteAllBytes(prefixFile, MemoryMarshal.AsBytes(workload.Prefix.AsSpan()).ToArray());
            int[] suffixes = [workload.Suffixes.Length, .. workload.Suffixes.SelectMany(s => (int[])[s.Length, .. s])];
            File.WriteAllBytes(suffixesFile, MemoryMarshal.AsBytes(suffixes.AsSpan()).ToArray());
            string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
            string[] arguments = ["--model", Directory, "--prefix", prefixFile, "--suffixes", suffixesFile,
                "--yes", Text(Model.AnswerTokenIds[0]), "--no", Text(Model.AnswerTokenIds[1]),
                "--threads", Text(threads), "--seconds", Text(seconds), "--warmup", "0", .. cached ? (string[])["--cache"] : []];
            var result = _peer.Run(arguments);
            if (result.Failure is null) _peerRuns[(candidates, cached)] = result;
            return result;
        }
        finally
        {
            TorchPeer.DeleteQuietly(prefixFile);
            TorchPeer.DeleteQuietly(suffixesFile);
        }
    }

    /// <summary>The peer's run of <paramref name="candidates"/> with or without the cache, if this run already made it.</summary>
    internal PeerResult? PeerRunIfDone(int candidates, bool cached) => _peerRuns.GetValueOrDefault((candidates, cached));

    /// <inheritdoc/>
    public void Dispose()
    {
        _peer.Dispose();
        if (_temporaryFolder is not null) TorchPeer.DeleteQuietly(_temporaryFolder);
    }
}

/// <summary>One query's candidates as ids: candidate i is <see cref="Prefix"/> followed by <see cref="Suffixes"/>[i].</summary>
/// <param name="Prefix">The tokens every candidate starts with (system prompt, instruction, query).</param>
/// <param name="Suffixes">Each candidate's own tokens (document, closing template).</param>
public sealed record QwenWorkload(int[] Prefix, int[][] Suffixes);

/// <summary>Our side of one row.</summary>
/// <param name="Logits">The first timed call's logit(yes) - logit(no) per candidate.</param>
/// <param name="CallSeconds">Seconds of each timed call.</param>
public sealed record OursRun(float[] Logits, List<double> CallSeconds)
{
    /// <summary>Candidates per second over the timed calls.</summary>
    public double PerSecond(int candidates) => CallSeconds.Count * candidates / CallSeconds.Sum();
}

/// <summary>What a load added to the process: live managed bytes (after a full compacting collection: the weights are
/// managed arrays) and the working set.</summary>
/// <param name="ManagedBytes">GC.GetTotalMemory after a full collection.</param>
/// <param name="WorkingSetBytes">The process's resident set (Process.WorkingSet64).</param>
public readonly record struct ResidentSize(long ManagedBytes, long WorkingSetBytes)
{
    /// <summary>The process now, after a full blocking collection that also compacts the large-object heap.</summary>
    public static ResidentSize Now()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        return new ResidentSize(managed, process.WorkingSet64);
    }

    /// <summary>The difference of two measurements.</summary>
    public static ResidentSize operator -(ResidentSize after, ResidentSize before) =>
        new(after.ManagedBytes - before.ManagedBytes, after.WorkingSetBytes - before.WorkingSetBytes);
}

/// <summary>
/// The tokenizer of the random checkpoint, which has none: it knows only the answer tokens of the built-in prompts, at
/// Qwen's real ids (the peer's defaults): "yes" 9693, "no" 2152 (Qwen3-Reranker), "1" 16, "0" 15 (mxbai-rerank-v2).
/// The bench feeds the model ids, so nothing else is ever tokenized.
/// </summary>
internal sealed class AnswerTokenizer(int vocabularySize) : ITextPairTokenizer
{
    /// <summary>Qwen's id of "yes".</summary>
    public const int Yes = 9693;

    /// <summary>Qwen's id of "no".</summary>
    public const int No = 2152;

    public int VocabularySize => vocabularySize;

    public int ModelMaxLength => int.MaxValue;

    public int[] EncodeToIds(string text) => text switch
    {
        "yes" => [Yes],
        "no" => [No],
        "1" => [16],
        "0" => [15],
        _ => throw new NotSupportedException($"the bench's answer tokenizer knows only the answer tokens, not '{text}'."),
    };

    public EncodedPair EncodePair(string query, string document, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst) =>
        throw new NotSupportedException("the bench feeds the model ids.");

    public EncodedPair EncodePair(ReadOnlySpan<int> queryIds, ReadOnlySpan<int> documentIds, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst) =>
        throw new NotSupportedException("the bench feeds the model ids.");

    public EncodedPair EncodeSingle(string text, int maxLength) => throw new NotSupportedException("the bench feeds the model ids.");

    public (int[] Ids, TokenOffsets[] Offsets) EncodeToIdsWithOffsets(string text) => throw new NotSupportedException("the bench feeds the model ids.");

    public EncodedPair EncodeSingle(ReadOnlySpan<int> ids, int maxLength) => throw new NotSupportedException("the bench feeds the model ids.");

    public bool TryGetTokenId(string token, out int id)
    {
        id = token switch { "yes" => Yes, "no" => No, "1" => 16, "0" => 15, _ => -1 };
        return id >= 0;
    }

    public string IdToToken(int id) => $"<{id}>";
}
