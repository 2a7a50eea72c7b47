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

    [Fact]
    public void ReluAndElementwiseSigmoidMatchMath()
    {
        float[] x = [-3f, -0f, 0f, 0.5f, 40f, -40f, float.NaN];
        var relu = new float[x.Length];
        Activations.Relu(x, relu);
        Assert.Equal([0f, 0f, 0f, 0.5f, 40f, 0f], relu[..6]);
        Assert.True(float.IsNaN(relu[6]));
        var sigmoid = (float[])x.Clone();
        Activations.Sigmoid(sigmoid, sigmoid);   // in place
        for (int i = 0; i < 6; i++) Assert.Equal(1.0 / (1.0 + Math.Exp(-x[i])), sigmoid[i], 1e-7);
        Assert.Throws<ArgumentException>(() => Activations.Relu(x, new float[2]));
    }
}
