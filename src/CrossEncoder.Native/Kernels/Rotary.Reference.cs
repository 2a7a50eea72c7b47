namespace CrossEncoder.Native.Kernels;

internal static partial class Rotary
{
    /// <summary>Readable twin of <see cref="ApplyBatch"/>: each (x1[j], x2[j]) pair turned by its angle, in double, from
    /// the same float32 angles (see the notes in Rotary.cs).</summary>
    public static void ApplyBatchReference(Span<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, int heads, RotaryTable table)
    {
        Validate(qkv, ld, starts, sequences, heads, table);
        int dh = table.HeadDim, half = dh / 2;
        for (int s = 0; s < sequences; s++)
            for (int p = 0; p < starts[s + 1] - starts[s]; p++)
            {
                int row = (starts[s] + p) * ld;
                for (int v = 0; v < 2 * heads; v++)          // Q heads, then K heads
                    for (int j = 0; j < half; j++)
                    {
                        double angle = RotaryTable.InverseFrequency(table.Theta, j, dh) * p;   // float32 product, widened
                        angle = (float)angle;
                        int i1 = row + v * dh + j, i2 = i1 + half;
                        double x1 = qkv[i1], x2 = qkv[i2];
                        qkv[i1] = (float)(x1 * Math.Cos(angle) - x2 * Math.Sin(angle));
                        qkv[i2] = (float)(x2 * Math.Cos(angle) + x1 * Math.Sin(angle));
                    }
            }
    }

    /// <summary>Readable twin of <see cref="ApplyHeads"/>, in double from the same float32 angles.</summary>
    public static void ApplyHeadsReference(Span<float> x, int ld, int column, int heads, ReadOnlySpan<int> starts, int sequences, int positionOffset, RotaryTable table)
    {
        ValidateHeads(x, ld, column, heads, starts, sequences, positionOffset, table);
        int dh = table.HeadDim, half = dh / 2;
        for (int s = 0; s < sequences; s++)
            for (int p = 0; p < starts[s + 1] - starts[s]; p++)
            {
                int row = (starts[s] + p) * ld + column, position = positionOffset + p;
                for (int v = 0; v < heads; v++)
                    for (int j = 0; j < half; j++)
                    {
                        double angle = (float)(RotaryTable.InverseFrequency(table.Theta, j, dh) * position);   // float32 product
                        int i1 = row + v * dh + j, i2 = i1 + half;
                        double x1 = x[i1], x2 = x[i2];
                        x[i1] = (float)(x1 * Math.Cos(angle) - x2 * Math.Sin(angle));
                        x[i2] = (float)(x2 * Math.Cos(angle) + x1 * Math.Sin(angle));
                    }
            }
    }
}
