using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// The only place Hugging Face tensor names appear. Names follow <c>modeling_bert.py</c>'s module tree and are built from
/// scoped prefixes; <see cref="WeightSource"/> resolves them against a checkpoint, accepting the known aliases.
/// </summary>
internal static class BertWeightNames
{
    /// <summary>Prefix under which task models (<c>BertForSequenceClassification</c>) keep the encoder.</summary>
    public const string ModelPrefix = "bert.";

    /// <summary>The encoder's prefix in a task model of each family: <c>bert.</c>, <c>roberta.</c> (XLM-RoBERTa too), <c>electra.</c>.</summary>
    public static string ModelPrefixOf(EncoderFamily family) => family switch
    {
        EncoderFamily.Roberta => "roberta.",
        EncoderFamily.Electra => "electra.",
        _ => ModelPrefix,
    };

    /// <summary>How a checkpoint of <paramref name="family"/> spells its tensors, for <see cref="WeightSource"/>.</summary>
    public static TensorNaming NamingOf(EncoderFamily family) => new(ModelPrefixOf(family), Aliases, IsIgnorable);

    /// <summary>Tensors that are buffers, not parameters, or heads this engine does not run: skipped, never reported as unexpected.</summary>
    public static bool IsIgnorable(string name) =>
        name.EndsWith("position_ids", StringComparison.Ordinal) ||       // a registered buffer: arange(max_positions)
        name.StartsWith("cls.", StringComparison.Ordinal) ||             // pre-training heads (MLM / NSP) of BertForPreTraining
        name.StartsWith("lm_head.", StringComparison.Ordinal) ||         // RobertaForMaskedLM's head
        name.StartsWith("generator_", StringComparison.Ordinal) ||       // ELECTRA pre-training: the generator's head
        name.StartsWith("discriminator_predictions.", StringComparison.Ordinal);   // ELECTRA pre-training: replaced-token head

    /// <summary>Old TensorFlow-era checkpoints name LayerNorm parameters gamma/beta.</summary>
    public static IEnumerable<string> Aliases(string name)
    {
        yield return name;
        if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) yield return name[..^"weight".Length] + "gamma";
        if (name.EndsWith("LayerNorm.bias", StringComparison.Ordinal)) yield return name[..^"bias".Length] + "beta";
    }

    public static class Embeddings
    {
        private const string Scope = "embeddings.";
        public const string Word = Scope + "word_embeddings.weight";
        public const string Position = Scope + "position_embeddings.weight";
        public const string TokenType = Scope + "token_type_embeddings.weight";
        public const string LayerNorm = Scope + "LayerNorm";
    }

    /// <summary>Names inside <c>encoder.layer.{i}</c>.</summary>
    public readonly struct Layer(int index)
    {
        private string Scope => $"encoder.layer.{index}.";
        public string Query => Scope + "attention.self.query";
        public string Key => Scope + "attention.self.key";
        public string Value => Scope + "attention.self.value";
        public string AttentionOutput => Scope + "attention.output.dense";
        public string AttentionLayerNorm => Scope + "attention.output.LayerNorm";
        public string Intermediate => Scope + "intermediate.dense";
        public string Output => Scope + "output.dense";
        public string OutputLayerNorm => Scope + "output.LayerNorm";
    }

    public const string Pooler = "pooler.dense";

    /// <summary>The pooler module as a whole (its dense weight and bias).</summary>
    public const string PoolerModule = "pooler";

    /// <summary>ELECTRA's projection from the embedding width E to the hidden width H (present only when they differ).</summary>
    public const string EmbeddingsProject = "embeddings_project";

    /// <summary>The two-layer head of RobertaForSequenceClassification / ElectraForSequenceClassification (outside the model prefix).</summary>
    public static class ClassificationHead
    {
        public const string Dense = "classifier.dense";
        public const string OutProj = "classifier.out_proj";
    }

    /// <summary>BertForSequenceClassification's head (outside the <c>bert.</c> scope).</summary>
    public const string Classifier = "classifier";

}
