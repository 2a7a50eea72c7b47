using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class SpecialFunctionsTests
{
    // fdlibm claims < 1 ulp; we allow 2 ulp-ish (relative 4.5e-16) against values computed independently.
    private const double ErfRelativeTolerance = 4.5e-16;

    // erf at a few points, to 19 significant digits, from mpmath at 25 digits (independent of the code under test).
    [Theory]
    [InlineData(0.1, 0.1124629160182848922)]
    [InlineData(0.5, 0.5204998778130465377)]
    [InlineData(0.84375, 0.7672256612323416335)]
    [InlineData(1.0, 0.8427007929497148693)]
    [InlineData(1.5, 0.9661051464753107271)]
    [InlineData(2.0, 0.9953222650189527342)]
    [InlineData(3.0, 0.9999779095030014146)]
    [InlineData(4.0, 0.9999999845827420997)]
    public void ErfMatchesKnownValues(double x, double expected)
    {
        Assert.InRange(Math.Abs(SpecialFunctions.Erf(x) - expected), 0, ErfRelativeTolerance * expected);
        Assert.InRange(Math.Abs(SpecialFunctions.Erf(-x) + expected), 0, ErfRelativeTolerance * expected);
    }

    [Fact]
    public void ErfSpecialValues()
    {
        Assert.Equal(0.0, SpecialFunctions.Erf(0.0));
        Assert.True(double.IsNegative(SpecialFunctions.Erf(-0.0)));
        Assert.Equal(1.0, SpecialFunctions.Erf(double.PositiveInfinity));
        Assert.Equal(-1.0, SpecialFunctions.Erf(double.NegativeInfinity));
        Assert.Equal(1.0, SpecialFunctions.Erf(6.5));
        Assert.Equal(1.0, SpecialFunctions.Erf(1e300));
        Assert.Equal(-1.0, SpecialFunctions.Erf(-30));
        Assert.True(double.IsNaN(SpecialFunctions.Erf(double.NaN)));
        // Tiny arguments: erf(x) = 2x/sqrt(pi) to double precision.
        Assert.Equal(1.1283791670955126e-20, SpecialFunctions.Erf(1e-20), 1e-35);
        Assert.Equal(1.1283791670955126e-300, SpecialFunctions.Erf(1e-300), 1e-314);
    }

    /// <summary>erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)), summed in 28-digit decimal.</summary>
    private static double TaylorErf(double x)
    {
        decimal twoOverSqrtPi = 1.1283791670955125738961589031m;
        decimal xd = (decimal)x, x2 = xd * xd, power = xd, sum = 0m;
        for (int n = 0; n < 80; n++)
        {
            // power = (-1)^n x^(2n+1) / n!
            decimal term = power / (2 * n + 1);
            sum += term;
            if (Math.Abs(term) < 1e-27m) break;
            power = -power * x2 / (n + 1);
        }
        return (double)(twoOverSqrtPi * sum);
    }

    [Property(MaxTest = 300)]
    public Property ErfMatchesDecimalTaylorSeriesForSmallArguments() =>
        Prop.ForAll(Gen.Choose(-2_000_000, 2_000_000).Select(i => i / 1_000_000.0).ToArbitrary(), x =>
        {
            double expected = TaylorErf(x);
            Assert.InRange(Math.Abs(SpecialFunctions.Erf(x) - expected), 0, ErfRelativeTolerance * Math.Abs(expected) + 1e-300);
        });

    [Fact]
    public void ErfIsOddAndMonotoneOnAGrid()
    {
        double previous = -1;
        for (double x = -7; x <= 7; x += 1.0 / 1024)
        {
            double e = SpecialFunctions.Erf(x);
            Assert.Equal(-e, SpecialFunctions.Erf(-x));
            Assert.True(e >= previous, $"erf not monotone at {x}");
            previous = e;
        }
    }
}
