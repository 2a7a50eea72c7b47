using System.Numerics.Tensors;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. LayerNorm per row of n: mean m, variance v (biased, as torch), rstd = 1 / sqrt(v + eps),
// xhat = (x - m) rstd, y = xhat gamma + beta. Its gradient, with g = dy gamma:
//   dx = rstd (g - mean(g) - xhat mean(g xhat)),   dgamma += sum over rows of dy xhat,   dbeta += sum over rows of dy
// The forward keeps xhat [rows, n] and rstd [rows] for the backward.
internal static partial class LayerNorm
{
    /// <summary>y[rows,n] = LayerNorm(x + residual) (residual may be empty), keeping xhat[rows,n] and rstd[rows] for
    /// <see cref="Backward"/>. y may alias x or residual.</summary>
    public static void ForwardTraining(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> y, Span<float> xhat, Span<float> rstd, int rows, int n, float eps)
    {
        KernelGuard.Positive(n, nameof(n));
        long length = (long)rows * n;
        KernelGuard.Length(x, length, nameof(x));
        if (!residual.IsEmpty) KernelGuard.Length(residual, length, nameof(residual));
        KernelGuard.Length(gamma, n, nameof(gamma));
        KernelGuard.Length(beta, n, nameof(beta));
        KernelGuard.Length(y, length, nameof(y));
        KernelGuard.Length(xhat, length, nameof(xhat));
        KernelGuard.Length(rstd, rows, nameof(rstd));
        for (int r = 0; r < rows; r++)
        {
            var h = xhat.Slice(r * n, n);
            if (residual.IsEmpty) x.Slice(r * n, n).CopyTo(h);
            else TensorPrimitives.Add(x.Slice(r * n, n), residual.Slice(r * n, n), h);
            float mean = TensorPrimitives.Sum<float>(h) / n;
            TensorPrimitives.Subtract(h, mean, h);                                  // centred, two-pass variance
            float inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares<float>(h) / n + eps);
            TensorPrimitives.Multiply(h, inverse, h);
            rstd[r] = inverse;
            TensorPrimitives.FusedMultiplyAdd(h, gamma, beta, y.Slice(r * n, n));
        }
    }

    /// <summary>dx[rows,n] = dLayerNorm/dx^T dy; dgamma[n] and dbeta[n] are accumulated (added to). dx may alias dy.</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, ReadOnlySpan<float> rstd, ReadOnlySpan<float> gamma,
        Span<float> dx, Span<float> dgamma, Span<float> dbeta, int rows, int n)
    {
        KernelGuard.Positive(n, nameof(n));
        long length = (long)rows * n;
        KernelGuard.Length(dy, length, nameof(dy));
        KernelGuard.Length(xhat, length, nameof(xhat));
        KernelGuard.Length(rstd, rows, nameof(rstd));
        KernelGuard.Length(gamma, n, nameof(gamma));
        KernelGuard.Length(dx, length, nameof(dx));
        KernelGuard.Length(dgamma, n, nameof(dgamma));
        KernelGuard.Length(dbeta, n, nameof(dbeta));
        for (int r = 0; r < rows; r++)
        {
            var dyRow = dy.Slice(r * n, n);
            var xhatRow = xhat.Slice(r * n, n);
            var dxRow = dx.Slice(r * n, n);
            TensorPrimitives.FusedMultiplyAdd(dyRow, xhatRow, dgamma, dgamma);      // before dx may overwrite dy
            TensorPrimitives.Add(dbeta, dyRow, dbeta);
            TensorPrimitives.Multiply(dyRow, gamma, dxRow);                         // g = dy gamma
            float meanG = TensorPrimitives.Sum<float>(dxRow) / n;
            float meanGx = TensorPrimitives.Dot(dxRow, xhatRow) / n;
            TensorPrimitives.Subtract(dxRow, meanG, dxRow);
            TensorPrimitives.MultiplyAdd(xhatRow, -meanGx, dxRow, dxRow);          // g - mean(g) - xhat mean(g xhat)
            TensorPrimitives.Multiply(dxRow, rstd[r], dxRow);
        }
    }
}
