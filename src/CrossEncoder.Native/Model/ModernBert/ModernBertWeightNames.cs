using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// The only place ModernBERT's Hugging Face tensor names appear (transformers' <c>modeling_modernbert.py</c> module tree).
/// A task model (<c>ModernBertForSequenceClassification</c>) keeps the encoder under <c>model.</c>; a bare
/// <c>ModernBertModel</c> (an embedding model, or the Transformer module of a sentence-transformers reranker) has no prefix.
/// </summary>
internal static class ModernBertWeightNames
{
    /// <summary>Prefix of the encoder inside a task model.</summary>
    public const string ModelPrefix = "model.";

    /// <summary>How ModernBERT checkpoints spell their tensors, for <see cref="WeightSource"/>.</summary>
    public static readonly TensorNaming Naming = new(ModelPrefix, name => [name], IsIgnorable);

    /// <summary>Heads this engine does not run: the masked-LM head and decoder of <c>ModernBertForMaskedLM</c>.</summary>
    public static bool IsIgnorable(string name) => name.StartsWith("decoder.", StringComparison.Ordinal);

    public static class Embeddings
    {
        public const string Token = "embeddings.tok_embeddings.weight";
        public const string Norm = "embeddings.norm";
    }

    /// <summary>Names inside <c>layers.{i}</c>.</summary>
    public readonly struct Layer(int index)
    {
        private string Scope => $"layers.{index}.";
        /// <summary>Pre-attention LayerNorm (absent on layer 0, where it is the identity).</summary>
        public string AttentionNorm => Scope + "attn_norm";
        /// <summary>Fused [3H, H] query | key | value projection.</summary>
        public string Wqkv => Scope + "attn.Wqkv";
        /// <summary>Attention output projection [H, H].</summary>
        public string AttentionOutput => Scope + "attn.Wo";
        public string MlpNorm => Scope + "mlp_norm";
        /// <summary>The gated input layer [2I, H]: rows [0, I) input, [I, 2I) gate.</summary>
        public string MlpInput => Scope + "mlp.Wi";
        public string MlpOutput => Scope + "mlp.Wo";
    }

    public const string FinalNorm = "final_norm";

    /// <summary><c>ModernBertPredictionHead</c> (outside the model prefix): dense -> activation -> norm.</summary>
    public static class Head
    {
        public const string Module = "head";
        public const string Dense = "head.dense";
        public const string Norm = "head.norm";
    }

    /// <summary>The classifier of <c>ModernBertForSequenceClassification</c> (always with a bias).</summary>
    public const string Classifier = "classifier";
}
