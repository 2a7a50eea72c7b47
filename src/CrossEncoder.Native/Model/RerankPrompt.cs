using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Model;

/// <summary>
/// How a decoder language model is asked to judge a (query, document) pair, and how its answer becomes a score: the prompt
/// template exactly as the model card gives it, and the two answer tokens whose logits at the last position are compared
/// (score = sigmoid(logit(positive) - logit(negative)), which is softmax([negative, positive])[1]). The pieces are tokenized
/// separately and concatenated, as the reference code does, so the ids match it token for token.
/// </summary>
internal sealed record RerankPrompt
{
    /// <summary>Short name used by options and reports, e.g. <c>qwen3-reranker</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Text tokenized first, on its own (the chat template's system turn and the user turn's opening).</summary>
    public required string Prefix { get; init; }

    /// <summary>The query's part, tokenized on its own: (instruction or null, query) -> text.</summary>
    public required Func<string?, string, string> QueryPart { get; init; }

    /// <summary>Pieces between the query part and the document, each tokenized on its own.</summary>
    public IReadOnlyList<string> BeforeDocument { get; init; } = [];

    /// <summary>Text glued in front of the document and tokenized with it.</summary>
    public required string DocumentPrefix { get; init; }

    /// <summary>Pieces after the document, each tokenized on its own (the assistant turn's opening comes last).</summary>
    public required IReadOnlyList<string> AfterDocument { get; init; }

    /// <summary>The instruction used when the caller gives none (null: the template has no instruction then).</summary>
    public string? DefaultInstruction { get; init; }

    /// <summary>The answer token meaning "relevant" (its logit counts for the pair).</summary>
    public required string PositiveToken { get; init; }

    /// <summary>The answer token meaning "not relevant".</summary>
    public required string NegativeToken { get; init; }

    /// <summary>Folder or Hub names that identify models of this prompt (lower case, matched as substrings).</summary>
    public required IReadOnlyList<string> NameHints { get; init; }

    /// <summary>Where the template comes from.</summary>
    public required string Source { get; init; }

    /// <summary>The scoring rule in words (for <c>/info</c> and reports).</summary>
    public string Rule => $"sigmoid(logit(\"{PositiveToken}\") - logit(\"{NegativeToken}\")) at the last position of the {Name} prompt";

    /// <summary>
    /// Qwen3-Reranker (0.6B, 4B, 8B): the model card's <c>format_instruction</c> and chat template. The body
    /// <c>&lt;Instruct&gt;: {instruction}\n&lt;Query&gt;: {query}\n&lt;Document&gt;: {doc}</c> is one string there; it is cut here
    /// at the space before the document, where Qwen's pre-tokenizer always splits (after <c>&gt;:</c>, punctuation followed by
    /// a space), so the ids are the same and the query part is tokenized once per query.
    /// </summary>
    public static readonly RerankPrompt Qwen3Reranker = new()
    {
        Name = "qwen3-reranker",
        Prefix = "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. " +
                 "Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n",
        QueryPart = static (instruction, query) => $"<Instruct>: {instruction}\n<Query>: {query}\n<Document>:",
        DocumentPrefix = " ",
        AfterDocument = ["<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"],
        DefaultInstruction = "Given a web search query, retrieve relevant passages that answer the query",
        PositiveToken = "yes",
        NegativeToken = "no",
        NameHints = ["qwen3-reranker"],
        Source = "Qwen/Qwen3-Reranker model card (format_instruction, prefix, suffix; default instruction)",
    };

    /// <summary>
    /// mixedbread's mxbai-rerank-base-v2 / -large-v2 (Qwen2.5): <c>mxbai_rerank/mxbai_rerank_v2.py</c> of mixedbread-ai/mxbai-rerank:
    /// prefix + query part + "\n" + "document: {doc}" + "\n" + task prompt + suffix, each piece tokenized on its own; the
    /// answer tokens are "1" and "0".
    /// </summary>
    public static readonly RerankPrompt MxbaiRerankV2 = new()
    {
        Name = "mxbai-rerank-v2",
        Prefix = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n",
        QueryPart = static (instruction, query) => instruction is null ? $"query: {query}" : $"instruction: {instruction}\nquery: {query}",
        BeforeDocument = ["\n"],
        DocumentPrefix = "document: ",
        AfterDocument =
        [
            "\n",
            "You are a search relevance expert who evaluates how well documents match search queries. For each query-document pair, " +
            "carefully analyze the semantic relationship between them, then provide your binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:",
            "<|im_end|>\n<|im_start|>assistant\n",
        ],
        DefaultInstruction = null,
        PositiveToken = "1",
        NegativeToken = "0",
        NameHints = ["mxbai-rerank"],
        Source = "mixedbread-ai/mxbai-rerank, mxbai_rerank/mxbai_rerank_v2.py",
    };

    /// <summary>The prompts this engine knows.</summary>
    public static readonly IReadOnlyList<RerankPrompt> BuiltIn = [Qwen3Reranker, MxbaiRerankV2];

    /// <summary>The prompt called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No prompt has that name; the message lists the known ones.</exception>
    public static RerankPrompt Named(string name) =>
        BuiltIn.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown reranking prompt '{name}'; known: {string.Join(", ", BuiltIn.Select(p => p.Name))}.", nameof(name));

    /// <summary>The prompt whose name hint occurs in <paramref name="path"/> (a folder, a Hub cache path or a repo id), or null.</summary>
    public static RerankPrompt? FromName(string path)
    {
        string lower = path.Replace('\\', '/').ToLowerInvariant();
        return BuiltIn.FirstOrDefault(p => p.NameHints.Any(hint => lower.Contains(hint, StringComparison.Ordinal)));
    }

    /// <summary>The id of a one-token answer.</summary>
    /// <exception cref="ModelFormatException">The tokenizer spells it with more or fewer than one token.</exception>
    public int AnswerTokenId(ITextPairTokenizer tokenizer, string token)
    {
        int[] ids = tokenizer.EncodeToIds(token);
        if (ids.Length != 1)
            throw new ModelFormatException("tokenizer", $"the {Name} prompt scores the answer \"{token}\", but this tokenizer spells it with {ids.Length} tokens; it is not the model's tokenizer.");
        return ids[0];
    }

    /// <summary>The tokenized fixed pieces of the template.</summary>
    public Pieces Tokenize(ITextPairTokenizer tokenizer) => new(
        tokenizer.EncodeToIds(Prefix),
        [.. BeforeDocument.SelectMany(tokenizer.EncodeToIds)],
        [.. AfterDocument.SelectMany(tokenizer.EncodeToIds)]);

    /// <summary>The template's fixed token ids: before the query, between query and document, after the document.</summary>
    public sealed record Pieces(int[] Prefix, int[] BeforeDocument, int[] AfterDocument)
    {
        /// <summary>Tokens every input spends on the template.</summary>
        public int Length => Prefix.Length + BeforeDocument.Length + AfterDocument.Length;
    }

    /// <summary>
    /// One model input: prefix + query part + pieces + (document prefix + document) + pieces, at most <paramref name="maxLength"/>
    /// tokens. When it is too long the document is cut from its end (on a token boundary), then the query part if the template
    /// and query alone are too long; the template is always kept whole.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">maxLength leaves no token for the query and document beside the template.</exception>
    public EncodedPair Encode(ITextPairTokenizer tokenizer, Pieces pieces, int[] queryIds, string document, int maxLength) =>
        Encode(tokenizer, pieces, queryIds, tokenizer.EncodeToIds(DocumentPrefix + document), maxLength);

    /// <summary>The same from the ids of <see cref="DocumentPrefix"/> + document (or of a chunk of it).</summary>
    public EncodedPair Encode(ITextPairTokenizer tokenizer, Pieces pieces, int[] queryIds, ReadOnlySpan<int> documentIds, int maxLength)
    {
        int budget = maxLength - pieces.Length;
        if (budget < 1)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"The {Name} prompt alone takes {pieces.Length} tokens; the maximum length must leave room for the query and document.");
        int queryKept = Math.Min(queryIds.Length, budget);
        int documentKept = Math.Min(documentIds.Length, budget - queryKept);
        var ids = new int[pieces.Length + queryKept + documentKept];
        var span = ids.AsSpan();
        pieces.Prefix.CopyTo(span); span = span[pieces.Prefix.Length..];
        queryIds.AsSpan(0, queryKept).CopyTo(span); span = span[queryKept..];
        pieces.BeforeDocument.CopyTo(span); span = span[pieces.BeforeDocument.Length..];
        documentIds[..documentKept].CopyTo(span); span = span[documentKept..];
        pieces.AfterDocument.CopyTo(span);
        var tokens = new string[ids.Length];
        for (int i = 0; i < ids.Length; i++) tokens[i] = tokenizer.IdToToken(ids[i]);
        return new EncodedPair(ids, new int[ids.Length], tokens, new TruncationInfo(queryIds.Length - queryKept, documentIds.Length - documentKept));
    }
}
