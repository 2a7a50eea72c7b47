using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// The backward kernels of training (Gemm.Training, LayerNorm.Training, Gelu.Backward, Attention.Training, Dropout,
/// TrainingGradients): each fast kernel against its double-precision reference twin on every ISA path, and each reference
/// against central finite differences of the forward in double (the gradient is right, not merely equal to its twin).
/// Sizes are awkward on purpose (odd widths, tails of every vector width, a one-token sequence).
/// </summary>
public class TrainingKernelTests
{
    // Float kernels against double references: relative to the largest magnitude of the expected values.
    private const double FloatTolerance = 2e-5;
    // Central differences in double with step 1e-5: truncation ~1e-10, rounding ~1e-11 / 1e-5.
    private const double FiniteDifferenceTolerance = 1e-6;
    private const double Step = 1e-5;

    public static TheoryData<string> Paths => new() { nameof(KernelIsa.Portable), nameof(KernelIsa.Avx2), nameof(KernelIsa.Avx512) };

    private static KernelCapabilities CapsOf(string isa) => KernelTestData.Caps(Enum.Parse<KernelIsa>(isa));

    private static double[] ToDouble(float[] x) => Array.ConvertAll(x, v => (double)v);

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        double scale = 1e-30;
        foreach (double e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / scale;
            Assert.True(error <= tolerance, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (relative error {error:E2})");
        }
    }

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tolerance, string what)
    {
        double scale = 1e-30;
        foreach (double e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / scale;
            Assert.True(error <= tolerance, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (relative error {error:E2})");
        }
    }

    /// <summary>dLoss/dx[i] by central differences of loss(x), for every i.</summary>
    private static double[] FiniteDifferences(double[] x, Func<double[], double> loss)
    {
        var gradient = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double saved = x[i];
            x[i] = saved + Step; double plus = loss(x);
            x[i] = saved - Step; double minus = loss(x);
            x[i] = saved;
            gradient[i] = (plus - minus) / (2 * Step);
        }
        return gradient;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void MultiplyAndTransposedMultiplyMatchNaiveProducts(string isa)
    {
        var caps = CapsOf(isa);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 33, 5), (37, 70, 129), (130, 17, 64), (384, 40, 2050), (33, 1536, 700) })   // the last two: a step's sizes (K past every cache block)
        {
            var a = KernelTestData.Uniform(m * k, 1 + m);
            var b = KernelTestData.Uniform(k * n, 2 + n);
            var c = new float[m * n];
            Gemm.Multiply(a, b, c, m, n, k, caps);                                 // C = A B
            var expected = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    for (int p = 0; p < k; p++) expected[i * n + j] += (double)a[i * k + p] * b[p * n + j];
            AssertClose(expected, c, FloatTolerance, $"{isa} A B {m}x{n}x{k}");

            // C += A^T B with A [K, M]: the weight gradient's form, accumulating into a non-zero C.
            var at = KernelTestData.Uniform(k * m, 3 + k);
            var accumulated = KernelTestData.Uniform(m * n, 4);
            var expectedSum = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    expectedSum[i * n + j] = accumulated[i * n + j];
                    for (int p = 0; p < k; p++) expectedSum[i * n + j] += (double)at[p * m + i] * b[p * n + j];
                }
            Gemm.MultiplyTransposedA(at, b, accumulated, m, n, k, new float[k * m + m * n], accumulate: true, caps);
            AssertClose(expectedSum, accumulated, FloatTolerance, $"{isa} C + A^T B {m}x{n}x{k}");
        }
    }

    [Fact]
    public void LayerNormBackwardReferenceEqualsFiniteDifferences()
    {
        const int rows = 3, n = 37;
        const double eps = 1e-12;
        var x = ToDouble(KernelTestData.Uniform(rows * n, 11, 2f));
        var gamma = ToDouble(KernelTestData.Uniform(n, 12));
        var beta = ToDouble(KernelTestData.Uniform(n, 13));
        var dy = ToDouble(KernelTestData.Uniform(rows * n, 14));
        double Loss(double[] input, double[] g, double[] b)
        {
            var y = new double[rows * n];
            LayerNorm.ForwardReference(input, g, b, y, rows, n, eps);
            return Dot(y, dy);
        }
        var dx = new double[rows * n];
        var dgamma = new double[n];
        var dbeta = new double[n];
        LayerNorm.BackwardReference(x, dy, gamma, dx, dgamma, dbeta, rows, n, eps);
        AssertClose(FiniteDifferences(x, v => Loss(v, gamma, beta)), dx, FiniteDifferenceTolerance, "dx");
        AssertClose(FiniteDifferences(gamma, v => Loss(x, v, beta)), dgamma, FiniteDifferenceTolerance, "dgamma");
        AssertClose(FiniteDifferences(beta, v => Loss(x, gamma, v)), dbeta, FiniteDifferenceTolerance, "dbeta");
    }

    [Fact]
    public void LayerNormTrainingKernelsMatchTheirReferences()
    {
        foreach (int n in new[] { 1, 7, 33, 384 })
        {
            const int rows = 5;
            const float eps = 1e-12f;
            var x = KernelTestData.Uniform(rows * n, n, 3f);
            var residual = KernelTestData.Uniform(rows * n, n + 1);
            var gamma = KernelTestData.Uniform(n, n + 2);
            var beta = KernelTestData.Uniform(n, n + 3);
            var dy = KernelTestData.Uniform(rows * n, n + 4);
            var y = new float[rows * n];
            var xhat = new float[rows * n];
            var rstd = new float[rows];
            LayerNorm.ForwardTraining(x, residual, gamma, beta, y, xhat, rstd, rows, n, eps);
            var sum = new double[rows * n];
            for (int i = 0; i < sum.Length; i++) sum[i] = (double)x[i] + residual[i];
            var expected = new double[rows * n];
            LayerNorm.ForwardReference(sum, ToDouble(gamma), ToDouble(beta), expected, rows, n, eps);
            if (n > 1) AssertClose(expected, y, FloatTolerance, $"LN forward n={n}");

            var dx = new float[rows * n];
            var dgamma = KernelTestData.Uniform(n, 5);                          // accumulates onto what is there
            var dbeta = KernelTestData.Uniform(n, 6);
            var expectedDx = new double[rows * n];
            var expectedDgamma = ToDouble(dgamma);
            var expectedDbeta = ToDouble(dbeta);
            LayerNorm.BackwardReference(sum, ToDouble(dy), ToDouble(gamma), expectedDx, expectedDgamma, expectedDbeta, rows, n, eps);
            LayerNorm.Backward(dy, xhat, rstd, gamma, dx, dgamma, dbeta, rows, n);
            if (n > 1) AssertClose(expectedDx, dx, 1e-4, $"LN dx n={n}");
            AssertClose(expectedDgamma, dgamma, 1e-4, $"LN dgamma n={n}");
            AssertClose(expectedDbeta, dbeta, FloatTolerance, $"LN dbeta n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void GeluBackwardMatchesTheDerivativeEverywhere(string isa)
    {
        var caps = CapsOf(isa);
        var xs = new List<float>();
        for (int i = -10 * 256; i <= 10 * 256; i++) xs.Add(i / 256f);
        xs.AddRange([1e-20f, -1e-20f, 30f, -30f, 1e6f, -1e6f, float.PositiveInfinity, float.NegativeInfinity]);
        var x = xs.ToArray();
        var dy = KernelTestData.Uniform(x.Length, 21, 2f);
        var dx = new float[x.Length];
        Gelu.Backward(x, dy, dx, caps);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = dy[i] * Gelu.DerivativeReference(x[i]);
            Assert.True(Math.Abs(dx[i] - expected) <= 3e-7 * Math.Max(1, Math.Abs(dy[i])), $"{isa} x={x[i]:R}: {dx[i]:R} vs {expected:R}");
        }
        float[] nan = [float.NaN];
        Gelu.Backward(nan, [1f], nan, caps);
        Assert.True(float.IsNaN(nan[0]));
    }

    [Fact]
    public void GeluDerivativeReferenceEqualsFiniteDifferences()
    {
        for (double x = -6; x <= 6; x += 0.37)
        {
            double fd = (Gelu.Reference(x + Step) - Gelu.Reference(x - Step)) / (2 * Step);
            Assert.True(Math.Abs(fd - Gelu.DerivativeReference(x)) < FiniteDifferenceTolerance, $"x={x}: {fd} vs {Gelu.DerivativeReference(x)}");
        }
    }

    private static (int[] Starts, float[] Qkv) AttentionInput(int[] lengths, int heads, int headDim, int seed)
    {
        var starts = new int[lengths.Length + 1];
        for (int s = 0; s < lengths.Length; s++) starts[s + 1] = starts[s] + lengths[s];
        return (starts, KernelTestData.Uniform(starts[^1] * 3 * heads * headDim, seed, 1.5f));
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.3f)]
    public void AttentionBackwardReferenceEqualsFiniteDifferences(float dropout)
    {
        const int heads = 2, headDim = 3;
        const double scale = 0.57735;
        ulong key = Dropout.Key(7, 1, 2);
        var (starts, qkvFloat) = AttentionInput([1, 4, 5], heads, headDim, 31);
        var qkv = ToDouble(qkvFloat);
        int n = starts[^1], hidden = heads * headDim;
        var dOut = ToDouble(KernelTestData.Uniform(n * hidden, 32));
        double Loss(double[] input)
        {
            var output = new double[n * hidden];
            Attention.ForwardTrainingReference(input, starts, starts.Length - 1, heads, headDim, scale, output, dropout, key);
            return Dot(output, dOut);
        }
        var dQkv = new double[qkv.Length];
        Attention.BackwardTrainingReference(qkv, starts, starts.Length - 1, heads, headDim, scale, dOut, dQkv, dropout, key);
        AssertClose(FiniteDifferences(qkv, Loss), dQkv, FiniteDifferenceTolerance, $"dQKV (dropout {dropout})");
    }

    [Theory]
    [InlineData(nameof(KernelIsa.Portable), 0f)]
    [InlineData(nameof(KernelIsa.Avx2), 0f)]
    [InlineData(nameof(KernelIsa.Avx512), 0f)]
    [InlineData(nameof(KernelIsa.Avx512), 0.1f)]
    [InlineData(nameof(KernelIsa.Portable), 0.1f)]
    public void AttentionTrainingKernelsMatchTheirReferences(string isa, float dropout)
    {
        var caps = CapsOf(isa);
        const int heads = 3, headDim = 5;
        float scale = 1f / MathF.Sqrt(headDim);
        ulong key = Dropout.Key(3, 4);
        var (starts, qkv) = AttentionInput([1, 7, 33, 70], heads, headDim, 41);
        int sequences = starts.Length - 1, n = starts[^1], hidden = heads * headDim;
        var offsets = new long[sequences + 1];
        long total = Attention.ProbabilityOffsets(starts, sequences, heads, offsets);
        var probabilities = new float[total];
        var scratch = new float[total];
        var output = new float[n * hidden];
        Attention.ForwardTraining(qkv, 3 * hidden, starts, sequences, heads, headDim, scale, offsets, probabilities, scratch, output, dropout, key, caps);
        var expected = new double[n * hidden];
        Attention.ForwardTrainingReference(ToDouble(qkv), starts, sequences, heads, headDim, scale, expected, dropout, key);
        AssertClose(expected, output, FloatTolerance, $"{isa} attention forward");

        var dOut = KernelTestData.Uniform(n * hidden, 42);
        var dQkv = new float[qkv.Length];
        Attention.BackwardTraining(qkv, 3 * hidden, starts, sequences, heads, headDim, scale, offsets, probabilities, scratch, dOut, dQkv, dropout, key, caps);
        var expectedDQkv = new double[qkv.Length];
        Attention.BackwardTrainingReference(ToDouble(qkv), starts, sequences, heads, headDim, scale, ToDouble(dOut), expectedDQkv, dropout, key);
        AssertClose(expectedDQkv, dQkv, FloatTolerance, $"{isa} attention backward");
    }

    [Fact]
    public void DropoutDropsTheRequestedFractionReproduciblyAndKeepsTheExpectation()
    {
        var x = new float[200_000];
        Array.Fill(x, 1f);
        var again = (float[])x.Clone();
        ulong key = Dropout.Key(42, 5, 1);
        Dropout.Apply(x, 1000, key, 0.1f);
        Dropout.Apply(again, 1000, key, 0.1f);
        Assert.Equal(x, again);                                                    // the mask is a function of (key, index)
        int dropped = x.Count(v => v == 0f);
        Assert.InRange(dropped / (double)x.Length, 0.097, 0.103);                   // 3 sigma is 0.002 at this size
        Assert.All(x, v => Assert.True(v == 0f || Math.Abs(v - 1f / 0.9f) < 1e-6));
        var other = new float[x.Length];
        Array.Fill(other, 1f);
        Dropout.Apply(other, 1000, Dropout.Key(42, 5, 2), 0.1f);                    // another site: another mask
        Assert.NotEqual(x, other);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Apply(x, 0, key, 1f));
    }

    [Fact]
    public void GatherTanhAndBiasGradientsMatchFiniteDifferences()
    {
        // Gather: loss = sum_r dRows[r] . table[ids[r]]; repeated ids accumulate.
        int[] ids = [2, 0, 2, 4];
        const int width = 5;
        var dRows = KernelTestData.Uniform(ids.Length * width, 51);
        var dTable = new float[6 * width];
        TrainingGradients.GatherBackward(ids, dRows, dTable, width);
        for (int row = 0; row < 6; row++)
            for (int c = 0; c < width; c++)
            {
                double expected = 0;
                for (int r = 0; r < ids.Length; r++) if (ids[r] == row) expected += dRows[r * width + c];
                Assert.Equal(expected, dTable[row * width + c], 5);
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingGradients.GatherBackward([6], dRows.AsSpan(0, width), dTable, width));

        var x = KernelTestData.Uniform(40, 52, 3f);
        var y = x.Select(MathF.Tanh).ToArray();
        var dy = KernelTestData.Uniform(40, 53);
        var dx = new float[40];
        TrainingGradients.TanhBackward(y, dy, dx);
        for (int i = 0; i < x.Length; i++)
        {
            double fd = (Math.Tanh(x[i] + Step) - Math.Tanh(x[i] - Step)) / (2 * Step) * dy[i];
            Assert.True(Math.Abs(fd - dx[i]) < 1e-6, $"tanh' at {x[i]}");
        }

        var bias = new float[3];
        TrainingGradients.ColumnSums([1f, 2f, 3f, 10f, 20f, 30f], bias, 2, 3);
        Assert.Equal([11f, 22f, 33f], bias);
    }
}
