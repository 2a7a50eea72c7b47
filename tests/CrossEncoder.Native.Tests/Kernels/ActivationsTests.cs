using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class ActivationsTests
{
    [Fact]
    public void TanhMatchesMath()
    {
        var x = Enumerable.Range(-40, 81).Select(i => i / 8f).ToArray();
        var y = new float[x.Length];
        Activations.Tanh(x, y);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Math.Tanh(x[i]), y[i], 1e-6);
        Assert.Throws<ArgumentException>(() => Activations.Tanh(new float[3], new float[2]));
    }

    [Fact]
    public void SigmoidIsStableAtExtremes()
    {
        Assert.Equal(0.5f, Activations.Sigmoid(0f));
        Assert.Equal(1 / (1 + Math.Exp(-2)), Activations.Sigmoid(2f), 1e-7);
        Assert.Equal(1 / (1 + Math.Exp(3)), Activations.Sigmoid(-3f), 1e-7);
        Assert.Equal(1f, Activations.Sigmoid(1000f));
        Assert.Equal(0f, Activations.Sigmoid(-1000f));
        Assert.False(float.IsNaN(Activations.Sigmoid(-1e30f)));
    }
}
