namespace CrossEncoder.Native.Kernels;

// Sliding-window (local) attention. Query i of a sequence of T tokens attends to the keys j with |i - j| <= w, the band
// [max(0, i - w), min(T - 1, i + w)]: 2w + 1 keys in the middle of the sequence, fewer at its ends. The cost per head is
// T x (2w + 1) x dH instead of T x T x dH, so it grows linearly with T.
//
// Implementation notes. The query rows are cut into blocks of R rows (WindowBlockRows); block [i0, i0 + R) needs the key
// range [lo, hi) = [max(0, i0 - w), min(T, i0 + R + w)) (lo rounded down to a panel of NR keys), about R + 2w keys, and
// per block the global path's three steps (Attention.cs) run on that range:
//
//   pack V_h[lo:hi] ([K = n, N = dH]), n = hi - lo      Gemm.PackAll (K_h is packed once per chunk, see WindowedRows)
//   S[R, n]  = Q_blk K_h[lo:hi]^T                                                       GEMM
//   S[r, j]  = -inf where key lo + j is outside query i0 + r's band                      r entries left, R - 1 - r right
//   S[r, :]  = exp(S[r, :] * scale - max)   (written in packed-A layout where it can)   exp(-inf) = 0 exactly (VectorExp)
//   O_blk    = S V_h[lo:hi],  O_blk[r] /= l[r]                                           GEMM, then the softmax's division
//
// The range is a parallelogram inside an R x (R + 2w) rectangle: a block computes R (R + 2w) scores of which about
// R (2w + 1) are used, so the waste is (R - 1) / (R + 2w): small blocks waste less, but each block pays a GEMM call, the
// packing of its key range (~2 (R + 2w) dH floats) and short GEMMs (QK^T has K = dH; S V has M = R). The block height grows
// with the window (WindowBlockRows): R = 32 at w = 64 (on Zen 4, one thread, T = 4096: 16 rows 33, 32 rows 35, 64 rows 33
// useful GFLOP/s).
// Parts: (sequence, head, chunk of ChunkRows query rows), claimed dynamically, so one long sequence fills every core.
// Buffers: the packed ranges, P and S of one block live in this thread's PackBuffer, nothing is allocated per call.

internal static unsafe partial class Attention
{
    /// <summary>The tallest block of the windowed path (a stack buffer of row sums has this size; at most Gemm.Mc).</summary>
    private const int MaxWindowBlockRows = 64;

    /// <summary>
    /// Query rows per block for a window of <paramref name="window"/> keys on each side: about half the window, in whole
    /// microkernel tiles (MR rows of <paramref name="isa"/>), between one tile and <see cref="MaxWindowBlockRows"/>.
    /// </summary>
    internal static int WindowBlockRows(int window, KernelIsa isa)
    {
        int mr = Gemm.Mr(isa);
        long rows = (window / 2L + mr - 1) / mr * mr;
        return (int)Math.Clamp(rows, mr, MaxWindowBlockRows / mr * mr);
    }

    /// <summary>Query rows per part of a windowed sequence: a whole number of blocks (~8 Mflop at w = 64, dH = 64).</summary>
    private static int WindowChunkRows(int window, KernelIsa isa) => 8 * WindowBlockRows(window, isa);

    /// <summary>
    /// Query rows [<paramref name="q0"/>, <paramref name="q1"/>) of sequence <paramref name="s"/>, head <paramref name="h"/>,
    /// each against its band of keys (see the notes above); output rows starts[s] + i, columns of head h.
    /// </summary>
    private static void WindowedRows(BatchJob* batch, int s, int h, int q0, int q1)
    {
        int start = batch->Starts[s], t = batch->Starts[s + 1] - start, dh = batch->HeadDim, w = batch->Window;
        int hidden = batch->Heads * dh, ld = batch->Ld;
        var caps = batch->Caps;
        int blockRows = WindowBlockRows(w, caps.Isa), nr = Gemm.Nr(caps.Isa);
        float* q = batch->Qkv + (long)start * ld + h * dh, k = q + hidden, v = q + 2 * hidden;   // head h's columns, row 0
        float* output = batch->Output + (long)start * hidden + h * dh;
        // Key ranges start on a multiple of NR (a few more masked keys when w is not one), so when K_h's packed form is a
        // single k-slice (dH <= KC) the panels of a block's keys are a pointer offset into the chunk's panels: K_h is packed
        // once per chunk instead of once per block. V_h (its keys are the reduction, sliced by KC) is packed per block.
        int chunkLo = KeyRangeStart(q0, w, nr), chunkHi = (int)Math.Min(t, (long)q1 + w);
        int maxKeys = (int)Math.Min(chunkHi - chunkLo, blockRows + 2L * w + nr - 1);   // n of the widest block
        bool sliceK = dh <= Gemm.Kc(caps.Isa);
        var qk = new Gemm.Job { Lda = ld, Ldb = ld, BIsKByN = false, N = sliceK ? chunkHi - chunkLo : maxKeys, K = dh, Caps = caps };
        var pv = new Gemm.Job { Ldb = ld, BIsKByN = true, Ldc = hidden, N = dh, K = maxKeys, Caps = caps };
        long qkLength = Gemm.PackedLength(&qk), pvLength = Gemm.PackedLength(&pv);
        bool packProbabilities = CanPackProbabilities(caps);
        long probabilitiesLength = packProbabilities ? (long)Gemm.Mc * maxKeys : 0;
        float* packedK = PackBuffer(qkLength + pvLength + probabilitiesLength + (long)blockRows * maxKeys);
        float* packedV = packedK + qkLength;
        float* probabilities = packedV + pvLength;                    // [MC, n] in Gemm's packed-A layout, when packProbabilities
        float* scores = probabilities + probabilitiesLength;          // [R, n], row stride n
        float* inverseSums = stackalloc float[MaxWindowBlockRows];    // [R] 1 / l[r] (or l[r] on the packed route)
        float* chunkPanels = null, zeroBias = null;
        int chunkPanelCount = 0;
        if (sliceK)
        {
            qk.B = k + (long)chunkLo * ld;
            Gemm.PackAll(&qk, packedK);                                       // K_h[chunkLo:chunkHi] as panels of NR keys
            chunkPanels = qk.Packed; zeroBias = qk.PackedBias; chunkPanelCount = qk.PanelStride;
        }
        for (int i0 = q0; i0 < q1; i0 += blockRows)
        {
            int rows = Math.Min(blockRows, q1 - i0);
            int lo = KeyRangeStart(i0, w, nr), hi = (int)Math.Min(t, (long)i0 + rows + w), n = hi - lo;   // the block's keys [lo, hi)
            qk.A = q + (long)i0 * ld; qk.M = rows; qk.N = n; qk.C = scores; qk.Ldc = n;
            if (sliceK)
            {
                // Panels (lo - chunkLo) / NR on of the chunk's single slice; the bias is the chunk's zeros.
                qk.Packed = chunkPanels + (long)(lo - chunkLo) * dh; qk.PackedBias = zeroBias; qk.PanelStride = chunkPanelCount;
            }
            else
            {
                qk.B = k + (long)lo * ld;
                Gemm.PackAll(&qk, packedK);
            }
            Gemm.Run(&qk);                                                   // S[rows, n] = Q_blk K_h[lo:hi]^T
            MaskOutsideBand(scores, rows, n, i0, lo, w, t);                   // S[r, j] = -inf outside query i0 + r's band
            pv.B = v + (long)lo * ld; pv.K = n; pv.M = rows; pv.C = output + (long)i0 * hidden;
            Gemm.PackAll(&pv, packedV);
            if (packProbabilities)
            {
                ExpScaledPacked(scores, n, rows, n, batch->Scale, caps.Isa, probabilities, inverseSums);   // P = exp(S*scale - max), packed
                pv.A = null; pv.PackedA = probabilities; pv.APacked = true;
                Gemm.Run(&pv);                                               // O_blk[rows, dH] = P V_h[lo:hi]
                for (int r = 0; r < rows; r++) ScaleRow(pv.C + (long)r * hidden, 1f / inverseSums[r], dh);   // O_blk[r] /= l[r]
                continue;
            }
            for (int r = 0; r < rows; r++) inverseSums[r] = 1f / Softmax.ExpScaledInPlace(scores + (long)r * n, n, batch->Scale, caps);
            pv.A = scores; pv.Lda = n;
            Gemm.Run(&pv);                                                   // O_blk[rows, dH] = P V_h[lo:hi]
            for (int r = 0; r < rows; r++) ScaleRow(pv.C + (long)r * hidden, inverseSums[r], dh);          // O_blk[r] /= l[r]
        }
    }

    /// <summary>The first key of query row <paramref name="i"/>'s band, max(0, i - w), rounded down to a multiple of
    /// <paramref name="nr"/> (a panel boundary of the packed keys).</summary>
    private static int KeyRangeStart(int i, int w, int nr) => Math.Max(0, i - w) / nr * nr;

    /// <summary>
    /// S [rows, n] holds query rows i0.. against keys lo..lo + n - 1 of a sequence of <paramref name="t"/> tokens: sets
    /// S[r, j] = -inf for every key outside [max(0, i - w), min(T - 1, i + w)], i = i0 + r, so exp gives it probability 0.
    /// </summary>
    private static void MaskOutsideBand(float* scores, int rows, int n, int i0, int lo, int w, int t)
    {
        for (int r = 0; r < rows; r++)
        {
            int i = i0 + r;
            int first = Math.Max(0, i - w) - lo, last = (int)Math.Min(t - 1L, (long)i + w) - lo;   // the band, relative to lo
            float* row = scores + (long)r * n;
            new Span<float>(row, first).Fill(float.NegativeInfinity);
            new Span<float>(row + last + 1, n - 1 - last).Fill(float.NegativeInfinity);
        }
    }

    /// <summary>Readable twin of the windowed <c>MultiHeadBatch</c>, in double: for every sequence, head and query, softmax
    /// over the keys of its band (all keys for <see cref="Global"/>), weighted sum of values.</summary>
    internal static void MultiHeadBatchReference(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, Span<float> output,
        bool firstTokenOnly, int heads, int headDim, float scale, int window)
    {
        int hidden = heads * headDim;
        for (int s = 0; s < sequences; s++)
        {
            int start = starts[s], t = starts[s + 1] - start, queries = firstTokenOnly ? Math.Min(1, t) : t;
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < queries; i++)
                {
                    int lo = (int)Math.Max(0, (long)i - window), hi = (int)Math.Min(t - 1L, (long)i + window);
                    var p = new double[hi - lo + 1];
                    double max = double.NegativeInfinity;
                    for (int j = lo; j <= hi; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) dot += (double)qkv[(start + i) * ld + h * headDim + d] * qkv[(start + j) * ld + hidden + h * headDim + d];
                        p[j - lo] = dot * scale;
                        max = Math.Max(max, p[j - lo]);
                    }
                    double sum = 0;
                    for (int j = 0; j < p.Length; j++) { p[j] = Math.Exp(p[j] - max); sum += p[j]; }
                    int row = firstTokenOnly ? s : start + i;
                    for (int d = 0; d < headDim; d++)
                    {
                        double acc = 0;
                        for (int j = lo; j <= hi; j++) acc += p[j - lo] / sum * qkv[(start + j) * ld + 2 * hidden + h * headDim + d];
                        output[row * hidden + h * headDim + d] = (float)acc;
                    }
                }
        }
    }
}
