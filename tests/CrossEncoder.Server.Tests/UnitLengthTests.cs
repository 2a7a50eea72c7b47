using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary>/embed's normalisation: a vector whose squares overflow float is scaled in double, never returned as zeros.</summary>
public sealed class UnitLengthTests
{
    [Fact]
    public void AnOverflowingNormStillGivesAUnitVector()
    {
        float[] vector = [3e20f, -4e20f, 2e38f];
        double norm = Math.Sqrt(vector.Sum(v => (double)v * v));
        float[] expected = [.. vector.Select(v => (float)(v / norm))];
        RerankService.ToUnitLength(vector);
        Assert.Equal(expected, vector);
        Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 1e-6);
    }

    [Fact]
    public void OrdinaryAndZeroVectorsAreUnchangedInBehaviour()
    {
        float[] vector = [3f, 4f];
        RerankService.ToUnitLength(vector);
        Assert.Equal([0.6f, 0.8f], vector);
        float[] zero = [0f, 0f];
        RerankService.ToUnitLength(zero);
        Assert.Equal([0f, 0f], zero);
    }
}
