using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Tools.Bench;

/// <summary>Everything one <c>bench --suite</c> run measured.</summary>
public sealed class BenchReport
{
    /// <summary>CPU, cores, ISA path, runtime and ONNX Runtime versions.</summary>
    public required IReadOnlyDictionary<string, string> Machine { get; init; }

    /// <summary>FMA peak on one core, GFLOP/s.</summary>
    public required double PeakOneCore { get; init; }

    /// <summary>FMA peak on all the threads the run uses, GFLOP/s.</summary>
    public required double PeakAllCores { get; init; }

    /// <summary>Integer peak of the int8 GEMM's instruction chain on one core, G int-ops/s (<see cref="GemmInt8Bench.IntegerPeak"/>); 0 when not measured.</summary>
    public double IntegerPeakOneCore { get; init; }

    /// <summary>Integer peak on all the threads the run uses, G int-ops/s; 0 when not measured.</summary>
    public double IntegerPeakAllCores { get; init; }

    /// <summary>GEMM rows.</summary>
    public required IReadOnlyList<GemmResult> Gemm { get; init; }

    /// <summary>Case rows.</summary>
    public required IReadOnlyList<BenchCaseResult> Cases { get; init; }

    /// <summary>The JSON document of the issue: machine, peak_gflops, gemm, cases.</summary>
    public string ToJson()
    {
        var machine = new JsonObject();
        foreach (var (key, value) in Machine) machine[key] = value;
        var gemm = new JsonArray();
        foreach (var g in Gemm)
            gemm.Add(new JsonObject
            {
                ["m"] = g.M, ["n"] = g.N, ["k"] = g.K, ["threads"] = g.Threads, ["path"] = g.Path,
                ["gflops"] = Math.Round(g.Gflops, 2), ["percent_of_peak"] = Math.Round(g.PercentOfPeak, 1),
                ["layer"] = g.Layer,
            });
        var cases = new JsonArray();
        foreach (var c in Cases)
        {
            var row = new JsonObject
            {
                ["case"] = c.Case, ["ours_per_s"] = Number(c.OursPerSecond, c.OursPerSecond < 1 ? 4 : 2), ["ort_per_s"] = Number(c.OrtPerSecond, c.OrtPerSecond < 1 ? 4 : 2),
                ["ratio"] = Number(c.Ratio, 3), ["peer"] = c.Peer,
            };
            foreach (var (key, value) in c.Extra) row[key] = Number(value, value != 0 && Math.Abs(value) < 0.01 ? 8 : 2);
            if (c.Note is not null) row["note"] = c.Note;
            cases.Add(row);
        }
        var root = new JsonObject
        {
            ["machine"] = machine,
            ["peak_gflops"] = new JsonObject { ["one_core"] = Math.Round(PeakOneCore, 1), ["all_cores"] = Math.Round(PeakAllCores, 1) },
            ["integer_peak_gops"] = IntegerPeakAllCores > 0
                ? new JsonObject { ["one_core"] = Math.Round(IntegerPeakOneCore, 1), ["all_cores"] = Math.Round(IntegerPeakAllCores, 1) } : null,
            ["gemm"] = gemm,
            ["cases"] = cases,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    // JSON has no NaN: a missing peer's throughput and ratio are null.
    private static JsonNode? Number(double value, int digits) => double.IsFinite(value) ? Math.Round(value, digits) : null;

    /// <summary>Markdown tables: peak, GEMM (one row per shape, 1 thread and all threads side by side), cases.</summary>
    public string ToTable()
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        s.AppendLine(inv, $"machine: {string.Join(", ", Machine.Select(kv => $"{kv.Key} {kv.Value}"))}");
        s.AppendLine(inv, $"FMA peak: {PeakOneCore:F1} GFLOP/s one core, {PeakAllCores:F1} GFLOP/s all cores");
        if (IntegerPeakAllCores > 0) s.AppendLine(inv, $"integer peak (int8 rows): {IntegerPeakOneCore:F1} G int-ops/s one core, {IntegerPeakAllCores:F1} all cores");
        s.AppendLine();
        s.AppendLine("| GEMM M x N x K | path | 1 thread GFLOP/s | % peak | all threads GFLOP/s | % peak | speed-up |");
        s.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var group in Gemm.GroupBy(g => (g.M, g.N, g.K, g.Path, g.Layer)))
        {
            var one = group.FirstOrDefault(g => g.Threads == 1);
            var all = group.FirstOrDefault(g => g.Threads > 1);
            string layer = group.Key.Layer is null ? "" : $" ({group.Key.Layer})";
            s.Append(inv, $"| {group.Key.M} x {group.Key.N} x {group.Key.K}{layer} | {group.Key.Path} | ");
            s.Append(one is null ? "| | " : string.Create(inv, $"{one.Gflops:F1} | {one.PercentOfPeak:F0} % | "));
            s.Append(all is null ? "| | " : string.Create(inv, $"{all.Gflops:F1} | {all.PercentOfPeak:F0} % | "));
            s.AppendLine(one is not null && all is not null ? string.Create(inv, $"{all.Gflops / one.Gflops:F2}x |") : " |");
        }
        s.AppendLine();
        s.AppendLine("| case | ours pairs/s | peer pairs/s | ours/peer | notes |");
        s.AppendLine("|---|---|---|---|---|");
        foreach (var c in Cases)
        {
            var parts = c.Extra.Select(kv => string.Create(inv, $"{kv.Key} {(kv.Value != 0 && Math.Abs(kv.Value) < 0.05 ? kv.Value.ToString("G2", inv) : kv.Value.ToString("0.#", inv))}")).ToList();
            if (c.Peer != "onnxruntime") parts.Insert(0, "peer " + c.Peer);
            if (c.Note is not null) parts.Add(c.Note);
            string ours = double.IsFinite(c.OursPerSecond) ? c.OursPerSecond.ToString(c.OursPerSecond < 1 ? "F3" : "F1", inv) : "n/a";
            string peer = double.IsFinite(c.OrtPerSecond) ? c.OrtPerSecond.ToString(c.OrtPerSecond < 1 ? "F3" : "F1", inv) : "n/a";
            string ratio = double.IsFinite(c.Ratio) ? c.Ratio.ToString("F2", inv) : "n/a";
            s.AppendLine(inv, $"| {c.Case} | {ours} | {peer} | {ratio} | {string.Join(", ", parts)} |");
        }
        return s.ToString();
    }
}

/// <summary>The whole <c>bench --suite</c>: peak, GEMM, then every case of <see cref="BenchCases.Suite"/> (or the cases given,
/// e.g. the opt-in <see cref="BenchCases.Qwen"/> rows), in one process.</summary>
public static class BenchSuite
{
    /// <summary>Runs the suite; <paramref name="progress"/> gets one line per finished measurement (for stderr).</summary>
    public static BenchReport Run(string modelDirectory, string onnxPath, BenchSettings settings, Action<string>? progress = null, IReadOnlyList<BenchCase>? cases = null)
    {
        int threads = settings.Threads;
        // Every kernel call of ours gets the thread count through KernelCapabilities.MaxThreads: the GEMM rows directly, the
        // model cases through the Reranker's options (BenchContext), so --threads limits both, and ONNX Runtime's intra-op pool.
        double one = FmaPeak.Measure(1), all = threads == 1 ? one : FmaPeak.Measure(threads);
        progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"peak: {one:F1} GFLOP/s one core, {all:F1} all cores"));
        var gemm = GemmBench.Run(threads, one, all, Math.Clamp(settings.Seconds / 20, 0.1, 1.0),
            r => progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"gemm {r.M}x{r.N}x{r.K}{(r.Layer is null ? "" : " " + r.Layer)} {r.Path} {r.Threads} thread(s): {r.Gflops:F1} GFLOP/s ({r.PercentOfPeak:F0} %)")));
        double integerOne = 0, integerAll = 0;
        if (settings.Int8)
        {
            double seconds = Math.Clamp(settings.Seconds / 20, 0.1, 1.0);
            integerOne = GemmInt8Bench.IntegerPeak(1, seconds);
            integerAll = threads == 1 ? integerOne : GemmInt8Bench.IntegerPeak(threads, seconds);
            progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"integer peak: {integerOne:F1} G int-ops/s one core, {integerAll:F1} all cores"));
            gemm = [.. gemm, .. GemmInt8Bench.Run(threads, integerOne, integerAll, seconds,
                r => progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"gemm {r.M}x{r.N}x{r.K}{(r.Layer is null ? "" : " " + r.Layer)} {r.Path} {r.Threads} thread(s): {r.Gflops:F1} G int-ops/s ({r.PercentOfPeak:F0} % of the integer peak)")))];
        }
        settings = settings with { PeakGflops = all, IntegerPeakGops = integerAll };
        using var context = BenchContext.Open(modelDirectory, onnxPath, settings);
        progress?.Invoke("model: " + context.HeadNote);
        if (context.OrtInt8Note is { } ortInt8) progress?.Invoke(ortInt8);
        var results = new List<BenchCaseResult>();
        foreach (var c in cases ?? BenchCases.Suite(settings.Int8))
        {
            var r = c.Run(context);
            results.Add(r);
            string peer = r.Peer == "onnxruntime" ? "ORT" : r.Peer;
            progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{r.Case}: ours {r.OursPerSecond:F1}/s, {peer} {r.OrtPerSecond:F1}/s, ratio {r.Ratio:F2}{(r.Note is null ? "" : "; " + r.Note)}"));
        }
        var machine = Machine(threads, context.HeadNote);
        if (context.ModernBertOpened)
        {
            machine["modernbert"] = context.ModernBert.Note;
            machine["modernbert_peer"] = TorchPeer.Probe() ?? $"PyTorch, plain eager forward pass (tools/peers/modernbert_torch.py) under {ModernBertBench.PeerPython}, one process per shape";
        }
        if (context.QwenOpened)
        {
            machine["qwen"] = context.Qwen.Note;
            machine["qwen_peer"] = TorchPeer.Probe() ?? $"PyTorch, eager causal LM on a padded batch (tools/peers/qwen3_torch.py) under {TorchPeer.Python}, one process per (candidates, cache)";
        }
        if (context.OrtInt8Note is { } note) machine["onnxruntime_int8"] = note;
        return new BenchReport
        {
            Machine = machine, PeakOneCore = one, PeakAllCores = all, IntegerPeakOneCore = integerOne, IntegerPeakAllCores = integerAll, Gemm = gemm, Cases = results,
        };
    }

    /// <summary>CPU model (from /proc/cpuinfo on Linux), cores, kernel path, runtime and ONNX Runtime versions.</summary>
    public static Dictionary<string, string> Machine(int threads, string model)
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var lines = File.ReadLines("/proc/cpuinfo").Take(40).ToArray();
                string? name = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
                string? family = lines.FirstOrDefault(l => l.StartsWith("cpu family", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
                string? modelNumber = lines.FirstOrDefault(l => l.StartsWith("model\t", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
                if (name is not null) cpu = family is null ? name : $"{name} (family {family} model {modelNumber})";
            }
        }
        catch (IOException) { }
        return new Dictionary<string, string>
        {
            ["cpu"] = cpu,
            ["logical_cores"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["threads"] = threads.ToString(CultureInfo.InvariantCulture),
            ["kernel_path"] = KernelCapabilities.Default.Isa.ToString().ToLowerInvariant(),
            // The model cases' kernel threads: the Reranker gets --threads through its capability record (BenchContext).
            ["model_kernel_threads"] = threads.ToString(CultureInfo.InvariantCulture),
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["os"] = RuntimeInformation.OSDescription,
            ["onnxruntime"] = OrtEncoder.Version,
            ["model"] = model,
        };
    }
}
