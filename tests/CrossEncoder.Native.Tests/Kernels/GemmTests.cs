using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class GemmTests
{
    // Float accumulation error. Each of the k products is at most max|a|*max|b|; with random signs the partial sums grow like
    // sqrt(k) times that, and each of the k roundings adds up to eps (6e-8) of the partial sum, so the typical total is about
    // k * eps * max|a| max|b| ~ 2.3e-5 at k = 385 for unit data. The budget 1e-5 * sqrt(k) (2e-4 at k = 385) leaves a 10x
    // margin for the different summation order (blocked over KC, vector lanes) while still catching any dropped or doubled term.
    private const double GemmRelativeTolerance = 1e-5;

    private static double Tolerance(int k, float maxA, float maxB, float maxBias)
        => GemmRelativeTolerance * Math.Sqrt(Math.Max(k, 1)) * maxA * maxB + 1e-6 * maxBias + 1e-30;

    private static readonly int[] Ms = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 17, 31, 33, 95, 96, 97, 129];
    private static readonly int[] Ns = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 65];
    private static readonly int[] Ks = [0, 1, 2, 7, 8, 9, 16, 17, 31, 33, 255, 256, 257, 383, 384, 385, 800];

    public record Shape(int M, int N, int K, bool Bias, int Seed);

    private static Arbitrary<Shape> Shapes() =>
        Gen.Elements(Ms).SelectMany(m => Gen.Elements(Ns).SelectMany(n => Gen.Elements(Ks).SelectMany(k =>
            Gen.Elements(true, false).SelectMany(bias => Gen.Choose(0, int.MaxValue).Select(seed => new Shape(m, n, k, bias, seed))))))
        .ToArbitrary();

    internal static void AssertMatchesReference(Shape s, KernelCapabilities caps)
    {
        var a = KernelTestData.Uniform(s.M * s.K, s.Seed);
        var b = KernelTestData.Uniform(s.N * s.K, s.Seed + 1, 2f);
        var bias = s.Bias ? KernelTestData.Uniform(s.N, s.Seed + 2, 3f) : [];
        var expected = new float[s.M * s.N];
        var actual = Enumerable.Repeat(float.NaN, s.M * s.N).ToArray(); // every element must be overwritten
        Gemm.MultiplyTransposedReference(a, b, bias, expected, s.M, s.N, s.K);
        Gemm.MultiplyTransposed(a, b, bias, actual, s.M, s.N, s.K, caps);
        double tol = Tolerance(s.K, KernelTestData.MaxAbs(a), KernelTestData.MaxAbs(b), KernelTestData.MaxAbs(bias));
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)actual[i] - expected[i]);
            Assert.True(err <= tol, $"{caps} {s}: C[{i / s.N},{i % s.N}] fast {actual[i]} reference {expected[i]} (error {err:E2} > {tol:E2})");
        }
    }

    [Property(MaxTest = 150)]
    public Property PortableMatchesReference() => Prop.ForAll(Shapes(), s => AssertMatchesReference(s, KernelTestData.Caps(KernelIsa.Portable)));

    [Property(MaxTest = 150)]
    public Property Avx2MatchesReference() => Prop.ForAll(Shapes(), s => AssertMatchesReference(s, KernelTestData.Caps(KernelIsa.Avx2)));

    // Without AVX-512 hardware Vector512 is emulated (slowly): fewer cases, same shapes.
    [Property(MaxTest = 60)]
    public Property Avx512MatchesReference() => Prop.ForAll(Shapes(), s => AssertMatchesReference(s, KernelTestData.Caps(KernelIsa.Avx512)));

    [Property(MaxTest = 40)]
    public Property PublicEntryMatchesReference() => Prop.ForAll(Shapes(), s => AssertMatchesReference(s, KernelCapabilities.Default));

    // Large enough (2*m*n*k >= 2 * KernelParallelism.MinWorkPerPart) to be split across threads: B is packed once and shared,
    // C is cut into tiles of MC rows x a group of panels (several groups when there are few row blocks, as in 97 x 300).
    // Sizes cross KC (384; 256 on AVX-512) and MC (96) and leave edge tiles in both directions.
    [Theory]
    [InlineData(nameof(KernelIsa.Portable), 301, 263, 385)]
    [InlineData(nameof(KernelIsa.Avx2), 301, 263, 385)]
    [InlineData(nameof(KernelIsa.Avx2), 2053, 17, 257)]
    [InlineData(nameof(KernelIsa.Portable), 2053, 5, 513)]
    [InlineData(nameof(KernelIsa.Avx512), 131, 161, 300)]
    [InlineData(nameof(KernelIsa.Avx2), 97, 300, 513)]
    [InlineData(nameof(KernelIsa.Portable), 97, 300, 513)]
    public void ThreadedShapesMatchReference(string isa, int m, int n, int k)
        => AssertMatchesReference(new Shape(m, n, k, true, m * 31 + n), KernelTestData.Caps(Enum.Parse<KernelIsa>(isa)));

    // Packing A: the AVX 8 x 8 register transpose against the element-by-element twin, bit for bit (a pure copy), for tiles
    // of 6 (AVX2) and 8 (AVX-512) rows, row counts that leave a partial last tile, k not a multiple of 8, and a row stride
    // wider than k. The destination is pre-filled with NaN and checked over its whole length, so a stray store past a tile
    // (the 6-row path stores 16 + 8 bytes per step) or a missing one fails.
    [Property(MaxTest = 120)]
    public Property PackAVectorisedMatchesReference() => Prop.ForAll(
        Gen.Elements(6, 8).SelectMany(mr => Gen.Choose(1, 40).SelectMany(rows => Gen.Choose(1, 70).SelectMany(kb =>
            Gen.Choose(0, 9).Select(extra => (mr, rows, kb, lda: kb + extra))))).ToArbitrary(),
        c => AssertPackAMatches(c.mr, c.rows, c.kb, c.lda));

    private static unsafe void AssertPackAMatches(int mr, int rows, int kb, int lda) =>
        AssertPackingTwinsAgree(KernelTestData.Uniform(rows * lda, rows * 1000 + kb), (rows + mr - 1) / mr * mr * kb,
            (src, dst) => Gemm.PackAReference(src, lda, rows, kb, mr, dst), (src, dst) => Gemm.PackAAvx(src, lda, rows, kb, mr, dst),
            $"mr {mr} rows {rows} kb {kb} lda {lda}");

    private unsafe delegate void Packing(float* source, float* destination);

    /// <summary>
    /// A packing routine's AVX form against its element-by-element twin, bit for bit (a pure copy). Both destinations start as
    /// NaN and are compared over 16 floats past the packed length, so a missing or a stray store fails. Without AVX the
    /// dispatcher never takes the vector form, and calling it must throw, not pack garbage.
    /// </summary>
    private static unsafe void AssertPackingTwinsAgree(float[] source, int length, Packing reference, Packing vector, string label)
    {
        var expected = Enumerable.Repeat(float.NaN, length + 16).ToArray();
        var actual = Enumerable.Repeat(float.NaN, length + 16).ToArray();
        fixed (float* ps = source, pe = expected, pv = actual)
        {
            reference(ps, pe);
            if (!System.Runtime.Intrinsics.X86.Avx.IsSupported)
            {
                float* src = ps, dst = pv;
                Assert.Throws<PlatformNotSupportedException>(() => vector(src, dst));
                return;
            }
            vector(ps, pv);
        }
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].Equals(actual[i]), $"{label}: dst[{i}] vector {actual[i]} reference {expected[i]}");
    }

    // Packing B [N, K] into a panel (weights at load, attention's keys per head): the AVX transpose against its twin, bit for
    // bit, for panel widths of the AVX2 (16), AVX-512 (32) and a portable (8) microkernel, partial column groups, k tails.
    [Property(MaxTest = 120)]
    public Property PackPanelVectorisedMatchesReference() => Prop.ForAll(
        Gen.Elements(8, 16, 32).SelectMany(nr => Gen.Choose(1, nr).SelectMany(cols => Gen.Choose(1, 70).SelectMany(kb =>
            Gen.Choose(0, 9).Select(extra => (nr, cols, kb, ldb: kb + extra))))).ToArbitrary(),
        c => AssertPackPanelMatches(c.nr, c.cols, c.kb, c.ldb));

    private static unsafe void AssertPackPanelMatches(int nr, int cols, int kb, int ldb) =>
        AssertPackingTwinsAgree(KernelTestData.Uniform(cols * ldb, cols * 1000 + kb), nr * kb,
            (src, dst) => Gemm.PackPanelTransposedReference(src, ldb, cols, kb, nr, dst), (src, dst) => Gemm.PackPanelTransposedAvx(src, ldb, cols, kb, nr, dst),
            $"nr {nr} cols {cols} kb {kb} ldb {ldb}");

    [Fact]
    public void HandExample()
    {
        // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8], [9, 10]] ([N=3, K=2]), bias = [1, 0, -1].
        float[] a = [1, 2, 3, 4], b = [5, 6, 7, 8, 9, 10], bias = [1, 0, -1];
        var c = new float[6];
        Gemm.MultiplyTransposed(a, b, bias, c, 2, 3, 2, KernelCapabilities.Default);
        Assert.Equal([18f, 23f, 28f, 40f, 53f, 66f], c);
        Gemm.MultiplyTransposed(a, b, [], c, 2, 3, 2, KernelCapabilities.Default);
        Assert.Equal([17f, 23f, 29f, 39f, 53f, 67f], c);
    }

    [Fact]
    public void ZeroReductionGivesBias()
    {
        var c = new float[6];
        Array.Fill(c, 99f);
        Gemm.MultiplyTransposed([], [], [1f, 2f, 3f], c, 2, 3, 0, KernelCapabilities.Default);
        Assert.Equal([1f, 2f, 3f, 1f, 2f, 3f], c);
        Gemm.MultiplyTransposed([], [], [], c, 2, 3, 0, KernelCapabilities.Default);
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ValidatesArguments()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a.AsSpan(1), b, [], c, 2, 2, 3, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a, b.AsSpan(1), [], c, 2, 2, 3, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a, b, [], c.AsSpan(1), 2, 2, 3, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a, b, [1f], c, 2, 2, 3, KernelCapabilities.Default));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplyTransposed(a, b, [], c, -1, 2, 3, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedReference(a, b, [], c.AsSpan(1), 2, 2, 3));
    }

    // ---- Pre-packed B (Gemm.Pack + MultiplyTransposed(a, PackedMatrix, bias, c, m)) ----

    /// <summary>
    /// The packed product matches the reference, and (for m &gt; 2, where the unpacked path packs B too instead of taking dot
    /// products) is bit-identical to the unpacked fast path on the same ISA: same panels, same k-slices, same microkernel.
    /// </summary>
    internal static void AssertPackedMatches(Shape s, KernelCapabilities caps)
    {
        var a = KernelTestData.Uniform(s.M * s.K, s.Seed);
        var b = KernelTestData.Uniform(s.N * s.K, s.Seed + 1, 2f);
        var bias = s.Bias ? KernelTestData.Uniform(s.N, s.Seed + 2, 3f) : [];
        var expected = new float[s.M * s.N];
        var unpacked = new float[s.M * s.N];
        var actual = Enumerable.Repeat(float.NaN, s.M * s.N).ToArray(); // every element must be overwritten
        Gemm.MultiplyTransposedReference(a, b, bias, expected, s.M, s.N, s.K);
        Gemm.MultiplyTransposed(a, b, bias, unpacked, s.M, s.N, s.K, caps);
        PackedMatrix packed = Gemm.Pack(b, s.N, s.K, caps);
        Assert.Equal((s.N, s.K, caps.Isa), (packed.N, packed.K, packed.Isa));
        Gemm.MultiplyTransposed(a, packed, bias, actual, s.M, caps);
        double tol = Tolerance(s.K, KernelTestData.MaxAbs(a), KernelTestData.MaxAbs(b), KernelTestData.MaxAbs(bias));
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)actual[i] - expected[i]);
            Assert.True(err <= tol, $"packed {caps} {s}: C[{i / s.N},{i % s.N}] fast {actual[i]} reference {expected[i]} (error {err:E2} > {tol:E2})");
            if (s.M > 2 || s.K == 0)
                Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(unpacked[i]),
                    $"packed {caps} {s}: C[{i / s.N},{i % s.N}] packed {actual[i]} unpacked {unpacked[i]} differ");
        }
    }

    /// <summary>
    /// A panel-aligned column range of a packed product (written into a wider C, other columns untouched) is bit-identical to
    /// those columns of the full packed product: the same tiles run.
    /// </summary>
    private static void AssertColumnRangeMatches(Shape s, int firstPanel, int extraStride, KernelCapabilities caps)
    {
        var a = KernelTestData.Uniform(s.M * s.K, s.Seed);
        var b = KernelTestData.Uniform(s.N * s.K, s.Seed + 1, 2f);
        var bias = s.Bias ? KernelTestData.Uniform(s.N, s.Seed + 2, 3f) : [];
        PackedMatrix packed = Gemm.Pack(b, s.N, s.K, caps);
        int first = Math.Min(firstPanel * packed.Nr, s.N / packed.Nr * packed.Nr), columns = s.N - first, ldc = s.N + extraStride;
        var full = new float[s.M * s.N];
        Gemm.MultiplyTransposed(a, packed, bias, full, s.M, caps);
        var actual = Enumerable.Repeat(float.NaN, Math.Max(0, s.M * ldc)).ToArray();
        Gemm.MultiplyTransposedColumns(a, packed, bias, actual, s.M, ldc, first, columns, caps);
        for (int i = 0; i < s.M; i++)
            for (int j = 0; j < ldc; j++)
            {
                float got = actual[i * ldc + j];
                if (j < first || j >= s.N) Assert.True(float.IsNaN(got), $"{caps} {s} from column {first}: C[{i},{j}] outside the range was written");
                else Assert.True(BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(full[i * s.N + j]),
                    $"{caps} {s} from column {first}: C[{i},{j}] {got} vs full product {full[i * s.N + j]}");
            }
    }

    /// <summary>
    /// The fused GELU epilogue is bit-identical to the product followed by <see cref="Gelu.Apply(ReadOnlySpan{float}, Span{float})"/>
    /// on the same ISA, and within the GEMM budget (through GELU's slope, at most ~1.13) of the two reference twins chained.
    /// </summary>
    internal static void AssertGeluEpilogueMatches(Shape s, KernelCapabilities caps)
    {
        var a = KernelTestData.Uniform(s.M * s.K, s.Seed);
        var b = KernelTestData.Uniform(s.N * s.K, s.Seed + 1, 2f);
        var bias = s.Bias ? KernelTestData.Uniform(s.N, s.Seed + 2, 3f) : [];
        PackedMatrix packed = Gemm.Pack(b, s.N, s.K, caps);
        var separate = new float[s.M * s.N];
        Gemm.MultiplyTransposed(a, packed, bias, separate, s.M, caps);
        Gelu.Apply(separate, separate, caps);
        var fused = Enumerable.Repeat(float.NaN, s.M * s.N).ToArray();
        Gemm.MultiplyTransposed(a, packed, bias, fused, s.M, GemmEpilogue.Gelu, caps);
        var expected = new float[s.M * s.N];
        Gemm.MultiplyTransposedReference(a, b, bias, expected, s.M, s.N, s.K);
        Gelu.ApplyReference(expected, expected);
        double tol = 1.2 * Tolerance(s.K, KernelTestData.MaxAbs(a), KernelTestData.MaxAbs(b), KernelTestData.MaxAbs(bias)) + 2e-7 * KernelTestData.MaxAbs(expected);
        for (int i = 0; i < fused.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(fused[i]) == BitConverter.SingleToInt32Bits(separate[i]),
                $"{caps} {s}: C[{i / s.N},{i % s.N}] fused {fused[i]} vs GEMM then GELU {separate[i]}");
            Assert.True(Math.Abs(fused[i] - expected[i]) <= tol, $"{caps} {s}: C[{i / s.N},{i % s.N}] fused {fused[i]} reference {expected[i]}");
        }
    }

    [Property(MaxTest = 40)]
    public Property GeluEpilogueMatchesGemmThenGelu() => Prop.ForAll(Shapes(), s =>
    {
        foreach (var isa in KernelIsas.All) AssertGeluEpilogueMatches(s, KernelTestData.Caps(isa));
    });

    [Theory]
    [InlineData(nameof(KernelIsa.Avx2), 300, 1536, 384)]
    [InlineData(nameof(KernelIsa.Avx512), 130, 96, 300)]
    [InlineData(nameof(KernelIsa.Portable), 97, 80, 33)]
    public void GeluEpilogueThreadedMatches(string isa, int m, int n, int k)
        => AssertGeluEpilogueMatches(new Shape(m, n, k, true, m + k), KernelTestData.Caps(Enum.Parse<KernelIsa>(isa)));

    // Residual + LayerNorm fused into the GEMM (each row block normalised when its tile finishes; after the product when a
    // short batch splits rows across column groups): the residual stream must equal GEMM, then LayerNorm.AddAndNormalize,
    // bit for bit, and the scratch must hold the product. Checked against the double references too.
    internal static void AssertAddLayerNormEpilogueMatches(Shape s, KernelCapabilities caps)
    {
        if (s.M == 0 || s.N == 0) return;
        var a = KernelTestData.Uniform(s.M * s.K, s.Seed);
        var b = KernelTestData.Uniform(s.N * s.K, s.Seed + 1, 2f);
        var bias = s.Bias ? KernelTestData.Uniform(s.N, s.Seed + 2, 3f) : [];
        var residual = KernelTestData.Uniform(s.M * s.N, s.Seed + 3, 4f);
        var gamma = KernelTestData.Uniform(s.N, s.Seed + 4, 1.5f);
        var beta = KernelTestData.Uniform(s.N, s.Seed + 5, 0.5f);
        const float eps = 1e-12f;
        PackedMatrix packed = Gemm.Pack(b, s.N, s.K, caps);
        var product = new float[s.M * s.N];
        Gemm.MultiplyTransposed(a, packed, bias, product, s.M, caps);
        var separate = (float[])residual.Clone();
        LayerNorm.AddAndNormalize(product, separate, gamma, beta, separate, s.M, s.N, eps, caps);
        var scratch = Enumerable.Repeat(float.NaN, s.M * s.N).ToArray();
        var fused = (float[])residual.Clone();
        Gemm.MultiplyTransposedAddLayerNorm(a, packed, bias, scratch, s.M, fused, gamma, beta, eps, caps);
        var expectedProduct = new float[s.M * s.N];
        Gemm.MultiplyTransposedReference(a, b, bias, expectedProduct, s.M, s.N, s.K);
        var expected = new float[s.M * s.N];
        LayerNorm.AddAndNormalizeReference(expectedProduct, residual, gamma, beta, expected, s.M, s.N, eps);
        for (int i = 0; i < fused.Length; i++)
        {
            Assert.True(product[i].Equals(scratch[i]), $"{caps} {s}: product[{i / s.N},{i % s.N}] fused {scratch[i]} vs GEMM {product[i]}");
            Assert.True(fused[i].Equals(separate[i]), $"{caps} {s}: out[{i / s.N},{i % s.N}] fused {fused[i]} vs GEMM then LayerNorm {separate[i]}");
            // LayerNorm divides by the row's spread: relative GEMM error ~1e-5 * sqrt(k) of max|C| becomes that over the spread.
            Assert.True(Math.Abs(fused[i] - expected[i]) <= 1e-3 * KernelTestData.MaxAbs(gamma) + 1e-4, $"{caps} {s}: out[{i / s.N},{i % s.N}] fused {fused[i]} reference {expected[i]}");
        }
    }

    [Property(MaxTest = 40)]
    public Property AddLayerNormEpilogueMatchesGemmThenLayerNorm() => Prop.ForAll(Shapes(), s =>
    {
        foreach (var isa in KernelIsas.All) AssertAddLayerNormEpilogueMatches(s, KernelTestData.Caps(isa));
    });

    // Threaded: 300 rows (several row blocks: normalised in each tile) and 40 rows (a short batch split into column groups:
    // normalised after the product), every path.
    [Theory]
    [InlineData(nameof(KernelIsa.Avx2), 300, 384, 384)]
    [InlineData(nameof(KernelIsa.Avx2), 40, 384, 1536)]
    [InlineData(nameof(KernelIsa.Avx512), 130, 96, 300)]
    [InlineData(nameof(KernelIsa.Portable), 97, 80, 330)]
    public void AddLayerNormEpilogueThreadedMatches(string isa, int m, int n, int k)
        => AssertAddLayerNormEpilogueMatches(new Shape(m, n, k, true, m + k), KernelTestData.Caps(Enum.Parse<KernelIsa>(isa)));

    [Property(MaxTest = 60)]
    public Property PackedColumnRangeMatchesFullProduct() => Prop.ForAll(Shapes(), s =>
    {
        foreach (var isa in KernelIsas.All) AssertColumnRangeMatches(s, s.Seed % 3, s.Seed % 5, KernelTestData.Caps(isa));
    });

    [Theory]
    [InlineData(nameof(KernelIsa.Avx2), 300, 1152, 384, 24)]
    [InlineData(nameof(KernelIsa.Avx512), 130, 96, 40, 1)]
    [InlineData(nameof(KernelIsa.Portable), 97, 80, 33, 2)]
    public void PackedColumnRangeThreadedMatchesFullProduct(string isa, int m, int n, int k, int firstPanel)
        => AssertColumnRangeMatches(new Shape(m, n, k, true, m + n), firstPanel, 3, KernelTestData.Caps(Enum.Parse<KernelIsa>(isa)));

    [Fact]
    public void PackedColumnRangeRejectsAMisalignedStart()
    {
        var caps = KernelTestData.Caps(KernelIsa.Avx2);
        PackedMatrix packed = Gemm.Pack(new float[40 * 4], 40, 4, caps);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplyTransposedColumns(new float[8], packed, [], new float[80], 2, 40, 8, 16, caps));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplyTransposedColumns(new float[8], packed, [], new float[80], 2, 40, 32, 16, caps));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplyTransposedColumns(new float[8], packed, [], new float[80], 2, 20, 16, 16, caps));
    }

    [Property(MaxTest = 150)]
    public Property PackedPortableMatchesReference() => Prop.ForAll(Shapes(), s => AssertPackedMatches(s, KernelTestData.Caps(KernelIsa.Portable)));

    [Property(MaxTest = 150)]
    public Property PackedAvx2MatchesReference() => Prop.ForAll(Shapes(), s => AssertPackedMatches(s, KernelTestData.Caps(KernelIsa.Avx2)));

    [Property(MaxTest = 60)]
    public Property PackedAvx512MatchesReference() => Prop.ForAll(Shapes(), s => AssertPackedMatches(s, KernelTestData.Caps(KernelIsa.Avx512)));

    [Property(MaxTest = 40)]
    public Property PackedPublicEntryMatchesReference() => Prop.ForAll(Shapes(), s => AssertPackedMatches(s, KernelCapabilities.Default));

    // Threaded (as in ThreadedShapesMatchReference), a MiniLM-like short batch (512 x 1152 x 384, split across threads with
    // panel groups), and single-threaded shapes with N past NC (2048), where the unpacked path blocks over N and the packed one
    // does not: the results must still agree bit for bit.
    [Theory]
    [InlineData(nameof(KernelIsa.Portable), 301, 263, 385)]
    [InlineData(nameof(KernelIsa.Avx2), 301, 263, 385)]
    [InlineData(nameof(KernelIsa.Avx2), 2053, 17, 257)]
    [InlineData(nameof(KernelIsa.Portable), 2053, 5, 513)]
    [InlineData(nameof(KernelIsa.Avx512), 131, 161, 300)]
    [InlineData(nameof(KernelIsa.Avx2), 97, 300, 513)]
    [InlineData(nameof(KernelIsa.Avx2), 512, 1152, 384)]
    [InlineData(nameof(KernelIsa.Avx2), 3, 2053, 300)]
    [InlineData(nameof(KernelIsa.Portable), 5, 2063, 257)]
    [InlineData(nameof(KernelIsa.Avx512), 7, 2081, 31)]
    public void PackedThreadedAndWideShapesMatch(string isa, int m, int n, int k)
        => AssertPackedMatches(new Shape(m, n, k, true, m * 31 + n), KernelTestData.Caps(Enum.Parse<KernelIsa>(isa)));

    [Fact]
    public void PackedLayoutIsKMajorPanelsPerSlice()
    {
        // N = 19, K = 500 on Avx2 (NR = 16): 2 panels, slices of KC = 384 and 116 steps, then 32 zeros.
        const int n = 19, k = 500, nr = 16, panels = 2;
        Assert.Equal(384, Gemm.Kc(KernelIsa.Avx2));
        var b = KernelTestData.Uniform(n * k, 7);
        PackedMatrix packed = Gemm.Pack(b, n, k, KernelTestData.Caps(KernelIsa.Avx2));
        var data = packed.Data;
        Assert.Equal(panels * nr * (k + 1), data.Length);
        for (int pc = 0; pc < k; pc += Gemm.Kc(KernelIsa.Avx2))
        {
            int kb = Math.Min(Gemm.Kc(KernelIsa.Avx2), k - pc);
            for (int j = 0; j < panels; j++)
                for (int p = 0; p < kb; p++)
                    for (int c = 0; c < nr; c++)
                    {
                        int col = j * nr + c;
                        Assert.Equal(col < n ? b[col * k + pc + p] : 0f, data[panels * nr * pc + j * nr * kb + p * nr + c]);
                    }
        }
        Assert.All(data[(panels * nr * k)..].ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void PackedHandExampleAndReuse()
    {
        float[] a = [1, 2, 3, 4], b = [5, 6, 7, 8, 9, 10], bias = [1, 0, -1];
        PackedMatrix packed = Gemm.Pack(b, 3, 2);
        Array.Fill(b, 1000f); // the packed matrix holds its own copy
        var c = new float[6];
        for (int repeat = 0; repeat < 2; repeat++)
        {
            Gemm.MultiplyTransposed(a, packed, bias, c, 2);
            Assert.Equal([18f, 23f, 28f, 40f, 53f, 66f], c);
            Gemm.MultiplyTransposed(a, packed, [], c, 2);
            Assert.Equal([17f, 23f, 29f, 39f, 53f, 67f], c);
        }
    }

    [Fact]
    public void PackedZeroSizes()
    {
        var c = new float[6];
        Array.Fill(c, 99f);
        Gemm.MultiplyTransposed([], Gemm.Pack([], 3, 0), [1f, 2f, 3f], c, 2);
        Assert.Equal([1f, 2f, 3f, 1f, 2f, 3f], c);
        Gemm.MultiplyTransposed([], Gemm.Pack([], 3, 0), [], c, 2);
        Assert.All(c, v => Assert.Equal(0f, v));
        Gemm.MultiplyTransposed(new float[8], Gemm.Pack([], 0, 4), [], [], 2); // N = 0: nothing to write
        Gemm.MultiplyTransposed([], Gemm.Pack(new float[12], 3, 4), [], [], 0); // M = 0
    }

    [Fact]
    public void PackedValidatesArguments()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Pack(b.AsSpan(1), 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Pack(b, -1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Pack(b, 2, -3));
        PackedMatrix packed = Gemm.Pack(b, 2, 3); // N = 2, K = 3
        Assert.Throws<ArgumentNullException>(() => Gemm.MultiplyTransposed(a, null!, [], c, 2));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a.AsSpan(1), packed, [], c, 2));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a, packed, [], c.AsSpan(1), 2));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a, packed, [1f], c, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplyTransposed(a, packed, [], c, -1));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(a, packed, [], c, 3)); // A and C too short for M = 3
    }
}
