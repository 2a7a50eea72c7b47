using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// ModernBERT's gated feed-forward block (<c>ModernBertMLP</c>): <c>Wo(act(input) * gate)</c> where
/// <c>input, gate = Wi(x).chunk(2)</c>: Wi [2I, H] holds the input rows first, then the gate rows; act is exact GELU (GeGLU).
/// </summary>
internal sealed class ModernBertMlp
{
    private readonly Linear _wi;   // [2I, H]: rows 0..I-1 input, I..2I-1 gate (packed as input/gate panel pairs)
    private readonly Linear _wo;   // [H, I]

    public ModernBertMlp(WeightSource weights, ModernBertWeightNames.Layer names, ModernBertConfig config)
    {
        int h = config.HiddenSize, i = config.IntermediateSize;
        _wi = Linear.LoadGated(weights, names.MlpInput, h, i, quantizable: true, hasBias: config.MlpBias);   // packed input|gate pairs
        _wo = Linear.Load(weights, names.MlpOutput, i, h, quantizable: true, hasBias: config.MlpBias);
    }

    /// <summary>output[N, H] = Wo(GELU(x Wi_in^T) * (x Wi_gate^T)) for x [N, H]; a <paramref name="tap"/> gets the gated
    /// intermediate [N, I] under <paramref name="intermediateTap"/>.</summary>
    public void Forward(ReadOnlySpan<float> x, ModernBertWorkspace workspace, Span<float> output, int rows, ActivationTap? tap = null, string intermediateTap = "")
    {
        Span<float> gated = workspace.Intermediate.AsSpan(0, rows * _wo.InFeatures);   // [N, I]
        _wi.ForwardGeGlu(x, gated, Span<float>.Empty, rows);                             // GELU(input) * gate, in Wi's GEMM epilogue
        tap?.Invoke(intermediateTap, gated, rows, _wo.InFeatures);
        _wo.Forward(gated, output, rows);
    }
}
