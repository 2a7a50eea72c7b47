using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace CrossEncoder.Server;

/// <summary>
/// Counters and histograms served at <c>GET /metrics</c> in the Prometheus text exposition format (version 0.0.4:
/// https://prometheus.io/docs/instrumenting/exposition_formats/), written by hand: a few dozen lines instead of a dependency.
/// Names follow TEI's <c>te_*</c> metrics where one exists, prefixed <c>crossencoder_</c>.
/// </summary>
internal sealed class ServerMetrics
{
    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] TokenBuckets = [16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768];
    private static readonly double[] SizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

    private readonly ConcurrentDictionary<(string Route, int Status), long> _requests = new();
    private readonly Histogram _requestDuration = new(SecondsBuckets);
    private readonly Histogram _queueTime = new(SecondsBuckets);
    private readonly Histogram _inferenceTime = new(SecondsBuckets);
    private readonly Histogram _batchTokens = new(TokenBuckets);
    private readonly Histogram _batchSize = new(SizeBuckets);
    private long _tokens, _truncated, _cancelled, _queueDepth;

    public void Request(string route, int status, TimeSpan duration)
    {
        _requests.AddOrUpdate((route, status), 1, static (_, n) => n + 1);
        _requestDuration.Observe(duration.TotalSeconds);
    }

    public void Batch(int sequences, int tokens, TimeSpan inference)
    {
        _batchSize.Observe(sequences);
        _batchTokens.Observe(tokens);
        _inferenceTime.Observe(inference.TotalSeconds);
        Interlocked.Add(ref _tokens, tokens);
    }

    public void QueueTime(TimeSpan queued) => _queueTime.Observe(queued.TotalSeconds);
    public void QueueDepth(int depth) => Interlocked.Exchange(ref _queueDepth, depth);
    public void Truncated(int documents) => Interlocked.Add(ref _truncated, documents);
    public void Cancelled() => Interlocked.Increment(ref _cancelled);

    /// <summary>The exposition text.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        text.Append("# HELP crossencoder_requests_total HTTP requests by route and status code.\n# TYPE crossencoder_requests_total counter\n");
        foreach (var ((route, status), count) in _requests.OrderBy(e => e.Key.Route, StringComparer.Ordinal).ThenBy(e => e.Key.Status))
            text.Append(CultureInfo.InvariantCulture, $"crossencoder_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}\n");
        _requestDuration.Render(text, "crossencoder_request_duration_seconds", "Time from request start to response, seconds.");
        _queueTime.Render(text, "crossencoder_queue_duration_seconds", "Time a request waited in the batching queue, seconds.");
        _inferenceTime.Render(text, "crossencoder_inference_duration_seconds", "Time of one batched forward pass, seconds.");
        _batchTokens.Render(text, "crossencoder_batch_tokens", "Tokens in one forward pass.");
        _batchSize.Render(text, "crossencoder_batch_size", "Sequences in one forward pass.");
        Counter(text, "crossencoder_tokens_processed_total", "Tokens run through the model.", Interlocked.Read(ref _tokens));
        Counter(text, "crossencoder_documents_truncated_total", "Documents cut to fit the maximum length.", Interlocked.Read(ref _truncated));
        Counter(text, "crossencoder_requests_cancelled_total", "Queued requests dropped because the client went away.", Interlocked.Read(ref _cancelled));
        text.Append("# HELP crossencoder_queue_requests Requests admitted and not yet answered.\n# TYPE crossencoder_queue_requests gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"crossencoder_queue_requests {Interlocked.Read(ref _queueDepth)}\n");
        return text.ToString();
    }

    private static void Counter(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");

    /// <summary>A Prometheus histogram: cumulative bucket counts, sum and count.</summary>
    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private double _sum;
        private readonly Lock _lock = new();

        public void Observe(double value)
        {
            int bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket]) bucket++;
            lock (_lock) { _counts[bucket]++; _sum += value; }
        }

        public void Render(StringBuilder text, string name, string help)
        {
            long[] counts;
            double sum;
            lock (_lock) { counts = (long[])_counts.Clone(); sum = _sum; }
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += counts[i];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{bounds[i]}\"}} {cumulative}\n");
            }
            cumulative += counts[^1];
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {sum}\n{name}_count {cumulative}\n");
        }
    }
}
