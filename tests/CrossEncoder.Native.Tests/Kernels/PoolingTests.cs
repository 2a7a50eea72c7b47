using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class PoolingTests
{
    [Fact]
    public void MeanOfRowsIgnoresPaddingRows()
    {
        // Rows [1, 2], [3, 6] are valid, [100, 100] is padding: mean = [2, 4].
        float[] x = [1, 2, 3, 6, 100, 100];
        var dest = new float[2];
        Pooling.MeanOfRows(x, 2, 2, dest);
        Assert.Equal([2f, 4f], dest);
        Assert.Throws<ArgumentOutOfRangeException>(() => Pooling.MeanOfRows(x, 0, 2, dest));
        Assert.Throws<ArgumentException>(() => Pooling.MeanOfRows(x, 4, 2, dest));
        Assert.Throws<ArgumentException>(() => Pooling.MeanOfRows(x, 2, 2, new float[1]));
    }

    [Fact]
    public void MaxOfRowsTakesTheElementwiseMaximumOfTheValidRows()
    {
        // Rows [1, -2], [-3, 6] are valid, [100, 100] is padding: max = [1, 6].
        float[] x = [1, -2, -3, 6, 100, 100];
        var dest = new float[2];
        Pooling.MaxOfRows(x, 2, 2, dest);
        Assert.Equal([1f, 6f], dest);
        Pooling.MaxOfRows(x, 1, 2, dest);
        Assert.Equal([1f, -2f], dest);
        Assert.Throws<ArgumentOutOfRangeException>(() => Pooling.MaxOfRows(x, 0, 2, dest));
        Assert.Throws<ArgumentException>(() => Pooling.MaxOfRows(x, 4, 2, dest));
    }

    [Fact]
    public void L2NormalizeMatchesHandMath()
    {
        float[] x = [3, 4];
        Pooling.L2Normalize(x);
        Assert.Equal(0.6f, x[0], 1e-7f);
        Assert.Equal(0.8f, x[1], 1e-7f);
        // A zero vector stays zero (the norm is clamped to 1e-12, as torch.nn.functional.normalize does).
        float[] zero = [0, 0, 0];
        Pooling.L2Normalize(zero);
        Assert.Equal([0f, 0f, 0f], zero);
    }

    [Fact]
    public void L2NormalizeOfAVectorWhoseSquaresOverflowFloatIsUnitLengthNotZeros()
    {
        float[] x = [3e20f, -4e20f, 1e38f, 0f];   // ||x||^2 overflows float; torch.nn.functional.normalize in float gives zeros
        double norm = Math.Sqrt(x.Sum(v => (double)v * v));
        float[] expected = [.. x.Select(v => (float)(v / norm))];
        Pooling.L2Normalize(x);
        Assert.Equal(expected, x);
        Assert.Equal(1.0, Math.Sqrt(x.Sum(v => (double)v * v)), 1e-6);
        float[] infinite = [float.PositiveInfinity, 1f];
        Pooling.L2Normalize(infinite);
        Assert.Contains(infinite, float.IsNaN);   // not finite in, not finite out: reported by the caller, never a score
    }
}
