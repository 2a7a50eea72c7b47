namespace CrossEncoder.Native.Kernels;

internal static partial class Attention
{
    /// <summary>Readable twin of <see cref="ForwardTraining"/> in double: output[N, H] from qkv[N, 3H] (stride 3H), with the same
    /// dropout masks (keyed by the probabilities' layout).</summary>
    public static void ForwardTrainingReference(ReadOnlySpan<double> qkv, ReadOnlySpan<int> starts, int sequences, int heads, int headDim,
        double scale, Span<double> output, float dropout, ulong dropoutKey)
    {
        int hidden = heads * headDim, ld = 3 * hidden;
        long offset = 0;
        for (int s = 0; s < sequences; s++)
        {
            int start = starts[s], t = starts[s + 1] - start;
            for (int h = 0; h < heads; h++, offset += (long)t * t)
            {
                var p = HeadProbabilities(qkv, start, t, h, headDim, hidden, scale);
                for (int i = 0; i < t; i++)
                    for (int d = 0; d < headDim; d++)
                    {
                        double sum = 0;
                        for (int j = 0; j < t; j++)
                            sum += p[i, j] * MaskOf(dropoutKey, offset + (long)i * t + j, dropout) * qkv[(start + j) * ld + 2 * hidden + h * headDim + d];
                        output[(start + i) * hidden + h * headDim + d] = sum;
                    }
            }
        }
    }

    /// <summary>Readable twin of <see cref="BackwardTraining"/> in double: dQkv[N, 3H] from dOutput[N, H].</summary>
    public static void BackwardTrainingReference(double[] qkv, ReadOnlySpan<int> starts, int sequences, int heads, int headDim,
        double scale, double[] dOutput, Span<double> dQkv, float dropout, ulong dropoutKey)
    {
        int hidden = heads * headDim, ld = 3 * hidden;
        long offset = 0;
        for (int s = 0; s < sequences; s++)
        {
            int start = starts[s], t = starts[s + 1] - start;
            for (int h = 0; h < heads; h++, offset += (long)t * t)
            {
                var p = HeadProbabilities(qkv, start, t, h, headDim, hidden, scale);
                double Q(int i, int d) => qkv[(start + i) * ld + h * headDim + d];
                double K(int i, int d) => qkv[(start + i) * ld + hidden + h * headDim + d];
                double V(int i, int d) => qkv[(start + i) * ld + 2 * hidden + h * headDim + d];
                double DO(int i, int d) => dOutput[(start + i) * hidden + h * headDim + d];
                var dS = new double[t, t];
                for (int i = 0; i < t; i++)
                {
                    var dP = new double[t];
                    double dot = 0;
                    for (int j = 0; j < t; j++)
                    {
                        double m = MaskOf(dropoutKey, offset + (long)i * t + j, dropout);
                        for (int d = 0; d < headDim; d++) dP[j] += DO(i, d) * V(j, d);
                        dP[j] *= m;                                            // through the dropout of P
                        dot += dP[j] * p[i, j];
                    }
                    for (int j = 0; j < t; j++) dS[i, j] = p[i, j] * (dP[j] - dot);
                }
                for (int i = 0; i < t; i++)
                    for (int d = 0; d < headDim; d++)
                    {
                        double dq = 0, dk = 0, dv = 0;
                        for (int j = 0; j < t; j++)
                        {
                            dq += dS[i, j] * K(j, d);
                            dk += dS[j, i] * Q(j, d);
                            dv += p[j, i] * MaskOf(dropoutKey, offset + (long)j * t + i, dropout) * DO(j, d);
                        }
                        dQkv[(start + i) * ld + h * headDim + d] = scale * dq;
                        dQkv[(start + i) * ld + hidden + h * headDim + d] = scale * dk;
                        dQkv[(start + i) * ld + 2 * hidden + h * headDim + d] = dv;
                    }
            }
        }
    }

    private static double MaskOf(ulong key, long index, float dropout) => dropout > 0f ? Dropout.Mask(key, index, dropout, 1f / (1f - dropout)) : 1.0;

    private static double[,] HeadProbabilities(ReadOnlySpan<double> qkv, int start, int t, int h, int headDim, int hidden, double scale)
    {
        int ld = 3 * hidden;
        var p = new double[t, t];
        for (int i = 0; i < t; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < t; j++)
            {
                double score = 0;
                for (int d = 0; d < headDim; d++) score += qkv[(start + i) * ld + h * headDim + d] * qkv[(start + j) * ld + hidden + h * headDim + d];
                p[i, j] = score * scale;
                max = Math.Max(max, p[i, j]);
            }
            double sum = 0;
            for (int j = 0; j < t; j++) sum += p[i, j] = Math.Exp(p[i, j] - max);
            for (int j = 0; j < t; j++) p[i, j] /= sum;
        }
        return p;
    }
}
