// TEMPORARY (replaced by the fused kernels when branch kern lands): unfused stand-ins with the final API's shape.
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Qwen;

internal enum GatedActivation { Gelu, Silu }

internal sealed class TempStacked(Linear[] parts)
{
    public int InFeatures => parts[0].InFeatures;
    public int OutFeatures => parts.Sum(p => p.OutFeatures);
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        int width = OutFeatures, column = 0;
        foreach (var part in parts)
        {
            var buffer = new float[rows * part.OutFeatures];
            part.Forward(x, buffer, rows);
            for (int r = 0; r < rows; r++) buffer.AsSpan(r * part.OutFeatures, part.OutFeatures).CopyTo(y.Slice(r * width + column));
            column += part.OutFeatures;
        }
    }
}

internal sealed class TempGated(Linear gate, Linear up)
{
    public int InFeatures => gate.InFeatures;
    public void ForwardGated(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        var g = new float[rows * gate.OutFeatures];
        gate.Forward(x, g, rows);
        up.Forward(x, y, rows);
        Activations.Silu(g, g);
        System.Numerics.Tensors.TensorPrimitives.Multiply(g, y[..g.Length], y[..g.Length]);
    }
}

internal static class TempLinear
{
    public static TempStacked LoadStacked(WeightSource weights, string[] modules, int inFeatures, int[] outFeatures, bool quantizable, bool hasBias) =>
        new([.. modules.Select((m, i) => Linear.Load(weights, m, inFeatures, outFeatures[i], quantizable, hasBias: hasBias))]);

    public static TempGated LoadGatedPair(WeightSource weights, string gateModule, string upModule, int inFeatures, int inner, GatedActivation activation, bool quantizable) =>
        new(Linear.Load(weights, gateModule, inFeatures, inner, quantizable, hasBias: false), Linear.Load(weights, upModule, inFeatures, inner, quantizable, hasBias: false));
}
