namespace CrossEncoder.Native.Model;

/// <summary>The arithmetic of the encoder's linear layers.</summary>
public enum Precision
{
    /// <summary>Every layer in 32-bit float.</summary>
    Fp32,
    /// <summary>
    /// Encoder linear layers (Q, K, V, attention output, FFN up, FFN down) as integer products: weights int8 per output channel,
    /// activations 12-bit per token, exact int32 accumulation; the word-embedding table stored as 8-bit per row. Attention, softmax,
    /// LayerNorm, GELU, pooler and head stay fp32.
    /// </summary>
    Int8,
    /// <summary>Int8 when a quick accuracy check on built-in real text passes at load, otherwise fp32 (resolved by the Reranker).</summary>
    Auto,
}
