using System.Numerics;
using System.Runtime.InteropServices;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Rotary position embeddings (RoPE, Su et al. 2021) in the "rotate-half" convention of GPT-NeoX and
// Hugging Face's apply_rotary_pos_emb (not GPT-J's interleaved pairs): a head vector x of dH values is split into halves
// x1 = x[0, dH/2) and x2 = x[dH/2, dH); pair j of the rotation is (x1[j], x2[j]), turned by the angle p * f_j of the
// token's position p in its sequence, f_j = theta^(-2j/dH):
//
//   x1'[j] = x1[j] cos(p f_j) - x2[j] sin(p f_j)
//   x2'[j] = x2[j] cos(p f_j) + x1[j] sin(p f_j)
//
// Queries and keys are rotated, values are not, so the score q_i . k_j depends on positions only through i - j.
// The angles are computed as Hugging Face computes them, in float32: f_j = 1 / (float)theta^((float)(2j) / dH) and the angle
// is the float32 product f_j * p. At p = 8,000 that rounding is worth 2.4e-4 rad, more than our 1e-5 budget, so a table built
// in double would not match transformers at long positions; cos and sin of the float angle are then taken in double and
// rounded. The table is built once per model ([P, dH/2] for cos and for sin), and the kernel reads row p.

/// <summary>cos and sin of the rotary angles for positions [0, P) and frequency pairs [0, dH/2): each [P, dH/2].</summary>
internal sealed class RotaryTable
{
    /// <summary>Builds the table for head width <paramref name="headDim"/> (even), base <paramref name="theta"/>, positions [0, <paramref name="positions"/>).</summary>
    public RotaryTable(int headDim, double theta, int positions)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "The rotary head width must be positive and even.");
        if (!(theta > 1) || double.IsInfinity(theta)) throw new ArgumentOutOfRangeException(nameof(theta), theta, "The rotary base theta must be a finite number above 1.");
        KernelGuard.Positive(positions, nameof(positions));
        HeadDim = headDim;
        Theta = theta;
        Positions = positions;
        int half = headDim / 2;
        Cos = new float[(long)positions * half];
        Sin = new float[(long)positions * half];
        var frequencies = new float[half];
        for (int j = 0; j < half; j++) frequencies[j] = InverseFrequency(theta, j, headDim);
        for (int p = 0; p < positions; p++)
            for (int j = 0; j < half; j++)
            {
                float angle = frequencies[j] * p;                 // float32 product, as transformers
                Cos[p * half + j] = (float)Math.Cos(angle);
                Sin[p * half + j] = (float)Math.Sin(angle);
            }
    }

    /// <summary>f_j = 1 / theta^(2j / dH) in float32, the way torch evaluates <c>1.0 / base ** (arange(0, dim, 2).float() / dim)</c>.</summary>
    public static float InverseFrequency(double theta, int pair, int headDim)
    {
        float exponent = (float)(2 * pair) / headDim;
        return 1f / (float)Math.Pow((float)theta, exponent);
    }

    public int HeadDim { get; }
    public double Theta { get; }
    public int Positions { get; }

    /// <summary>[P, dH/2] cos(p f_j).</summary>
    public float[] Cos { get; }

    /// <summary>[P, dH/2] sin(p f_j).</summary>
    public float[] Sin { get; }
}

/// <summary>Rotary position embeddings applied in place to the queries and keys of a packed batch.</summary>
internal static partial class Rotary
{
    /// <summary>
    /// Rotates Q and K of every token of a packed batch in place: row <c>starts[s] + p</c> of <paramref name="qkv"/> (row stride
    /// <paramref name="ld"/>) holds token p of sequence s as [Q | K | ...], Q and K each <paramref name="heads"/> x dH wide; each
    /// head vector is rotated by position p (see the notes above). Values and anything after 2 nH dH are untouched.
    /// </summary>
    /// <exception cref="ArgumentException">The table's head width differs, a sequence is longer than the table, or a span is short.</exception>
    public static void ApplyBatch(Span<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, int heads, RotaryTable table, in KernelCapabilities caps)
    {
        Validate(qkv, ld, starts, sequences, heads, table);
        Rotate(qkv, ld, 0, 2 * heads, starts, sequences, 0, table);
    }

    /// <summary>
    /// Rotates <paramref name="heads"/> head vectors of every token of a packed batch in place, at columns
    /// [<paramref name="column"/>, column + heads dH) of each row (row stride <paramref name="ld"/>): a decoder's queries and
    /// its (fewer) keys are rotated by two calls. Token p of sequence s sits at position <paramref name="positionOffset"/> + p:
    /// the sequences continue a prefix of that many tokens whose keys are already cached.
    /// </summary>
    /// <exception cref="ArgumentException">A sequence ends past the table's positions, or a span is short.</exception>
    public static void ApplyHeads(Span<float> x, int ld, int column, int heads, ReadOnlySpan<int> starts, int sequences, int positionOffset,
        RotaryTable table, in KernelCapabilities caps)
    {
        ValidateHeads(x, ld, column, heads, starts, sequences, positionOffset, table);
        _ = caps;   // element-wise with Vector<float>: the same code on every path
        Rotate(x, ld, column, heads, starts, sequences, positionOffset, table);
    }

    private static void Rotate(Span<float> x, int ld, int column, int heads, ReadOnlySpan<int> starts, int sequences, int positionOffset, RotaryTable table)
    {
        int dh = table.HeadDim, half = dh / 2;
        int w = Vector<float>.Count;
        for (int s = 0; s < sequences; s++)
        {
            int start = starts[s], length = starts[s + 1] - start;
            for (int p = 0; p < length; p++)
            {
                int position = positionOffset + p;
                ReadOnlySpan<float> cos = table.Cos.AsSpan(position * half, half), sin = table.Sin.AsSpan(position * half, half);
                Span<float> row = x.Slice((start + p) * ld + column, heads * dh);
                for (int v = 0; v < heads; v++)
                {
                    Span<float> x1 = row.Slice(v * dh, half), x2 = row.Slice(v * dh + half, half);
                    int j = 0;
                    for (; j <= half - w; j += w)
                    {
                        var a = new Vector<float>(x1[j..]); var b = new Vector<float>(x2[j..]);
                        var c = new Vector<float>(cos[j..]); var si = new Vector<float>(sin[j..]);
                        (a * c - b * si).CopyTo(x1[j..]);
                        (b * c + a * si).CopyTo(x2[j..]);
                    }
                    for (; j < half; j++)
                    {
                        float a = x1[j], b = x2[j];
                        x1[j] = a * cos[j] - b * sin[j];
                        x2[j] = b * cos[j] + a * sin[j];
                    }
                }
            }
        }
    }

    /// <summary>Entry checks of <see cref="ApplyHeads"/> and its twin.</summary>
    private static void ValidateHeads(ReadOnlySpan<float> x, int ld, int column, int heads, ReadOnlySpan<int> starts, int sequences, int positionOffset, RotaryTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        KernelGuard.Positive(heads, nameof(heads));
        if (column < 0 || ld < column + heads * table.HeadDim)
            throw new ArgumentOutOfRangeException(nameof(ld), ld, $"The row stride must hold columns [{column}, {column + heads * table.HeadDim}).");
        if (positionOffset < 0) throw new ArgumentOutOfRangeException(nameof(positionOffset), positionOffset, "The position offset must not be negative.");
        if (sequences < 0) throw new ArgumentOutOfRangeException(nameof(sequences), sequences, "The sequence count must not be negative.");
        if (starts.Length < sequences + 1) throw new ArgumentException($"starts needs {sequences + 1} entries.", nameof(starts));
        if (sequences > 0 && starts[0] != 0) throw new ArgumentException("starts[0] must be 0.", nameof(starts));
        for (int s = 0; s < sequences; s++)
        {
            int length = starts[s + 1] - starts[s];
            if (length < 0) throw new ArgumentException($"starts must not decrease (sequence {s}).", nameof(starts));
            if ((long)positionOffset + length > table.Positions)
                throw new ArgumentException($"Sequence {s} reaches position {(long)positionOffset + length - 1}; the rotary table covers {table.Positions} positions.", nameof(starts));
        }
        int n = sequences == 0 ? 0 : starts[sequences];
        if (n > 0) KernelGuard.Length(x, (long)(n - 1) * ld + column + heads * table.HeadDim, nameof(x));
    }

    /// <summary>Entry checks shared by both paths; returns the token count.</summary>
    private static int Validate(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, int heads, RotaryTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        KernelGuard.Positive(heads, nameof(heads));
        if (sequences < 0) throw new ArgumentOutOfRangeException(nameof(sequences), sequences, "The sequence count must not be negative.");
        if (starts.Length < sequences + 1) throw new ArgumentException($"starts needs {sequences + 1} entries.", nameof(starts));
        if (ld < 2 * heads * table.HeadDim) throw new ArgumentOutOfRangeException(nameof(ld), ld, $"The row stride must hold Q and K ({2 * heads * table.HeadDim}).");
        if (sequences > 0 && starts[0] != 0) throw new ArgumentException("starts[0] must be 0.", nameof(starts));
        for (int s = 0; s < sequences; s++)
        {
            int length = starts[s + 1] - starts[s];
            if (length < 0) throw new ArgumentException($"starts must not decrease (sequence {s}).", nameof(starts));
            if (length > table.Positions)
                throw new ArgumentException($"Sequence {s} has {length} tokens; the rotary table covers {table.Positions} positions.", nameof(starts));
        }
        int n = sequences == 0 ? 0 : starts[sequences];
        if (n > 0) KernelGuard.Length(qkv, (long)(n - 1) * ld + 2 * heads * table.HeadDim, nameof(qkv));
        return n;
    }
}
