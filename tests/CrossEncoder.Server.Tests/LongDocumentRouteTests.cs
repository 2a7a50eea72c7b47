using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary>A long document built from the committed real IR passages: two paragraphs of MEDLINE and CISI text, then a
/// Cranfield abstract judged relevant to the query, placed so that it starts past token 512 and fills a chunk of its own.</summary>
internal static class LongDocument
{
    public sealed record Case(string Query, string Document, int AnswerStart, string[] Competitors);

    private sealed record Row(string Collection, int QueryId, string Query, int DocId, string Text, bool Relevant);

    private static IReadOnlyList<Row> Rows() =>
        [.. File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "ir-sample.jsonl")).Where(line => line.Length > 0).Select(line =>
        {
            var e = JsonDocument.Parse(line).RootElement;
            return new Row(e.GetProperty("collection").GetString()!, e.GetProperty("query_id").GetInt32(), e.GetProperty("query").GetString()!,
                e.GetProperty("doc_id").GetInt32(), e.GetProperty("doc").GetString()!, e.GetProperty("relevant").GetBoolean());
        })];

    /// <summary>Whole sentences of one collection's passages until the paragraph has between lo and hi tokens.</summary>
    private static string Paragraph(IReadOnlyList<Row> rows, ITextPairTokenizer tokenizer, string collection, int lo, int hi)
    {
        var text = new List<string>();
        foreach (string sentence in rows.Where(r => r.Collection == collection).Select(r => r.Text).Distinct()
                     .SelectMany(d => Regex.Split(d.Trim(), @"(?<=[.!?])\s+")).Where(s => s.Length > 0))
        {
            int tokens = tokenizer.EncodeToIds(string.Join(" ", text.Append(sentence))).Length;
            if (tokens > hi) continue;
            text.Add(sentence);
            if (tokens >= lo) return string.Join(" ", text);
        }
        throw new InvalidOperationException($"the fixture has too little {collection} text for {lo}-{hi} tokens");
    }

    /// <summary>The case for a model whose chunk window (document tokens per chunk) is <paramref name="window"/>. The paragraphs
    /// are joined by a blank line (a paragraph break, where the chunker prefers to cut), or with <paramref name="oneLine"/> by
    /// a space (the demo page takes one passage per line): then each paragraph nearly fills a window, so that no chunk can
    /// reach past it to the next sentence end, and the answer still starts a chunk.</summary>
    public static Case Build(ITextPairTokenizer tokenizer, int window, bool oneLine = false)
    {
        var rows = Rows();
        var cranfield = rows.Where(r => r.Collection == "cranfield" && r.QueryId == 1).ToList();
        string answer = cranfield.Single(r => r.DocId == 31).Text.Trim();
        int answerTokens = tokenizer.EncodeToIds(answer).Length;
        string separator = oneLine ? " " : "\n\n";
        int lo = oneLine ? window - 6 : window * 6 / 10;
        string first = Paragraph(rows, tokenizer, "medline", lo, window);
        string second = Paragraph(rows, tokenizer, "cisi", Math.Max(lo, window - answerTokens + 8), window);
        string document = first + separator + second + separator + answer;
        Assert.True(tokenizer.EncodeToIds(first + separator + second).Length > 512, "the answer must start past token 512");
        return new Case(cranfield[0].Query, document, document.Length - answer.Length, [.. cranfield.Where(r => !r.Relevant).Select(r => r.Text)]);
    }
}

/// <summary>Long documents through the three rerank routes: the request fields over the serve defaults, the winning chunk's
/// span in every response shape (equal to the library's), and every refusal in the route's error shape.</summary>
public sealed class LongDocumentRouteTests(ServersFixture servers) : IClassFixture<ServersFixture>
{
    private LongDocument.Case Case()
    {
        var reranker = servers.BiReference;
        int window = reranker.ModelMaxLength - 2;   // a bi-encoder embeds [CLS] chunk [SEP]
        return LongDocument.Build(reranker.Tokenizer, window);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(HttpClient client, string route, object body)
    {
        var response = await client.PostAsJsonAsync(route, body);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>Each route's results as (index, score, chunk) best first.</summary>
    private static (int Index, float Score, JsonElement? Chunk, int? Chunks)[] Results(string route, JsonElement body)
    {
        var items = route == "/rerank" ? body.EnumerateArray() : body.GetProperty("results").EnumerateArray();
        return [.. items.Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty(route == "/rerank" ? "score" : "relevance_score").GetSingle(),
            r.TryGetProperty("chunk", out var c) ? c : (JsonElement?)null, r.TryGetProperty("chunks", out var n) ? n.GetInt32() : (int?)null))];
    }

    private static object Body(string route, string query, string[] documents, Dictionary<string, object>? extra = null)
    {
        var body = new Dictionary<string, object> { ["query"] = query, [route == "/rerank" ? "texts" : "documents"] = documents };
        foreach (var (key, value) in extra ?? []) body[key] = value;
        return body;
    }

    [Theory]
    [InlineData("/rerank")]
    [InlineData("/v2/rerank")]
    [InlineData("/v1/rerank")]
    public async Task ALongDocumentRanksFirstOnlyWhenChunkedAndEveryRouteReportsTheAnswersSpan(string route)
    {
        var c = Case();
        string[] documents = [.. c.Competitors, c.Document];
        int longIndex = documents.Length - 1;
        var reference = servers.BiReference.Rerank(c.Query, documents, options: new RerankOptions { LongDocuments = LongDocumentMode.Chunk });
        Assert.Equal(longIndex, reference[0].Index);   // the library's answer, which the route must give

        var (status, body) = await PostAsync(servers.Bi.Client, route, Body(route, c.Query, documents));
        Assert.Equal(HttpStatusCode.OK, status);
        var truncated = Results(route, body);
        Assert.NotEqual(longIndex, truncated[0].Index);                 // by default (truncate) the answer is never read
        Assert.All(truncated, r => { Assert.Null(r.Chunk); Assert.Null(r.Chunks); });   // and the APIs' shapes are unchanged

        (status, body) = await PostAsync(servers.Bi.Client, route, Body(route, c.Query, documents, new() { ["long_documents"] = "chunk" }));
        Assert.Equal(HttpStatusCode.OK, status);
        var chunked = Results(route, body);
        Assert.Equal(longIndex, chunked[0].Index);
        for (int i = 0; i < chunked.Length; i++)
        {
            var expected = reference[i];
            Assert.Equal(expected.Index, chunked[i].Index);
            Assert.Equal(expected.Score, chunked[i].Score, 1e-6f);
            Assert.Equal(expected.ChunkCount, chunked[i].Chunks);
            var chunk = chunked[i].Chunk!.Value;
            int start = chunk.GetProperty("start").GetInt32(), end = chunk.GetProperty("end").GetInt32();
            Assert.Equal(expected.Chunk!.Start, start);
            Assert.Equal(expected.Chunk.End, end);
            Assert.Equal(expected.Chunk.Ordinal, chunk.GetProperty("ordinal").GetInt32());
            Assert.Equal(expected.Chunk.Score, chunk.GetProperty("score").GetSingle(), 1e-6f);
            Assert.Equal(documents[expected.Index][start..end], chunk.GetProperty("text").GetString());
        }
        var best = chunked[0].Chunk!.Value;
        Assert.Equal(c.AnswerStart, best.GetProperty("start").GetInt32());   // the winning chunk is exactly the answer
        Assert.Equal(c.Document.Length, best.GetProperty("end").GetInt32());
    }

    [Fact]
    public async Task WindowOverlapAndAggregationReachTheLibrary()
    {
        var c = Case();
        string[] documents = [c.Document, c.Competitors[0]];
        var options = new RerankOptions { LongDocuments = LongDocumentMode.Chunk, ChunkWindow = 120, ChunkOverlap = 16, ChunkAggregation = ChunkAggregation.TopKMean, ChunkTopK = 2 };
        var reference = servers.BiReference.Rerank(c.Query, documents, options: options);
        var (status, body) = await PostAsync(servers.Bi.Client, "/rerank", Body("/rerank", c.Query, documents,
            new() { ["long_documents"] = "chunk", ["chunk_window"] = 120, ["chunk_overlap"] = 16, ["chunk_aggregation"] = "topk:2" }));
        Assert.Equal(HttpStatusCode.OK, status);
        var results = Results("/rerank", body);
        Assert.True(reference.Single(r => r.Index == 0).ChunkCount > 8);
        Assert.Equal(reference.Select(r => (r.Index, r.Score, r.ChunkCount)), results.Select(r => (r.Index, r.Score, r.Chunks ?? -1)));
    }

    [Theory]
    [InlineData("/rerank", "error")]
    [InlineData("/v2/rerank", "message")]
    [InlineData("/v1/rerank", "detail")]
    public async Task BadLongDocumentFieldsAre422InTheRoutesShape(string route, string messageField)
    {
        var c = Case();
        string[] documents = [c.Document];
        var cases = new (Dictionary<string, object> Fields, string Says)[]
        {
            (new() { ["long_documents"] = "split" }, "`long_documents` must be truncate or chunk, got 'split'"),
            (new() { ["long_documents"] = 3 }, "`long_documents` must be a string"),
            (new() { ["chunk_window"] = 100 }, "`chunk_window` needs \"long_documents\": \"chunk\""),
            (new() { ["long_documents"] = "truncate", ["chunk_aggregation"] = "max" }, "`chunk_aggregation` needs \"long_documents\": \"chunk\""),
            (new() { ["long_documents"] = "chunk", ["chunk_window"] = 0 }, "`chunk_window` must be positive, got 0"),
            (new() { ["long_documents"] = "chunk", ["chunk_overlap"] = -1 }, "`chunk_overlap` must be 0 or more, got -1"),
            (new() { ["long_documents"] = "chunk", ["chunk_window"] = 50, ["chunk_overlap"] = 50 }, "`chunk_overlap` 50 must be smaller than `chunk_window` 50"),
            (new() { ["long_documents"] = "chunk", ["chunk_aggregation"] = "topk:0" }, "`chunk_aggregation` must be max, mean, first or topk:K"),
            (new() { ["long_documents"] = "chunk", ["chunk_aggregation"] = "median" }, "got 'median'"),
            // Known only once the query is tokenized: the window that fits beside it (510 tokens here) is not above the overlap.
            (new() { ["long_documents"] = "chunk", ["chunk_overlap"] = 600 }, "chunking: ChunkOverlap (600) must be smaller than the chunk window"),
        };
        foreach (var (fields, says) in cases)
        {
            var (status, body) = await PostAsync(servers.Bi.Client, route, Body(route, c.Query, documents, fields));
            Assert.Equal((HttpStatusCode)422, status);
            Assert.Contains(says, body.GetProperty(messageField).GetString());
        }
    }

    [Fact]
    public async Task ServeDefaultsApplyToRequestsThatSayNothingAndTheCapOfChunksHonoursTruncate()
    {
        var c = Case();
        string[] documents = [.. c.Competitors, c.Document];
        var defaults = new RerankOptions { LongDocuments = LongDocumentMode.Chunk, MaxChunksPerDocument = 2, ChunkAggregation = ChunkAggregation.Mean };
        await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.BiEncoder, LongDocumentDefaults = defaults });

        var info = await server.Client.GetFromJsonAsync<JsonElement>("/info");
        Assert.Equal("chunk", info.GetProperty("long_documents").GetString());
        Assert.Equal("mean", info.GetProperty("chunk_aggregation").GetString());

        var reference = servers.BiReference.Rerank(c.Query, documents, options: defaults);
        Assert.True(reference.Single(r => r.Index == documents.Length - 1).Truncation.Truncated);   // 3 chunks' worth, capped at 2
        var (status, body) = await PostAsync(server.Client, "/rerank", Body("/rerank", c.Query, documents));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(reference.Select(r => (r.Index, r.Score, r.ChunkCount)), Results("/rerank", body).Select(r => (r.Index, r.Score, r.Chunks ?? -1)));

        // TEI's "truncate": false refuses what would be cut: here the chunks past the cap.
        (status, body) = await PostAsync(server.Client, "/rerank", Body("/rerank", c.Query, documents, new() { ["truncate"] = false }));
        Assert.Equal((HttpStatusCode)422, status);
        Assert.Contains("longer than 2 chunks", body.GetProperty("error").GetString());

        // A request can still ask for truncation (the APIs' own behaviour), and then gets no chunk fields.
        (status, body) = await PostAsync(server.Client, "/rerank", Body("/rerank", c.Query, documents, new() { ["long_documents"] = "truncate" }));
        Assert.Equal(HttpStatusCode.OK, status);
        var truncated = servers.BiReference.Rerank(c.Query, documents);
        Assert.Equal(truncated.Select(r => (r.Index, r.Score)), Results("/rerank", body).Select(r => (r.Index, r.Score)));
        Assert.All(Results("/rerank", body), r => Assert.Null(r.Chunk));
    }
}
