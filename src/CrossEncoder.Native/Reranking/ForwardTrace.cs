using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>
/// One forward pass of one (query, document) pair, stage by stage, as <see cref="Reranker.Trace"/> records it: the tokens,
/// the embedding, every layer's attention and feed-forward block with their shapes, norms and times, the tokens the scoring
/// position attends to, the head and the final score (the score <see cref="Reranker.Rerank"/> gives the pair). A learning
/// and debugging view: the pass runs with every intermediate reported, so it is slower than scoring.
/// </summary>
public sealed class ForwardTrace
{
    /// <summary>The model that ran: family, kind, widths, precision, score transform.</summary>
    public required ModelDescription Model { get; init; }

    /// <summary>The sequences the model ran: one for a cross-encoder (the pair, or a decoder's prompt), two for a bi-encoder
    /// (the query, then the document, embedded on their own).</summary>
    public required IReadOnlyList<SequenceTrace> Sequences { get; init; }

    /// <summary>The pair's score, as <see cref="Reranker.Rerank"/> returns it.</summary>
    public required float Score { get; init; }

    /// <summary>The raw output the score comes from: the logit (a decoder: the answer tokens' logit difference), or the cosine.</summary>
    public required float Logit { get; init; }

    /// <summary>How <see cref="Score"/> is made from the outputs, in words: <c>sigmoid(logit)</c>, <c>logit</c>, or
    /// <c>cosine(query, document)</c>.</summary>
    public required string ScoreRule { get; init; }

    /// <summary>Tokens cut from the query and the document to fit the maximum length.</summary>
    public required TruncationInfo Truncation { get; init; }

    /// <summary>Time spent tokenizing (and building the prompt).</summary>
    public required TimeSpan TokenizeTime { get; init; }
}

/// <summary>One sequence's forward pass, stage by stage.</summary>
public sealed class SequenceTrace
{
    /// <summary>What the sequence is: <c>pair</c> (an encoder's [CLS] query [SEP] document [SEP]), <c>prompt</c> (a decoder
    /// reranker's template around both), <c>query</c> or <c>document</c> (a bi-encoder's separate texts).</summary>
    public required string Role { get; init; }

    /// <summary>The tokens the model reads, special tokens included.</summary>
    public required IReadOnlyList<TracedToken> Tokens { get; init; }

    /// <summary>The position whose attention <see cref="LayerTrace.TopAttended"/> reports: the first token ([CLS]) of an
    /// encoder, the last token of a decoder (the one it scores or pools).</summary>
    public required int FocusPosition { get; init; }

    /// <summary>Why <see cref="FocusPosition"/> is that token, in words.</summary>
    public required string FocusRule { get; init; }

    /// <summary>The hidden states entering the first layer, [T, H].</summary>
    public required TraceStage Embeddings { get; init; }

    /// <summary>Every layer, first to last.</summary>
    public required IReadOnlyList<LayerTrace> Layers { get; init; }

    /// <summary>What follows the layers, in order: a final norm, a pooler, the vector the last projection reads
    /// (<c>head.hidden</c>), and the output.</summary>
    public required IReadOnlyList<TraceStage> Head { get; init; }

    /// <summary>The sequence's output row: one logit, or the embedding.</summary>
    public required IReadOnlyList<float> Output { get; init; }

    /// <summary>Wall time of the whole (tapped) forward pass, the recording included.</summary>
    public required TimeSpan Elapsed { get; init; }
}

/// <summary>One token of a traced sequence.</summary>
/// <param name="Position">Index in the sequence.</param>
/// <param name="Id">Vocabulary id.</param>
/// <param name="TypeId">Token type (segment) id: 0 for the query, 1 for the document in BERT pairs; 0 elsewhere.</param>
/// <param name="Text">The token as the vocabulary spells it (e.g. <c>##ing</c>, <c>▁wing</c>, <c>Ġwing</c>).</param>
public readonly record struct TracedToken(int Position, int Id, int TypeId, string Text);

/// <summary>
/// One intermediate tensor of the pass: its name, shape, size and how long the step that made it took.
/// </summary>
/// <param name="Name">The stable tap name (e.g. <c>layer.3.ffn.output</c>; see the tour, docs/tour.md).</param>
/// <param name="Rows">Rows: tokens T (or nH*T for attention probabilities, 1 for a head vector).</param>
/// <param name="Columns">Columns: H, I, T or the output width.</param>
/// <param name="MeanNorm">Mean Euclidean norm of the rows.</param>
/// <param name="FocusNorm">Norm of the focus position's row (of a one-row tensor: that row; of attention probabilities:
/// the focus query's weights averaged over heads: 1 when all weight is on one key, 1/sqrt(T) when spread evenly).</param>
/// <param name="FocusValues">The first values (up to 8) of that row.</param>
/// <param name="Elapsed">Time from the previous stage to this one: the work that produced this tensor.</param>
public sealed record TraceStage(string Name, int Rows, int Columns, double MeanNorm, double FocusNorm, IReadOnlyList<float> FocusValues, TimeSpan Elapsed);

/// <summary>One layer of a traced pass.</summary>
public sealed class LayerTrace
{
    /// <summary>0-based layer index.</summary>
    public required int Index { get; init; }

    /// <summary>nH, the attention heads.</summary>
    public required int Heads { get; init; }

    /// <summary>The attention probabilities [nH*T, T] (time: the Q/K/V projection, rotary where the model has it, the softmax).</summary>
    public required TraceStage Probabilities { get; init; }

    /// <summary>The attention block's output [T, H] before the residual add (time: weights times values, output projection).</summary>
    public required TraceStage Attention { get; init; }

    /// <summary>The residual stream after the attention block [T, H] (time: the residual add, and BERT's LayerNorm).</summary>
    public required TraceStage AttentionResidual { get; init; }

    /// <summary>The feed-forward block's activated intermediate [T, I] (time: the norm of pre-norm models, the up projection and
    /// its GELU / GeGLU / SwiGLU).</summary>
    public required TraceStage FeedForwardIntermediate { get; init; }

    /// <summary>The feed-forward block's output [T, H] before the residual add (time: the down projection).</summary>
    public required TraceStage FeedForward { get; init; }

    /// <summary>The residual stream leaving the layer [T, H] (time: the residual add, and BERT's LayerNorm).</summary>
    public required TraceStage Output { get; init; }

    /// <summary>The keys the focus position weights most, averaged over heads, best first.</summary>
    public required IReadOnlyList<AttendedToken> TopAttended { get; init; }

    /// <summary>Per head, the key the focus position weights most.</summary>
    public required IReadOnlyList<AttendedToken> HeadTop { get; init; }

    /// <summary>The focus position's attention weights, [nH][T].</summary>
    public required IReadOnlyList<IReadOnlyList<float>> FocusAttention { get; init; }

    /// <summary>The layer's time, all its stages.</summary>
    public TimeSpan Elapsed => Probabilities.Elapsed + Attention.Elapsed + AttentionResidual.Elapsed + FeedForwardIntermediate.Elapsed + FeedForward.Elapsed + Output.Elapsed;
}

/// <summary>A key the focus position attends to.</summary>
/// <param name="Position">The key's position.</param>
/// <param name="Text">The key's token.</param>
/// <param name="Weight">Its attention weight (averaged over heads, or of one head).</param>
/// <param name="Head">The head, or -1 for the average over heads.</param>
public readonly record struct AttendedToken(int Position, string Text, float Weight, int Head);
