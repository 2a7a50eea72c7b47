using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace CrossEncoder.Tools.Bench;

/// <summary>
/// A PyTorch peer of the suite: one of the scripts in tools/peers, embedded in this assembly, written to a temporary file on
/// first use and run by <see cref="Python"/> in a child process per measurement. Each script prints one JSON line
/// (<c>per_s</c>, <c>calls</c>, <c>call_ms</c>, <c>torch</c>, <c>blas</c>, <c>logits</c>, and its own extras), which
/// <see cref="Run"/> turns into a <see cref="PeerResult"/>.
/// </summary>
public sealed class TorchPeer(string resourceName) : IDisposable
{
    /// <summary>The interpreter of Debian's python3-torch (the python3 first on PATH may be another one without torch).</summary>
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> LazyProbe = new(ProbeOnce);

    private string? _script;

    /// <summary>Null when <see cref="Python"/> imports torch and numpy, else one line saying what is missing (checked once per process).</summary>
    public static string? Probe() => LazyProbe.Value;

    /// <summary>
    /// Runs the script with <paramref name="arguments"/> (OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set from its
    /// <c>--threads</c>) and parses its last JSON line; a failed result says why (Python or torch missing, a non-zero exit).
    /// </summary>
    public PeerResult Run(params string[] arguments)
    {
        if (Probe() is { } missing) return PeerResult.Failed(missing);
        var (code, stdout, stderr) = RunPython([Script(), .. arguments]);
        string? line = stdout.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (code != 0 || line is null) return PeerResult.Failed($"peer failed (exit {code}): {LastLine(stderr)}");
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        double Optional(string name) => root.TryGetProperty(name, out var value) ? value.GetDouble() : double.NaN;
        return new PeerResult(root.GetProperty("per_s").GetDouble(), [.. root.GetProperty("logits").EnumerateArray().Select(e => (float)e.GetDouble())], null,
            root.GetProperty("torch").GetString())
        {
            CallMilliseconds = root.GetProperty("call_ms").GetDouble(),
            Blas = root.TryGetProperty("blas", out var blas) ? blas.GetString() : null,
            Calls = root.GetProperty("calls").GetInt32(),
            TokensPerSecond = Optional("tokens_per_s"),
            GflopPerSecond = Optional("gflop_s"),
        };
    }

    /// <summary>The script's path, written from the embedded copy of tools/peers/&lt;resource&gt; (so the bench runs from any folder).</summary>
    private string Script()
    {
        if (_script is not null) return _script;
        string path = Path.Combine(Path.GetTempPath(), $"crossencoder-bench-{Environment.ProcessId}-{Guid.NewGuid():N}-{resourceName}");
        using (var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"the embedded peer {resourceName} is missing."))
        using (var file = File.Create(path))
            stream.CopyTo(file);
        return _script = path;
    }

    private static string? ProbeOnce()
    {
        if (!File.Exists(Python)) return $"no peer: {Python} not found (Debian: apt-get install -y python3-torch)";
        var (code, _, stderr) = RunPython(["-c", "import torch, numpy"]);
        return code == 0 ? null : $"no peer: {Python} cannot import torch/numpy ({LastLine(stderr)}; Debian: apt-get install -y python3-torch)";
    }

    private static (int Code, string Stdout, string Stderr) RunPython(string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        int threads = Array.IndexOf(arguments, "--threads") is int at and >= 0 ? int.Parse(arguments[at + 1], CultureInfo.InvariantCulture) : 0;
        if (threads > 0)
            foreach (string pool in new[] { "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS" }) start.Environment[pool] = threads.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Python}.");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";

    /// <summary>Deletes a file or folder, ignoring a failure (temporary files of the bench).</summary>
    internal static void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_script is not null) DeleteQuietly(_script);
    }
}

/// <summary>One run of a peer process.</summary>
/// <param name="PerSecond">Pairs (candidates) per second over its timed calls (NaN when it did not run).</param>
/// <param name="Logits">Its first call's logits (the warm-up call's, or the first timed call's without one).</param>
/// <param name="Failure">Why it did not run, or null.</param>
/// <param name="Version">torch.__version__.</param>
public sealed record PeerResult(double PerSecond, float[] Logits, string? Failure, string? Version)
{
    /// <summary>A result that says why the peer did not run.</summary>
    public static PeerResult Failed(string reason) => new(double.NaN, [], reason, null);

    /// <summary>Median timed call, milliseconds.</summary>
    public double CallMilliseconds { get; init; } = double.NaN;

    /// <summary>The BLAS library the peer loaded (path), if it said.</summary>
    public string? Blas { get; init; }

    /// <summary>Timed calls.</summary>
    public int Calls { get; init; }

    /// <summary>Tokens the model computed per second (the decoder peer), else NaN.</summary>
    public double TokensPerSecond { get; init; } = double.NaN;

    /// <summary>The peer's own count of useful GFLOP per second (the decoder peer), else NaN.</summary>
    public double GflopPerSecond { get; init; } = double.NaN;

    /// <summary>A note fragment naming the BLAS the peer loaded (<c>peer BLAS openblas-pthread/libblas.so.3</c>), or empty.</summary>
    public string BlasNote => Blas?.Split(", ")[0] is { } blas ? "; peer BLAS " + Path.GetFileName(Path.GetDirectoryName(blas)) + "/" + Path.GetFileName(blas) : "";
}
