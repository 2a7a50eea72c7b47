namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// Every file and tensor name of a sentence-transformers module chain, in one place. A folder lists its modules in
/// <c>modules.json</c> (<c>[{"idx", "name", "path", "type"}, ...]</c>, in order); each module after the Transformer lives in
/// its own folder (<c>path</c>, e.g. <c>2_Dense</c>) with a <c>config.json</c> and, when it has parameters, a
/// <c>model.safetensors</c> holding its <c>torch.nn.Module</c> state dict (older saves: <c>pytorch_model.bin</c>).
/// </summary>
internal static class SentenceTransformersWeightNames
{
    /// <summary>The ordered module list at the folder's root.</summary>
    public const string ModulesFile = "modules.json";

    /// <summary>The model-level settings at the root: <c>model_type</c> (<c>SentenceTransformer</c> or <c>CrossEncoder</c>),
    /// <c>activation_fn</c> (a CrossEncoder's score activation), prompts.</summary>
    public const string ModelConfigFile = "config_sentence_transformers.json";

    /// <summary>A module folder's settings.</summary>
    public const string ModuleConfigFile = "config.json";

    /// <summary>A module folder's weights.</summary>
    public const string ModuleWeightsFile = "model.safetensors";

    /// <summary>The pickled weights of older saves, which this engine never loads.</summary>
    public const string ModulePickleFile = "pytorch_model.bin";

    /// <summary>Dense: <c>self.linear = nn.Linear(in_features, out_features, bias)</c>, so <c>linear.weight</c> [out, in] and
    /// <c>linear.bias</c> [out].</summary>
    public const string DenseLinear = "linear";

    /// <summary>LayerNorm: <c>self.norm = nn.LayerNorm(dimension)</c>, so <c>norm.weight</c> [dim] and <c>norm.bias</c> [dim].</summary>
    public const string LayerNormNorm = "norm";

    /// <summary>torch.nn.LayerNorm's default epsilon, which the module never overrides.</summary>
    public const double LayerNormEps = 1e-5;

    /// <summary>The class name of a module type, whichever package path names it: the 2.x-4.x
    /// <c>sentence_transformers.models.Dense</c> and the 5.x <c>sentence_transformers.base.modules.dense.Dense</c> /
    /// <c>sentence_transformers.sentence_transformer.modules.pooling.Pooling</c> are both <c>Dense</c> / <c>Pooling</c>; null
    /// for a type outside the sentence_transformers package.</summary>
    public static string? ModuleClass(string type) =>
        type.StartsWith("sentence_transformers.", StringComparison.Ordinal) ? type[(type.LastIndexOf('.') + 1)..] : null;
}
