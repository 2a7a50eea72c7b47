using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class GemmInt8Tests
{
    private static readonly int[] Ms = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 47, 48, 49, 97];
    private static readonly int[] Ns = [1, 2, 15, 16, 17, 31, 33, 64, 65, 130];
    private static readonly int[] Ks = [1, 2, 3, 4, 5, 7, 8, 33, 64, 255, 385];

    public record Shape(int M, int N, int K, bool Bias, int Seed);

    private static Arbitrary<Shape> Shapes() =>
        Gen.Elements(Ms).SelectMany(m => Gen.Elements(Ns).SelectMany(n => Gen.Elements(Ks).SelectMany(k =>
            Gen.Elements(true, false).SelectMany(bias => Gen.Choose(0, int.MaxValue).Select(seed => new Shape(m, n, k, bias, seed))))))
        .ToArbitrary();

    /// <summary>Quantized operands with extreme values mixed in: activations 0 and the top level L, weights -127 and 127.</summary>
    private static (ushort[] Qa, float[] Sa, int[] Za, sbyte[] Qw, float[] Sw, float[] Bias) Operands(Shape s)
    {
        var rng = new Random(s.Seed);
        int kp = Quantize.PadK(s.K), top = Quantize.ActivationMax(kp);
        var qa = new ushort[s.M * kp];
        for (int i = 0; i < s.M; i++)
            for (int p = 0; p < s.K; p++)
                qa[i * kp + p] = (ushort)(rng.Next(4) == 0 ? top * rng.Next(2) : rng.Next(top + 1));
        var qw = new sbyte[s.N * s.K];
        for (int i = 0; i < qw.Length; i++) qw[i] = (sbyte)(rng.Next(4) == 0 ? (rng.Next(2) * 2 - 1) * 127 : rng.Next(-127, 128));
        var sa = Enumerable.Range(0, s.M).Select(_ => (float)rng.NextDouble() * 0.1f + 1e-3f).ToArray();
        var za = Enumerable.Range(0, s.M).Select(_ => rng.Next(top + 1)).ToArray();
        var sw = Enumerable.Range(0, s.N).Select(_ => (float)rng.NextDouble() * 0.01f + 1e-4f).ToArray();
        var bias = s.Bias ? KernelTestData.Uniform(s.N, s.Seed + 1, 3f) : [];
        return (qa, sa, za, qw, sw, bias);
    }

    /// <summary>This machine's capabilities with the int8 path forced to <paramref name="isa"/>.</summary>
    internal static KernelCapabilities Caps(Int8Isa isa) => KernelCapabilities.Default with { Int8Isa = isa };

    private static void AssertBitIdentical(Shape s, Int8Isa isa)
    {
        var (qa, sa, za, qw, sw, bias) = Operands(s);
        var expected = new float[s.M * s.N];
        var actual = Enumerable.Repeat(float.NaN, s.M * s.N).ToArray();
        GemmInt8.MultiplyReference(qa, sa, za, qw, sw, bias, expected, s.M, s.N, s.K);
        GemmInt8.Multiply(qa, sa, za, QuantizedMatrix.FromQuantized(qw, sw, s.N, s.K), bias, actual, s.M, Caps(isa));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{isa} {s}: C[{i / s.N},{i % s.N}] fast {actual[i]} reference {expected[i]}");
    }

    // The portable kernel forms the same pair lanes as the SIMD paths in scalar code: it runs everywhere.
    [Property(MaxTest = 60)]
    public Property PortableMatchesReferenceBitForBit() => Prop.ForAll(Shapes(), s => AssertBitIdentical(s, Int8Isa.Portable));

    [Property(MaxTest = 60)]
    public Property Avx2MatchesReferenceBitForBit() => Prop.ForAll(Shapes(), s => RunOrCheckUnsupported(s, Int8Isa.Avx2));

    [Property(MaxTest = 60)]
    public Property Avx512BWMatchesReferenceBitForBit() => Prop.ForAll(Shapes(), s => RunOrCheckUnsupported(s, Int8Isa.Avx512BW));

    [Property(MaxTest = 60)]
    public Property AvxVnniMatchesReferenceBitForBit() => Prop.ForAll(Shapes(), s => RunOrCheckUnsupported(s, Int8Isa.AvxVnni));

    /// <summary>On hardware with the ISA: bit-identical to the reference. Without it: the call refuses with
    /// PlatformNotSupportedException (never a silent fallback), and the dispatcher never picks it.</summary>
    private static void RunOrCheckUnsupported(Shape s, Int8Isa isa)
    {
        if (GemmInt8.IsSupported(isa)) { AssertBitIdentical(s, isa); return; }
        Assert.NotEqual(isa, KernelCapabilities.Default.Int8Isa);
        Assert.Throws<PlatformNotSupportedException>(() => AssertBitIdentical(s, isa));
    }

    [Fact]
    public void DispatchPrefersAvx512BWThenVnniThenAvx2()
    {
        Assert.Equal(Int8Isa.Avx512BW, GemmInt8.Select(true, true, true));
        Assert.Equal(Int8Isa.AvxVnni, GemmInt8.Select(true, false, true));
        Assert.Equal(Int8Isa.Avx2, GemmInt8.Select(false, false, true));
        Assert.Equal(Int8Isa.Portable, GemmInt8.Select(false, false, false));
        Assert.True(GemmInt8.IsSupported(KernelCapabilities.Default.Int8Isa));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(384)]
    [InlineData(4128)]     // the longest reduction that keeps 12 bits
    [InlineData(4132)]
    [InlineData(30001)]
    public void TheLargestProductIsExactAtTheActivationBound(int k)
    {
        // Every activation at the top level, every weight at 127, zero point 0: the largest sum the GEMM can meet. It must
        // fit int32 (so the integer result is exact), and the dequantized value must equal the one computed in 64 bits.
        int kp = Quantize.PadK(k), top = Quantize.ActivationMax(kp);
        Assert.True((long)top * 127 * kp <= int.MaxValue, $"K {k}: L {top}");
        Assert.Equal(kp <= 4128 ? 4095 : (int)(int.MaxValue / (127L * kp)), top);
        var qa = new ushort[kp];
        for (int p = 0; p < k; p++) qa[p] = (ushort)top;
        var qw = Enumerable.Repeat((sbyte)127, k).ToArray();
        var expected = (float)((long)top * 127 * k) * (0.5f * 0.25f);
        foreach (var isa in Enum.GetValues<Int8Isa>().Where(GemmInt8.IsSupported))
        {
            var c = new float[1];
            GemmInt8.Multiply(qa, [0.5f], [0], QuantizedMatrix.FromQuantized(qw, [0.25f], 1, k), [], c, 1, Caps(isa));
            Assert.Equal(expected, c[0]);
        }
    }

    [Fact]
    public void WeightsOutsideTheSymmetricInt8RangeAreRejected()
    {
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromQuantized([-128], [1f], 1, 1));
        Assert.Equal(new sbyte[] { -127, 127 }, QuantizedMatrix.FromQuantized([-127, 127], [1f], 1, 2).Unpack());
    }

    [Fact]
    public void QuantizedProductApproximatesTheFloatProduct()
    {
        // End to end (quantize rows, quantize weights, int8 GEMM) against the float GEMM: the error of one product is bounded
        // by the two rounding steps, about sqrt(K) * (|a| step_w + |w| step_a) / 2; here we require 1% of the output scale.
        int m = 37, n = 70, k = 384;
        var a = KernelTestData.Uniform(m * k, 1);
        var w = KernelTestData.Uniform(n * k, 2, 0.1f);
        var bias = KernelTestData.Uniform(n, 3);
        var expected = new float[m * n];
        Gemm.MultiplyTransposedReference(a, w, bias, expected, m, n, k);
        var qa = new ushort[m * Quantize.PadK(k)];
        var sa = new float[m];
        var za = new int[m];
        Quantize.Rows(a, qa, sa, za, m, k, KernelCapabilities.Default);
        var actual = new float[m * n];
        GemmInt8.Multiply(qa, sa, za, QuantizedMatrix.FromFloat(w, n, k), bias, actual, m, KernelCapabilities.Default);
        double maxErr = expected.Zip(actual, (x, y) => Math.Abs((double)x - y)).Max();
        double rms = Math.Sqrt(expected.Select((x, i) => (double)(x - bias[i % n]) * (x - bias[i % n])).Average());
        Assert.True(maxErr < 0.02 * rms * 3, $"max error {maxErr} vs output rms {rms}");
        Assert.True(maxErr > 0, "an int8 product that equals the float one exactly means quantization did not happen");
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(7, 64)]
    [InlineData(50, 130)]
    public void TheGeluEpilogueEqualsGeluAppliedAfterwards(int m, int n)
    {
        // FFN up in int8: GELU on each finished tile must give exactly what a separate pass over the product gives.
        var s = new Shape(M: m, N: n, K: 40, Bias: true, Seed: m * 100 + n);
        var (qa, sa, za, qw, sw, bias) = Operands(s);
        var w = QuantizedMatrix.FromQuantized(qw, sw, s.N, s.K);
        foreach (var isa in Enum.GetValues<Int8Isa>().Where(GemmInt8.IsSupported))
        {
            var expected = new float[m * n];
            GemmInt8.Multiply(qa, sa, za, w, bias, expected, m, Caps(isa));
            Gelu.Apply(expected, expected, KernelCapabilities.Default);
            var fused = new float[m * n];
            GemmInt8.MultiplyColumns(qa, sa, za, w, bias, fused, m, n, 0, n, gelu: true, Caps(isa));
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), fused.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void AColumnRangeIsExactlyThoseColumnsOfTheFullProduct()
    {
        var s = new Shape(M: 11, N: 70, K: 33, Bias: true, Seed: 9);
        var (qa, sa, za, qw, sw, bias) = Operands(s);
        var w = QuantizedMatrix.FromQuantized(qw, sw, s.N, s.K);
        var full = new float[s.M * s.N];
        GemmInt8.Multiply(qa, sa, za, w, bias, full, s.M, KernelCapabilities.Default);
        int first = 16, count = 50, ldc = 60;
        var part = Enumerable.Repeat(-7f, s.M * ldc).ToArray();
        GemmInt8.MultiplyColumns(qa, sa, za, w, bias, part, s.M, ldc, first, count, GemmInt8.Best);
        for (int r = 0; r < s.M; r++)
            for (int j = 0; j < ldc; j++)
                Assert.Equal(j < count ? full[r * s.N + first + j] : -7f, part[r * ldc + j]);
        Assert.Throws<ArgumentOutOfRangeException>(() => GemmInt8.MultiplyColumns(qa, sa, za, w, bias, part, s.M, ldc, 8, 10, GemmInt8.Best));
    }

    [Fact]
    public void PackUnpackRoundTrips()
    {
        var rng = new Random(5);
        var q = Enumerable.Range(0, 17 * 9).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var packed = QuantizedMatrix.FromQuantized(q, new float[17], 17, 9);
        Assert.Equal(q, packed.Unpack());
        for (int row = 0; row < 17; row++) Assert.Equal(q.Skip(row * 9).Take(9).Sum(x => (int)x), packed.ColumnSum[row]);
    }
}
