using System.Runtime.ExceptionServices;

namespace CrossEncoder.Native.Kernels;

/// <summary>
/// The one threading policy of the kernels: when a kernel call is worth splitting, into how many parts, and who runs them.
/// </summary>
/// <remarks>
/// Parts run on <see cref="Environment.ProcessorCount"/> - 1 dedicated background workers plus the calling thread, which
/// always takes a share. Parts are claimed dynamically (an atomic counter), so a slow worker only costs its current part.
/// Nothing is allocated per call: the job is a function pointer plus a pointer to the caller's (stack) state, and the caller
/// waits for every claimed part before returning, so that state stays alive. A call that arrives while another call is using
/// the workers (concurrent requests, or a kernel called from inside a part) simply runs its parts on its own thread.
/// </remarks>
internal static unsafe class KernelParallelism
{
    /// <summary>
    /// Minimum work (in flops) per part. Waking a parked worker costs roughly 5-50 us, but inside a forward pass the worker
    /// is still spinning from the previous call (~1 us to hand over a part, measured), so parts of ~1 Mflop (~10 us on one
    /// core) pay off. Measured on 2 Zen 2 cores against 4 Mflop: 16 x 384 x 384 went from 1.0x to 1.9x on two threads, and
    /// the short bench cases gained 2-3 % (padded 1x128 54.9 -> 56.3/s, 16x32 246 -> 254/s).
    /// </summary>
    public const long MinWorkPerPart = 1_000_000;

    /// <summary>The most parts a call is split into: one per logical processor.</summary>
    public static readonly int MaxDegree = Math.Max(1, Environment.ProcessorCount);

    private static readonly object _startLock = new();
    private static SemaphoreSlim[]? _wake;
    private static int _busy;
    private static int _running;
    private static int _next;
    private static int _count;
    private static void* _state;
    private static delegate*<void*, int, void> _body;
    private static ExceptionDispatchInfo? _error;

    /// <summary>
    /// How many parts <paramref name="work"/> flops deserve, at most <paramref name="maxParts"/> (e.g. rows available) and
    /// <paramref name="maxThreads"/> (the call's <see cref="KernelCapabilities.MaxThreads"/>).
    /// </summary>
    public static int DegreeFor(long work, int maxParts, int maxThreads) =>
        (int)Math.Max(1, Math.Min(Math.Min(Math.Min(MaxDegree, maxThreads), maxParts), work / MinWorkPerPart));

    /// <summary>
    /// Runs <c>body(state, i)</c> for i in [0, parts), in parallel when workers are free; returns when all are done. At most
    /// <paramref name="threads"/> threads (the caller included) take parts: the call's <see cref="KernelCapabilities.MaxThreads"/>
    /// or a <see cref="DegreeFor"/> below it, so the limit travels with the call (in its job), never through a global.
    /// Splitting into several parts per thread costs one atomic increment per part and balances the load when a core is
    /// shared with other processes: a thread that gets descheduled holds back one small part, not half of the call.
    /// </summary>
    public static void For(int parts, void* state, delegate*<void*, int, void> body, int threads)
    {
        if (parts <= 1 || threads <= 1 || MaxDegree == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < parts; i++) body(state, i);
            return;
        }
        try
        {
            var wake = _wake ?? StartWorkers();
            _state = state;
            _body = body;
            _count = parts;
            _error = null;
            int helpers = Math.Min(Math.Min(parts, threads) - 1, wake.Length);
            Volatile.Write(ref _next, 0);
            Volatile.Write(ref _running, helpers);
            for (int h = 0; h < helpers; h++) wake[h].Release();
            Drain();
            var spin = new SpinWait();
            while (Volatile.Read(ref _running) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _error?.Throw();
        }
        finally
        {
            _body = null;
            _state = null;
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Drain()
    {
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < _count)
        {
            try { _body(_state, i); }
            catch (Exception e) { _error ??= ExceptionDispatchInfo.Capture(e); }
        }
    }

    private static SemaphoreSlim[] StartWorkers()
    {
        lock (_startLock)
        {
            if (_wake is not null) return _wake;
            var wake = new SemaphoreSlim[MaxDegree - 1];
            for (int w = 0; w < wake.Length; w++)
            {
                var signal = wake[w] = new SemaphoreSlim(0);
                var thread = new Thread(() =>
                {
                    while (true)
                    {
                        signal.Wait();
                        Drain();
                        Interlocked.Decrement(ref _running);
                    }
                })
                { IsBackground = true, Name = $"CrossEncoder kernel worker {w + 1}" };
                thread.Start();
            }
            return _wake = wake;
        }
    }
}
