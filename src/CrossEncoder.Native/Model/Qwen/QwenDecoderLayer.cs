using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Qwen;

/// <summary>
/// One pre-norm decoder block (<c>Qwen3DecoderLayer</c>): <c>h = h + attn(input_layernorm(h))</c>, then
/// <c>h = h + mlp(post_attention_layernorm(h))</c>, both norms RMSNorm.
/// </summary>
internal sealed class QwenDecoderLayer
{
    private readonly RmsNormParameters _inputNorm;
    private readonly QwenAttention _attention;
    private readonly RmsNormParameters _postAttentionNorm;
    private readonly QwenMlp _mlp;
    private readonly int _hidden;
    private readonly ModelTaps.LayerNames _taps;

    public QwenDecoderLayer(WeightSource weights, QwenConfig config, int index, RotaryTable rotary)
    {
        var names = new QwenWeightNames.Layer(index);
        _hidden = config.HiddenSize;
        _inputNorm = RmsNormParameters.Load(weights, names.InputNorm, config.HiddenSize, config.RmsNormEps);
        _attention = new QwenAttention(weights, names, config, rotary);
        _postAttentionNorm = RmsNormParameters.Load(weights, names.PostAttentionNorm, config.HiddenSize, config.RmsNormEps);
        _mlp = new QwenMlp(weights, names, config);
        _taps = new ModelTaps.LayerNames(index);
    }

    /// <summary>
    /// Updates the residual stream hidden[N, H] in place. With <paramref name="lastTokenOnly"/> only each sequence's last row
    /// goes on past attention: the block's output is written to <c>workspace.LastRows</c> [B, H] (hidden keeps its input).
    /// <paramref name="prefix"/>, <paramref name="store"/>, <paramref name="keyValuesOnly"/>: see <see cref="QwenAttention.Forward"/>.
    /// A <paramref name="tap"/> (whole sequences: no prefix, not last-token-only) gets the per-layer taps of <see cref="ModelTaps"/>.
    /// </summary>
    public void Forward(Span<float> hidden, PackedBatch batch, QwenWorkspace workspace, KeyValuePrefix? prefix, KeyValuePrefix? store,
        bool lastTokenOnly, bool keyValuesOnly, ActivationTap? tap = null)
    {
        int n = batch.TotalTokens, b = batch.Count, h = _hidden;
        Span<float> normed = workspace.Normed.AsSpan(0, n * h);                        // [N, H]
        _inputNorm.Forward(hidden, normed, n);                                         // normed = input_layernorm(h)
        int rows = lastTokenOnly ? b : n;
        Span<float> projection = workspace.Projection.AsSpan(0, rows * h);             // [rows, H]
        _attention.Forward(normed, batch, workspace, prefix, store, lastTokenOnly, keyValuesOnly, projection, tap, _taps.AttentionProbabilities);
        if (keyValuesOnly) return;
        Span<float> stream = hidden[..(n * h)];
        if (lastTokenOnly)
        {
            stream = workspace.LastRows.AsSpan(0, b * h);                              // [B, H] the last tokens' residual rows
            for (int s = 0; s < b; s++) hidden.Slice((batch.Starts[s + 1] - 1) * h, h).CopyTo(stream.Slice(s * h, h));
        }
        Span<float> mlpInput = normed[..(rows * h)];
        tap?.Invoke(_taps.AttentionOutput, projection, rows, h);
        _postAttentionNorm.AddAndForward(stream, projection, mlpInput, rows);         // h += attention; normed = post_attention_layernorm(h)
        tap?.Invoke(_taps.AttentionResidual, stream, rows, h);
        _mlp.Forward(mlpInput, workspace, projection, rows, tap, _taps.FeedForwardIntermediate);   // projection = mlp(normed)
        tap?.Invoke(_taps.FeedForwardOutput, projection, rows, h);
        Activations.AddInPlace(stream, projection);                                    // h += feed-forward
    }
}
