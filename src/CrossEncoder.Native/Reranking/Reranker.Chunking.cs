using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>
/// Where each document's chunks sit among a chunk-mode request's sequences, and how to read them back
/// (<see cref="Reranker.Score"/>).
/// </summary>
internal sealed class ChunkLayout
{
    /// <summary>Per document: its first chunk's index in <see cref="Spans"/> (and among the chunk sequences).</summary>
    public required int[] FirstChunk { get; init; }

    /// <summary>Per document: how many chunks were encoded (1 for <see cref="ChunkAggregation.First"/>).</summary>
    public required int[] EncodedChunks { get; init; }

    /// <summary>Per document: how many chunks it was split into.</summary>
    public required int[] PlannedChunks { get; init; }

    /// <summary>Per encoded chunk: its character span in the original document.</summary>
    public required TokenOffsets[] Spans { get; init; }

    /// <summary>Per document: query tokens cut, and document tokens past the last planned chunk (the chunk cap).</summary>
    public required TruncationInfo[] Truncation { get; init; }

    public required ChunkAggregation Aggregation { get; init; }

    public required int TopK { get; init; }
}

/// <summary>
/// Cuts a tokenized document into chunks of at most <c>window</c> tokens: on token boundaries, preferring a paragraph
/// break in the second half of the window, else a sentence end there, else a word boundary there, else the window's end; each next chunk starts
/// <c>overlap</c> tokens before the previous end (moved forward to a word start when one is near).
/// </summary>
internal static class DocumentChunker
{
    /// <summary>The chunks as token ranges [Start, End) of <paramref name="offsets"/>, at most <paramref name="maxChunks"/>;
    /// a document without tokens is one empty chunk.</summary>
    public static List<(int Start, int End)> Plan(string document, ReadOnlySpan<TokenOffsets> offsets, int window, int overlap, int maxChunks)
    {
        int n = offsets.Length;
        var chunks = new List<(int, int)>();
        if (n == 0) { chunks.Add((0, 0)); return chunks; }
        int start = 0;
        while (start < n && chunks.Count < maxChunks)
        {
            int limit = Math.Min(start + window, n);
            if (limit == n) { chunks.Add((start, n)); break; }
            int end = Cut(document, offsets, start, limit, window);
            chunks.Add((start, end));
            int next = Math.Max(end - overlap, start + 1);
            if (overlap > 0)
                for (int j = next; j < end; j++)
                    if (IsWordBoundary(document, offsets, j)) { next = j; break; }
            start = next;
        }
        return chunks;
    }

    /// <summary>The best end in (start + window / 2, limit]: at a paragraph break (a line break between two tokens), else
    /// after a sentence end, else at a word boundary, else limit.</summary>
    private static int Cut(string document, ReadOnlySpan<TokenOffsets> offsets, int start, int limit, int window)
    {
        int earliest = start + Math.Max(1, window / 2);
        for (int end = limit; end > earliest; end--)
            if (BreaksLine(document, offsets, end)) return end;
        for (int end = limit; end > earliest; end--)
            if (EndsSentence(document, offsets, end)) return end;
        for (int end = limit; end > earliest; end--)
            if (IsWordBoundary(document, offsets, end)) return end;
        for (int end = limit; end > start + 1; end--)
            if (offsets[end].Start >= offsets[end - 1].End) return end;   // never inside a character shared by two tokens
        return limit;
    }

    /// <summary>Token <paramref name="end"/> - 1 ends a sentence (. ! ? or an ideographic full stop, maybe followed by a
    /// closing quote or bracket) and token <paramref name="end"/> starts after it.</summary>
    private static bool EndsSentence(string document, ReadOnlySpan<TokenOffsets> offsets, int end)
    {
        if (offsets[end].Start < offsets[end - 1].End) return false;
        int last = offsets[end - 1].End - 1;
        while (last > offsets[end - 1].Start && document[last] is '"' or '\'' or ')' or ']' or '\u201D' or '\u2019') last--;
        char c = document[last];
        if (c is '。' or '！' or '？') return true;
        return c is '.' or '!' or '?' or '\u2026' && IsWordBoundary(document, offsets, end);
    }

    /// <summary>A line break lies between token <paramref name="end"/> - 1 and token <paramref name="end"/>.</summary>
    private static bool BreaksLine(string document, ReadOnlySpan<TokenOffsets> offsets, int end)
    {
        int from = offsets[end - 1].End, to = offsets[end].Start;
        if (to > from && document.AsSpan(from, to - from).ContainsAny('\n', '\r')) return true;
        return to > 0 && to == from && document[to] is '\n' or '\r';   // a byte-level token carrying the line break
    }

    /// <summary>Whitespace separates token <paramref name="at"/> from the one before (a byte-level token carries its space).</summary>
    private static bool IsWordBoundary(string document, ReadOnlySpan<TokenOffsets> offsets, int at)
    {
        if (at == 0) return true;
        int position = offsets[at].Start;
        if (position < offsets[at - 1].End) return false;
        return position > offsets[at - 1].End || char.IsWhiteSpace(document[position]) || (position > 0 && char.IsWhiteSpace(document[position - 1]));
    }
}

public sealed partial class Reranker
{
    /// <summary>Longest stretch of a document tokenized with offsets: this many characters per token of the chunks it can
    /// fill (far above real text's 4-6), so a huge document costs memory for what can be scored, not for its length.</summary>
    private const int CharactersPerTokenBound = 32;

    /// <summary>Chunk mode of <see cref="Encode"/>: every document split into chunks, every chunk one sequence.</summary>
    private RerankInputs EncodeChunked(string query, IReadOnlyList<string> documents, RerankOptions options, int maxLength, CancellationToken cancellationToken)
    {
        if (options.ChunkOverlap < 0) throw new ArgumentOutOfRangeException(nameof(options), options.ChunkOverlap, "ChunkOverlap must be 0 or more tokens.");
        if (options.ChunkWindow is < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ChunkWindow, "ChunkWindow must be at least 1 token.");
        if (options.MaxChunksPerDocument is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(options), options.MaxChunksPerDocument, "MaxChunksPerDocument must be between 1 and 4096.");
        if (options.ChunkAggregation == ChunkAggregation.TopKMean && options.ChunkTopK < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ChunkTopK, "ChunkTopK must be at least 1.");
        if (!Enum.IsDefined(options.ChunkAggregation)) throw new ArgumentOutOfRangeException(nameof(options), options.ChunkAggregation, "Unknown ChunkAggregation.");

        // What each sequence spends beside a chunk, and so the window: [CLS] q [SEP] chunk [SEP], [CLS] chunk [SEP], or the prompt.
        var prompted = Model is IPromptedReranker { Description.Prompt: not null } p ? p : null;
        RerankPrompt? prompt = prompted?.Prompt;
        RerankPrompt.Pieces? pieces = prompt?.Tokenize(Tokenizer);
        int[] queryIds;
        int available;
        bool byCosine = prompt is null && Kind == ModelKind.BiEncoder;
        if (prompt is not null)
        {
            queryIds = Tokenizer.EncodeToIds(prompt.QueryPart(options.Instruction ?? prompt.DefaultInstruction, query));
            available = maxLength - pieces!.Length - queryIds.Length;
        }
        else if (byCosine)
        {
            queryIds = [];
            available = maxLength - Tokenizer.EncodeSingle(ReadOnlySpan<int>.Empty, maxLength).Length;
        }
        else
        {
            queryIds = Tokenizer.EncodeToIds(query);
            available = maxLength - Tokenizer.EncodePair(ReadOnlySpan<int>.Empty, ReadOnlySpan<int>.Empty, maxLength).Length - queryIds.Length;
        }
        // A long query leaves the chunks half of the room (as LongestFirst truncation would), and is itself cut.
        int room = prompt is not null ? maxLength - pieces!.Length
            : byCosine ? available
            : maxLength - Tokenizer.EncodePair(ReadOnlySpan<int>.Empty, ReadOnlySpan<int>.Empty, maxLength).Length;
        bool canCutQuery = prompt is not null || byCosine || options.Truncation == TruncationStrategy.LongestFirst;
        int fits = canCutQuery ? Math.Max(available, room / 2) : available;
        if (fits < 1)
            throw new ArgumentOutOfRangeException(nameof(options), maxLength, $"The maximum length {maxLength} leaves no token for a document chunk beside the query.");
        int window = Math.Min(options.ChunkWindow ?? fits, fits);
        if (options.ChunkOverlap >= window)
            throw new ArgumentOutOfRangeException(nameof(options), options.ChunkOverlap, $"ChunkOverlap ({options.ChunkOverlap}) must be smaller than the chunk window ({window} tokens).");
        int queryRemoved = 0;
        if (prompt is not null && queryIds.Length > room - window)   // the prompt keeps the query first: cut it here so no chunk is cut
        {
            queryRemoved = queryIds.Length - Math.Max(0, room - window);
            queryIds = queryIds[..Math.Max(0, room - window)];
        }

        var sequences = new List<EncodedPair>();
        if (byCosine) sequences.Add(Tokenizer.EncodeSingle(QueryPrompt + query, maxLength));   // the query first, embedded alone
        var spans = new List<TokenOffsets>();
        var firstChunk = new int[documents.Count];
        var encodedChunks = new int[documents.Count];
        var plannedChunks = new int[documents.Count];
        var truncation = new TruncationInfo[documents.Count];
        string documentPrefix = prompt?.DocumentPrefix ?? "";
        for (int d = 0; d < documents.Count; d++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string document = documents[d];
            // Tokenize with offsets only the stretch the chunks can reach (cut at a space), the rest only counted.
            long reach = (long)options.MaxChunksPerDocument * window * CharactersPerTokenBound;
            int tokenized = document.Length;
            if (document.Length > reach)
            {
                tokenized = (int)reach;
                int space = document.LastIndexOf(' ', tokenized - 1, Math.Min(tokenized, 1024));
                if (space > 0) tokenized = space;
            }
            var (allIds, allOffsets) = Tokenizer.EncodeToIdsWithOffsets(documentPrefix + document[..tokenized]);
            // A decoder's document prefix ("document: "): the tokens wholly inside it open every chunk; offsets shift past it.
            int prefixTokens = 0;
            while (prefixTokens < allIds.Length && allOffsets[prefixTokens].End <= documentPrefix.Length) prefixTokens++;
            int[] prefixIds = allIds[..prefixTokens];
            int[] ids = allIds[prefixTokens..];
            var offsets = new TokenOffsets[ids.Length];
            for (int t = 0; t < ids.Length; t++)
                offsets[t] = new TokenOffsets(Math.Max(0, allOffsets[prefixTokens + t].Start - documentPrefix.Length), allOffsets[prefixTokens + t].End - documentPrefix.Length);
            int totalTokens = tokenized == document.Length ? ids.Length : Tokenizer.EncodeToIds(documentPrefix + document).Length - prefixTokens;

            int chunkWindow = Math.Max(1, window - prefixTokens);
            var plan = DocumentChunker.Plan(document, offsets, chunkWindow, Math.Min(options.ChunkOverlap, chunkWindow - 1), options.MaxChunksPerDocument);
            firstChunk[d] = spans.Count;
            plannedChunks[d] = plan.Count;
            encodedChunks[d] = options.ChunkAggregation == ChunkAggregation.First ? 1 : plan.Count;
            int queryCut = queryRemoved;
            for (int c = 0; c < encodedChunks[d]; c++)
            {
                var (start, end) = plan[c];
                ReadOnlySpan<int> chunk = ids.AsSpan(start, end - start);
                EncodedPair sequence;
                if (prompt is not null)
                    sequence = prompt.Encode(Tokenizer, pieces!, queryIds, prefixTokens == 0 ? chunk : [.. prefixIds, .. chunk], maxLength);
                else if (byCosine) sequence = Tokenizer.EncodeSingle(chunk, maxLength);
                else
                {
                    sequence = Tokenizer.EncodePair(queryIds, chunk, maxLength, options.Truncation);
                    queryCut = sequence.Truncation.QueryTokensRemoved;
                }
                sequences.Add(sequence);
                spans.Add(end > start ? new TokenOffsets(offsets[start].Start, offsets[end - 1].End) : new TokenOffsets(0, 0));
            }
            truncation[d] = new TruncationInfo(queryCut, totalTokens - plan[^1].End);
        }
        var layout = new ChunkLayout
        {
            FirstChunk = firstChunk, EncodedChunks = encodedChunks, PlannedChunks = plannedChunks, Spans = [.. spans],
            Truncation = truncation, Aggregation = options.ChunkAggregation, TopK = options.ChunkTopK,
        };
        return new RerankInputs([.. sequences], documents.Count, byCosine) { Chunks = layout };
    }

    /// <summary>Chunk mode of <see cref="Score"/>: each document's chunk scores aggregated, its winning chunk named.</summary>
    private RerankResult[] ScoreChunked(RerankInputs inputs, ReadOnlySpan<float> outputs)
    {
        ChunkLayout layout = inputs.Chunks!;
        int h = OutputSize;
        bool identity = Model.Description.ScoreTransform == ScoreTransform.Identity;
        var results = new RerankResult[inputs.DocumentCount];
        var scores = new float[layout.EncodedChunks.Length == 0 ? 0 : layout.EncodedChunks.Max()];
        var logits = new float[scores.Length];
        var order = new int[scores.Length];
        for (int d = 0; d < results.Length; d++)
        {
            int count = layout.EncodedChunks[d], first = layout.FirstChunk[d];
            for (int c = 0; c < count; c++)
            {
                int chunk = first + c;
                if (inputs.ByCosine)
                    logits[c] = scores[c] = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(outputs[..h], outputs.Slice((chunk + 1) * h, h));
                else
                {
                    logits[c] = outputs[chunk];
                    scores[c] = identity ? logits[c] : Kernels.Activations.Sigmoid(logits[c]);
                }
                order[c] = c;
            }
            // Best first; ties keep the earlier chunk.
            Array.Sort(order, 0, count, Comparer<int>.Create((x, y) => scores[y] != scores[x] ? scores[y].CompareTo(scores[x]) : x.CompareTo(y)));
            int winner = order[0];
            float score, logit;
            switch (layout.Aggregation)
            {
                case ChunkAggregation.Mean:
                    score = Mean(scores.AsSpan(0, count));
                    logit = Mean(logits.AsSpan(0, count));
                    break;
                case ChunkAggregation.TopKMean:
                {
                    int k = Math.Min(layout.TopK, count);
                    double s = 0, l = 0;
                    for (int i = 0; i < k; i++) { s += scores[order[i]]; l += logits[order[i]]; }
                    score = (float)(s / k);
                    logit = (float)(l / k);
                    break;
                }
                default:   // Max, and First (one chunk encoded)
                    score = scores[winner];
                    logit = logits[winner];
                    break;
            }
            TokenOffsets span = layout.Spans[first + winner];
            results[d] = new RerankResult(d, score, logit, layout.Truncation[d])
            {
                Chunk = new RerankChunk(winner, span.Start, span.End, scores[winner], logits[winner]),
                ChunkCount = layout.PlannedChunks[d],
            };
        }
        return results;
    }

    private static float Mean(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float v in values) sum += v;
        return (float)(sum / values.Length);
    }
}
