namespace CrossEncoder.Native.Kernels;

/// <summary>Reductions over token rows: mean and max pooling and L2 normalisation (sentence-embedding heads).</summary>
internal static class Pooling
{
    /// <summary>dest[N] = mean of rows [0, validRows) of x[R, N]; the padding rows after them are ignored.</summary>
    public static void MeanOfRows(ReadOnlySpan<float> x, int validRows, int n, Span<float> dest)
    {
        KernelGuard.Length(x, (long)validRows * n, nameof(x));
        KernelGuard.Length(dest, n, nameof(dest));
        if (validRows <= 0) throw new ArgumentOutOfRangeException(nameof(validRows), validRows, "Mean pooling needs at least one row.");
        var d = dest[..n];
        d.Clear();
        for (int r = 0; r < validRows; r++) System.Numerics.Tensors.TensorPrimitives.Add(d, x.Slice(r * n, n), d);
        System.Numerics.Tensors.TensorPrimitives.Multiply(d, 1f / validRows, d);
    }

    /// <summary>dest[N] = element-wise maximum of rows [0, validRows) of x[R, N] (sentence-transformers' max pooling).</summary>
    public static void MaxOfRows(ReadOnlySpan<float> x, int validRows, int n, Span<float> dest)
    {
        KernelGuard.Length(x, (long)validRows * n, nameof(x));
        KernelGuard.Length(dest, n, nameof(dest));
        if (validRows <= 0) throw new ArgumentOutOfRangeException(nameof(validRows), validRows, "Max pooling needs at least one row.");
        var d = dest[..n];
        x[..n].CopyTo(d);
        for (int r = 1; r < validRows; r++) System.Numerics.Tensors.TensorPrimitives.Max(d, x.Slice(r * n, n), d);
    }

    /// <summary>x = x / max(||x||_2, 1e-12), as torch.nn.functional.normalize.</summary>
    /// <remarks>Finite values past ~1.8e19 overflow the float sum of squares, and x / inf would be a silent vector of zeros:
    /// such a vector is normalised in double instead. A vector holding an infinity or NaN becomes NaN, reported by the caller.</remarks>
    public static void L2Normalize(Span<float> x)
    {
        float norm = System.Numerics.Tensors.TensorPrimitives.Norm(x);
        if (float.IsFinite(norm))
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(x, 1f / MathF.Max(norm, 1e-12f), x);
            return;
        }
        double sumOfSquares = 0;
        foreach (float v in x) sumOfSquares += (double)v * v;
        double scale = 1.0 / Math.Max(Math.Sqrt(sumOfSquares), 1e-12);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(x[i] * scale);
    }
}
