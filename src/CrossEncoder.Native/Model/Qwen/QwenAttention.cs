using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Qwen;

/// <summary>
/// Qwen2 / Qwen3 self-attention (transformers' <c>Qwen3Attention</c>, <c>Qwen2Attention</c>): q, k, v projections fused into
/// one [(nH + 2 nKV) dH, H] product; Qwen3 only: an RMSNorm over each query and each key head (<c>q_norm</c>, <c>k_norm</c>,
/// weights [dH]) <b>before</b> rotary; rotary on q and k (rotate-half, <c>rope_theta</c>, angles in float32); causal
/// grouped-query attention (query head h reads key/value head h / (nH / nKV)), scale dH^-0.5; o_proj [H, nH dH].
/// <para>A <see cref="KeyValuePrefix"/> makes the batch's sequences continue a prefix computed before: their tokens sit at
/// positions P, P + 1, ... and also attend to the prefix's keys. <see cref="Forward"/> can store the batch's keys and values
/// into one (the prefix pass).</para>
/// </summary>
internal sealed class QwenAttention
{
    private readonly Linear _qkv;                  // [(nH + 2 nKV) dH, H]: q rows, then k rows, then v rows
    private readonly Linear _output;               // [H, nH dH]
    private readonly RmsNormParameters? _queryNorm, _keyNorm;   // [dH] each, Qwen3 only
    private readonly RotaryTable _rotary;
    private readonly int _heads, _kvHeads, _headDim;
    private readonly KernelCapabilities _capabilities;

    public QwenAttention(WeightSource weights, QwenWeightNames.Layer names, QwenConfig config, RotaryTable rotary)
    {
        int h = config.HiddenSize, dh = config.HeadDim;
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = dh;
        _qkv = Linear.LoadStacked(weights, [names.Query, names.Key, names.Value], h, [_heads * dh, _kvHeads * dh, _kvHeads * dh],
            quantizable: true, hasBias: config.QueryKeyValueBias);
        _output = Linear.Load(weights, names.Output, _heads * dh, h, quantizable: true, hasBias: config.OutputBias);
        if (config.Variant == QwenVariant.Qwen3)
        {
            _queryNorm = RmsNormParameters.Load(weights, names.QueryNorm, dh, config.RmsNormEps);
            _keyNorm = RmsNormParameters.Load(weights, names.KeyNorm, dh, config.RmsNormEps);
        }
        _rotary = rotary;
        _capabilities = weights.Capabilities;
    }

    /// <summary>
    /// output[rows, H] = o_proj(attention(x)) for the normed input x [N, H] of the packed batch; rows = N, or B with
    /// <paramref name="lastTokenOnly"/> (only each sequence's last token queries; its keys and values still come from every
    /// token). With <paramref name="store"/>, the batch (one sequence: a prefix) has its keys and values written there, and
    /// with <paramref name="keyValuesOnly"/> nothing else is computed (the prefix pass's last layer).
    /// </summary>
    /// <remarks>With a <paramref name="tap"/> (whole sequences, no prefix), the probabilities are reported under
    /// <paramref name="probabilitiesTap"/> ([nH*T, T] per sequence, 0 above the diagonal).</remarks>
    public void Forward(ReadOnlySpan<float> x, PackedBatch batch, QwenWorkspace workspace, KeyValuePrefix? prefix, KeyValuePrefix? store,
        bool lastTokenOnly, bool keyValuesOnly, Span<float> output, ActivationTap? tap = null, string probabilitiesTap = "")
    {
        int n = batch.TotalTokens, b = batch.Count, dh = _headDim, width = (_heads + 2 * _kvHeads) * dh;
        int offset = prefix?.Length ?? 0;                                                // position of each sequence's first token
        Span<float> qkv = workspace.QueryKeyValue.AsSpan(0, n * width);                  // [N, (nH + 2 nKV) dH]
        _qkv.Forward(x, qkv, n);
        _queryNorm?.ForwardHeads(qkv, width, n, _heads, 0);                              // Qwen3: RMSNorm each q head
        _keyNorm?.ForwardHeads(qkv, width, n, _kvHeads, _heads * dh);                    //         and each k head
        Rotary.ApplyHeads(qkv, width, 0, _heads, batch.Starts, b, offset, _rotary, _capabilities);          // q at positions P + t
        Rotary.ApplyHeads(qkv, width, _heads * dh, _kvHeads, batch.Starts, b, offset, _rotary, _capabilities);   // k
        store?.Store(qkv[(_heads * dh)..], qkv[((_heads + _kvHeads) * dh)..], width, n);   // the prefix's K and V, once
        if (keyValuesOnly) return;
        if (tap is not null) AttentionTap.Report(tap, probabilitiesTap, qkv, width, _heads * dh, batch, workspace, _heads, _kvHeads, dh, Attention.Global, causal: true, _capabilities);
        int rows = lastTokenOnly ? b : n;
        Span<float> context = workspace.Context.AsSpan(0, rows * _heads * dh);           // [rows, nH dH]
        Attention.CausalBatch(qkv, width, batch.Starts, b, prefix, context, lastTokenOnly, _heads, _kvHeads, dh, 1f / MathF.Sqrt(dh), _capabilities);
        _output.Forward(context, output, rows);
    }
}
