using System.Text.Json;
using CrossEncoder.Native.Training;
using Xunit;

namespace CrossEncoder.Training.Tests;

/// <summary>The losses, AdamW, clipping and the schedule against PyTorch (Fixtures/optimizer.json, written by
/// tools/autograd/make_optimizer_fixture.py with torch 1.13).</summary>
public class OptimizerTests
{
    private static JsonElement Fixture(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "optimizer.json"))).RootElement.GetProperty(name);

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    [Fact]
    public void BinaryCrossEntropyEqualsTorch()
    {
        var f = Fixture("bce");
        var logits = Floats(f.GetProperty("logits"));
        var gradient = new float[logits.Length];
        double loss = Losses.BinaryCrossEntropy(logits, Floats(f.GetProperty("labels")), gradient);
        Assert.Equal(f.GetProperty("loss").GetDouble(), loss, 12);
        var expected = Floats(f.GetProperty("gradient"));
        for (int i = 0; i < logits.Length; i++) Assert.Equal(expected[i], gradient[i], 6);
    }

    [Fact]
    public void ListwiseSoftmaxEqualsTorchCrossEntropyWithThePositiveFirst()
    {
        var f = Fixture("listwise");
        var logits = Floats(f.GetProperty("logits"));
        var gradient = new float[logits.Length];
        double loss = Losses.ListwiseSoftmax(logits, f.GetProperty("group_size").GetInt32(), gradient);
        Assert.Equal(f.GetProperty("loss").GetDouble(), loss, 12);
        var expected = Floats(f.GetProperty("gradient"));
        for (int i = 0; i < logits.Length; i++) Assert.Equal(expected[i], gradient[i], 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.ListwiseSoftmax(logits, 1, gradient));
        Assert.Throws<ArgumentException>(() => Losses.ListwiseSoftmax(logits.AsSpan(0, 7), 4, gradient.AsSpan(0, 7)));
    }

    [Fact]
    public void AdamWWithClippingAndTheLinearScheduleEqualsTorch()
    {
        var f = Fixture("adamw");
        var w = new TrainableParameter("w", [5, 3], Floats(f.GetProperty("w0")), new float[15], DecaysWeight: true);
        var b = new TrainableParameter("b", [3], Floats(f.GetProperty("b0")), new float[3], DecaysWeight: false);
        TrainableParameter[] parameters = [w, b];
        var optimizer = new AdamW(parameters, weightDecay: f.GetProperty("weight_decay").GetDouble());
        int total = f.GetProperty("total_steps").GetInt32(), warmup = f.GetProperty("warmup_steps").GetInt32();
        double peak = f.GetProperty("lr").GetDouble();
        var grads = f.GetProperty("gradients").EnumerateArray().ToArray();
        var rates = f.GetProperty("learning_rates").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var norms = f.GetProperty("norms").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        for (int step = 0; step < total; step++)
        {
            Floats(grads[step].GetProperty("w")).CopyTo(w.Gradient, 0);
            Floats(grads[step].GetProperty("b")).CopyTo(b.Gradient, 0);
            Assert.Equal(norms[step], AdamW.ClipGradientNorm(parameters, f.GetProperty("max_norm").GetDouble()), 5);
            double rate = AdamW.LinearSchedule(step, total, warmup, peak);
            Assert.Equal(rates[step], rate, 12);
            optimizer.Step(rate);
        }
        var expectedW = Floats(f.GetProperty("w"));
        var expectedB = Floats(f.GetProperty("b"));
        // Float32 arithmetic on both sides, in a different order: within a few float32 ulps of the parameters' size.
        for (int i = 0; i < 15; i++) Assert.True(Math.Abs(expectedW[i] - w.Value[i]) <= 2e-6 * Math.Max(1, Math.Abs(expectedW[i])), $"w[{i}]: {w.Value[i]} vs {expectedW[i]}");
        for (int i = 0; i < 3; i++) Assert.True(Math.Abs(expectedB[i] - b.Value[i]) <= 2e-6 * Math.Max(1, Math.Abs(expectedB[i])), $"b[{i}]: {b.Value[i]} vs {expectedB[i]}");
    }
}
