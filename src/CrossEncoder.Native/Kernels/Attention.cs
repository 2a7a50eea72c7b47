using System.Numerics;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Per head h (columns [h*dH, (h+1)*dH) of every row, row stride ld):
//   pack K_h ([N=T, K=dH]) and V_h ([K=T, N=dH]) once into GEMM panels (Gemm.PackAll)
//   for each block of up to 96 query rows:
//     S[rows,T] = Q_blk K_h^T                  GEMM against the packed K_h
//     S[i,:]    = exp(S[i,:] * scale - max)    unnormalised, in place (Softmax.ExpScaledInPlace); l[i] = sum of the row
//     O_blk     = S V_h                        GEMM against the packed V_h
//     O_blk[i]  = O_blk[i] / l[i]              the softmax's division, on dH values per row instead of T
// Where AVX is available the exp pass writes P straight into the GEMM's packed layout (Attention.Packed.cs), which saves
// S V's packing pass over P.
// A key bias that is not all zero (padding masks; the model packs sequences and has none) takes the plain route instead:
// S = softmax(S * scale + keyBias) row by row (a scale-and-bias pass, then Softmax.Row), and no division after S V.
// Blocking the query rows keeps S in L2 between the three steps (a whole [T, T] head at T = 512 is 1 MiB, which went to
// memory and back twice). S lives in this head's share of the scratch, so heads are independent and run in parallel
// (KernelParallelism claims whole heads); inside a head the GEMMs run on the calling thread with its own packing buffers
// (allocated once per thread); nothing is allocated per call. The call's KernelCapabilities travel in the job to every
// GEMM, exp and softmax inside (path, FMA) and bound the threads that claim heads.

/// <summary>
/// Multi-head scaled dot-product attention for one sequence:
/// <c>out_h[T,dH] = softmax(Q_h K_h^T * scale + keyBias) V_h</c> for each head h, heads interleaved in the rows.
/// </summary>
internal static unsafe partial class Attention
{
    /// <summary>Runs all heads of one sequence.</summary>
    /// <param name="q">Queries: row t starts at t*ld; head h occupies columns [h*dH, (h+1)*dH).</param>
    /// <param name="k">Keys, same layout as <paramref name="q"/>.</param>
    /// <param name="v">Values, same layout as <paramref name="q"/>.</param>
    /// <param name="ld">Row stride of q, k and v (e.g. 3H for a fused QKV projection, H for separate ones).</param>
    /// <param name="keyBias">[T] additive bias per key: 0 for real tokens, -inf (or a large negative) for padding.</param>
    /// <param name="output">[T, nH*dH] contiguous, overwritten.</param>
    /// <param name="tokens">T, the sequence length.</param>
    /// <param name="heads">nH.</param>
    /// <param name="headDim">dH.</param>
    /// <param name="scale">Usually 1/sqrt(dH).</param>
    /// <param name="scratch">At least <see cref="ScratchLength"/>(T, nH) floats.</param>
    /// <param name="caps">The path, FMA and thread limit of this call.</param>
    /// <exception cref="ArgumentException">A span is too short, or every key of the sequence is masked with -inf.</exception>
    public static void MultiHead(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<float> keyBias,
        Span<float> output, int tokens, int heads, int headDim, float scale, Span<float> scratch, in KernelCapabilities caps)
        => MultiHead(q, k, v, ld, keyBias, output, tokens, heads, headDim, scale, scratch, tokens, caps);

    /// <summary>Scratch floats <see cref="MultiHead(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Span{float}, int, int, int, float, Span{float}, in KernelCapabilities)"/> needs for a sequence of <paramref name="tokens"/>: one [T, T] score matrix per head.</summary>
    public static int ScratchLength(int tokens, int heads) => heads * tokens * tokens;

    /// <summary>
    /// Only the first <paramref name="queries"/> rows of <paramref name="q"/> attend (to all <paramref name="tokens"/> keys);
    /// <paramref name="output"/> is [queries, nH*dH]. A cross-encoder's last layer needs only its [CLS] row (queries = 1).
    /// </summary>
    public static void MultiHead(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<float> keyBias,
        Span<float> output, int tokens, int heads, int headDim, float scale, Span<float> scratch, int queries, in KernelCapabilities caps)
    {
        int hidden = Validate(q, k, v, ld, keyBias, output, tokens, heads, headDim, queries);
        KernelGuard.Length(scratch, (long)heads * queries * tokens, nameof(scratch));
        if (tokens == 0 || queries == 0 || hidden == 0) return;
        fixed (float* pq = q, pk = k, pv = v, pbias = keyBias, pout = output, ps = scratch)
        {
            var job = new Job
            {
                Q = pq, K = pk, V = pv, KeyBias = pbias, Output = pout, Scratch = ps,
                Ld = ld, Tokens = tokens, Queries = queries, HeadDim = headDim, Hidden = hidden, Scale = scale, Caps = caps,
            };
            job.Unmasked = scale > 0 && keyBias[..tokens].IndexOfAnyExcept(0f) < 0;
            long flops = 4L * queries * tokens * headDim * heads;
            if (caps.ThreadsFor(flops, heads) == 1)
                for (int h = 0; h < heads; h++) Head(&job, h);
            else
                KernelParallelism.For(heads, &job, &Head, caps.MaxThreads);
        }
    }

    private struct Job
    {
        public float* Q, K, V, KeyBias, Output, Scratch;
        public int Ld, Tokens, Queries, HeadDim, Hidden;
        public float Scale;
        /// <summary>The call's capabilities, passed on to every GEMM, exp and softmax of the head.</summary>
        public KernelCapabilities Caps;
        /// <summary>The key bias is all zero: normalise after S V (see the notes at the top).</summary>
        public bool Unmasked;
    }

    /// <summary>Query rows per block: the block's scores [rows, T] stay in L2 (96 x 512 floats = 192 KiB) from QK^T to PV.</summary>
    private const int BlockRows = 96;

    private static void Head(void* state, int h)
    {
        var job = (Job*)state;
        HeadCore(job, h, job->Scratch + (long)h * job->Queries * job->Tokens);   // this head's [Tq, T] share of the scratch
    }

    /// <summary>One head of one sequence; <paramref name="scores"/> holds at least min(Tq, BlockRows) x T floats, or is null
    /// to take them from this thread's buffer (after the packed K, V and P).</summary>
    private static void HeadCore(Job* job, int h, float* scores)
    {
        int t = job->Tokens, queries = job->Queries, dh = job->HeadDim;
        float* inverseSums = stackalloc float[BlockRows];     // [rows] 1 / l[i] (or l[i] on the packed route), unmasked only
        // K_h and V_h are packed into microkernel panels once per head and reused by every block of query rows.
        var qk = new Gemm.Job { B = job->K + h * dh, Ldb = job->Ld, BIsKByN = false, Ldc = t, N = t, K = dh, Caps = job->Caps };
        var pv = new Gemm.Job { B = job->V + h * dh, Ldb = job->Ld, BIsKByN = true, Ldc = job->Hidden, N = dh, K = t, Caps = job->Caps };
        long qkLength = Gemm.PackedLength(&qk), pvLength = Gemm.PackedLength(&pv);
        bool packProbabilities = job->Unmasked && CanPackProbabilities(job->Caps);
        long probabilitiesLength = packProbabilities ? (long)Gemm.Mc * t : 0;
        float* packed = PackBuffer(qkLength + pvLength + probabilitiesLength + (scores == null ? (long)Math.Min(queries, BlockRows) * t : 0));
        if (scores == null) scores = packed + qkLength + pvLength + probabilitiesLength;
        Gemm.PackAll(&qk, packed);
        Gemm.PackAll(&pv, packed + qkLength);
        float* probabilities = packed + qkLength + pvLength;   // [MC, T] in Gemm's packed-A layout, when packProbabilities
        for (int i0 = 0; i0 < queries; i0 += BlockRows)
        {
            int rows = Math.Min(BlockRows, queries - i0);
            qk.A = job->Q + (long)i0 * job->Ld + h * dh; qk.Lda = job->Ld; qk.M = rows; qk.C = scores;
            Gemm.Run(&qk);                                                   // S[rows, T] = Q_blk K_h^T
            float* output = job->Output + (long)i0 * job->Hidden + h * dh;
            if (packProbabilities)
            {
                ExpScaledPacked(scores, t, rows, t, job->Scale, job->Caps.Isa, probabilities, inverseSums);   // P = exp(S*scale - max), packed
                pv.A = null; pv.PackedA = probabilities; pv.APacked = true; pv.M = rows; pv.C = output;
                Gemm.Run(&pv);                                               // O_blk[rows, dH] = P V_h
                for (int i = 0; i < rows; i++) ScaleRow(output + (long)i * job->Hidden, 1f / inverseSums[i], dh);   // O_blk[i] /= l[i]
                continue;
            }
            for (int i = 0; i < rows; i++)
            {
                float* row = scores + (long)i * t;
                if (job->Unmasked) inverseSums[i] = 1f / Softmax.ExpScaledInPlace(row, t, job->Scale, job->Caps);
                else
                {
                    ScaleAndBias(row, job->Scale, job->KeyBias, t, job->Caps);
                    Softmax.Row(row, row, t, job->Caps);
                }
            }
            pv.A = scores; pv.Lda = t; pv.M = rows; pv.C = output;
            Gemm.Run(&pv);                                                   // O_blk[rows, dH] = S V_h
            if (job->Unmasked)
                for (int i = 0; i < rows; i++) ScaleRow(output + (long)i * job->Hidden, inverseSums[i], dh);   // O_blk[i] /= l[i]
        }
    }

    /// <summary>
    /// Every sequence of a packed batch (no padding, so no mask): sequence s is rows [starts[s], starts[s+1]) of the fused
    /// QKV buffer (row stride ld: Q at column 0, K at hidden, V at 2 hidden). Output row starts[s] + i gets token i of
    /// sequence s, or, with <paramref name="firstTokenOnly"/>, output row s gets the first token only (a cross-encoder's last
    /// layer). The parts are (sequence, head) pairs, claimed dynamically, so a batch of short sequences fills every core
    /// (one call per sequence was too small to split: 16 x 32 tokens ran its attention on one thread); each thread keeps
    /// its scores in its own buffer.
    /// </summary>
    public static void MultiHeadBatch(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, Span<float> output, bool firstTokenOnly,
        int heads, int headDim, float scale, in KernelCapabilities caps)
        => MultiHeadBatch(qkv, ld, starts, sequences, output, firstTokenOnly, heads, headDim, scale, Global, caps);

    /// <summary>No sliding window: every query attends to every key of its sequence.</summary>
    public const int Global = int.MaxValue;

    /// <summary>
    /// <see cref="MultiHeadBatch(ReadOnlySpan{float}, int, ReadOnlySpan{int}, int, Span{float}, bool, int, int, float, in KernelCapabilities)"/>
    /// with a sliding window: query i attends to keys j of its sequence with |i - j| &lt;= <paramref name="window"/> (a band
    /// 2 window + 1 wide, clipped at the sequence's ends), or to all keys for <see cref="Global"/>.
    /// </summary>
    public static void MultiHeadBatch(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, Span<float> output, bool firstTokenOnly,
        int heads, int headDim, float scale, int window, in KernelCapabilities caps)
    {
        if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "The attention window (keys on each side) must not be negative.");
        KernelGuard.Positive(heads, nameof(heads));
        KernelGuard.Positive(headDim, nameof(headDim));
        if (!(scale > 0)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The attention scale must be positive (the unmasked route takes the max before scaling).");
        if (starts.Length < sequences + 1) throw new ArgumentException($"starts needs {sequences + 1} entries.", nameof(starts));
        int hidden = heads * headDim;
        if (ld < 3 * hidden) throw new ArgumentOutOfRangeException(nameof(ld), ld, $"The row stride must hold Q, K and V ({3 * hidden}).");
        int n = starts[sequences];
        if (starts[0] != 0) throw new ArgumentException("starts[0] must be 0.", nameof(starts));
        for (int s = 0; s < sequences; s++)
            if (starts[s + 1] < starts[s]) throw new ArgumentException($"starts must not decrease (sequence {s}).", nameof(starts));
        if (n > 0) KernelGuard.Length(qkv, (long)(n - 1) * ld + 3 * hidden, nameof(qkv));
        KernelGuard.Length(output, (long)(firstTokenOnly ? sequences : n) * hidden, nameof(output));
        fixed (float* pq = qkv, po = output)
        fixed (int* ps = starts)
            MultiHeadBatch(pq, ld, ps, sequences, po, firstTokenOnly, heads, headDim, scale, window, caps);
    }

    /// <summary>The packed batch on the <paramref name="isa"/> path, everything else as <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiHeadBatch(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, Span<float> output, bool firstTokenOnly,
        int heads, int headDim, float scale, KernelIsa isa)
        => MultiHeadBatch(qkv, ld, starts, sequences, output, firstTokenOnly, heads, headDim, scale, KernelCapabilities.Default with { Isa = isa });

    /// <summary>The windowed packed batch on the <paramref name="isa"/> path, everything else as <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiHeadBatch(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, Span<float> output, bool firstTokenOnly,
        int heads, int headDim, float scale, int window, KernelIsa isa)
        => MultiHeadBatch(qkv, ld, starts, sequences, output, firstTokenOnly, heads, headDim, scale, window, KernelCapabilities.Default with { Isa = isa });

    private static void MultiHeadBatch(float* qkv, int ld, int* starts, int sequences, float* output, bool firstTokenOnly,
        int heads, int headDim, float scale, int window, in KernelCapabilities caps)
    {
        if (sequences == 0 || heads == 0 || headDim == 0) return;   // nothing to write
        var batch = new BatchJob
        {
            Qkv = qkv, Ld = ld, Starts = starts, Output = output, FirstTokenOnly = firstTokenOnly,
            Heads = heads, HeadDim = headDim, Scale = scale, Window = window, Caps = caps,
        };
        long flops = 0;
        int longestWindowed = 0;   // the most query rows of a sequence on the windowed path
        for (int s = 0; s < sequences; s++)
        {
            int t = starts[s + 1] - starts[s];
            flops += 4L * (firstTokenOnly ? 1 : t) * Math.Min(t, 2L * window + 1) * headDim * heads;
            if (IsWindowed(t, window, firstTokenOnly)) longestWindowed = Math.Max(longestWindowed, t);
        }
        // A windowed sequence's query rows are split into chunks, so one long sequence still fills every core (1 x 8192 with
        // 12 heads: 12 parts of ~100 Mflop each became 384 of ~3 Mflop). Every (sequence, head) gets the same number of chunk
        // slots (no per-call table); slots past a sequence's rows return at once, at the cost of one atomic increment each.
        batch.ChunkRows = WindowChunkRows(window, caps.Isa);
        long chunks = Math.Max(1, (longestWindowed + batch.ChunkRows - 1) / batch.ChunkRows);
        long maxChunks = Math.Max(1, MaxBatchParts / ((long)sequences * heads));   // heads > 0 here
        if (chunks > maxChunks)
        {
            // Absurdly many parts (a huge batch beside a huge sequence): fewer, longer chunks, still whole blocks.
            int block = WindowBlockRows(window, caps.Isa);
            batch.ChunkRows = (int)Math.Min(int.MaxValue - block, ((longestWindowed + maxChunks - 1) / maxChunks + block - 1) / block * block);
            chunks = (longestWindowed + batch.ChunkRows - 1) / batch.ChunkRows;
        }
        batch.Chunks = (int)chunks;
        int parts = checked(sequences * heads * batch.Chunks);
        int threads = caps.ThreadsFor(flops, parts);
        if (threads == 1)
            for (int part = 0; part < parts; part++) BatchPart(&batch, part);
        else
            KernelParallelism.For(parts, &batch, &BatchPart, threads);
    }

    private struct BatchJob
    {
        public float* Qkv, Output;
        public int* Starts;
        public int Ld, Heads, HeadDim;
        /// <summary>Keys on each side a query sees, or <see cref="Global"/>.</summary>
        public int Window;
        public float Scale;
        public KernelCapabilities Caps;
        public bool FirstTokenOnly;
        /// <summary>Chunk slots per (sequence, head): parts are (sequence, head, chunk), chunk fastest.</summary>
        public int Chunks;
        /// <summary>Query rows per chunk of a windowed sequence (a whole number of windowed blocks).</summary>
        public int ChunkRows;
    }

    /// <summary>The most parts one batch call is split into (see the chunking in MultiHeadBatch).</summary>
    private const long MaxBatchParts = 1 << 24;

    /// <summary>True when a sequence of <paramref name="t"/> tokens takes the band path: some query does not see every key.
    /// With only the first token as query, the global path covers it too (token 0's band is the first window + 1 keys).</summary>
    private static bool IsWindowed(int t, int window, bool firstTokenOnly) => !firstTokenOnly && window < t - 1;

    private static void BatchPart(void* state, int part)
    {
        var batch = (BatchJob*)state;
        int chunks = batch->Chunks;
        int s = part / chunks / batch->Heads, h = part / chunks % batch->Heads, chunk = part % chunks;
        int start = batch->Starts[s], t = batch->Starts[s + 1] - start;
        if (t == 0) return;
        if (IsWindowed(t, batch->Window, batch->FirstTokenOnly))
        {
            // A chunk of query rows, each against its band of keys (Attention.Window.cs).
            long first = (long)chunk * batch->ChunkRows;
            if (first < t) WindowedRows(batch, s, h, (int)first, (int)Math.Min(t, first + batch->ChunkRows));
            return;
        }
        if (chunk != 0) return;
        int hidden = batch->Heads * batch->HeadDim, queries = batch->FirstTokenOnly ? 1 : t;
        // Every query sees every key, or only token 0 queries: its keys are [0, min(T, window + 1)).
        int keys = batch->FirstTokenOnly ? (int)Math.Min(t, batch->Window + 1L) : t;
        float* rows = batch->Qkv + (long)start * batch->Ld;
        var job = new Job
        {
            Q = rows, K = rows + hidden, V = rows + 2 * hidden, KeyBias = null,
            Output = batch->Output + (long)(batch->FirstTokenOnly ? s : start) * hidden,
            Ld = batch->Ld, Tokens = keys, Queries = queries, HeadDim = batch->HeadDim, Hidden = hidden, Scale = batch->Scale,
            Caps = batch->Caps, Unmasked = true,
        };
        HeadCore(&job, h, null);   // scores in this thread's buffer
    }

    [ThreadStatic] private static float* t_pack;
    [ThreadStatic] private static long t_packLength;

    /// <summary>This thread's buffer for a head's packed K, V (and P, and scores for a batch part): 64-byte aligned, grown on
    /// demand, kept for the thread.</summary>
    private static float* PackBuffer(long floats)
    {
        if (t_packLength < floats)
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(t_pack);
            t_pack = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
            t_packLength = floats;
        }
        return t_pack;
    }

    /// <summary>row[0..n) *= factor.</summary>
    private static void ScaleRow(float* row, float factor, int n)
    {
        int i = 0;
        var f = new Vector<float>(factor);
        for (int w = Vector<float>.Count; i <= n - w; i += w) Vector.Store(Vector.Load(row + i) * f, row + i);
        for (; i < n; i++) row[i] *= factor;
    }

    /// <summary>row = row * scale + bias.</summary>
    private static void ScaleAndBias(float* row, float scale, float* bias, int n, in KernelCapabilities caps)
    {
        int i = 0;
        if (caps.Isa == KernelIsa.Avx512)
        {
            var s = Vector512.Create(scale);
            for (; i <= n - 16; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(row + i), s, Vector512.Load(bias + i)).Store(row + i);
        }
        else
        {
            if (caps.UsesFma) ScaleAndBias<FusedMultiplyAdd>(row, scale, bias, n);
            else ScaleAndBias<SeparateMultiplyAdd>(row, scale, bias, n);
            return;
        }
        for (; i < n; i++) row[i] = MathF.FusedMultiplyAdd(row[i], scale, bias[i]);
    }

    private static void ScaleAndBias<TMultiplyAdd>(float* row, float scale, float* bias, int n) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int i = 0;
        var s = new Vector<float>(scale);
        for (int w = Vector<float>.Count; i <= n - w; i += w) Vector.Store(TMultiplyAdd.Apply(Vector.Load(row + i), s, Vector.Load(bias + i)), row + i);
        for (; i < n; i++) row[i] = TMultiplyAdd.Apply(row[i], scale, bias[i]);
    }
}
