using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model;

/// <summary>
/// The seam between the model families and everything that runs them (Reranker, server, eval, the int8 gate, bench): a
/// loaded transformer with its head, immutable and shareable between threads. A family (a folder under Model/, e.g.
/// Model/Bert/) implements it; <see cref="ModelLoader"/> picks the family from <c>config.json</c> and is the one place
/// precision enters. Callers fill <see cref="ModelWorkspace.Batch"/>, call <see cref="Forward"/> and read one output row
/// per sequence; they never see a family's modules, weight names or kernels.
/// </summary>
internal interface ITransformerModel
{
    /// <summary>What the model is: family, kind, output width, limits, precision, score transform.</summary>
    ModelDescription Description { get; }

    /// <summary>The tensors of the checkpoint that the int8 scheme quantizes (linear weights and gathered tables), under the
    /// names they have in <c>model.safetensors</c>: what <see cref="ModelQuantization.WriteQuantizedFolder(string, string)"/> writes as I8.</summary>
    IReadOnlyList<QuantizableTensor> QuantizableTensors { get; }

    /// <summary>Buffers for batches of up to <paramref name="maxTokens"/> tokens in up to <paramref name="maxSequences"/>
    /// sequences of at most <paramref name="maxSequenceLength"/> tokens each (capped at the model's limit).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A capacity is not positive or too large for one workspace.</exception>
    ModelWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength);

    /// <summary>
    /// Runs the model on <c>workspace.Batch</c> and returns the outputs [B, <see cref="ModelDescription.OutputSize"/>]: logits
    /// for a cross-encoder, sentence embeddings for a bi-encoder; valid until the workspace is used again. With a
    /// <paramref name="tap"/>, every intermediate named in <see cref="ModelTaps"/> is reported (and computed in full).
    /// </summary>
    /// <exception cref="ArgumentException">The workspace was created by another model.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked between layers).</exception>
    ReadOnlySpan<float> Forward(ModelWorkspace workspace, ActivationTap? tap = null, CancellationToken cancellationToken = default);
}

/// <summary>A tensor of a checkpoint that int8 quantizes: a linear weight [out, in] (multiplied in int8) or a table [rows,
/// columns] that is only gathered (stored as 8-bit rows).</summary>
/// <param name="Name">The tensor's name in <c>model.safetensors</c>, prefix included (e.g. <c>roberta.encoder.layer.0.attention.self.query.weight</c>).</param>
/// <param name="IsTable">True for a gathered table (the word embeddings), false for a linear weight.</param>
internal readonly record struct QuantizableTensor(string Name, bool IsTable);

/// <summary>Receives a named intermediate activation during <see cref="ITransformerModel.Forward"/> (rows x columns,
/// row-major); the span is valid only during the call. Names are listed in <see cref="ModelTaps"/>.</summary>
internal delegate void ActivationTap(string name, ReadOnlySpan<float> values, int rows, int columns);

/// <summary>The stable names of the intermediates every family reports to an <see cref="ActivationTap"/>, so a test can say
/// which layer diverged first and the int8 checks can compare the same vector on every family.</summary>
internal static class ModelTaps
{
    /// <summary>[N, H]: the hidden states entering the first layer.</summary>
    public const string Embeddings = "embeddings";

    /// <summary>[N, H]: the hidden states leaving layer <paramref name="index"/> (0-based).</summary>
    public static string Layer(int index) => $"layer.{index}";

    /// <summary>[nH*T, T], reported once per sequence of the packed batch, in batch order (T = that sequence's length): the
    /// attention probabilities of layer <paramref name="layer"/>. Row h*T + i is head h's softmax over the keys for query
    /// position i; keys a query does not see (outside a sliding window, after it in a causal decoder) are 0.</summary>
    public static string AttentionProbabilities(int layer) => $"layer.{layer}.attention.probabilities";

    /// <summary>[N, H]: what the attention block adds to the residual stream (the output projection, bias included,
    /// before the residual add and any norm).</summary>
    public static string AttentionOutput(int layer) => $"layer.{layer}.attention.out";

    /// <summary>[N, H]: the residual stream after the attention block: LayerNorm(x + attention) in post-norm BERT,
    /// x + attention in the pre-norm families.</summary>
    public static string AttentionResidual(int layer) => $"layer.{layer}.attention.residual";

    /// <summary>[N, I]: the feed-forward block's activated intermediate: GELU(x W1) in BERT, GELU(input) * gate (GeGLU) in
    /// ModernBERT, SiLU(gate) * up (SwiGLU) in Qwen.</summary>
    public static string FeedForwardIntermediate(int layer) => $"layer.{layer}.ffn.intermediate";

    /// <summary>[N, H]: what the feed-forward block adds to the residual stream (its down projection, before the residual
    /// add and any norm).</summary>
    public static string FeedForwardOutput(int layer) => $"layer.{layer}.ffn.output";

    /// <summary>The per-layer tap names of one layer, formatted once at load so a tapped pass formats no strings.</summary>
    internal sealed class LayerNames(int layer)
    {
        public string AttentionProbabilities { get; } = ModelTaps.AttentionProbabilities(layer);
        public string AttentionOutput { get; } = ModelTaps.AttentionOutput(layer);
        public string AttentionResidual { get; } = ModelTaps.AttentionResidual(layer);
        public string FeedForwardIntermediate { get; } = ModelTaps.FeedForwardIntermediate(layer);
        public string FeedForwardOutput { get; } = ModelTaps.FeedForwardOutput(layer);
    }

    /// <summary>[B, H]: the vector the head's last projection reads, one row per sequence: BERT's pooled [CLS] (tanh(dense)),
    /// RoBERTa's and ELECTRA's <c>act(dense(first token))</c>, the input of a sentence-transformers chain's last Dense (e.g.
    /// the LayerNorm output of an Ettin reranker; its width may differ from H); for a chain without a Dense, the sentence
    /// vector itself.</summary>
    public const string HeadHidden = "head.hidden";

    /// <summary>[B, OutputSize]: what <see cref="ITransformerModel.Forward"/> returns.</summary>
    public const string Output = "output";
}

/// <summary>
/// Every activation buffer one forward pass of a family needs, allocated once (llama2.c's RunState), plus the packed input
/// batch. A workspace is used by one call at a time; each concurrent caller brings its own.
/// </summary>
internal abstract class ModelWorkspace(PackedBatch batch, int outputSize)
{
    /// <summary>The input sequences of the next forward pass.</summary>
    public PackedBatch Batch { get; } = batch;

    /// <summary>Width of one output row.</summary>
    public int OutputSize { get; } = outputSize;

    private float[] _tapScratch = [];

    /// <summary>A buffer of at least <paramref name="length"/> floats for what only a tapped pass computes (a sequence's
    /// attention probabilities, nH T^2): allocated on the first tapped pass that needs it and kept, never without a tap.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is larger than one array can be (a very long sequence's
    /// probabilities).</exception>
    internal Span<float> TapScratch(long length)
    {
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{length:N0} floats are too many to tap at once (at most {Array.MaxLength:N0}): use a shorter sequence.");
        if (_tapScratch.Length < length) _tapScratch = new float[length];
        return _tapScratch.AsSpan(0, (int)length);
    }

    /// <summary>Lets the tap scratch go (a pooled workspace must not keep a trace's nH T^2 floats).</summary>
    internal void ReleaseTapScratch() => _tapScratch = [];
}

/// <summary>
/// A decoder whose inputs may share a prefix (a reranker's prompt with the query): the prefix's keys and values are computed
/// once into the workspace (<see cref="ComputePrefix"/>), after which every sequence of the workspace's batch continues it
/// (its tokens sit at positions P, P + 1, ... and also attend to the prefix) until <see cref="ClearPrefix"/>. The outputs
/// are bit for bit those of the whole sequences computed from scratch.
/// </summary>
internal interface IPrefixCachingModel : ITransformerModel
{
    /// <summary>Runs <paramref name="prefixIds"/> through every layer, keeping only its keys and values, in the workspace's
    /// cache (its batch is used and left empty). Memory: L x P x 2 nKV dH floats.</summary>
    /// <exception cref="ArgumentException">The prefix is empty, too long for the workspace, or has an id outside the vocabulary.</exception>
    void ComputePrefix(ModelWorkspace workspace, ReadOnlySpan<int> prefixIds, CancellationToken cancellationToken = default);

    /// <summary>Forgets the prefix: later batches are whole sequences again.</summary>
    void ClearPrefix(ModelWorkspace workspace);
}

/// <summary>A decoder language model used as a reranker through a prompt (<see cref="RerankPrompt"/>): its inputs are built
/// by the prompt, its output is the answer tokens' logit difference at the last position.</summary>
internal interface IPromptedReranker : ITransformerModel
{
    /// <summary>The template and answer tokens.</summary>
    RerankPrompt Prompt { get; }
}
