using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tests.Model.Qwen;
using CrossEncoder.Native.Tests.Tokenization;
using CrossEncoder.Native.Tests.Verification;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary>
/// <see cref="LongDocumentMode.Chunk"/>: a long document scored by its best chunk on the real all-MiniLM-L6-v2 (a bi-encoder:
/// query against each chunk), a random cross-encoder and a random Qwen3 decoder reranker with Qwen's real tokenizer; the
/// aggregations against each chunk scored on its own; the chunk boundaries; the limits and bad options.
/// </summary>
[Collection("MiniLM")]
public sealed class ChunkingTests(MiniLmFixture minilm)
{
    private static IReadOnlyList<IrSample> Sample => IrSample.Load();

    /// <summary>Whole sentences of other collections' abstracts, until the
    /// paragraph has between <paramref name="lo"/> and <paramref name="hi"/> tokens.</summary>
    private static string Filler(ITextPairTokenizer tokenizer, string collection, int lo, int hi, int skip)
    {
        var sentences = Sample.Where(s => s.Collection == collection).Select(s => s.Document).Distinct()
            .SelectMany(d => System.Text.RegularExpressions.Regex.Split(d.Trim(), @"(?<=[.!?])\s+")).Where(s => s.Length > 0).Skip(skip);
        var text = new List<string>();
        foreach (string sentence in sentences)
        {
            int tokens = tokenizer.EncodeToIds(string.Join(" ", text.Append(sentence))).Length;
            if (tokens > hi) continue;
            text.Add(sentence);
            if (tokens >= lo) return string.Join(" ", text);
        }
        throw new InvalidOperationException($"the fixture has too little {collection} text for {lo}-{hi} tokens");
    }

    /// <summary>Query 1 of Cranfield, its shorter relevant abstract (doc 31) as the answer, and two paragraphs of MEDLINE and
    /// CISI text before it, each between 60 % and 100 % of the window, so the answer starts past token 512 and is a chunk of its own.</summary>
    internal static (string Query, string Document, int AnswerStart, string[] Competitors) LongDocument(Reranker reranker, int window)
    {
        var rows = Sample.Where(s => s.Collection == "cranfield" && s.QueryId == 1).ToList();
        string query = rows[0].Query;
        string answer = rows.Single(r => r.DocId == 31).Document.Trim();
        int answerTokens = reranker.Tokenizer.EncodeToIds(answer).Length;
        Assert.InRange(answerTokens, 20, window);
        string first = Filler(reranker.Tokenizer, "medline", window * 6 / 10, window, skip: 0);
        string second = Filler(reranker.Tokenizer, "cisi", Math.Max(window * 6 / 10, window - answerTokens + 8), window, skip: 0);
        string document = first + "\n\n" + second + "\n\n" + answer;
        int before = reranker.Tokenizer.EncodeToIds(first + "\n\n" + second).Length;
        Assert.True(before > 512, $"the answer starts at token {before}");
        return (query, document, document.Length - answer.Length, [.. rows.Where(r => !r.Relevant).Select(r => r.Document)]);
    }

    [Fact]
    public void A_long_document_whose_answer_sits_past_512_tokens_ranks_first_only_with_chunking_and_reports_the_answers_span()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        Assert.Equal(Native.Model.ModelKind.BiEncoder, reranker.Kind);
        int window = reranker.ModelMaxLength - reranker.Tokenizer.EncodeSingle("", 512).Length;   // 510: [CLS] chunk [SEP]
        var (query, document, answerStart, competitors) = LongDocument(reranker, window);
        string[] documents = [.. competitors, document];
        int longIndex = documents.Length - 1;

        // The answer alone beats the competitors (the premise); truncated, the long document does not.
        var alone = reranker.Rerank(query, [.. competitors, document[answerStart..]]);
        Assert.Equal(longIndex, alone[0].Index);
        var truncated = reranker.Rerank(query, documents);
        Assert.NotEqual(longIndex, truncated[0].Index);
        Assert.True(truncated.Single(r => r.Index == longIndex).Truncation.DocumentTokensRemoved > 0);
        Assert.Null(truncated[0].Chunk);

        var chunked = reranker.Rerank(query, documents, options: new RerankOptions { LongDocuments = LongDocumentMode.Chunk });
        RerankResult best = chunked[0];
        Assert.Equal(longIndex, best.Index);
        Assert.Equal(3, best.ChunkCount);
        Assert.NotNull(best.Chunk);
        Assert.Equal(2, best.Chunk!.Ordinal);
        Assert.Equal(answerStart, best.Chunk.Start);                 // exactly the answer's text region
        Assert.Equal(document.Length, best.Chunk.End);
        Assert.Equal(best.Score, best.Chunk.Score);                  // Max: the document scores as its best chunk
        Assert.Equal(alone[0].Score, best.Score, 5);                 // which is the answer scored on its own
        Assert.Equal(0, best.Truncation.DocumentTokensRemoved);
        Assert.All(chunked.Where(r => r.Index != longIndex), r => Assert.Equal(1, r.ChunkCount));   // short documents: one chunk, their own score
        foreach (var r in chunked.Where(r => r.Index != longIndex))
            Assert.Equal(truncated.Single(t => t.Index == r.Index).Score, r.Score, 6);
    }

    [Fact]
    public void Every_aggregation_equals_its_math_over_the_chunks_scored_one_by_one()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        var (query, document, _, _) = LongDocument(reranker, 510);
        var options = new RerankOptions { LongDocuments = LongDocumentMode.Chunk, ChunkWindow = 200, ChunkOverlap = 20 };
        RerankInputs inputs = reranker.Encode(query, [document], options);
        TokenOffsets[] spans = inputs.Chunks!.Spans;
        Assert.True(spans.Length >= 6, $"{spans.Length} chunks");
        Assert.Equal(spans.Length, inputs.ChunkSequenceCount);
        // The reference: each chunk's text reranked alone (re-tokenized, truncate mode).
        float[] alone = [.. spans.Select(s => reranker.Rerank(query, [document[s.Start..s.End]])[0].Score)];
        float[] sorted = [.. alone.OrderDescending()];
        var expected = new Dictionary<ChunkAggregation, double>
        {
            [ChunkAggregation.Max] = sorted[0],
            [ChunkAggregation.Mean] = alone.Average(),
            [ChunkAggregation.First] = alone[0],
            [ChunkAggregation.TopKMean] = sorted.Take(3).Average(),
        };
        foreach (var (aggregation, value) in expected)
        {
            var result = reranker.Rerank(query, [document], options: options with { ChunkAggregation = aggregation, ChunkTopK = 3 })[0];
            Assert.Equal(value, result.Score, 5);
            Assert.Equal(spans.Length, result.ChunkCount);
            int winner = aggregation == ChunkAggregation.First ? 0 : Array.IndexOf(alone, alone.Max());
            Assert.Equal(winner, result.Chunk!.Ordinal);
            Assert.Equal((spans[winner].Start, spans[winner].End), (result.Chunk.Start, result.Chunk.End));
        }
        // First computes only the first chunk.
        Assert.Equal(2, reranker.Encode(query, [document], options with { ChunkAggregation = ChunkAggregation.First }).Sequences.Count);   // query + 1 chunk
    }

    [Fact]
    public void Chunks_cut_at_sentence_ends_inside_the_window_overlap_and_cover_the_document_in_order()
    {
        var tokenizer = TokenizationFixture.FromVocab;
        string document = string.Join(" ", Sample.Where(s => s.Collection == "cisi").Select(s => s.Document).Distinct().Take(4));
        var (ids, offsets) = tokenizer.EncodeToIdsWithOffsets(document);
        const int window = 80, overlap = 10;
        var plan = DocumentChunker.Plan(document, offsets, window, overlap, maxChunks: 1000);
        Assert.Equal(0, plan[0].Start);
        Assert.Equal(ids.Length, plan[^1].End);
        bool SentenceEndAt(int end) => document[offsets[end - 1].End - 1] is '.' or '?' or '!' && offsets[end].Start > offsets[end - 1].End;
        int sentenceCuts = 0;
        for (int c = 0; c < plan.Count; c++)
        {
            var (start, end) = plan[c];
            Assert.InRange(end - start, 1, window);
            Assert.False(tokenizer.IdToToken(ids[start]).StartsWith("##"), $"chunk {c} starts inside a word");
            if (c + 1 < plan.Count)
            {
                Assert.False(tokenizer.IdToToken(ids[end]).StartsWith("##"), $"chunk {c} ends inside a word");
                Assert.InRange(plan[c + 1].Start, end - overlap, end);                    // overlap, moved to a word start at most
                Assert.True(end - start > window / 2, $"chunk {c} ({end - start} tokens) cut before the window's second half");
                // The rule read directly: the last sentence end in the window's second half, if there is one.
                int[] ends = [.. Enumerable.Range(start + window / 2 + 1, Math.Min(start + window, ids.Length) - start - window / 2).Where(SentenceEndAt)];
                if (ends.Length > 0) { Assert.Equal(ends[^1], end); sentenceCuts++; }
            }
        }
        Assert.True(sentenceCuts >= plan.Count / 2, $"{sentenceCuts} of {plan.Count} cuts at sentence ends");
        // The cap: only the first chunks, the rest not planned.
        var capped = DocumentChunker.Plan(document, offsets, window, overlap, maxChunks: 2);
        Assert.Equal(plan.Take(2), capped);
        Assert.Equal([(0, 0)], DocumentChunker.Plan("", [], window, overlap, 5));
    }

    [Fact]
    public void A_cross_encoders_chunks_fill_what_fits_beside_the_query_and_are_never_truncated()
    {
        using var tiny = new TinyBert(classifier: true);
        using var reranker = Reranker.Load(tiny.Directory);
        string query = "alpha beta";
        string document = string.Join(" ", Enumerable.Range(0, 60).Select(i => TinyBert.Vocabulary[10 + i % 20] + (i % 7 == 6 ? " ." : "")));
        int queryTokens = reranker.Tokenizer.EncodeToIds(query).Length;
        int documentTokens = reranker.Tokenizer.EncodeToIds(document).Length;
        var options = new RerankOptions { LongDocuments = LongDocumentMode.Chunk };
        RerankInputs inputs = reranker.Encode(query, [document, "alpha"], options);
        int window = reranker.ModelMaxLength - 3 - queryTokens;
        Assert.All(inputs.Sequences, s => Assert.Equal(0, s.Truncation.DocumentTokensRemoved));
        Assert.All(inputs.Sequences, s => Assert.InRange(s.Length, 1, reranker.ModelMaxLength));
        Assert.Contains(inputs.Sequences, s => s.Length > reranker.ModelMaxLength / 2 + 3 + queryTokens);   // windows are filled
        int planned = inputs.Chunks!.PlannedChunks[0];
        Assert.True(planned >= documentTokens / window, $"{planned} chunks of {documentTokens} tokens");

        // Max equals the best of every chunk's pair run alone (a batch of one).
        var outputs = new float[inputs.Sequences.Count];
        reranker.Forward(inputs.Sequences, outputs);
        var results = reranker.Score(inputs, outputs);
        float best = float.MinValue;
        for (int c = 0; c < planned; c++)
        {
            var one = new float[1];
            reranker.Forward([inputs.Sequences[c]], one);
            best = Math.Max(best, one[0]);
        }
        Assert.Equal(best, results[0].Logit, 5);

        // The cap: two chunks scored, the tokens past them counted as removed.
        var capped = reranker.Encode(query, [document], options with { MaxChunksPerDocument = 2 });
        Assert.Equal(2, capped.Sequences.Count);
        int covered = capped.Sequences[1].InputIds.Length - 3 - queryTokens;
        var cappedResult = reranker.Score(capped, RunAll(reranker, capped))[0];
        Assert.Equal(2, cappedResult.ChunkCount);
        Assert.True(cappedResult.Truncation.DocumentTokensRemoved > 0);
        Assert.True(cappedResult.Truncation.DocumentTokensRemoved < documentTokens - covered + 1);
    }

    private static float[] RunAll(Reranker reranker, RerankInputs inputs)
    {
        var outputs = new float[inputs.Sequences.Count * reranker.OutputSize];
        reranker.Forward(inputs.Sequences, outputs);
        return outputs;
    }

    [Fact]
    public void A_decoder_reranker_puts_its_prompt_around_each_chunk()
    {
        using var reranker = Reranker.Load(QwenFolders.Qwen3RerankerWithTokenizer);
        var prompt = Native.Model.RerankPrompt.Qwen3Reranker;
        var pieces = prompt.Tokenize(reranker.Tokenizer);
        string query = Sample[0].Query;
        string document = string.Join("\n\n", Sample.Where(s => s.Collection == "medline").Select(s => s.Document).Distinct().Take(3));
        var options = new RerankOptions { LongDocuments = LongDocumentMode.Chunk, ChunkWindow = 120, MaxLength = 400 };
        RerankInputs inputs = reranker.Encode(query, [document], options);
        TokenOffsets[] spans = inputs.Chunks!.Spans;
        Assert.True(spans.Length >= 3);
        int[] queryPart = reranker.Tokenizer.EncodeToIds(prompt.QueryPart(prompt.DefaultInstruction, query));
        for (int c = 0; c < spans.Length; c++)
        {
            int[] ids = inputs.Sequences[c].InputIds;
            Assert.Equal(pieces.Prefix, ids[..pieces.Prefix.Length]);
            Assert.Equal(queryPart, ids[pieces.Prefix.Length..(pieces.Prefix.Length + queryPart.Length)]);
            Assert.Equal(pieces.AfterDocument, ids[^pieces.AfterDocument.Length..]);
            int[] chunk = ids[(pieces.Prefix.Length + queryPart.Length + pieces.BeforeDocument.Length)..^pieces.AfterDocument.Length];
            Assert.InRange(chunk.Length, 1, 120);
            // The chunk's byte-level tokens decode to exactly its span of the document (the first one with the prompt's " ").
            string decoded = ByteLevel.Decode(chunk.Select(reranker.Tokenizer.IdToToken));
            Assert.Equal(c == 0 ? " " + document[spans[c].Start..spans[c].End] : document[spans[c].Start..spans[c].End], decoded);
            if (c > 0) Assert.True(spans[c].Start >= spans[c - 1].End - 1);
        }
        var result = reranker.Score(inputs, RunAll(reranker, inputs))[0];
        float best = Enumerable.Range(0, spans.Length).Select(c => { var o = new float[1]; reranker.Forward([inputs.Sequences[c]], o); return Native.Kernels.Activations.Sigmoid(o[0]); }).Max();
        Assert.Equal(best, result.Score, 5);
    }

    [Fact]
    public void A_huge_document_is_cut_to_the_chunk_cap_and_its_unscored_tokens_are_counted()
    {
        using var tiny = new TinyBert(classifier: true);
        using var reranker = Reranker.Load(tiny.Directory);
        string sentence = string.Join(" ", Enumerable.Range(0, 9).Select(i => TinyBert.Vocabulary[10 + i])) + " . ";
        string document = string.Concat(Enumerable.Repeat(sentence, 100_000));   // 2.3 M characters, 1 M tokens
        int total = reranker.Tokenizer.EncodeToIds(document).Length;
        var options = new RerankOptions { LongDocuments = LongDocumentMode.Chunk, MaxChunksPerDocument = 8 };
        RerankInputs inputs = reranker.Encode("alpha", [document], options);
        Assert.Equal(8, inputs.Sequences.Count);
        int covered = inputs.Chunks!.Spans[^1].End;   // characters of the document the last scored chunk reaches
        var result = reranker.Score(inputs, RunAll(reranker, inputs))[0];
        Assert.Equal(8, result.ChunkCount);
        Assert.Equal(total - reranker.Tokenizer.EncodeToIds(document[..covered]).Length, result.Truncation.DocumentTokensRemoved);
    }

    [Fact]
    public void Bad_chunk_options_get_errors_that_name_them()
    {
        using var tiny = new TinyBert(classifier: true);
        using var reranker = Reranker.Load(tiny.Directory);
        var chunk = new RerankOptions { LongDocuments = LongDocumentMode.Chunk };
        string[] docs = ["alpha beta gamma"];
        Assert.Contains("ChunkOverlap", Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", docs, chunk with { ChunkWindow = 8, ChunkOverlap = 8 })).Message);
        Assert.Contains("ChunkOverlap", Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", docs, chunk with { ChunkOverlap = -1 })).Message);
        Assert.Contains("ChunkWindow", Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", docs, chunk with { ChunkWindow = 0 })).Message);
        Assert.Contains("MaxChunksPerDocument", Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", docs, chunk with { MaxChunksPerDocument = 0 })).Message);
        Assert.Contains("ChunkTopK", Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", docs, chunk with { ChunkAggregation = ChunkAggregation.TopKMean, ChunkTopK = 0 })).Message);
        Assert.Contains("LongDocuments", Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", docs, chunk with { LongDocuments = (LongDocumentMode)7 })).Message);
        // An empty document is one empty chunk, scored like the truncate mode's empty document.
        var empty = reranker.Rerank("q", [""], options: chunk)[0];
        Assert.Equal(reranker.Rerank("q", [""])[0].Score, empty.Score, 6);
        Assert.Equal(1, empty.ChunkCount);
        Assert.Equal((0, 0), (empty.Chunk!.Start, empty.Chunk.End));
    }
}
