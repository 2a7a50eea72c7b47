namespace CrossEncoder.Native.Kernels;

internal static partial class Attention
{
    /// <summary>Readable twin of <see cref="MultiHead(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Span{float}, int, int, int, float, Span{float}, in KernelCapabilities)"/>: per head, scores in double, softmax, weighted sum of values.</summary>
    public static void MultiHeadReference(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<float> keyBias,
        Span<float> output, int tokens, int heads, int headDim, float scale)
        => MultiHeadReference(q, k, v, ld, keyBias, output, tokens, heads, headDim, scale, tokens);

    /// <summary>The reference with only the first <paramref name="queries"/> query rows attending; output [queries, nH*dH].</summary>
    internal static void MultiHeadReference(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<float> keyBias,
        Span<float> output, int tokens, int heads, int headDim, float scale, int queries)
    {
        int hidden = Validate(q, k, v, ld, keyBias, output, tokens, heads, headDim, queries);
        var scores = new double[tokens];
        for (int h = 0; h < heads; h++)
        {
            int col = h * headDim;
            for (int i = 0; i < queries; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < tokens; j++)
                {
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) dot += (double)q[i * ld + col + d] * k[j * ld + col + d];
                    scores[j] = dot * scale + keyBias[j];
                    max = Math.Max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < tokens; j++) { scores[j] = Math.Exp(scores[j] - max); sum += scores[j]; }
                for (int d = 0; d < headDim; d++)
                {
                    double acc = 0;
                    for (int j = 0; j < tokens; j++) acc += scores[j] / sum * v[j * ld + col + d];
                    output[i * hidden + col + d] = (float)acc;
                }
            }
        }
    }

    /// <summary>Readable twin of <see cref="Probabilities"/>: every score in double, the mask as -infinity, a plain softmax.</summary>
    public static void ProbabilitiesReference(ReadOnlySpan<float> qkv, int ld, int keyColumn, int tokens, int heads, int kvHeads, int headDim, float scale,
        int window, bool causal, Span<float> probabilities)
    {
        ValidateProbabilities(qkv, ld, keyColumn, tokens, heads, kvHeads, headDim, scale, window, probabilities);
        var scores = new double[tokens];
        for (int h = 0; h < heads; h++)
        {
            int g = h / (heads / kvHeads);
            for (int i = 0; i < tokens; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < tokens; j++)
                {
                    bool visible = (window == Global || Math.Abs(i - j) <= window) && (!causal || j <= i);
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) dot += (double)qkv[i * ld + h * headDim + d] * qkv[j * ld + keyColumn + g * headDim + d];
                    scores[j] = visible ? dot * scale : double.NegativeInfinity;
                    max = Math.Max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < tokens; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                for (int j = 0; j < tokens; j++) probabilities[(h * tokens + i) * tokens + j] = (float)(scores[j] / sum);
            }
        }
    }

    /// <summary>Entry checks shared by both paths; returns nH*dH.</summary>
    private static int Validate(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<float> keyBias,
        ReadOnlySpan<float> output, int tokens, int heads, int headDim, int queries)
    {
        KernelGuard.Positive(tokens, nameof(tokens));
        if (queries < 0 || queries > tokens) throw new ArgumentOutOfRangeException(nameof(queries), queries, $"Query rows must be between 0 and the {tokens} tokens.");
        KernelGuard.Positive(heads, nameof(heads));
        KernelGuard.Positive(headDim, nameof(headDim));
        int hidden = heads * headDim;
        if (ld < hidden) throw new ArgumentOutOfRangeException(nameof(ld), ld, $"Row stride must be at least nH*dH = {hidden}.");
        long need = tokens == 0 ? 0 : (long)(tokens - 1) * ld + hidden;
        KernelGuard.Length(q, queries == 0 ? 0 : (long)(queries - 1) * ld + hidden, nameof(q));
        KernelGuard.Length(k, need, nameof(k));
        KernelGuard.Length(v, need, nameof(v));
        KernelGuard.Length(keyBias, tokens, nameof(keyBias));
        KernelGuard.Length(output, (long)queries * hidden, nameof(output));
        return hidden;
    }
}
