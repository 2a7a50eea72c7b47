using System.Diagnostics;
using CrossEncoder.Native.Hub;

namespace CrossEncoder.Cli;

/// <summary>
/// <c>--model</c> as a Hub id: a folder that exists is used as is; otherwise <c>org/name[@revision]</c> is downloaded once into the
/// huggingface_hub cache (HF_ENDPOINT, HF_TOKEN or <c>--token</c>, HF_HUB_OFFLINE, HF_HUB_CACHE / HF_HOME), with a progress bar on
/// a terminal and nothing when stderr is piped.
/// </summary>
internal static class HubModelOption
{
    public static string Resolve(string model, string? token, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (Directory.Exists(model) || !HubModelId.TryParse(model, out var id)) return model;
        var options = HubOptions.FromEnvironment();
        if (token is not null) options = options with { Token = token };
        bool terminal = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        var bar = terminal ? new DownloadProgressBar(stderr) : null;
        try
        {
            return HubDownloader.DownloadModelAsync(id, options with { Progress = bar }, cancellationToken).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Not Ctrl+C (exit 130) but a deadline inside the download: a failure (exit 1). The library reports its own deadlines as
            // HubException; this catches any other that escapes.
            throw new HubException(HubErrorKind.Network, $"downloading {id} stopped without Ctrl+C: {e.Message}", e);
        }
    }
}

/// <summary>One line per large file, redrawn at most ten times a second: name, bytes, a bar, rate and ETA.</summary>
internal sealed class DownloadProgressBar(TextWriter output, Func<TimeSpan>? clock = null) : IProgress<HubDownloadProgress>
{
    private const long SmallFile = 1 << 20;   // files under 1 MB arrive before a bar would help
    private readonly Func<TimeSpan> _clock = clock ?? WallClock();
    private string? _file;
    private long _startBytes;
    private TimeSpan _start;
    private TimeSpan? _lastDraw;

    public void Report(HubDownloadProgress progress)
    {
        if (progress.TotalBytes is < SmallFile) return;
        TimeSpan now = _clock();
        if (progress.FileName != _file)
        {
            (_file, _startBytes, _start, _lastDraw) = (progress.FileName, progress.BytesDownloaded, now, null);
        }
        if (!progress.Completed && now - _lastDraw < TimeSpan.FromMilliseconds(100)) return;   // (null: never drawn, so draw)
        _lastDraw = now;
        double seconds = (now - _start).TotalSeconds;
        double rate = seconds > 0 ? (progress.BytesDownloaded - _startBytes) / seconds : 0;
        output.Write("\r" + Format(progress.FileName, progress.BytesDownloaded, progress.TotalBytes, rate) + "\u001b[K");
        if (progress.Completed)
        {
            output.WriteLine();
            _file = null;
        }
        output.Flush();
    }

    private static Func<TimeSpan> WallClock()
    {
        var watch = Stopwatch.StartNew();
        return () => watch.Elapsed;
    }

    /// <summary><c>model.safetensors  45.2 MB / 90.9 MB [###########.............]  12.3 MB/s  ETA 4s</c></summary>
    internal static string Format(string file, long bytes, long? total, double bytesPerSecond)
    {
        string line = $"{file}  {Size(bytes)}";
        if (total is { } t && t > 0)
        {
            int filled = (int)Math.Clamp(bytes * 24 / t, 0, 24);
            line += $" / {Size(t)} [{new string('#', filled)}{new string('.', 24 - filled)}]";
        }
        line += $"  {Size((long)bytesPerSecond)}/s";
        if (total is { } remainingOf && bytesPerSecond > 0 && bytes < remainingOf)
            line += "  ETA " + Duration(TimeSpan.FromSeconds((remainingOf - bytes) / bytesPerSecond));
        return line;
    }

    internal static string Size(long bytes) => bytes switch
    {
        < 1000 => $"{bytes} B",
        < 1_000_000 => $"{bytes / 1e3:F1} kB",
        < 1_000_000_000 => $"{bytes / 1e6:F1} MB",
        _ => $"{bytes / 1e9:F2} GB",
    };

    private static string Duration(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:D2}m" : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:D2}s" : $"{Math.Ceiling(span.TotalSeconds):F0}s";
}
