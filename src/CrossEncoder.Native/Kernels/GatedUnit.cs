using System.Numerics;

namespace CrossEncoder.Native.Kernels;

// y[R, I] = act(a) * m,   [a | m] = product[R, 2I]
//
// The gated linear unit of a gated feed-forward block (Shazeer 2020, "GLU Variants Improve Transformer"): the input layer
// computes 2I values per row, [a | m] = x W^T + b with W = [Wa; Wm] ([2I, K]: the activated half first, then the
// multiplier half), and keeps I of them. The activation names the variant:
//
//   GeGLU   act = GELU, the exact one of Gelu.cs
//   SwiGLU  act = SiLU (Silu.cs)
//
// Checkpoints store W either as one [2I, K] tensor (activated rows first) or as two [I, K] tensors; the caller stacks two
// in the order [activated; multiplier]. This file holds what every route shares: the unfused Apply (a plain product, then
// this), the fused GEMM epilogue Tile (Gemm.Gated.cs, GemmInt8.Gated.cs), and the double twin. The fused and unfused routes
// run the same activation code on the same floats and multiply the same way, so they agree bit for bit.

/// <summary>The activation of a gated unit <c>y = act(a) * m</c>.</summary>
internal enum GatedActivation
{
    /// <summary>GeGLU: act = exact GELU (<see cref="Gelu"/>).</summary>
    Gelu,
    /// <summary>SwiGLU: act = SiLU, x * sigmoid(x) (<see cref="Kernels.Silu"/>).</summary>
    Silu,
}

/// <summary>The gated unit of a gated feed-forward block: a product row [a | m] of 2I values becomes I values act(a) * m.</summary>
internal static unsafe class GatedUnit
{
    /// <summary>y[r, j] = act(product[r, j]) * product[r, I + j] for r &lt; rows, j &lt; I (product [R, 2I], y [R, I]), on the calling thread.</summary>
    /// <exception cref="ArgumentException">A span is shorter than its shape needs.</exception>
    public static void Apply(GatedActivation activation, ReadOnlySpan<float> product, Span<float> y, int rows, int inner, in KernelCapabilities caps)
    {
        Validate(product, y, rows, inner);
        fixed (float* pp = product, py = y)
            for (int r = 0; r < rows; r++)
            {
                float* a = pp + (long)r * 2 * inner, output = py + (long)r * inner;
                new Span<float>(a, inner).CopyTo(new Span<float>(output, inner));
                Tile(activation, output, a + inner, 1, inner, inner, output, inner, caps);    // act(a) in place, * m
            }
    }

    /// <summary>
    /// The fused GEMM epilogue: a finished tile holds a[rows, width] and m[rows, width], each a contiguous block (row stride
    /// width), the two halves of the same outputs; y[r, j] = act(a[r, j]) * m[r, j] for j &lt; cols (row stride ldy). The
    /// activation runs in place on a, in one call over the whole block (a call per short row cost ~4 % of the int8 layer).
    /// y may be a itself (width = cols = ldy).
    /// </summary>
    internal static void Tile(GatedActivation activation, float* a, float* m, int rows, int width, int cols, float* y, int ldy, in KernelCapabilities caps)
    {
        Activate(activation, a, rows * width, caps);
        int w = Vector<float>.Count;
        for (int r = 0; r < rows; r++)
        {
            float* ar = a + (long)r * width, mr = m + (long)r * width, output = y + (long)r * ldy;
            int j = 0;
            for (; j <= cols - w; j += w) Vector.Store(Vector.Load(ar + j) * Vector.Load(mr + j), output + j);   // * multiplier
            for (; j < cols; j++) output[j] = ar[j] * mr[j];
        }
    }

    /// <summary>act(a) * m for one pair (a product without reduction: the bias alone), as <see cref="Apply"/> computes it.</summary>
    internal static float Scalar(GatedActivation activation, float a, float m, in KernelCapabilities caps)
    {
        float v = a;
        Activate(activation, &v, 1, caps);
        return v * m;
    }

    /// <summary>x = act(x) in place on n floats, on the calling thread.</summary>
    private static void Activate(GatedActivation activation, float* x, int n, in KernelCapabilities caps)
    {
        if (activation == GatedActivation.Silu) Silu.Row(x, n, caps);
        else Gelu.Row(x, n, caps);
    }

    /// <summary>
    /// The bias of one gated GEMM column pair, [activated nr | multiplier nr]: output columns [col0, col0 + cols) of the
    /// activated half (bias[col0 + c]) and of the multiplier half (bias[inner + col0 + c]), zero past the valid columns or
    /// without a bias.
    /// </summary>
    internal static void PairBias(float* bias, int inner, int col0, int cols, int nr, float* pairBias)
    {
        for (int c = 0; c < nr; c++)
        {
            bool valid = c < cols && bias != null;
            pairBias[c] = valid ? bias[col0 + c] : 0f;
            pairBias[nr + c] = valid ? bias[inner + col0 + c] : 0f;
        }
    }

    /// <summary>Readable twin of <see cref="Apply"/>: the activation in double (<see cref="Gelu.Reference(double)"/>,
    /// <see cref="Kernels.Silu.Reference(double)"/>) times the multiplier, rounded once.</summary>
    public static void ApplyReference(GatedActivation activation, ReadOnlySpan<float> product, Span<float> y, int rows, int inner)
    {
        Validate(product, y, rows, inner);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < inner; j++)
                y[r * inner + j] = (float)(ActivationReference(activation, product[r * 2 * inner + j]) * product[r * 2 * inner + inner + j]);
    }

    /// <summary>act(x) in double: the twin of the fast activations.</summary>
    internal static double ActivationReference(GatedActivation activation, double x) =>
        activation == GatedActivation.Silu ? Kernels.Silu.Reference(x) : Gelu.Reference(x);

    private static void Validate(ReadOnlySpan<float> product, ReadOnlySpan<float> y, int rows, int inner)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "The row count must not be negative.");
        KernelGuard.Positive(inner, nameof(inner));
        KernelGuard.Length(product, (long)rows * 2 * inner, nameof(product));
        KernelGuard.Length(y, (long)rows * inner, nameof(y));
    }
}
