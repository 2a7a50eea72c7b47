using System.Collections.Immutable;

namespace CrossEncoder.Native.Model;

/// <summary>What a model's output means.</summary>
public enum ModelKind
{
    /// <summary>A sequence classifier (<c>*ForSequenceClassification</c>, or a sentence-transformers CrossEncoder): one logit
    /// per label for a (query, document) pair read together.</summary>
    CrossEncoder,
    /// <summary>An encoder with sentence pooling: one embedding per text; relevance is the cosine of two embeddings.</summary>
    BiEncoder,
}

/// <summary>How a model's raw output becomes the relevance score a result reports.</summary>
public enum ScoreTransform
{
    /// <summary>sigmoid(logit): a cross-encoder's default (sentence-transformers' CrossEncoder with one label).</summary>
    Sigmoid,
    /// <summary>The logit itself: the model declares an identity activation (<c>activation_fn: torch.nn.Identity</c>).</summary>
    Identity,
    /// <summary>cosine(query embedding, document embedding): a bi-encoder.</summary>
    Cosine,
}

/// <summary>
/// A loaded model as the rest of the library sees it: which family and architecture it is, what its output means, and its
/// limits. Read from <c>config.json</c> (and the sentence-transformers files) by the loader; the same for every family.
/// </summary>
public sealed record ModelDescription
{
    /// <summary>The family that runs the checkpoint: <c>bert</c> (BERT), <c>roberta</c> (RoBERTa, XLM-RoBERTa), <c>electra</c>.</summary>
    public required string Family { get; init; }

    /// <summary>Hugging Face <c>model_type</c> from config.json, e.g. <c>bert</c>, <c>xlm-roberta</c>.</summary>
    public required string ModelType { get; init; }

    /// <summary>Hugging Face class names from config.json, e.g. <c>BertForSequenceClassification</c>.</summary>
    public ImmutableArray<string> Architectures { get; init; } = ImmutableArray<string>.Empty;

    /// <summary>Cross-encoder (pairs read together) or bi-encoder (embeddings compared by cosine).</summary>
    public required ModelKind Kind { get; init; }

    /// <summary>Width of one output row: the number of labels (cross-encoder) or the embedding width (bi-encoder).</summary>
    public required int OutputSize { get; init; }

    /// <summary>The longest sequence the model's positions cover, special tokens included.</summary>
    public required int MaxSequenceLength { get; init; }

    /// <summary>Rows of the token-embedding table (V): the largest token id plus one.</summary>
    public required int VocabularySize { get; init; }

    /// <summary>Rows of the token-type (segment) table; 1 when the model reads no token types (RoBERTa).</summary>
    public int TypeVocabularySize { get; init; } = 1;

    /// <summary>Width of the hidden states (H).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Number of transformer layers (L).</summary>
    public required int Layers { get; init; }

    /// <summary>Fp32 or Int8: the arithmetic the model's linear layers run in.</summary>
    public required Precision Precision { get; init; }

    /// <summary>How the raw output becomes a score.</summary>
    public required ScoreTransform ScoreTransform { get; init; }

    /// <summary>How a decoder reranker's score is read from the model, in words (e.g. <c>sigmoid(logit("yes") - logit("no"))
    /// at the last position of the qwen3-reranker prompt</c>); null for encoders, whose head is the score.</summary>
    public string? ScoringRule { get; init; }

    /// <summary>The prompt template a decoder reranker's inputs are built with (<c>qwen3-reranker</c>, <c>mxbai-rerank-v2</c>);
    /// null for encoders.</summary>
    public string? Prompt { get; init; }
}
