using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>
/// A request's model inputs, tokenized by <see cref="Reranker.Encode"/>: what a scheduler batches (possibly together with
/// other requests' sequences) through <see cref="Reranker.Forward"/>, and what <see cref="Reranker.Score"/> reads back.
/// </summary>
public sealed class RerankInputs
{
    internal RerankInputs(EncodedPair[] sequences, int documentCount, bool byCosine)
    {
        Sequences = sequences;
        DocumentCount = documentCount;
        ByCosine = byCosine;
        foreach (var sequence in sequences) TokenCount += sequence.Length;
    }

    /// <summary>The sequences the model must run: one (query, document) pair per document for a cross-encoder; the query
    /// followed by each document on its own for a bi-encoder.</summary>
    public IReadOnlyList<EncodedPair> Sequences { get; }

    /// <summary>How many documents were encoded.</summary>
    public int DocumentCount { get; }

    /// <summary>Tokens over all <see cref="Sequences"/>, specials included: the compute this request costs.</summary>
    public int TokenCount { get; }

    internal bool ByCosine { get; }

    /// <summary>Chunk mode: where each document's chunks are among <see cref="Sequences"/>; null in truncate mode.</summary>
    internal ChunkLayout? Chunks { get; init; }

    /// <summary>Chunk sequences the model must run (<see cref="LongDocumentMode.Chunk"/>), or 0 in truncate mode.</summary>
    public int ChunkSequenceCount => Chunks?.Spans.Length ?? 0;
}

public sealed partial class Reranker
{
    /// <summary>Floats one sequence's output row holds in <see cref="Forward"/>'s output: 1 (the logit) for a cross-encoder, the
    /// embedding width for a bi-encoder.</summary>
    public int OutputSize => Model.Description.OutputSize;

    /// <summary>
    /// Step 1 of 3 of a rerank split for cross-request batching (<see cref="Encode"/> -> <see cref="Forward"/> ->
    /// <see cref="Score"/>; <see cref="Rerank"/> does all three for one request): tokenizes the query and documents into the
    /// sequences the model must run, cut to the maximum length with the options' truncation strategy, or in
    /// <see cref="LongDocumentMode.Chunk"/> mode one sequence per chunk of every document (all of them run in the same
    /// token-budget batches by <see cref="Forward"/>; <see cref="Score"/> aggregates them per document).
    /// </summary>
    /// <exception cref="ArgumentNullException">query or documents (or one document) is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">options.MaxLength is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public RerankInputs Encode(string query, IReadOnlyList<string> documents, RerankOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(documents);
        for (int i = 0; i < documents.Count; i++)
            if (documents[i] is null) throw new ArgumentNullException(nameof(documents), $"Document {i} is null.");
        options ??= _options.Defaults;
        int maxLength = ResolveMaxLength(options.MaxLength, 3, nameof(options));
        if (options.LongDocuments == LongDocumentMode.Chunk) return EncodeChunked(query, documents, options, maxLength, cancellationToken);
        if (options.LongDocuments != LongDocumentMode.Truncate)
            throw new ArgumentOutOfRangeException(nameof(options), options.LongDocuments, "LongDocuments must be Truncate or Chunk.");

        if (Model is IPromptedReranker { Description.Prompt: not null } prompted)
        {
            // A decoder reranker: the model card's template around the query and each document (RerankPrompt).
            var prompt = prompted.Prompt;
            var pieces = prompt.Tokenize(Tokenizer);
            int[] queryPart = Tokenizer.EncodeToIds(prompt.QueryPart(options.Instruction ?? prompt.DefaultInstruction, query));
            var prompts = new EncodedPair[documents.Count];
            for (int i = 0; i < prompts.Length; i++)
            {
                if ((i & 15) == 0) cancellationToken.ThrowIfCancellationRequested();
                prompts[i] = prompt.Encode(Tokenizer, pieces, queryPart, documents[i], maxLength);
            }
            return new RerankInputs(prompts, documents.Count, byCosine: false);
        }
        if (Kind == ModelKind.CrossEncoder)
        {
            int[] queryIds = Tokenizer.EncodeToIds(query);
            var pairs = new EncodedPair[documents.Count];
            for (int i = 0; i < pairs.Length; i++)
            {
                if ((i & 15) == 0) cancellationToken.ThrowIfCancellationRequested();
                pairs[i] = Tokenizer.EncodePair(queryIds, Tokenizer.EncodeToIds(documents[i]), maxLength, options.Truncation);
            }
            return new RerankInputs(pairs, documents.Count, byCosine: false);
        }
        var texts = new string[documents.Count + 1];   // the query, then each document, embedded on its own
        texts[0] = QueryPrompt + query;   // sentence-transformers' encode_query: the model's query prompt, if any, then the query
        for (int i = 0; i < documents.Count; i++) texts[i + 1] = documents[i];
        return new RerankInputs(EncodeTextsCore(texts, maxLength, cancellationToken), documents.Count, byCosine: true);
    }

    /// <summary>Tokens an input of <paramref name="query"/> spends beside its document: the special tokens and the query for an
    /// encoder, the whole prompt template and query part for a decoder reranker (a per-document token cap adds to this).</summary>
    public int TokensBesideDocument(string query, string? instruction = null)
    {
        if (Model is IPromptedReranker { Description.Prompt: not null } prompted)
        {
            var prompt = prompted.Prompt;
            return prompt.Tokenize(Tokenizer).Length + Tokenizer.EncodeToIds(prompt.QueryPart(instruction ?? prompt.DefaultInstruction, query)).Length;
        }
        return Tokenizer.EncodeToIds(query).Length + 3;
    }

    /// <summary>
    /// Step 2 of 3: runs any mix of sequences (from one request or many, e.g. the <see cref="RerankInputs.Sequences"/> of
    /// several requests concatenated) through the model in token-budget batches, and writes sequence i's output row to
    /// <paramref name="outputs"/>[i * <see cref="OutputSize"/>, (i + 1) * <see cref="OutputSize"/>). Results do not depend on
    /// which other sequences share the call.
    /// </summary>
    /// <param name="sequences">Sequences from <see cref="Encode"/> of this reranker.</param>
    /// <param name="outputs">[sequences.Count, OutputSize] destination.</param>
    /// <param name="cancellationToken">Checked between batches and layers.</param>
    /// <exception cref="ArgumentException">outputs is shorter than sequences.Count x OutputSize, or a sequence is longer than the model's limit.</exception>
    /// <exception cref="ModelComputationException">The model computed a NaN or an infinity for a sequence (an activation
    /// overflowed); the message names the sequence and the stage.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public void Forward(IReadOnlyList<EncodedPair> sequences, float[] outputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Length < (long)sequences.Count * OutputSize)
            throw new ArgumentException($"outputs holds {outputs.Length} floats; {sequences.Count} sequences x {OutputSize} need {(long)sequences.Count * OutputSize}.", nameof(outputs));
        for (int i = 0; i < sequences.Count; i++)
        {
            var sequence = sequences[i] ?? throw new ArgumentNullException(nameof(sequences), $"Sequence {i} is null.");
            if (sequence.Length > _modelMaxLength)
                throw new ArgumentException($"Sequence {i} has {sequence.Length} tokens; the model's limit is {_modelMaxLength}.", nameof(sequences));
        }
        RunBatched(sequences, outputs, cancellationToken);
    }

    /// <summary>
    /// Step 3 of 3: turns the model outputs of <paramref name="inputs"/>' sequences (rows in the same order as
    /// <see cref="RerankInputs.Sequences"/>) into one result per document, in document order (not sorted), with the model's
    /// <see cref="ModelDescription.ScoreTransform"/>: sigmoid of the logit for a cross-encoder (the logit itself when the model
    /// declares an identity activation), cosine of query and document for a bi-encoder; the same numbers <see cref="Rerank"/> returns.
    /// </summary>
    /// <exception cref="ArgumentException">outputs does not hold one row per sequence.</exception>
    /// <exception cref="ModelComputationException">A score is not finite (outputs holding NaN, or embeddings so large that
    /// their cosine overflows): never returned as a score.</exception>
    public RerankResult[] Score(RerankInputs inputs, ReadOnlySpan<float> outputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int h = OutputSize;
        if (outputs.Length != inputs.Sequences.Count * h)
            throw new ArgumentException($"outputs holds {outputs.Length} floats; {inputs.Sequences.Count} sequences x {h} need {inputs.Sequences.Count * h}.", nameof(outputs));
        if (inputs.Chunks is not null) return ScoreChunked(inputs, outputs);
        var results = new RerankResult[inputs.DocumentCount];
        if (!inputs.ByCosine)
        {
            bool identity = Model.Description.ScoreTransform == ScoreTransform.Identity;
            for (int i = 0; i < results.Length; i++)
            {
                float logit = outputs[i];
                if (!float.IsFinite(logit)) throw new ModelComputationException(ModelTaps.Output, i, logit);
                results[i] = new RerankResult(i, identity ? logit : Activations.Sigmoid(logit), logit, inputs.Sequences[i].Truncation);
            }
            return results;
        }
        var queryVector = outputs[..h];                                                                  // [H]
        for (int i = 0; i < results.Length; i++)
        {
            float cosine = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(queryVector, outputs.Slice((i + 1) * h, h));
            if (!float.IsFinite(cosine)) throw new ModelComputationException("score", i + 1, cosine);   // |v|^2 overflowed
            var cut = inputs.Sequences[i + 1].Truncation;
            results[i] = new RerankResult(i, cosine, cosine, new TruncationInfo(0, cut.QueryTokensRemoved + cut.DocumentTokensRemoved));
        }
        return results;
    }
}
