using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Qwen;

/// <summary>
/// The only place the Hugging Face tensor names of Qwen2 / Qwen3 appear (transformers' <c>modeling_qwen2.py</c> and
/// <c>modeling_qwen3.py</c>). <c>Qwen3ForCausalLM</c> keeps the decoder under <c>model.</c> and its LM head at the top level
/// (<c>lm_head.weight</c>, absent when tied to the embeddings); a bare <c>Qwen3Model</c> (Qwen3-Embedding) has no prefix.
/// </summary>
internal static class QwenWeightNames
{
    public const string ModelPrefix = "model.";

    /// <summary>How Qwen checkpoints spell their tensors, for <see cref="WeightSource"/>. transformers drops rotary
    /// <c>inv_freq</c> buffers from checkpoints, but older exports carry them.</summary>
    public static readonly TensorNaming Naming = new(ModelPrefix, name => [name], name => name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal));

    /// <summary>[V, H] token embeddings (and the LM head when tied).</summary>
    public const string TokenEmbeddings = "embed_tokens.weight";

    /// <summary>The final RMSNorm.</summary>
    public const string FinalNorm = "norm";

    /// <summary>[V, H] LM head of a causal LM with untied embeddings (outside the model prefix).</summary>
    public const string LanguageModelHead = "lm_head.weight";

    /// <summary>Names inside <c>layers.{i}</c>.</summary>
    public readonly struct Layer(int index)
    {
        private string Scope => $"layers.{index}.";
        public string InputNorm => Scope + "input_layernorm";
        public string Query => Scope + "self_attn.q_proj";
        public string Key => Scope + "self_attn.k_proj";
        public string Value => Scope + "self_attn.v_proj";
        public string Output => Scope + "self_attn.o_proj";
        /// <summary>Qwen3: RMSNorm [dH] over each query head.</summary>
        public string QueryNorm => Scope + "self_attn.q_norm";
        /// <summary>Qwen3: RMSNorm [dH] over each key head.</summary>
        public string KeyNorm => Scope + "self_attn.k_norm";
        public string PostAttentionNorm => Scope + "post_attention_layernorm";
        public string Gate => Scope + "mlp.gate_proj";
        public string Up => Scope + "mlp.up_proj";
        public string Down => Scope + "mlp.down_proj";
    }
}
