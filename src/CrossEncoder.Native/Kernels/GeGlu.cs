using System.Numerics;

namespace CrossEncoder.Native.Kernels;

/// <summary>
/// The gated GELU unit (GeGLU, Shazeer 2020) of a gated feed-forward block: a product row [input | gate] of 2I values becomes
/// I values <c>GELU(input) * gate</c>. GELU is the exact one of <see cref="Gelu"/>.
/// </summary>
internal static unsafe partial class GeGlu
{
    /// <summary>y[r, j] = GELU(product[r, j]) * product[r, I + j] for r &lt; rows, j &lt; I (product [R, 2I], y [R, I]).</summary>
    public static void Apply(ReadOnlySpan<float> product, Span<float> y, int rows, int inner, in KernelCapabilities caps)
    {
        Validate(product, y, rows, inner);
        int w = Vector<float>.Count;
        fixed (float* pp = product, py = y)
            for (int r = 0; r < rows; r++)
            {
                float* input = pp + (long)r * 2 * inner, gate = input + inner, output = py + (long)r * inner;
                new Span<float>(input, inner).CopyTo(new Span<float>(output, inner));
                Gelu.Row(output, inner, caps);                                    // GELU(input)
                int j = 0;
                for (; j <= inner - w; j += w) Vector.Store(Vector.Load(output + j) * Vector.Load(gate + j), output + j);   // * gate
                for (; j < inner; j++) output[j] *= gate[j];
            }
    }

    /// <summary>
    /// The fused GEMM epilogue (Gemm.GeGlu.cs, GemmInt8.GeGlu.cs): a finished tile holds u[rows, width] and g[rows, width],
    /// each a contiguous block (row stride width), the two halves of the same outputs; y[r, j] = GELU(u[r, j]) * g[r, j] for
    /// j &lt; cols (row stride ldy). GELU runs in place on u, in one call over the whole block (a call per short row cost ~4 %
    /// of the int8 layer). The same per-element arithmetic as <see cref="Apply"/>, so bit for bit equal to it.
    /// </summary>
    internal static void Tile(float* u, float* g, int rows, int width, int cols, float* y, int ldy, in KernelCapabilities caps)
    {
        Gelu.Row(u, rows * width, caps);                                          // GELU(u), in place
        int w = Vector<float>.Count;
        for (int r = 0; r < rows; r++)
        {
            float* ur = u + (long)r * width, gr = g + (long)r * width, output = y + (long)r * ldy;
            int j = 0;
            for (; j <= cols - w; j += w) Vector.Store(Vector.Load(ur + j) * Vector.Load(gr + j), output + j);   // * gate
            for (; j < cols; j++) output[j] = ur[j] * gr[j];
        }
    }

    /// <summary>GELU(u) * g for one pair (a product without reduction: the bias alone), as <see cref="Apply"/> computes it.</summary>
    internal static float Scalar(float u, float g, in KernelCapabilities caps)
    {
        float v = u;
        Gelu.Row(&v, 1, caps);
        return v * g;
    }

    /// <summary>
    /// The bias of one gated GEMM column pair, [input nr | gate nr]: output columns [col0, col0 + cols) of the input half
    /// (bias[col0 + c]) and of the gate half (bias[inner + col0 + c]), zero past the valid columns or without a bias.
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

    /// <summary>Readable twin of <see cref="Apply"/>: GELU in double (<see cref="Gelu.ApplyReference"/>'s formula) times the gate.</summary>
    public static void ApplyReference(ReadOnlySpan<float> product, Span<float> y, int rows, int inner)
    {
        Validate(product, y, rows, inner);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < inner; j++)
            {
                double x = product[r * 2 * inner + j], gate = product[r * 2 * inner + inner + j];
                double gelu = 0.5 * x * (1.0 + SpecialFunctions.Erf(x / Math.Sqrt(2.0)));
                y[r * inner + j] = (float)(gelu * gate);
            }
    }

    private static void Validate(ReadOnlySpan<float> product, ReadOnlySpan<float> y, int rows, int inner)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "The row count must not be negative.");
        KernelGuard.Positive(inner, nameof(inner));
        KernelGuard.Length(product, (long)rows * 2 * inner, nameof(product));
        KernelGuard.Length(y, (long)rows * inner, nameof(y));
    }
}
