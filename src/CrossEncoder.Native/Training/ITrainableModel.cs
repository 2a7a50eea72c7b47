using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Training;

/// <summary>
/// The seam between a trainable model family (today BERT, <c>Model/Bert/</c>) and the trainer (<c>src/CrossEncoder.Training</c>):
/// a model that owns mutable fp32 parameters, runs a forward pass that keeps what its backward pass needs, and accumulates
/// the gradients of a loss with respect to every parameter. The trainer never sees modules, weight names or kernels: it
/// fills <see cref="TrainingWorkspace.Batch"/>, calls <see cref="Forward"/>, computes the loss and its gradient with respect
/// to the logits, calls <see cref="Backward"/>, then updates <see cref="TrainableParameter.Value"/> from
/// <see cref="TrainableParameter.Gradient"/> (AdamW) and calls <see cref="ZeroGradients"/>.
/// Not thread-safe: one trainer drives one model (its kernels parallelise inside).
/// </summary>
internal interface ITrainableModel
{
    /// <summary>Every trained tensor, under its Hugging Face name in <c>model.safetensors</c>, in a stable order.</summary>
    IReadOnlyList<TrainableParameter> Parameters { get; }

    /// <summary>Width of one logit row (1 for a reranker's relevance score).</summary>
    int OutputSize { get; }

    /// <summary>Buffers for a training batch of up to <paramref name="maxTokens"/> tokens in up to <paramref name="maxSequences"/>
    /// sequences of at most <paramref name="maxSequenceLength"/> tokens: the activations the backward pass reads, sized once
    /// (training memory is bounded by the token budget, as inference is).</summary>
    TrainingWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength);

    /// <summary>Runs the model on <c>workspace.Batch</c> and returns the logits [B, <see cref="OutputSize"/>], keeping the
    /// activations in the workspace. <paramref name="dropoutSeed"/> null: no dropout (evaluation, gradient checks);
    /// otherwise the config's dropout probabilities with masks drawn from that seed (reproducible).</summary>
    ReadOnlySpan<float> Forward(TrainingWorkspace workspace, int? dropoutSeed, CancellationToken cancellationToken = default);

    /// <summary>Back-propagates <paramref name="outputGradient"/> (dLoss/dLogits, [B, <see cref="OutputSize"/>]) through the
    /// last <see cref="Forward"/> on this workspace and <b>adds</b> dLoss/dParameter into every <see cref="TrainableParameter.Gradient"/>.</summary>
    void Backward(TrainingWorkspace workspace, ReadOnlySpan<float> outputGradient, CancellationToken cancellationToken = default);

    /// <summary>Sets every gradient to zero.</summary>
    void ZeroGradients();
}

/// <summary>One trained tensor: its values and the accumulated gradient of the loss, both row-major in the checkpoint's shape.</summary>
/// <param name="Name">The Hugging Face name, e.g. <c>bert.encoder.layer.0.attention.self.query.weight</c> or <c>classifier.bias</c>.</param>
/// <param name="Shape">Outermost first, as stored in <c>model.safetensors</c> (a linear weight is [out, in]).</param>
/// <param name="Value">The parameter, updated in place by the optimizer.</param>
/// <param name="Gradient">dLoss/dValue, the same length; <see cref="ITrainableModel.Backward"/> adds into it.</param>
/// <param name="DecaysWeight">False for biases and LayerNorm parameters, which AdamW's weight decay skips (as in
/// sentence-transformers and the Hugging Face trainer).</param>
internal sealed record TrainableParameter(string Name, long[] Shape, float[] Value, float[] Gradient, bool DecaysWeight);

/// <summary>The buffers of one training batch: the input sequences and the activations kept for the backward pass.</summary>
internal abstract class TrainingWorkspace(PackedBatch batch, int outputSize)
{
    /// <summary>The input sequences of the next forward pass.</summary>
    public PackedBatch Batch { get; } = batch;

    /// <summary>Width of one output row.</summary>
    public int OutputSize { get; } = outputSize;
}
