using System.Text.Json.Serialization;

namespace CrossEncoder.Server;

// Request and response shapes of the three APIs, for serialization (snake_case) and the OpenAPI document. Bodies are read
// field by field (Json.cs) so a bad field gets a precise 422; these records say what the fields are.

/// <summary>TEI <c>POST /rerank</c> request (router/src/http/types.rs RerankRequest; https://huggingface.github.io/text-embeddings-inference/#/Text%20Embeddings%20Inference/rerank).</summary>
public sealed record TeiRerankRequest(string Query, string[] Texts, bool? Truncate = null, string? TruncationDirection = "right", bool RawScores = false, bool ReturnText = false,
    string? LongDocuments = null, int? ChunkWindow = null, int? ChunkOverlap = null, string? ChunkAggregation = null);

// Long documents (this server's extra fields on all three rerank routes, never changes to the APIs' own): "long_documents":
// "truncate" (the default: the APIs' behaviour) or "chunk", with "chunk_window" (document tokens per chunk; default what fits
// beside the query), "chunk_overlap" (tokens, default 0) and "chunk_aggregation" (max | mean | first | topk:K). In chunk
// mode every result also carries "chunks" (how many the document was cut into) and "chunk" (the winning one).

/// <summary>The winning chunk of a document in chunk mode: <c>text</c> is <c>document[start..end]</c>, the offsets in UTF-16
/// code units (JavaScript string indices); <c>score</c> and <c>logit</c> are the chunk's own.</summary>
public sealed record ChunkInfo(int Ordinal, int Start, int End, float Score, float Logit, string Text);

/// <summary>One TEI rank: <c>{index, score, text?}</c>; the response is an array sorted by score, best first.</summary>
public sealed record TeiRank(int Index, float Score, string? Text = null, int? Chunks = null, ChunkInfo? Chunk = null);

/// <summary>TEI <c>POST /embed</c> request: <c>inputs</c> is a string or an array of strings; the response is an array of vectors.</summary>
public sealed record TeiEmbedRequest(string[] Inputs, bool? Truncate = null, bool Normalize = true);

/// <summary>TEI's error body: <c>{error, error_type}</c> (router/src/lib.rs ErrorResponse).</summary>
public sealed record TeiError(string Error, string ErrorType);

/// <summary>Cohere v2 rerank request (https://docs.cohere.com/reference/rerank).</summary>
public sealed record CohereV2RerankRequest(string Model, string Query, string[] Documents, int? TopN = null, int? MaxTokensPerDoc = null,
    string? LongDocuments = null, int? ChunkWindow = null, int? ChunkOverlap = null, string? ChunkAggregation = null);

/// <summary>Cohere v2 rerank response: <c>{id, results: [{index, relevance_score}], meta}</c>.</summary>
public sealed record CohereV2RerankResponse(string Id, CohereResult[] Results, CohereMeta Meta);

/// <summary>One Cohere or Jina result; <c>document</c> only when asked for (v1 / Jina <c>return_documents</c>).</summary>
public sealed record CohereResult(int Index, float RelevanceScore, DocumentText? Document = null, int? Chunks = null, ChunkInfo? Chunk = null);

/// <summary><c>{text}</c>, as Cohere v1 and Jina return a document.</summary>
public sealed record DocumentText(string Text);

/// <summary>Cohere's <c>meta</c>: API version and billed units (one search unit per request of up to 100 documents).</summary>
public sealed record CohereMeta(CohereApiVersion ApiVersion, CohereBilledUnits BilledUnits);

/// <summary>Cohere's <c>meta.api_version</c>.</summary>
public sealed record CohereApiVersion(string Version);

/// <summary>Cohere's <c>meta.billed_units</c>.</summary>
public sealed record CohereBilledUnits(int SearchUnits);

/// <summary>Jina <c>POST /v1/rerank</c> request (https://jina.ai/reranker/ API, https://api.jina.ai/redoc), which Cohere v1
/// clients also send (https://docs.cohere.com/v1/reference/rerank): documents are strings or <c>{text}</c>.</summary>
public sealed record JinaRerankRequest(string Model, string Query, object[] Documents, int? TopN = null, bool ReturnDocuments = true,
    string? LongDocuments = null, int? ChunkWindow = null, int? ChunkOverlap = null, string? ChunkAggregation = null);

/// <summary>Jina's response <c>{model, usage: {total_tokens}, results}</c>, plus Cohere v1's <c>id</c> and <c>meta</c> so both clients parse it.</summary>
public sealed record JinaRerankResponse(string Id, string Model, JinaUsage Usage, CohereResult[] Results, CohereMeta Meta);

/// <summary>Jina's <c>usage</c>.</summary>
public sealed record JinaUsage(int TotalTokens);

/// <summary><c>GET /info</c>: the model and the server's limits (field names after TEI's Info where one exists).</summary>
public sealed record ServerInfo(string ModelId, string ModelKind, string ModelType, string ModelDtype, int MaxInputLength, int MaxBatchTokens,
    int MaxClientBatchSize, int MaxConcurrentRequests, long MaxRequestBodyBytes, int ForwardPassesInFlight, bool AutoTruncate, string? CompareModelId,
    string? CompareModelKind, string Version, string ScoreTransform, string? ScoringRule = null, string? Prompt = null, string LongDocuments = "truncate",
    string? ChunkAggregation = null);

/// <summary><c>POST /explain</c> request: one (query, document) pair; the document as <c>document</c> or <c>text</c>.</summary>
public sealed record ExplainRequest(string Query, string? Document = null, string? Text = null, bool? Truncate = null, int? MaxLength = null, string? Instruction = null,
    bool Sentences = true, bool QueryWords = true);

/// <summary>A word or sentence with its occlusion attribution (score minus the score without it); <c>start</c>/<c>length</c>
/// count UTF-16 code units (JavaScript string indices); attribution null when it lies past the truncation point.</summary>
public sealed record ExplainSpan(string Text, int Start, int Length,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] float? Attribution,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] float? LogitAttribution, bool BeyondTruncation);

/// <summary><c>POST /explain</c> response: the pair's score and the attribution of every document word, sentence and query word.</summary>
public sealed record ExplainResponse(float Score, float Logit, float BaselineScore, bool Truncated, int QueryTokensRemoved, int DocumentTokensRemoved,
    ExplainSpan[] Words, ExplainSpan[] Sentences, ExplainSpan[] QueryWords, int SequencesScored, int TokensScored, string Offsets = "utf-16");
