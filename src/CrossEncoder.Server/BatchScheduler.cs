using System.Diagnostics;
using System.Threading.Channels;
using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Server;

/// <summary>Thrown when the queue is full: the request is answered 429.</summary>
internal sealed class OverloadedException(string message) : Exception(message);

/// <summary>What one request got back from the scheduler: its model outputs and where the time went.</summary>
internal sealed record ScheduledOutput(float[] Outputs, TimeSpan QueueTime, TimeSpan InferenceTime);

/// <summary>
/// The one place forward passes happen. Requests enqueue their tokenized sequences into a bounded channel; a fixed number of
/// workers (<see cref="ServerOptions.ForwardPassesInFlight"/>, each pass using every core) take requests in arrival order,
/// pack the sequences of as many whole requests as fit in the token budget into one call of <see cref="Reranker.Forward"/>,
/// and hand each request its rows. So throughput under many clients is the single-caller throughput (or better: fuller
/// batches), and memory is bounded by the workers' workspaces, not by the number of clients. A full queue fails fast with
/// <see cref="OverloadedException"/> (429); a request whose client went away is dropped before its pass.
/// </summary>
internal sealed class BatchScheduler : IAsyncDisposable
{
    private sealed class Job(RerankInputs inputs, CancellationToken cancellationToken)
    {
        public RerankInputs Inputs { get; } = inputs;
        public CancellationToken CancellationToken { get; } = cancellationToken;
        public long EnqueuedAt { get; } = Stopwatch.GetTimestamp();
        public TaskCompletionSource<ScheduledOutput> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Reranker _reranker;
    private readonly ServerMetrics _metrics;
    private readonly int _maxBatchTokens;
    private readonly Channel<Job> _queue;
    private readonly Task[] _workers;
    private int _admitted;
    private readonly int _capacity;

    private readonly Func<Task>? _beforeBatch;

    public BatchScheduler(Reranker reranker, ServerMetrics metrics, int maxBatchTokens, int capacity, int workers, Func<Task>? beforeBatch = null)
    {
        _beforeBatch = beforeBatch;
        _reranker = reranker;
        _metrics = metrics;
        _maxBatchTokens = maxBatchTokens;
        _capacity = capacity;
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(capacity) { SingleWriter = false, SingleReader = workers == 1 });
        _workers = Enumerable.Range(0, workers).Select(_ => Task.Factory.StartNew(WorkAsync, CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()).ToArray();
    }

    /// <summary>Requests admitted and not yet answered (queued or in a pass).</summary>
    public int Pending => Volatile.Read(ref _admitted);

    /// <summary>Queues a request's sequences and waits for their outputs ([Sequences.Count, OutputSize]).</summary>
    /// <exception cref="OverloadedException">The queue is full.</exception>
    /// <exception cref="OperationCanceledException">The client went away before its pass.</exception>
    public Task<ScheduledOutput> ScheduleAsync(RerankInputs inputs, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _admitted) > _capacity)
        {
            Interlocked.Decrement(ref _admitted);
            throw new OverloadedException("Model is overloaded");
        }
        var job = new Job(inputs, cancellationToken);
        if (!_queue.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _admitted);
            throw new OverloadedException("Model is overloaded");
        }
        _metrics.QueueDepth(Pending);
        // The client leaving answers at once; the worker skips the job when it reaches it.
        var registration = cancellationToken.Register(() => job.Completion.TrySetCanceled(cancellationToken));
        return job.Completion.Task.ContinueWith(t => { registration.Dispose(); return t; }, TaskScheduler.Default).Unwrap();
    }

    private async Task WorkAsync()
    {
        var batch = new List<Job>();
        Job? carried = null;
        var reader = _queue.Reader;
        while (carried is not null || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            int tokens = 0;
            if (_beforeBatch is not null) await _beforeBatch().ConfigureAwait(false);
            // Whole requests in arrival order while they fit; one larger than the budget runs alone (Forward splits it).
            while (carried is not null || reader.TryRead(out carried))
            {
                if (carried.CancellationToken.IsCancellationRequested) { Finish(carried); carried = null; _metrics.Cancelled(); continue; }
                if (batch.Count > 0 && tokens + carried.Inputs.TokenCount > _maxBatchTokens) break;
                batch.Add(carried);
                tokens += carried.Inputs.TokenCount;
                carried = null;
            }
            if (batch.Count > 0) Run(batch, tokens);
        }
    }

    private void Run(List<Job> batch, int tokens)
    {
        var sequences = new List<Native.Tokenization.EncodedPair>();
        foreach (var job in batch) sequences.AddRange(job.Inputs.Sequences);
        int width = _reranker.OutputSize;
        var outputs = new float[sequences.Count * width];   // [S, out]
        long started = Stopwatch.GetTimestamp();
        try
        {
            _reranker.Forward(sequences, outputs, CancellationToken.None);
        }
        catch (Exception ex)
        {
            foreach (var job in batch) { job.Completion.TrySetException(ex); Finish(job); }
            return;
        }
        var inference = Stopwatch.GetElapsedTime(started);
        _metrics.Batch(sequences.Count, tokens, inference);
        int row = 0;
        foreach (var job in batch)
        {
            int rows = job.Inputs.Sequences.Count;
            var mine = outputs.AsSpan(row * width, rows * width).ToArray();
            row += rows;
            var queued = Stopwatch.GetElapsedTime(job.EnqueuedAt, started);
            _metrics.QueueTime(queued);
            job.Completion.TrySetResult(new ScheduledOutput(mine, queued, inference));
            Finish(job);
        }
    }

    private void Finish(Job job)
    {
        job.Completion.TrySetCanceled();
        _metrics.QueueDepth(Interlocked.Decrement(ref _admitted));
    }

    /// <summary>Stops taking requests and waits for the queued ones to be answered (graceful drain).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_workers).ConfigureAwait(false);
    }
}
