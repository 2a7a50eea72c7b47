using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>
/// Explanations of one score by occlusion: the original text with each word (and each sentence) removed in turn, every
/// variant scored in one packed, token-budget batch (N short sequences through <see cref="RunBatched"/>, never N calls),
/// and each span's attribution = score of the text - score without it. Works for every model kind: a cross-encoder's or
/// decoder reranker's pair score, a bi-encoder's cosine (a document variant against the query's embedding, a query variant
/// against the document's).
/// </summary>
public sealed partial class Reranker
{
    private long _batchedRuns;

    /// <summary>How many batched runs (<see cref="RunBatched"/> calls) this reranker has made: tests check that one
    /// explanation is one call.</summary>
    internal long BatchedRuns => Interlocked.Read(ref _batchedRuns);

    /// <summary>
    /// Explains the score of one (query, document) pair: its score and logit as <see cref="Rerank"/> gives them, and for
    /// every word of the document (and each sentence, and each query word) the score drop when it is removed from the
    /// original text. Words and sentences are exact character spans of the original strings. Words past the truncation
    /// point get no attribution (<see cref="AttributedSpan.BeyondTruncation"/>). Costs one batched forward pass of
    /// about words + sentences + query words short sequences, plus one pass of the pair when
    /// <see cref="ExplainOptions.Attention"/> is set.
    /// </summary>
    /// <exception cref="ArgumentNullException">query or document is null.</exception>
    /// <exception cref="ArgumentException">The document has no word (empty, whitespace or punctuation only).</exception>
    /// <exception cref="ArgumentOutOfRangeException">options.MaxLength is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public Explanation Explain(string query, string document, ExplainOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ExplainOptions();
        var inputs = EncodeExplanation(query, document, options, cancellationToken);
        var outputs = new float[inputs.Inputs.Sequences.Count * OutputSize];   // [S, OutputSize]
        RunBatched(inputs.Inputs.Sequences, outputs, cancellationToken);
        return ScoreExplanationCore(inputs, outputs, options.Attention ? ScoringAttentionOf(inputs, cancellationToken) : null);
    }

    /// <summary>Asynchronous <see cref="Explain(string, string, ExplainOptions?, CancellationToken)"/>: runs on the thread pool.</summary>
    public Task<Explanation> ExplainAsync(string query, string document, ExplainOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        return Task.Run(() => Explain(query, document, options, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Step 1 of 3 of an explanation split for cross-request batching (as <see cref="Encode"/>): segments the query and
    /// document, finds what truncation hides, and tokenizes the pair and every occluded variant. Run
    /// <see cref="ExplanationInputs.Inputs"/> through <see cref="Forward"/>, then <see cref="ScoreExplanation"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException">query or document is null.</exception>
    /// <exception cref="ArgumentException">The document has no word.</exception>
    /// <exception cref="ArgumentOutOfRangeException">options.MaxLength is out of range.</exception>
    public ExplanationInputs EncodeExplanation(string query, string document, ExplainOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        options ??= new ExplainOptions();
        var documentWords = TextSegmentation.Words(document);
        if (documentWords.Count == 0)
            throw new ArgumentException(document.Length == 0 ? "The document is empty: there is nothing to explain."
                : "The document has no words (only whitespace, punctuation or control characters): there is nothing to explain.", nameof(document));
        var rerank = new RerankOptions { MaxLength = options.MaxLength, Instruction = options.Instruction };
        int maxLength = ResolveMaxLength(options.MaxLength, 3, nameof(options));
        var whole = Encode(query, [document], rerank, cancellationToken);   // the pair exactly as Rerank runs it
        var sentences = options.Sentences ? TextSegmentation.Sentences(document) : [];
        var allQueryWords = TextSegmentation.Words(query);
        var queryWords = options.QueryWords ? allQueryWords : [];

        // What the model reads: the words before the truncation point, found by counting the tokens of text prefixes
        // that end on a word (a prefix's tokens are the whole text's first tokens when it ends on a word boundary).
        var prompted = Model as IPromptedReranker;
        bool cosine = Kind == ModelKind.BiEncoder;
        TruncationInfo truncation = cosine
            ? new TruncationInfo(whole.Sequences[0].Truncation.QueryTokensRemoved, whole.Sequences[1].Truncation.QueryTokensRemoved)
            : whole.Sequences[0].Truncation;
        Func<string, int> countDocument = prompted?.Description.Prompt is not null
            ? text => Tokenizer.EncodeToIds(prompted.Prompt.DocumentPrefix + text).Length
            : text => Tokenizer.EncodeToIds(text).Length;
        // A decoder's query sits inside its template part; it is only cut when the template and query fill the whole
        // length (the document is cut first), and then its words get no attribution.
        Func<string, int>? countQuery = prompted?.Description.Prompt is not null ? null
            : cosine ? text => Tokenizer.EncodeToIds(QueryPrompt + text).Length
            : text => Tokenizer.EncodeToIds(text).Length;
        int documentSeen = SeenWords(document, documentWords, truncation.DocumentTokensRemoved, countDocument);
        int querySeen = SeenWords(query, allQueryWords, truncation.QueryTokensRemoved, countQuery);
        string seenDocument = SeenText(document, documentWords, documentSeen, truncation.DocumentTokensRemoved);
        string seenQuery = countQuery is null ? query : SeenText(query, allQueryWords, querySeen, truncation.QueryTokensRemoved);

        // Items: 0 the pair, 1 its baseline (the seen texts), then document words, sentences, query words.
        int items = 2 + documentWords.Count + sentences.Count + queryWords.Count;
        var rows = new int[items];
        var partners = cosine ? new int[items] : null;
        var sequences = new List<EncodedPair>(whole.Sequences);
        var documentVariants = new List<string>();
        var variantItems = new List<int>();
        for (int w = 0; w < documentWords.Count; w++)
        {
            rows[2 + w] = -1;
            if (w >= documentSeen) continue;
            documentVariants.Add(TextSegmentation.Remove(seenDocument, documentWords[w].Start, documentWords[w].Length));
            variantItems.Add(2 + w);
        }
        int seenDocumentEnd = documentSeen == 0 ? 0 : documentWords[documentSeen - 1].Start + documentWords[documentSeen - 1].Length;
        int nextWord = 0;
        for (int s = 0; s < sentences.Count; s++)
        {
            int item = 2 + documentWords.Count + s;
            rows[item] = -1;
            var (start, length) = sentences[s];
            // The sentence is read when its last word is (words and sentences are both in text order: one pass over the words).
            while (nextWord < documentWords.Count && documentWords[nextWord].Start < start + length) nextWord++;
            int lastWordEnd = nextWord > 0 && documentWords[nextWord - 1].Start >= start ? documentWords[nextWord - 1].Start + documentWords[nextWord - 1].Length : start;
            if (truncation.DocumentTokensRemoved > 0 && lastWordEnd > seenDocumentEnd) continue;
            documentVariants.Add(TextSegmentation.Remove(seenDocument, start, Math.Min(start + length, seenDocument.Length) - start));
            variantItems.Add(item);
        }
        var queryVariants = new List<string>();
        var queryItems = new List<int>();
        for (int w = 0; w < queryWords.Count; w++)
        {
            int item = 2 + documentWords.Count + sentences.Count + w;
            rows[item] = -1;
            if (w >= querySeen) continue;
            queryVariants.Add(TextSegmentation.Remove(seenQuery, queryWords[w].Start, queryWords[w].Length));
            queryItems.Add(item);
        }

        cancellationToken.ThrowIfCancellationRequested();
        bool truncated = truncation.Truncated;
        if (!cosine)
        {
            // Pairs: row 0 the pair, then the seen pair when truncated, then (seen query, document variant) and
            // (query variant, seen document), each encoded as Rerank encodes a pair.
            rows[0] = 0;
            rows[1] = truncated ? sequences.Count : 0;
            if (truncated) sequences.Add(Encode(seenQuery, [seenDocument], rerank, cancellationToken).Sequences[0]);
            int first = sequences.Count;
            sequences.AddRange(Encode(seenQuery, documentVariants, rerank, cancellationToken).Sequences);
            for (int v = 0; v < variantItems.Count; v++) rows[variantItems[v]] = first + v;
            for (int v = 0; v < queryVariants.Count; v++)
            {
                if ((v & 15) == 0) cancellationToken.ThrowIfCancellationRequested();
                rows[queryItems[v]] = sequences.Count;
                sequences.Add(Encode(queryVariants[v], [seenDocument], rerank, cancellationToken).Sequences[0]);
            }
        }
        else
        {
            // Embeddings: rows 0 and 1 the query and document; the seen query and document when truncated; then each
            // document variant (its cosine partner the seen query) and each query variant (its partner the seen document).
            int queryRow = 0, documentRow = 1;
            var texts = new List<string>();
            if (truncated)
            {
                queryRow = sequences.Count;
                documentRow = sequences.Count + 1;
                texts.Add(QueryPrompt + seenQuery);
                texts.Add(seenDocument);
            }
            (rows[0], partners![0]) = (1, 0);
            (rows[1], partners[1]) = (documentRow, queryRow);
            int first = sequences.Count + texts.Count;
            texts.AddRange(documentVariants);
            for (int v = 0; v < variantItems.Count; v++) (rows[variantItems[v]], partners[variantItems[v]]) = (first + v, queryRow);
            first += documentVariants.Count;
            foreach (string variant in queryVariants) texts.Add(QueryPrompt + variant);
            for (int v = 0; v < queryItems.Count; v++) (rows[queryItems[v]], partners[queryItems[v]]) = (first + v, documentRow);
            sequences.AddRange(EncodeTextsCore(texts, maxLength, cancellationToken));
        }
        return new ExplanationInputs
        {
            // DocumentCount 1 and the pair (or query, document) first: Score(inputs.Inputs, outputs) is the pair's Rerank result.
            Inputs = new RerankInputs([.. sequences], 1, cosine),
            Query = query,
            Document = document,
            Truncation = truncation,
            DocumentWords = documentWords,
            Sentences = sentences,
            QueryWords = queryWords,
            Rows = rows,
            PartnerRows = partners,
        };
    }

    /// <summary>
    /// Step 3 of 3: the explanation from the model outputs of <paramref name="inputs"/>' sequences (rows in the order of
    /// <see cref="RerankInputs.Sequences"/>, as <see cref="Forward"/> writes them).
    /// </summary>
    /// <exception cref="ArgumentException">outputs does not hold one row per sequence.</exception>
    public Explanation ScoreExplanation(ExplanationInputs inputs, ReadOnlySpan<float> outputs) => ScoreExplanationCore(inputs, outputs, attention: null);

    private Explanation ScoreExplanationCore(ExplanationInputs inputs, ReadOnlySpan<float> outputs, ScoringAttention? attention)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int h = OutputSize, count = inputs.Inputs.Sequences.Count;
        if (outputs.Length != count * h)
            throw new ArgumentException($"outputs holds {outputs.Length} floats; {count} sequences x {h} need {count * h}.", nameof(outputs));
        bool identity = Model.Description.ScoreTransform == ScoreTransform.Identity;
        var rows = inputs.Rows;
        var scores = new float[rows.Length];
        var logits = new float[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            if (rows[i] < 0) continue;
            if (inputs.PartnerRows is { } partners)
            {
                // Bi-encoder: the cosine of the two sides, as Score computes it.
                float value = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(outputs.Slice(partners[i] * h, h), outputs.Slice(rows[i] * h, h));
                scores[i] = logits[i] = value;
            }
            else
            {
                logits[i] = outputs[rows[i]];
                scores[i] = identity ? logits[i] : Activations.Sigmoid(logits[i]);
            }
        }
        int offset = 2;
        AttributedSpan[] Spans(string text, List<(int Start, int Length)> spans)
        {
            var result = new AttributedSpan[spans.Count];
            for (int k = 0; k < spans.Count; k++)
            {
                var (start, length) = spans[k];
                int item = offset + k;
                result[k] = rows[item] < 0
                    ? new AttributedSpan(start, length, text.Substring(start, length), null, null)
                    : new AttributedSpan(start, length, text.Substring(start, length), scores[1] - scores[item], logits[1] - logits[item]);
            }
            offset += spans.Count;
            return result;
        }
        var words = Spans(inputs.Document, inputs.DocumentWords);
        var sentences = Spans(inputs.Document, inputs.Sentences);
        var queryWords = Spans(inputs.Query, inputs.QueryWords);
        return new Explanation
        {
            Query = inputs.Query,
            Document = inputs.Document,
            Score = scores[0],
            Logit = logits[0],
            BaselineScore = scores[1],
            BaselineLogit = logits[1],
            Truncation = inputs.Truncation,
            DocumentWords = words,
            DocumentSentences = sentences,
            QueryWords = queryWords,
            SequencesScored = count,
            TokensScored = inputs.Inputs.TokenCount,
            Attention = attention,
        };
    }

    /// <summary>How many of <paramref name="words"/> lie wholly before the truncation point: all when nothing was cut, none
    /// when the text's tokens cannot be counted alone; else the most whose prefix (up to the word's end) fits in the tokens kept.</summary>
    private static int SeenWords(string text, List<(int Start, int Length)> words, int removed, Func<string, int>? count)
    {
        if (removed == 0) return words.Count;
        if (count is null || words.Count == 0) return 0;
        int kept = count(text) - removed;
        int low = 0, high = words.Count;
        while (low < high)
        {
            int middle = (low + high + 1) / 2;
            var (start, length) = words[middle - 1];
            if (count(text[..(start + length)]) <= kept) low = middle;
            else high = middle - 1;
        }
        return low;
    }

    /// <summary>The text the model reads: all of it when nothing was cut, else up to the end of its last seen word.</summary>
    private static string SeenText(string text, List<(int Start, int Length)> words, int seen, int removed) =>
        removed == 0 ? text : seen == 0 ? "" : text[..(words[seen - 1].Start + words[seen - 1].Length)];

    /// <summary>
    /// The attention row of the scoring token ([CLS] at position 0 for an encoder, the last token for a causal decoder) in
    /// every layer and head, from one tapped pass of the pair as <see cref="Rerank"/> encodes it (for a bi-encoder, of the
    /// document's own sequence). Tokens of the query and document carry the span of the word they belong to, found by
    /// re-tokenizing the text's prefixes (the tokenizers report no offsets).
    /// </summary>
    private ScoringAttention ScoringAttentionOf(ExplanationInputs inputs, CancellationToken cancellationToken)
    {
        var sequence = inputs.Inputs.Sequences[inputs.PartnerRows is null ? 0 : 1];
        int t = sequence.Length, layers = Model.Description.Layers;
        int scoring = Model is IPrefixCachingModel ? t - 1 : 0;
        string[] names = [.. Enumerable.Range(0, layers).Select(ModelTaps.AttentionProbabilities)];
        float[]? weights = null;   // [L, nH, T]
        int heads = 0;
        RunTapped(sequence, (name, values, rows, columns) =>
        {
            int layer = Array.IndexOf(names, name);
            if (layer < 0) return;
            heads = rows / columns;
            weights ??= new float[layers * heads * t];
            for (int head = 0; head < heads; head++)                                       // row h*T + scoring of [nH*T, T]
                values.Slice((head * t + scoring) * t, t).CopyTo(weights.AsSpan((layer * heads + head) * t, t));
        }, cancellationToken);
        if (weights is null) throw new InvalidOperationException($"The {Model.Description.Family} model reported no attention probabilities.");

        var tokens = new AttentionToken[t];
        for (int i = 0; i < t; i++) tokens[i] = new AttentionToken(sequence.Tokens[i], TokenSource.Special, null, null);
        var prompted = Model as IPromptedReranker;
        bool decoder = prompted?.Description.Prompt is not null;
        string documentContext = decoder ? prompted!.Prompt.DocumentPrefix : "";
        string queryContext = decoder ? " " : "";   // a decoder's query follows "<Query>:" or "query:" in its template
        if (inputs.PartnerRows is null)
        {
            int documentEnd = MarkWords(tokens, sequence.InputIds, inputs.Document, inputs.DocumentWords, documentContext, TokenSource.Document, searchBefore: t);
            MarkWords(tokens, sequence.InputIds, inputs.Query, TextSegmentation.Words(inputs.Query), queryContext, TokenSource.Query, searchBefore: documentEnd);
        }
        else MarkWords(tokens, sequence.InputIds, inputs.Document, inputs.DocumentWords, "", TokenSource.Document, searchBefore: t);
        cancellationToken.ThrowIfCancellationRequested();
        return new ScoringAttention(layers, heads, tokens, weights, scoring);
    }

    /// <summary>Finds the text's (kept) token ids in the sequence (the longest match of their prefix that ends before
    /// <paramref name="searchBefore"/>) and marks each of its tokens with its source and the span of the word it lies in
    /// (no span for punctuation between words); returns where the run starts, or <paramref name="searchBefore"/> when the
    /// text is not found (e.g. a decoder's query inside its template), whose tokens then stay unmarked.</summary>
    private int MarkWords(AttentionToken[] tokens, int[] ids, string text, List<(int Start, int Length)> words, string context, TokenSource source, int searchBefore)
    {
        if (words.Count == 0) return searchBefore;
        int[] all = Tokenizer.EncodeToIds(context + text);
        int runStart = -1, runLength = 0;
        for (int at = 0; at < Math.Min(searchBefore, ids.Length); at++)
        {
            int length = ids.AsSpan(at, Math.Min(searchBefore, ids.Length) - at).CommonPrefixLength(all);
            if (length > runLength || length == runLength && length > 0) (runStart, runLength) = (at, length);
        }
        if (runStart < 0 || runLength < Math.Min(2, all.Length)) return searchBefore;
        // A context of spaces merges into the first word's token; a written one ("document: ") keeps its own tokens.
        int context0 = context.Trim().Length == 0 ? 0 : Tokenizer.EncodeToIds(context.TrimEnd()).Length;
        for (int k = context0; k < runLength; k++) tokens[runStart + k] = tokens[runStart + k] with { Source = source };
        // Word w owns tokens [first, end): the token counts of the text before it (trailing spaces trimmed, so a byte-level
        // BPE's space token stays with the word) and through its end.
        foreach (var (start, length) in words)
        {
            string before = (context + text[..start]).TrimEnd();
            int first = before.Length == 0 ? 0 : Tokenizer.EncodeToIds(before).Length;
            int end = Tokenizer.EncodeToIds(context + text[..(start + length)]).Length;
            for (int k = Math.Max(first, context0); k < Math.Min(end, runLength); k++)
                tokens[runStart + k] = tokens[runStart + k] with { Start = start, Length = length };
            if (end >= runLength) break;
        }
        return runStart;
    }
}
