using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>Per-call settings of <see cref="Reranker.Explain(string, string, ExplainOptions?, CancellationToken)"/>.</summary>
public sealed record ExplainOptions
{
    /// <summary>Longest input in tokens, specials included, as <see cref="RerankOptions.MaxLength"/>; null means the model's limit.
    /// Words past it get no attribution.</summary>
    public int? MaxLength { get; init; }

    /// <summary>A decoder reranker's task instruction, as <see cref="RerankOptions.Instruction"/>; encoders ignore it.</summary>
    public string? Instruction { get; init; }

    /// <summary>Also occlude each query word (one more sequence per query word; default true).</summary>
    public bool QueryWords { get; init; } = true;

    /// <summary>Also occlude each sentence of the document (one more sequence per sentence; default true).</summary>
    public bool Sentences { get; init; } = true;

    /// <summary>Also report the scoring token's attention per layer and head (one more forward pass of the pair; default false).</summary>
    public bool Attention { get; init; }
}

/// <summary>
/// A word or sentence of the original text and its occlusion attribution: how much the score drops when it is removed
/// (positive: it raises the score; negative: the score is higher without it).
/// </summary>
/// <param name="Start">First UTF-16 unit in the original text.</param>
/// <param name="Length">UTF-16 units; <c>text.Substring(Start, Length)</c> is <paramref name="Text"/>.</param>
/// <param name="Text">The word or sentence exactly as in the original text.</param>
/// <param name="Attribution">Score of the text minus the score without this span (in the model's score units: sigmoid
/// probability, cosine, or logit for an identity head); null when the span lies past the truncation point (the model never
/// read it).</param>
/// <param name="LogitAttribution">The same drop in logits (for a bi-encoder, the cosine again); null past the truncation point.</param>
public sealed record AttributedSpan(int Start, int Length, string Text, float? Attribution, float? LogitAttribution)
{
    /// <summary>True when the span lies (wholly or partly) past the truncation point and has no attribution.</summary>
    public bool BeyondTruncation => Attribution is null;
}

/// <summary>
/// Why one (query, document) pair got its score, by occlusion: each word (and sentence) of the document and each query word
/// is removed in turn from the original text and the pair scored again, all variants in one packed batch.
/// </summary>
public sealed class Explanation
{
    internal Explanation() { }

    /// <summary>The query as given.</summary>
    public required string Query { get; init; }

    /// <summary>The document as given; every span indexes into it.</summary>
    public required string Document { get; init; }

    /// <summary>The pair's score, exactly what <see cref="Reranker.Rerank"/> returns for it.</summary>
    public required float Score { get; init; }

    /// <summary>The pair's logit (the cosine for a bi-encoder), as <see cref="RerankResult.Logit"/>.</summary>
    public required float Logit { get; init; }

    /// <summary>The score the drops are measured from: <see cref="Score"/> unless the pair was truncated, then the score of
    /// the query and document cut after their last whole word the model reads (a cut inside a word leaves part of it, which
    /// no occlusion could remove).</summary>
    public required float BaselineScore { get; init; }

    /// <summary>The logit the logit drops are measured from (see <see cref="BaselineScore"/>).</summary>
    public required float BaselineLogit { get; init; }

    /// <summary>How many tokens of the query and document were cut to fit the maximum length.</summary>
    public required TruncationInfo Truncation { get; init; }

    /// <summary>Every word of the document, in order, with its attribution.</summary>
    public required IReadOnlyList<AttributedSpan> DocumentWords { get; init; }

    /// <summary>Every sentence of the document, in order (empty when <see cref="ExplainOptions.Sentences"/> is false).</summary>
    public required IReadOnlyList<AttributedSpan> DocumentSentences { get; init; }

    /// <summary>Every word of the query, in order (empty when <see cref="ExplainOptions.QueryWords"/> is false).</summary>
    public required IReadOnlyList<AttributedSpan> QueryWords { get; init; }

    /// <summary>Sequences the one batched call ran (the pair, its cut baseline when truncated, one per occluded span; for a
    /// bi-encoder the query and document embeddings and one per variant).</summary>
    public required int SequencesScored { get; init; }

    /// <summary>Tokens over those sequences, specials included: the compute the explanation cost.</summary>
    public required int TokensScored { get; init; }

    /// <summary>The scoring token's attention per layer and head, when <see cref="ExplainOptions.Attention"/> asked for it.</summary>
    public ScoringAttention? Attention { get; init; }
}

/// <summary>Where an input token of the attention report comes from.</summary>
public enum TokenSource
{
    /// <summary>A special or template token ([CLS], [SEP], a decoder prompt's fixed text).</summary>
    Special,
    /// <summary>A token of the query.</summary>
    Query,
    /// <summary>A token of the document.</summary>
    Document,
}

/// <summary>One input token of the attention report.</summary>
/// <param name="Text">The token string as the tokenizer spells it.</param>
/// <param name="Source">Query, document, or special/template.</param>
/// <param name="Start">First UTF-16 unit of the word the token belongs to in the query or document text; null for a special token.</param>
/// <param name="Length">That word's length in UTF-16 units; null for a special token.</param>
public sealed record AttentionToken(string Text, TokenSource Source, int? Start, int? Length);

/// <summary>
/// The attention row of the token the score is read at ([CLS] for an encoder, the last token for a decoder) in every layer
/// and head, over the input tokens. Reported as data: attention weights say where a head looked, not why the score is what
/// it is (values are mixed and transformed after attention, and heads are combined); use the occlusion attributions of
/// <see cref="Explanation"/> to explain a score. For a bi-encoder it is the document's own sequence ([CLS] of the document
/// embedding), which mean pooling does not single out either.
/// </summary>
public sealed class ScoringAttention
{
    internal ScoringAttention(int layers, int heads, AttentionToken[] tokens, float[] weights, int scoringPosition)
    {
        Layers = layers;
        Heads = heads;
        Tokens = tokens;
        _weights = weights;
        ScoringPosition = scoringPosition;
    }

    private readonly float[] _weights;   // [L, nH, T]

    /// <summary>Number of layers (L).</summary>
    public int Layers { get; }

    /// <summary>Attention heads per layer (nH).</summary>
    public int Heads { get; }

    /// <summary>The input tokens (T), in order.</summary>
    public IReadOnlyList<AttentionToken> Tokens { get; }

    /// <summary>Index in <see cref="Tokens"/> of the token whose row is reported.</summary>
    public int ScoringPosition { get; }

    /// <summary>The weight head <paramref name="head"/> of layer <paramref name="layer"/> gives token <paramref name="token"/>
    /// from the scoring token (each (layer, head) row sums to 1 over the tokens).</summary>
    public float Weight(int layer, int head, int token) => _weights[(layer * Heads + head) * Tokens.Count + token];

    /// <summary>The row of one (layer, head): [T] weights over <see cref="Tokens"/>.</summary>
    public ReadOnlySpan<float> Row(int layer, int head) => _weights.AsSpan((layer * Heads + head) * Tokens.Count, Tokens.Count);
}

/// <summary>
/// One explanation's variants, tokenized by <see cref="Reranker.EncodeExplanation"/>: run <see cref="Inputs"/>' sequences
/// through <see cref="Reranker.Forward"/> (possibly batched with other requests) and read them back with
/// <see cref="Reranker.ScoreExplanation"/>.
/// </summary>
public sealed class ExplanationInputs
{
    internal ExplanationInputs() { }

    /// <summary>The sequences to run (their <see cref="RerankInputs.TokenCount"/> is the cost).</summary>
    public required RerankInputs Inputs { get; init; }

    internal string Query { get; init; } = "";
    internal string Document { get; init; } = "";
    internal TruncationInfo Truncation { get; init; }
    internal List<(int Start, int Length)> DocumentWords { get; init; } = [];
    internal List<(int Start, int Length)> Sentences { get; init; } = [];
    internal List<(int Start, int Length)> QueryWords { get; init; } = [];

    /// <summary>Per scored item (0 the pair, 1 the baseline, then the document words, sentences and query words): the output
    /// row it reads, or -1 when the item is past the truncation point.</summary>
    internal int[] Rows { get; init; } = [];

    /// <summary>For a bi-encoder, the row of the other side of each item's cosine (the query for a document variant, the
    /// document for a query variant); null for a model that scores pairs.</summary>
    internal int[]? PartnerRows { get; init; }
}
