using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>Load-time settings of a <see cref="Reranker"/>: how big one forward pass may be. Runtime knobs, never model config.</summary>
public sealed record RerankerOptions
{
    /// <summary>The kernel paths and thread limit the model runs (null: the best this machine runs). Internal: tests force
    /// paths and the bench limits threads; users have no reason to choose.</summary>
    internal Kernels.KernelCapabilities? Capabilities { get; init; }

    /// <summary>Most tokens (specials included, over all pairs) one forward pass holds. Bounds memory: a workspace takes
    /// (6H + I) x 4 bytes per token, 15 KB for MiniLM-L6 (H 384, I 1536), so the default 8192 tokens is ~125 MB per concurrent
    /// call, plus nH x T^2 x 4 bytes of attention scratch. Raised to the maximum sequence length if smaller.</summary>
    public int MaxBatchTokens { get; init; } = 8192;

    /// <summary>Most pairs one forward pass holds.</summary>
    public int MaxBatchSequences { get; init; } = 128;

    /// <summary>Arithmetic of the encoder's linear layers: <see cref="Model.Precision.Fp32"/> (default), <see cref="Model.Precision.Int8"/>
    /// (quantized at load, or read from a folder written by <c>quantize</c>), or <see cref="Model.Precision.Auto"/>: int8 when a quick
    /// check against fp32 on built-in real text passes at load, else fp32 (see <see cref="Reranker.PrecisionNote"/>).</summary>
    public Model.Precision Precision { get; init; } = Model.Precision.Fp32;

    /// <summary>Receives one line when <see cref="Model.Precision.Auto"/> falls back to fp32 (and why), or when a folder written
    /// by <c>quantize</c> is loaded in <see cref="Model.Precision.Fp32"/>; null to stay silent.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The prompt a decoder reranker's inputs are built with: <c>qwen3-reranker</c> or <c>mxbai-rerank-v2</c>. Null (the
    /// default) recognises it from the folder or Hub name (Qwen3-Reranker-*, mxbai-rerank-*); a decoder whose name says neither
    /// needs it. Encoders ignore it.</summary>
    public string? Prompt { get; init; }

    /// <summary>The names <see cref="Prompt"/> accepts.</summary>
    public static IReadOnlyList<string> PromptNames { get; } = [.. Model.RerankPrompt.BuiltIn.Select(p => p.Name)];

    /// <summary>For decoder rerankers: compute the tokens every input of a call shares (the prompt's system turn, the
    /// instruction and the query) once, and run each document after their cached keys and values (true, the default); the
    /// scores are bit for bit those of computing every input whole (false), at a fraction of the cost.</summary>
    public bool CachePromptPrefix { get; init; } = true;

    /// <summary>Default <see cref="RerankOptions"/> for calls that pass none.</summary>
    public RerankOptions Defaults { get; init; } = new();

    /// <summary>How a Hub model id (<c>org/name[@revision]</c>) is downloaded and cached; null reads the environment
    /// (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME) as huggingface_hub does.</summary>
    public Hub.HubOptions? Hub { get; init; }
}

/// <summary>Per-call settings of <see cref="Reranker.Rerank"/>.</summary>
public sealed record RerankOptions
{
    /// <summary>Longest input in tokens, specials included; null means the model's limit (config max_position_embeddings,
    /// capped by tokenizer_config's model_max_length, 512 for BERT).</summary>
    public int? MaxLength { get; init; }

    /// <summary>How a (query, document) pair longer than <see cref="MaxLength"/> is cut; Hugging Face's default is longest-first.
    /// A decoder reranker always cuts the document first and keeps its prompt whole.</summary>
    public TruncationStrategy Truncation { get; init; } = TruncationStrategy.LongestFirst;

    /// <summary>The task instruction of an instruction-following decoder reranker: Qwen3-Reranker's <c>&lt;Instruct&gt;</c>
    /// (default "Given a web search query, retrieve relevant passages that answer the query"; its model card recommends
    /// writing one per task, in English), mxbai-rerank-v2's optional <c>instruction:</c> line. Encoders ignore it.</summary>
    public string? Instruction { get; init; }

    /// <summary>What happens to a document longer than what fits beside the query: <see cref="LongDocumentMode.Truncate"/>
    /// (the default: cut to <see cref="MaxLength"/>) or <see cref="LongDocumentMode.Chunk"/> (scored by its chunks; see
    /// <see cref="ChunkWindow"/>, <see cref="ChunkOverlap"/>, <see cref="ChunkAggregation"/>).</summary>
    public LongDocumentMode LongDocuments { get; init; } = LongDocumentMode.Truncate;

    /// <summary>Chunk mode: document tokens per chunk. Null (the default) is what fits beside the query within
    /// <see cref="MaxLength"/> (for a bi-encoder, which embeds each chunk alone, what fits in one sequence); a larger value is
    /// capped to that, so no chunk is ever truncated. When a long query leaves less than half the length, chunks get half
    /// and the query is cut as in truncate mode.</summary>
    public int? ChunkWindow { get; init; }

    /// <summary>Chunk mode: tokens a chunk repeats from the end of the previous one (0 to window - 1; default 0), so that
    /// a passage cut by a chunk boundary appears whole in one chunk.</summary>
    public int ChunkOverlap { get; init; }

    /// <summary>Chunk mode: how chunk scores become the document's score (default <see cref="Reranking.ChunkAggregation.Max"/>).</summary>
    public ChunkAggregation ChunkAggregation { get; init; } = ChunkAggregation.Max;

    /// <summary>Chunk mode with <see cref="Reranking.ChunkAggregation.TopKMean"/>: how many of the best chunks are averaged (default 3).</summary>
    public int ChunkTopK { get; init; } = 3;

    /// <summary>Chunk mode: the most chunks scored per document (default 32; 1 to 4096). It bounds the memory and compute a
    /// huge document costs: the tokens past the last chunk are not scored, and the result's
    /// <see cref="RerankResult.Truncation"/> counts them.</summary>
    public int MaxChunksPerDocument { get; init; } = 32;
}

/// <summary>How <see cref="Reranker"/> treats a document longer than what fits beside the query.</summary>
public enum LongDocumentMode
{
    /// <summary>Cut the pair to the maximum length (Hugging Face's behaviour): only the document's beginning is scored.</summary>
    Truncate,

    /// <summary>Split the document into chunks on token boundaries (preferring sentence ends), score every chunk against the
    /// query in the same batches, and aggregate; the result names the winning chunk's span.</summary>
    Chunk,
}

/// <summary>How chunk scores become a document's score (<see cref="RerankOptions.ChunkAggregation"/>).</summary>
public enum ChunkAggregation
{
    /// <summary>The best chunk's score (MaxP).</summary>
    Max,

    /// <summary>The mean of all chunks' scores.</summary>
    Mean,

    /// <summary>The first chunk's score (FirstP: like truncation, but only the first chunk is computed).</summary>
    First,

    /// <summary>The mean of the <see cref="RerankOptions.ChunkTopK"/> best chunks' scores.</summary>
    TopKMean,
}
