using System.Numerics;

namespace CrossEncoder.Native.Kernels;

// Sliding-window (local) attention. Query i of a sequence of T tokens attends to the keys j with |i - j| <= w, the band
// [max(0, i - w), min(T - 1, i + w)]: 2w + 1 keys in the middle of the sequence, fewer at its ends (ModernBERT's local layers,
// w = local_attention / 2 = 64). The cost per head is T x (2w + 1) x dH instead of T x T x dH, so it grows linearly with T.
// Per query row: scores s_j = q_i . k_j * scale over the band, p = softmax(s), out_i = sum_j p_j v_j.

internal static unsafe partial class Attention
{
    /// <summary>One (sequence, head) part of a windowed batch: each query's band of keys (see the notes above).</summary>
    private static void WindowedHead(BatchJob* batch, int s, int h)
    {
        int start = batch->Starts[s], t = batch->Starts[s + 1] - start, dh = batch->HeadDim, w = batch->Window;
        int hidden = batch->Heads * dh, ld = batch->Ld, queries = batch->FirstTokenOnly ? 1 : t;
        int band = (int)Math.Min(t, 2L * w + 1);
        float* scores = PackBuffer(band);                                // [band] this thread's scores for one query
        float* q0 = batch->Qkv + (long)start * ld + h * dh, k0 = q0 + hidden, v0 = q0 + 2 * hidden;
        for (int i = 0; i < queries; i++)
        {
            int lo = Math.Max(0, i - w), hi = (int)Math.Min(t - 1L, (long)i + w);
            float* q = q0 + (long)i * ld;
            float max = float.NegativeInfinity;
            for (int j = lo; j <= hi; j++)
            {
                float dot = Dot(q, k0 + (long)j * ld, dh) * batch->Scale;   // s_j = q_i . k_j * scale
                scores[j - lo] = dot;
                if (dot > max) max = dot;
            }
            float sum = 0;
            for (int j = 0; j <= hi - lo; j++) { scores[j] = MathF.Exp(scores[j] - max); sum += scores[j]; }
            float* o = batch->Output + (long)(batch->FirstTokenOnly ? s : start + i) * hidden + h * dh;
            new Span<float>(o, dh).Clear();
            for (int j = lo; j <= hi; j++) Axpy(scores[j - lo] / sum, v0 + (long)j * ld, o, dh);   // out_i += p_j v_j
        }
    }

    private static float Dot(float* a, float* b, int n)
    {
        int i = 0, w = Vector<float>.Count;
        var acc = Vector<float>.Zero;
        for (; i <= n - w; i += w) acc += Vector.Load(a + i) * Vector.Load(b + i);
        float sum = Vector.Sum(acc);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    private static void Axpy(float alpha, float* x, float* y, int n)
    {
        int i = 0, w = Vector<float>.Count;
        var a = new Vector<float>(alpha);
        for (; i <= n - w; i += w) Vector.Store(Vector.Load(y + i) + a * Vector.Load(x + i), y + i);
        for (; i < n; i++) y[i] += alpha * x[i];
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
