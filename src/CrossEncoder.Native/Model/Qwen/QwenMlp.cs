using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Qwen;

/// <summary>
/// Qwen's SwiGLU feed-forward block (<c>Qwen3MLP</c>): <c>down_proj(silu(gate_proj(x)) * up_proj(x))</c>. gate_proj and
/// up_proj ([I, H] each, no bias) are packed as one gated matrix, so SiLU(gate) * up is the GEMM's epilogue.
/// </summary>
internal sealed class QwenMlp
{
    private readonly Linear _gateUp;   // [2I, H]: gate rows (activated), then up rows (the multiplier)
    private readonly Linear _down;     // [H, I]

    public QwenMlp(WeightSource weights, QwenWeightNames.Layer names, QwenConfig config)
    {
        int h = config.HiddenSize, i = config.IntermediateSize;
        _gateUp = Linear.LoadGatedPair(weights, names.Gate, names.Up, h, i, GatedActivation.Silu, quantizable: true);
        _down = Linear.Load(weights, names.Down, i, h, quantizable: true, hasBias: false);
    }

    /// <summary>output[R, H] = down(SiLU(gate x) * up x) for x [R, H]; a <paramref name="tap"/> gets the gated intermediate
    /// [R, I] under <paramref name="intermediateTap"/>.</summary>
    public void Forward(ReadOnlySpan<float> x, QwenWorkspace workspace, Span<float> output, int rows, ActivationTap? tap = null, string intermediateTap = "")
    {
        Span<float> gated = workspace.Intermediate.AsSpan(0, rows * _down.InFeatures);   // [R, I]
        _gateUp.ForwardGated(x, gated, rows);                                            // SiLU(gate) * up, in the GEMM epilogue
        tap?.Invoke(intermediateTap, gated, rows, _down.InFeatures);
        _down.Forward(gated, output, rows);
    }
}
