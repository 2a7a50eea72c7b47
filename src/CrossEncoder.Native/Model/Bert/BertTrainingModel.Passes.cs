using System.Numerics.Tensors;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Training;

namespace CrossEncoder.Native.Model.Bert;

internal sealed partial class BertTrainingModel
{
    /// <inheritdoc/>
    /// <remarks>Embeddings -> L post-LN layers -> pooler -> classifier, every activation kept in the workspace.</remarks>
    public ReadOnlySpan<float> Forward(TrainingWorkspace workspace, int? dropoutSeed, CancellationToken cancellationToken = default)
    {
        var ws = Own(workspace);
        var batch = ws.Batch;
        int n = batch.TotalTokens, b = batch.Count, h = Config.HiddenSize, inner = Config.IntermediateSize;
        int heads = Config.NumAttentionHeads, dh = Config.HeadDim;
        float eps = (float)Config.LayerNormEps, scale = 1f / MathF.Sqrt(dh);
        float pHidden = dropoutSeed is null ? 0f : (float)Config.HiddenDropoutProb;
        float pAttention = dropoutSeed is null ? 0f : (float)Config.AttentionProbsDropoutProb;
        int seed = dropoutSeed ?? 0;
        ws.HasForward = false;
        if (b == 0) return ReadOnlySpan<float>.Empty;

        Span<float> x0 = ws.LayerInputs[0].AsSpan(0, n * h);                         // [N, H]
        Embed(batch, x0, ws.PositionIds);                                              // word + token type + position
        LayerNorm.ForwardTraining(x0, [], _embeddingGamma.Value, _embeddingBeta.Value, x0, ws.EmbeddingsNormalized, ws.EmbeddingsInverseDeviation, n, h, eps);
        Dropout.Apply(x0, 0, DropoutKey(seed, EmbeddingsSite), pHidden);
        Attention.ProbabilityOffsets(batch.Starts, b, heads, ws.ProbabilityOffsets);
        Span<float> projected = ws.GradientA.AsSpan(0, n * h);                         // [N, H] dense output (scratch)

        for (int l = 0; l < _layers.Length; l++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var layer = _layers[l];
            FuseQueryKeyValue(layer, h);
            ReadOnlySpan<float> x = ws.LayerInputs[l].AsSpan(0, n * h);                // [N, H]
            Span<float> qkv = ws.QueryKeyValue[l].AsSpan(0, n * 3 * h);                // [N, 3H] = x Wqkv^T + b
            Gemm.MultiplyTransposed(x, layer.FusedQueryKeyValue, layer.FusedQueryKeyValueBias, qkv, n, 3 * h, h, _caps);
            Span<float> context = ws.Context[l].AsSpan(0, n * h);                      // [N, H] dropout(softmax(Q K^T / sqrt dH)) V
            Attention.ForwardTraining(qkv, 3 * h, batch.Starts, b, heads, dh, scale, ws.ProbabilityOffsets, ws.Probabilities[l], ws.AttentionScratch,
                context, pAttention, DropoutKey(seed, AttentionProbabilitiesSite, l), _caps);
            Gemm.MultiplyTransposed(context, layer.AttentionOutput.Value, layer.AttentionOutputBias.Value, projected, n, h, h, _caps);
            Dropout.Apply(projected, 0, DropoutKey(seed, AttentionOutputSite, l), pHidden);
            Span<float> h1 = ws.AttentionResidual[l].AsSpan(0, n * h);                 // [N, H] = LN(dropout(context Wo) + x), post-LN
            LayerNorm.ForwardTraining(projected, x, layer.AttentionGamma.Value, layer.AttentionBeta.Value, h1, ws.AttentionNormalized[l], ws.AttentionInverseDeviation[l], n, h, eps);
            Span<float> u = ws.IntermediatePreActivation[l].AsSpan(0, n * inner);      // [N, I] = h1 Wi^T + b
            Gemm.MultiplyTransposed(h1, layer.Intermediate.Value, layer.IntermediateBias.Value, u, n, inner, h, _caps);
            Span<float> g = ws.Intermediate[l].AsSpan(0, n * inner);                   // [N, I] = GELU(u)
            Gelu.Apply(u, g, _caps);
            Gemm.MultiplyTransposed(g, layer.Output.Value, layer.OutputBias.Value, projected, n, h, inner, _caps);
            Dropout.Apply(projected, 0, DropoutKey(seed, FeedForwardOutputSite, l), pHidden);
            LayerNorm.ForwardTraining(projected, h1, layer.OutputGamma.Value, layer.OutputBeta.Value, ws.LayerInputs[l + 1].AsSpan(0, n * h),
                ws.OutputNormalized[l], ws.OutputInverseDeviation[l], n, h, eps);       // x_{l+1} = LN(dropout(g Wo2) + h1)
        }

        ReadOnlySpan<float> last = ws.LayerInputs[_layers.Length];
        Span<float> cls = ws.Cls.AsSpan(0, b * h);                                     // [B, H] first token of each sequence
        for (int s = 0; s < b; s++) last.Slice(batch.Starts[s] * h, h).CopyTo(cls.Slice(s * h, h));
        Span<float> pooled = ws.Pooled.AsSpan(0, b * h);                               // [B, H] = tanh(cls Wp^T + bp)
        Gemm.MultiplyTransposed(cls, _poolerWeight.Value, _poolerBias.Value, pooled, b, h, h, _caps);
        Activations.Tanh(pooled, pooled);
        Span<float> dropped = ws.PooledDropped.AsSpan(0, b * h);                       // [B, H] dropout(pooled)
        pooled.CopyTo(dropped);
        Dropout.Apply(dropped, 0, DropoutKey(seed, PooledSite), pHidden);
        Span<float> logits = ws.Logits.AsSpan(0, b * OutputSize);                      // [B, out] = dropped Wc^T + bc
        Gemm.MultiplyTransposed(dropped, _classifierWeight.Value, _classifierBias.Value, logits, b, OutputSize, h, _caps);
        ws.DropoutSeed = dropoutSeed;
        ws.HasForward = true;
        return logits;
    }

    /// <inheritdoc/>
    public void Backward(TrainingWorkspace workspace, ReadOnlySpan<float> outputGradient, CancellationToken cancellationToken = default)
    {
        var ws = Own(workspace);
        if (!ws.HasForward) throw new InvalidOperationException("Backward needs a Forward on the same workspace first.");
        var batch = ws.Batch;
        int n = batch.TotalTokens, b = batch.Count, h = Config.HiddenSize, inner = Config.IntermediateSize;
        int heads = Config.NumAttentionHeads, dh = Config.HeadDim;
        float scale = 1f / MathF.Sqrt(dh);
        if (outputGradient.Length != b * OutputSize)
            throw new ArgumentException($"The output gradient has {outputGradient.Length} values; the batch's logits have {b * OutputSize}.", nameof(outputGradient));
        float pHidden = ws.DropoutSeed is null ? 0f : (float)Config.HiddenDropoutProb;
        float pAttention = ws.DropoutSeed is null ? 0f : (float)Config.AttentionProbsDropoutProb;
        int seed = ws.DropoutSeed ?? 0;

        // Head: logits = dropout(tanh(cls Wp^T + bp)) Wc^T + bc.
        Span<float> dPooled = ws.GradientB.AsSpan(0, b * h);                           // [B, H]
        LinearBackward(ws.PooledDropped.AsSpan(0, b * h), outputGradient, _classifierWeight, _classifierBias, dPooled, b, OutputSize, h, ws);
        Dropout.Apply(dPooled, 0, DropoutKey(seed, PooledSite), pHidden);
        TrainingGradients.TanhBackward(ws.Pooled.AsSpan(0, b * h), dPooled, dPooled);
        Span<float> dCls = ws.GradientA.AsSpan(0, b * h);                              // [B, H]
        LinearBackward(ws.Cls.AsSpan(0, b * h), dPooled, _poolerWeight, _poolerBias, dCls, b, h, h, ws);
        Span<float> dX = ws.GradientHidden.AsSpan(0, n * h);                           // [N, H] dLoss/dx_L: only the [CLS] rows
        dX.Clear();
        for (int s = 0; s < b; s++) dCls.Slice(s * h, h).CopyTo(dX.Slice(batch.Starts[s] * h, h));

        Span<float> dA = ws.GradientA.AsSpan(0, n * h), dB = ws.GradientB.AsSpan(0, n * h);   // [N, H] scratch
        Span<float> dInner = ws.GradientIntermediate.AsSpan(0, n * inner);             // [N, I]
        Span<float> dQkv = ws.GradientQueryKeyValue.AsSpan(0, n * 3 * h);              // [N, 3H]
        for (int l = _layers.Length - 1; l >= 0; l--)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var layer = _layers[l];
            // x_{l+1} = LN(dropout(g Wo2 + b) + h1): dA = d(sum), dB = d(dense output).
            LayerNorm.Backward(dX, ws.OutputNormalized[l], ws.OutputInverseDeviation[l], layer.OutputGamma.Value, dA, layer.OutputGamma.Gradient, layer.OutputBeta.Gradient, n, h);
            dA.CopyTo(dB);
            Dropout.Apply(dB, 0, DropoutKey(seed, FeedForwardOutputSite, l), pHidden);
            LinearBackward(ws.Intermediate[l].AsSpan(0, n * inner), dB, layer.Output, layer.OutputBias, dInner, n, h, inner, ws);
            Gelu.Backward(ws.IntermediatePreActivation[l].AsSpan(0, n * inner), dInner, dInner, _caps);
            LinearBackward(ws.AttentionResidual[l].AsSpan(0, n * h), dInner, layer.Intermediate, layer.IntermediateBias, dB, n, inner, h, ws);
            TensorPrimitives.Add(dB, dA, dB);                                          // dh1: through the FFN and the residual
            // h1 = LN(dropout(context Wo + b) + x): dA = d(sum), dB = d(dense output).
            LayerNorm.Backward(dB, ws.AttentionNormalized[l], ws.AttentionInverseDeviation[l], layer.AttentionGamma.Value, dA, layer.AttentionGamma.Gradient, layer.AttentionBeta.Gradient, n, h);
            dA.CopyTo(dB);
            Dropout.Apply(dB, 0, DropoutKey(seed, AttentionOutputSite, l), pHidden);
            LinearBackward(ws.Context[l].AsSpan(0, n * h), dB, layer.AttentionOutput, layer.AttentionOutputBias, dX, n, h, h, ws);   // dX = d(context)
            Attention.BackwardTraining(ws.QueryKeyValue[l].AsSpan(0, n * 3 * h), 3 * h, batch.Starts, b, heads, dh, scale, ws.ProbabilityOffsets,
                ws.Probabilities[l], ws.AttentionScratch, dX, dQkv, pAttention, DropoutKey(seed, AttentionProbabilitiesSite, l), _caps);
            QueryKeyValueBackward(layer, ws.LayerInputs[l].AsSpan(0, n * h), dQkv, dX, n, h, ws);   // dX = d(x) through Q, K, V
            TensorPrimitives.Add(dX, dA, dX);                                          // ... and through the residual
        }

        // x_0 = dropout(LN(word + type + position)).
        Dropout.Apply(dX, 0, DropoutKey(seed, EmbeddingsSite), pHidden);
        LayerNorm.Backward(dX, ws.EmbeddingsNormalized, ws.EmbeddingsInverseDeviation, _embeddingGamma.Value, dX, _embeddingGamma.Gradient, _embeddingBeta.Gradient, n, h);
        TrainingGradients.GatherBackward(batch.InputIds.AsSpan(0, n), dX, _word.Gradient, h);
        TrainingGradients.GatherBackward(batch.TokenTypeIds.AsSpan(0, n), dX, _type.Gradient, h);
        TrainingGradients.GatherBackward(ws.PositionIds.AsSpan(0, n), dX, _position.Gradient, h);
    }

    /// <summary>embedded[N, H] = word[id] + token type[type id] + position[t], t counted from 0 in each sequence (BERT).</summary>
    private void Embed(Common.PackedBatch batch, Span<float> embedded, int[] positions)
    {
        int h = Config.HiddenSize;
        for (int s = 0; s < batch.Count; s++)
            for (int row = batch.Starts[s], t = 0; row < batch.Starts[s + 1]; row++, t++)
            {
                var destination = embedded.Slice(row * h, h);
                TensorPrimitives.Add(_word.Value.AsSpan(batch.InputIds[row] * h, h), _type.Value.AsSpan(batch.TokenTypeIds[row] * h, h), destination);
                TensorPrimitives.Add(destination, _position.Value.AsSpan(t * h, h), destination);
                positions[row] = t;
            }
    }

    /// <summary>A linear layer y[rows, out] = x[rows, in] W^T + b backwards: dW += dy^T x, db += column sums of dy, and
    /// dx = dy W (skipped when <paramref name="dInput"/> is empty).</summary>
    private void LinearBackward(ReadOnlySpan<float> input, ReadOnlySpan<float> dOutput, TrainableParameter weight, TrainableParameter bias, Span<float> dInput,
        int rows, int outputs, int inputs, BertTrainingWorkspace ws)
    {
        Gemm.MultiplyTransposedA(dOutput, input, weight.Gradient, outputs, inputs, rows, ws.WeightScratch, accumulate: true, _caps);
        TrainingGradients.ColumnSums(dOutput, bias.Gradient, rows, outputs);
        if (!dInput.IsEmpty) Gemm.Multiply(dOutput, weight.Value, dInput, rows, inputs, outputs, _caps);
    }

    /// <summary>The fused projection qkv = x [Wq | Wk | Wv]^T + b backwards: the three weight and bias gradients, and dx = dqkv Wqkv.</summary>
    private void QueryKeyValueBackward(Layer layer, ReadOnlySpan<float> input, ReadOnlySpan<float> dQkv, Span<float> dInput, int rows, int h, BertTrainingWorkspace ws)
    {
        Span<float> dWeight = ws.FusedQueryKeyValueGradient;                           // [3H, H]
        Span<float> dBias = ws.FusedQueryKeyValueBiasGradient;                         // [3H]
        Gemm.MultiplyTransposedA(dQkv, input, dWeight, 3 * h, h, rows, ws.WeightScratch, accumulate: false, _caps);
        dBias.Clear();
        TrainingGradients.ColumnSums(dQkv, dBias, rows, 3 * h);
        TrainableParameter[] weights = [layer.Query, layer.Key, layer.Value], biases = [layer.QueryBias, layer.KeyBias, layer.ValueBias];
        for (int part = 0; part < 3; part++)
        {
            TensorPrimitives.Add(weights[part].Gradient, dWeight.Slice(part * h * h, h * h), weights[part].Gradient);
            TensorPrimitives.Add(biases[part].Gradient, dBias.Slice(part * h, h), biases[part].Gradient);
        }
        Gemm.Multiply(dQkv, layer.FusedQueryKeyValue, dInput, rows, h, 3 * h, _caps);
    }

    /// <summary>Copies the current Q, K, V weights and biases into the fused [3H, H] matrix the forward multiplies by (the
    /// optimizer updates the separate Hugging Face tensors).</summary>
    private static void FuseQueryKeyValue(Layer layer, int h)
    {
        layer.Query.Value.CopyTo(layer.FusedQueryKeyValue, 0);
        layer.Key.Value.CopyTo(layer.FusedQueryKeyValue, h * h);
        layer.Value.Value.CopyTo(layer.FusedQueryKeyValue, 2 * h * h);
        layer.QueryBias.Value.CopyTo(layer.FusedQueryKeyValueBias, 0);
        layer.KeyBias.Value.CopyTo(layer.FusedQueryKeyValueBias, h);
        layer.ValueBias.Value.CopyTo(layer.FusedQueryKeyValueBias, 2 * h);
    }
}
