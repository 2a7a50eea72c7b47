using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Causal grouped-query attention (a decoder's self-attention) over a packed batch, optionally after a
// shared prefix whose keys and values were computed once (a key/value cache, KeyValuePrefix):
//
//   row layout (row stride ld):  [ Q: nH heads x dH | K: nKV heads x dH | V: nKV heads x dH | ... ]
//   query head h reads key/value head g = h / (nH / nKV)              (grouped-query attention; nKV = nH is plain MHA)
//   token t of a sequence sits at position P + t (P = prefix length) and sees keys 0 .. P + t:
//     the prefix's P keys, then its own sequence's keys 0 .. t        (causal: nothing to its right)
//   s_j = q . k_j;  p = exp(scale * s - scale * max s) / sum;  out = sum_j p_j v_j
//
// Every number a query row produces depends only on that row, its keys and its values, never on where the row sits in a
// block or a batch: the dot q . k_j is one vector lane per key with d running 0 .. dH - 1 in order; the row's scores are one
// contiguous array [prefix keys | own keys], so the exp pass and its sum see the same array whether the first P keys came
// from the cache or were computed in the same call; and out = sum_j p_j v_j accumulates j = 0, 1, ... in order. So a
// sequence run after a cached prefix gives bit for bit what the whole sequence gives when it is computed from scratch
// (the test checks it), which is what makes the cache safe to use for scoring.
//
// The work is split into parts (sequence, key/value head, chunk of 32 query rows). A part transposes the keys it needs
// (its sequence's keys 0 .. last row of the chunk, for head g) into its thread's buffer as Kt[d, key] (key count padded to
// whole vectors with zeros), so 16 keys' scores are 16 lanes of one accumulator: for d, acc += q[d] * Kt[d, j .. j + 16).
// The nH / nKV query heads of a group share that transposed block and the values. The prefix's keys are stored transposed
// once, when the cache is filled.

/// <summary>
/// The keys and values of a shared prefix for one attention layer (a key/value cache): computed once from the prefix's
/// rows, then read by every sequence that continues it. Keys are stored transposed per head, [nKV][dH][stride], values
/// row-major [P, nKV dH].
/// </summary>
internal sealed class KeyValuePrefix
{
    /// <summary>A cache for up to <paramref name="capacity"/> prefix tokens of <paramref name="kvHeads"/> heads of width <paramref name="headDim"/>.</summary>
    public KeyValuePrefix(int kvHeads, int headDim, int capacity)
    {
        KernelGuard.Positive(kvHeads, nameof(kvHeads));
        KernelGuard.Positive(headDim, nameof(headDim));
        KernelGuard.Positive(capacity, nameof(capacity));
        KeyValueHeads = kvHeads;
        HeadDim = headDim;
        Capacity = capacity;
        Stride = (capacity + 15) / 16 * 16;
        KeysTransposed = new float[checked((long)kvHeads * headDim * Stride)];
        Values = new float[checked((long)capacity * kvHeads * headDim)];
    }

    public int KeyValueHeads { get; }
    public int HeadDim { get; }

    /// <summary>Most prefix tokens the cache holds.</summary>
    public int Capacity { get; }

    /// <summary>Row stride of <see cref="KeysTransposed"/>: the capacity rounded up to 16 keys (padding is zero).</summary>
    public int Stride { get; }

    /// <summary>Prefix tokens stored (P).</summary>
    public int Length { get; private set; }

    /// <summary>[nKV, dH, Stride]: key j of head g, component d at (g dH + d) Stride + j.</summary>
    internal float[] KeysTransposed { get; }

    /// <summary>[P, nKV dH]: value row j.</summary>
    internal float[] Values { get; }

    /// <summary>
    /// Stores the keys and values of <paramref name="length"/> prefix tokens: row t of <paramref name="keys"/> and
    /// <paramref name="values"/> (row stride <paramref name="ld"/>) holds token t's nKV heads side by side.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is negative or above the capacity.</exception>
    public void Store(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int ld, int length)
    {
        if ((uint)length > (uint)Capacity) throw new ArgumentOutOfRangeException(nameof(length), length, $"The prefix cache holds at most {Capacity} tokens.");
        int width = KeyValueHeads * HeadDim;
        if (length > 0)
        {
            KernelGuard.Length(keys, (long)(length - 1) * ld + width, nameof(keys));
            KernelGuard.Length(values, (long)(length - 1) * ld + width, nameof(values));
        }
        Array.Clear(KeysTransposed);   // the padding lanes must be finite: they are computed, then ignored
        for (int t = 0; t < length; t++)
        {
            ReadOnlySpan<float> k = keys.Slice(t * ld, width);
            for (int c = 0; c < width; c++) KeysTransposed[(long)c * Stride + t] = k[c];
            values.Slice(t * ld, width).CopyTo(Values.AsSpan(t * width, width));
        }
        Length = length;
    }
}

internal static unsafe partial class Attention
{
    /// <summary>Query rows per part of <see cref="CausalBatch"/>.</summary>
    private const int CausalChunkRows = 32;

    /// <summary>
    /// Causal grouped-query attention for every sequence of a packed batch (see the notes above). Sequence s is rows
    /// [starts[s], starts[s+1]) of <paramref name="qkv"/> (row stride <paramref name="ld"/>: Q at column 0, K at nH dH, V at
    /// (nH + nKV) dH); with a <paramref name="prefix"/>, each sequence continues it (its token t is at position P + t and also
    /// sees the prefix's keys). Output row starts[s] + t gets token t ([N, nH dH]), or, with <paramref name="lastTokenOnly"/>,
    /// row s gets the sequence's last token only ([B, nH dH]: a decoder's last layer when only the last position is scored).
    /// </summary>
    /// <exception cref="ArgumentException">nH is not a multiple of nKV, the prefix has another shape, or a span is too short.</exception>
    public static void CausalBatch(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, KeyValuePrefix? prefix,
        Span<float> output, bool lastTokenOnly, int heads, int kvHeads, int headDim, float scale, in KernelCapabilities caps)
    {
        KernelGuard.Positive(heads, nameof(heads));
        KernelGuard.Positive(kvHeads, nameof(kvHeads));
        KernelGuard.Positive(headDim, nameof(headDim));
        if (heads % kvHeads != 0) throw new ArgumentException($"{heads} query heads cannot share {kvHeads} key/value heads evenly.", nameof(kvHeads));
        if (!(scale > 0)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The attention scale must be positive.");
        if (prefix is not null && (prefix.KeyValueHeads != kvHeads || prefix.HeadDim != headDim))
            throw new ArgumentException($"The prefix cache holds {prefix.KeyValueHeads} heads of {prefix.HeadDim}; this layer has {kvHeads} of {headDim}.", nameof(prefix));
        if (sequences < 0 || starts.Length < sequences + 1) throw new ArgumentException($"starts needs {sequences + 1} entries.", nameof(starts));
        int hidden = heads * headDim, width = (heads + 2 * kvHeads) * headDim;
        if (ld < width) throw new ArgumentOutOfRangeException(nameof(ld), ld, $"The row stride must hold Q, K and V ({width}).");
        if (sequences == 0) return;
        if (starts[0] != 0) throw new ArgumentException("starts[0] must be 0.", nameof(starts));
        int longest = 0;
        for (int s = 0; s < sequences; s++)
        {
            int t = starts[s + 1] - starts[s];
            if (t <= 0) throw new ArgumentException($"Sequence {s} is empty (starts must increase).", nameof(starts));
            longest = Math.Max(longest, t);
        }
        int n = starts[sequences];
        KernelGuard.Length(qkv, (long)(n - 1) * ld + width, nameof(qkv));
        KernelGuard.Length(output, (long)(lastTokenOnly ? sequences : n) * hidden, nameof(output));

        int prefixLength = prefix?.Length ?? 0;
        int chunks = lastTokenOnly ? 1 : (longest + CausalChunkRows - 1) / CausalChunkRows;
        long flops = 0;
        for (int s = 0; s < sequences; s++)
        {
            long t = starts[s + 1] - starts[s];
            flops += lastTokenOnly ? 4L * (prefixLength + t) * hidden : 4L * t * (prefixLength + (t + 1) / 2) * hidden;
        }
        fixed (float* pq = qkv, po = output)
        fixed (int* ps = starts)
        fixed (float* pkt = prefix?.KeysTransposed, pv = prefix?.Values)
        {
            var job = new CausalJob
            {
                Qkv = pq, Ld = ld, Starts = ps, Output = po, LastTokenOnly = lastTokenOnly,
                Heads = heads, KvHeads = kvHeads, HeadDim = headDim, Scale = scale, Caps = caps, Chunks = chunks,
                PrefixKeys = pkt, PrefixValues = pv, PrefixLength = prefixLength, PrefixStride = prefix?.Stride ?? 0,
                Longest = longest,
            };
            int parts = checked(sequences * kvHeads * chunks);
            int threads = caps.ThreadsFor(flops, parts);
            if (threads == 1)
                for (int part = 0; part < parts; part++) CausalPart(&job, part);
            else
                KernelParallelism.For(parts, &job, &CausalPart, threads);
        }
    }

    private struct CausalJob
    {
        public float* Qkv, Output, PrefixKeys, PrefixValues;
        public int* Starts;
        public int Ld, Heads, KvHeads, HeadDim, Chunks, PrefixLength, PrefixStride, Longest;
        public float Scale;
        public bool LastTokenOnly;
        public KernelCapabilities Caps;
    }

    [ThreadStatic] private static float* t_causal;
    [ThreadStatic] private static long t_causalLength;

    /// <summary>This thread's buffer for a part's transposed keys and score rows (64-byte aligned, grown on demand, kept).</summary>
    private static float* CausalBuffer(long floats)
    {
        if (t_causalLength < floats)
        {
            NativeMemory.AlignedFree(t_causal);
            t_causal = (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
            t_causalLength = floats;
        }
        return t_causal;
    }

    /// <summary>One part: sequence s, key/value head g, a chunk of query rows (all heads of the group).</summary>
    private static void CausalPart(void* state, int part)
    {
        var job = (CausalJob*)state;
        int chunks = job->Chunks, kvHeads = job->KvHeads;
        int s = part / chunks / kvHeads, g = part / chunks % kvHeads, chunk = part % chunks;
        int start = job->Starts[s], length = job->Starts[s + 1] - start;
        int r0 = job->LastTokenOnly ? length - 1 : chunk * CausalChunkRows;
        if (r0 >= length) return;
        int r1 = job->LastTokenOnly ? length : Math.Min(length, r0 + CausalChunkRows);
        int dh = job->HeadDim, group = job->Heads / kvHeads, p = job->PrefixLength, ld = job->Ld;
        int stride = (r1 + 15) / 16 * 16;                    // own keys 0 .. r1 - 1, padded to whole vectors
        int rowLength = p + stride + 16;                     // one score row: [prefix keys | own keys], with slack for a padded chunk
        float* kt = CausalBuffer((long)dh * stride + (long)group * rowLength);
        float* scores = kt + (long)dh * stride;              // [group, rowLength]

        // Kt[d, j] = K[j, g dH + d] for the own keys this chunk reads; zero padding up to the stride.
        float* keys = job->Qkv + (long)start * ld + job->Heads * dh + g * dh;
        for (int d = 0; d < dh; d++)
        {
            float* dst = kt + (long)d * stride;
            for (int j = 0; j < r1; j++) dst[j] = keys[(long)j * ld + d];
            for (int j = r1; j < stride; j++) dst[j] = 0f;
        }
        float* values = job->Qkv + (long)start * ld + (job->Heads + kvHeads) * dh + g * dh;
        float* prefixKeys = job->PrefixKeys + (long)g * dh * job->PrefixStride;
        float* prefixValues = job->PrefixValues + g * dh;
        int prefixLd = kvHeads * dh, hidden = job->Heads * dh;

        for (int t = r0; t < r1; t++)
        {
            int keysSeen = p + t + 1;
            float* outRow = job->Output + (long)(job->LastTokenOnly ? s : start + t) * hidden;
            for (int i = 0; i < group; i++)
            {
                int h = g * group + i;
                float* q = job->Qkv + (long)(start + t) * ld + h * dh;
                float* row = scores + (long)i * rowLength;
                // s_j = q . k_j: the prefix's keys at [0, P), the sequence's own at [P, P + t].
                if (p > 0) DotColumns(q, prefixKeys, job->PrefixStride, dh, p, row, job->Caps);
                DotColumns(q, kt, stride, dh, t + 1, row + p, job->Caps);
                float sum = Softmax.ExpScaledInPlace(row, keysSeen, job->Scale, job->Caps);   // p_j unnormalised
                float* o = outRow + h * dh;
                WeightedSum(row, prefixValues, prefixLd, p, values, ld, t + 1, o, dh, job->Caps);
                ScaleRow(o, 1f / sum, dh);
            }
        }
    }

    /// <summary>row[j] = q . Kt[:, j] for j &lt; count (Kt row stride <paramref name="stride"/>, at least count rounded up to
    /// 16, zero padded). Each lane runs d = 0 .. dH - 1 in order, so row[j] does not depend on count or on j's lane.
    /// Writes whole vectors: up to 15 floats past count.</summary>
    private static void DotColumns(float* q, float* kt, int stride, int dh, int count, float* row, in KernelCapabilities caps)
    {
        if (caps.Isa == KernelIsa.Avx512)
        {
            int j = 0;
            for (; j + 64 <= count + 15 && j + 64 <= stride; j += 64)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* col = kt + j;
                for (int d = 0; d < dh; d++, col += stride)
                {
                    var qd = Vector512.Create(q[d]);
                    a0 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(col), a0);
                    a1 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(col + 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(col + 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(col + 48), a3);
                }
                a0.Store(row + j); a1.Store(row + j + 16); a2.Store(row + j + 32); a3.Store(row + j + 48);
            }
            for (; j < count; j += 16)
            {
                Vector512<float> a0 = default;
                float* col = kt + j;
                for (int d = 0; d < dh; d++, col += stride) a0 = Vector512.FusedMultiplyAdd(Vector512.Create(q[d]), Vector512.Load(col), a0);
                a0.Store(row + j);
            }
            return;
        }
        if (caps.UsesFma) DotColumns<FusedMultiplyAdd>(q, kt, stride, dh, count, row);
        else DotColumns<SeparateMultiplyAdd>(q, kt, stride, dh, count, row);
    }

    private static void DotColumns<TMultiplyAdd>(float* q, float* kt, int stride, int dh, int count, float* row) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, j = 0;
        for (; j + 4 * w <= count + w - 1 && j + 4 * w <= stride; j += 4 * w)
        {
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            float* col = kt + j;
            for (int d = 0; d < dh; d++, col += stride)
            {
                var qd = new Vector<float>(q[d]);
                a0 = TMultiplyAdd.Apply(qd, Vector.Load(col), a0);
                a1 = TMultiplyAdd.Apply(qd, Vector.Load(col + w), a1);
                a2 = TMultiplyAdd.Apply(qd, Vector.Load(col + 2 * w), a2);
                a3 = TMultiplyAdd.Apply(qd, Vector.Load(col + 3 * w), a3);
            }
            Vector.Store(a0, row + j); Vector.Store(a1, row + j + w); Vector.Store(a2, row + j + 2 * w); Vector.Store(a3, row + j + 3 * w);
        }
        for (; j + w <= stride && j < count; j += w)
        {
            Vector<float> a0 = default;
            float* col = kt + j;
            for (int d = 0; d < dh; d++, col += stride) a0 = TMultiplyAdd.Apply(new Vector<float>(q[d]), Vector.Load(col), a0);
            Vector.Store(a0, row + j);
        }
        for (; j < count; j++)   // a stride that is not a whole number of vectors (Vector<float> wider than 16 lanes)
        {
            float a = 0f;
            for (int d = 0; d < dh; d++) a = TMultiplyAdd.Apply(q[d], kt[(long)d * stride + j], a);
            row[j] = a;
        }
    }

    /// <summary>o[0..dH) = sum_j p[j] v_j over the prefix's values (rows [0, P), stride prefixLd) then the sequence's own
    /// (rows [0, count), stride ld), p at [0, P + count): one accumulation per output element, j in order.</summary>
    private static void WeightedSum(float* p, float* prefixValues, int prefixLd, int prefixCount, float* values, int ld, int count,
        float* o, int dh, in KernelCapabilities caps)
    {
        int d = 0;
        if (caps.Isa == KernelIsa.Avx512)
        {
            for (; d + 64 <= dh; d += 64)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int j = 0; j < prefixCount; j++)
                {
                    var pj = Vector512.Create(p[j]);
                    float* v = prefixValues + (long)j * prefixLd + d;
                    a0 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v), a0);
                    a1 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 48), a3);
                }
                for (int j = 0; j < count; j++)
                {
                    var pj = Vector512.Create(p[prefixCount + j]);
                    float* v = values + (long)j * ld + d;
                    a0 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v), a0);
                    a1 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 48), a3);
                }
                a0.Store(o + d); a1.Store(o + d + 16); a2.Store(o + d + 32); a3.Store(o + d + 48);
            }
            for (; d + 16 <= dh; d += 16)
            {
                Vector512<float> a0 = default;
                for (int j = 0; j < prefixCount; j++) a0 = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), Vector512.Load(prefixValues + (long)j * prefixLd + d), a0);
                for (int j = 0; j < count; j++) a0 = Vector512.FusedMultiplyAdd(Vector512.Create(p[prefixCount + j]), Vector512.Load(values + (long)j * ld + d), a0);
                a0.Store(o + d);
            }
            for (; d < dh; d++) o[d] = WeightedSumScalar<FusedMultiplyAdd>(p, prefixValues, prefixLd, prefixCount, values, ld, count, d);
            return;
        }
        if (caps.UsesFma) WeightedSum<FusedMultiplyAdd>(p, prefixValues, prefixLd, prefixCount, values, ld, count, o, dh);
        else WeightedSum<SeparateMultiplyAdd>(p, prefixValues, prefixLd, prefixCount, values, ld, count, o, dh);
    }

    private static void WeightedSum<TMultiplyAdd>(float* p, float* prefixValues, int prefixLd, int prefixCount, float* values, int ld, int count,
        float* o, int dh) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, d = 0;
        for (; d + 4 * w <= dh; d += 4 * w)
        {
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int j = 0; j < prefixCount; j++)
            {
                var pj = new Vector<float>(p[j]);
                float* v = prefixValues + (long)j * prefixLd + d;
                a0 = TMultiplyAdd.Apply(pj, Vector.Load(v), a0);
                a1 = TMultiplyAdd.Apply(pj, Vector.Load(v + w), a1);
                a2 = TMultiplyAdd.Apply(pj, Vector.Load(v + 2 * w), a2);
                a3 = TMultiplyAdd.Apply(pj, Vector.Load(v + 3 * w), a3);
            }
            for (int j = 0; j < count; j++)
            {
                var pj = new Vector<float>(p[prefixCount + j]);
                float* v = values + (long)j * ld + d;
                a0 = TMultiplyAdd.Apply(pj, Vector.Load(v), a0);
                a1 = TMultiplyAdd.Apply(pj, Vector.Load(v + w), a1);
                a2 = TMultiplyAdd.Apply(pj, Vector.Load(v + 2 * w), a2);
                a3 = TMultiplyAdd.Apply(pj, Vector.Load(v + 3 * w), a3);
            }
            Vector.Store(a0, o + d); Vector.Store(a1, o + d + w); Vector.Store(a2, o + d + 2 * w); Vector.Store(a3, o + d + 3 * w);
        }
        for (; d + w <= dh; d += w)
        {
            Vector<float> a0 = default;
            for (int j = 0; j < prefixCount; j++) a0 = TMultiplyAdd.Apply(new Vector<float>(p[j]), Vector.Load(prefixValues + (long)j * prefixLd + d), a0);
            for (int j = 0; j < count; j++) a0 = TMultiplyAdd.Apply(new Vector<float>(p[prefixCount + j]), Vector.Load(values + (long)j * ld + d), a0);
            Vector.Store(a0, o + d);
        }
        for (; d < dh; d++) o[d] = WeightedSumScalar<TMultiplyAdd>(p, prefixValues, prefixLd, prefixCount, values, ld, count, d);
    }

    private static float WeightedSumScalar<TMultiplyAdd>(float* p, float* prefixValues, int prefixLd, int prefixCount, float* values, int ld, int count, int d)
        where TMultiplyAdd : struct, IMultiplyAdd
    {
        float a = 0f;
        for (int j = 0; j < prefixCount; j++) a = TMultiplyAdd.Apply(p[j], prefixValues[(long)j * prefixLd + d], a);
        for (int j = 0; j < count; j++) a = TMultiplyAdd.Apply(p[prefixCount + j], values[(long)j * ld + d], a);
        return a;
    }

    /// <summary>
    /// Readable twin of <see cref="CausalBatch"/> in double: for each sequence, head and token, the softmax over its prefix
    /// keys and its own keys up to itself, then the weighted sum of the values.
    /// </summary>
    public static void CausalBatchReference(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, KeyValuePrefix? prefix,
        Span<float> output, bool lastTokenOnly, int heads, int kvHeads, int headDim, float scale)
    {
        int group = heads / kvHeads, hidden = heads * headDim, p = prefix?.Length ?? 0;
        for (int s = 0; s < sequences; s++)
        {
            int start = starts[s], length = starts[s + 1] - start;
            for (int t = lastTokenOnly ? length - 1 : 0; t < length; t++)
                for (int h = 0; h < heads; h++)
                {
                    int g = h / group, keys = p + t + 1;
                    var score = new double[keys];
                    for (int j = 0; j < keys; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < headDim; d++)
                        {
                            double k = j < p ? prefix!.KeysTransposed[(long)(g * headDim + d) * prefix.Stride + j]
                                : qkv[(start + j - p) * ld + hidden + g * headDim + d];
                            dot += (double)qkv[(start + t) * ld + h * headDim + d] * k;
                        }
                        score[j] = dot * scale;
                    }
                    double max = score.Max(), sum = 0;
                    for (int j = 0; j < keys; j++) sum += score[j] = Math.Exp(score[j] - max);
                    int outRow = lastTokenOnly ? s : start + t;
                    for (int d = 0; d < headDim; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j < keys; j++)
                        {
                            double v = j < p ? prefix!.Values[(long)j * kvHeads * headDim + g * headDim + d]
                                : qkv[(start + j - p) * ld + hidden + kvHeads * headDim + g * headDim + d];
                            acc += score[j] * v;
                        }
                        output[outRow * hidden + h * headDim + d] = (float)(acc / sum);
                    }
                }
        }
    }
}
