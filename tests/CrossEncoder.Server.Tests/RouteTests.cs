using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary>Two servers shared by the route tests: a cross-encoder (MiniLM with an attached head) and the MiniLM bi-encoder behind an API key.</summary>
public sealed class ServersFixture : IAsyncLifetime
{
    public const string Key = "test-key";
    internal RunningServer Cross { get; private set; } = null!;
    internal RunningServer Bi { get; private set; } = null!;
    public Reranker CrossReference { get; private set; } = null!;
    public Reranker BiReference { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cross = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.CrossEncoder, CompareModelDirectory = TestModels.BiEncoder, MaxClientBatchSize = 8, MaxRequestBodyBytes = 16_000 });
        Bi = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.BiEncoder, ApiKey = Key });
        CrossReference = Reranker.Load(TestModels.CrossEncoder);
        BiReference = Reranker.Load(TestModels.BiEncoder);
    }

    public async Task DisposeAsync()
    {
        await Cross.DisposeAsync();
        await Bi.DisposeAsync();
        CrossReference.Dispose();
        BiReference.Dispose();
    }
}

/// <summary>Every route's shape and numbers against the library called directly, and every error code with its body.</summary>
public sealed class RouteTests(ServersFixture servers) : IClassFixture<ServersFixture>
{
    private const string Query = "how do airplanes stay in the air?";
    private static readonly string[] Texts =
    [
        "Wings are shaped so that air flowing over them creates lift.",
        "My grandmother's apple pie recipe uses cinnamon.",
        "Jet engines push air backwards to produce thrust.",
        "The football match was postponed because of rain.",
    ];

    private static async Task<(HttpResponseMessage Response, JsonElement Body)> PostAsync(HttpClient client, string route, object body)
    {
        var response = await client.PostAsJsonAsync(route, body);
        return (response, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static async Task<(HttpResponseMessage Response, JsonElement Body)> PostRawAsync(HttpClient client, string route, string body)
    {
        var response = await client.PostAsync(route, new StringContent(body, Encoding.UTF8, "application/json"));
        return (response, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task TeiRerankReturnsTheLibrarysScoresSortedWithTimingHeaders()
    {
        var expected = servers.CrossReference.Rerank(Query, Texts);
        var (response, body) = await PostAsync(servers.Cross.Client, "/rerank", new { query = Query, texts = Texts, return_text = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ranks = body.EnumerateArray().ToArray();
        Assert.Equal(expected.Select(r => r.Index), ranks.Select(r => r.GetProperty("index").GetInt32()));
        for (int i = 0; i < ranks.Length; i++)
        {
            Assert.Equal(expected[i].Score, ranks[i].GetProperty("score").GetSingle(), 1e-5f);
            Assert.Equal(Texts[expected[i].Index], ranks[i].GetProperty("text").GetString());
        }
        int tokens = servers.CrossReference.Encode(Query, Texts).TokenCount;
        Assert.Equal(tokens.ToString(), response.Headers.GetValues("x-compute-tokens").Single());
        foreach (var header in new[] { "x-compute-time", "x-tokenization-time", "x-queue-time", "x-inference-time", "x-total-time" })
            Assert.True(long.TryParse(response.Headers.GetValues(header).Single(), out long ms) && ms >= 0, header);

        // raw_scores: the logits; no text unless asked.
        var (_, raw) = await PostAsync(servers.Cross.Client, "/rerank", new { query = Query, texts = Texts, raw_scores = true });
        var first = raw.EnumerateArray().First();
        Assert.Equal(expected[0].Logit, first.GetProperty("score").GetSingle(), 1e-5f);
        Assert.False(first.TryGetProperty("text", out _));
    }

    [Fact]
    public async Task CohereV2ShapeWithTopN()
    {
        var expected = servers.CrossReference.Rerank(Query, Texts);
        var (response, body) = await PostAsync(servers.Cross.Client, "/v2/rerank", new { model = "any", query = Query, documents = Texts, top_n = 2 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(Guid.TryParse(body.GetProperty("id").GetString(), out _));
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        Assert.Equal(expected.Take(2).Select(r => r.Index), results.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(expected[0].Score, results[0].GetProperty("relevance_score").GetSingle(), 1e-5f);
        Assert.False(results[0].TryGetProperty("document", out _));
        Assert.Equal("2", body.GetProperty("meta").GetProperty("api_version").GetProperty("version").GetString());
        Assert.Equal(1, body.GetProperty("meta").GetProperty("billed_units").GetProperty("search_units").GetInt32());
        Assert.True(response.Headers.Contains("x-compute-tokens"));

        // max_tokens_per_doc cuts documents: a 1-token budget changes the scores of documents longer than that.
        var (_, cut) = await PostAsync(servers.Cross.Client, "/v2/rerank", new { model = "any", query = Query, documents = Texts, max_tokens_per_doc = 1 });
        var shortExpected = servers.CrossReference.Rerank(Query, Texts, options: new RerankOptions { MaxLength = servers.CrossReference.Tokenizer.EncodeToIds(Query).Length + 4 });
        Assert.Equal(shortExpected.Select(r => r.Index), cut.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
    }

    [Fact]
    public async Task JinaV1ShapeTakesStringsOrTextObjects()
    {
        var expected = servers.CrossReference.Rerank(Query, Texts);
        object[] documents = [Texts[0], new { text = Texts[1] }, Texts[2], new { text = Texts[3] }];
        var (response, body) = await PostAsync(servers.Cross.Client, "/v1/rerank", new { model = "jina-reranker-v2", query = Query, documents, top_n = 3 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("jina-reranker-v2", body.GetProperty("model").GetString());
        Assert.Equal(servers.CrossReference.Encode(Query, Texts).TokenCount, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(expected.Take(3).Select(r => r.Index), results.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(Texts[expected[0].Index], results[0].GetProperty("document").GetProperty("text").GetString());
        Assert.Equal(expected[0].Score, results[0].GetProperty("relevance_score").GetSingle(), 1e-5f);

        var (_, bare) = await PostAsync(servers.Cross.Client, "/v1/rerank", new { model = "m", query = Query, documents = Texts, return_documents = false });
        Assert.False(bare.GetProperty("results")[0].TryGetProperty("document", out _));
    }

    [Fact]
    public async Task EmbedGivesUnitVectorsWhoseCosineIsTheRerankScore()
    {
        var (response, body) = await PostAsync(servers.Bi.Client, "/embed", new { inputs = new[] { Query, Texts[0] } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var vectors = body.EnumerateArray().Select(v => v.EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToArray();
        Assert.Equal(2, vectors.Length);
        Assert.Equal(384, vectors[0].Length);
        Assert.Equal(1f, System.Numerics.Tensors.TensorPrimitives.Norm(vectors[0]), 1e-5f);
        float expected = servers.BiReference.Rerank(Query, [Texts[0]]).Single().Score;
        Assert.Equal(expected, System.Numerics.Tensors.TensorPrimitives.Dot(vectors[0], vectors[1]), 1e-5f);

        var (single, one) = await PostAsync(servers.Bi.Client, "/embed", new { inputs = Query });   // a string, not an array
        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        Assert.Equal(vectors[0], one[0].EnumerateArray().Select(x => x.GetSingle()).ToArray());

        // A cross-encoder has no embedding to give: TEI answers 424.
        var (cross, error) = await PostAsync(servers.Cross.Client, "/embed", new { inputs = "x" });
        Assert.Equal(HttpStatusCode.FailedDependency, cross.StatusCode);
        Assert.Equal("backend", error.GetProperty("error_type").GetString());
    }

    [Fact]
    public async Task AnInt8ServerSaysSoInInfoAndScoresAsTheInt8Reranker()
    {
        await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.CrossEncoder, Precision = Precision.Int8 });
        var info = JsonDocument.Parse(await server.Client.GetStringAsync("/info")).RootElement;
        Assert.Equal("int8", info.GetProperty("model_dtype").GetString());
        using var int8 = Reranker.Load(TestModels.CrossEncoder, new RerankerOptions { Precision = Precision.Int8 });
        var expected = int8.Rerank(Query, Texts);
        var (response, body) = await PostAsync(server.Client, "/rerank", new { query = Query, texts = Texts });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected.Select(r => r.Index), body.EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(expected[0].Score, body[0].GetProperty("score").GetSingle(), 1e-5f);
    }

    [Fact]
    public async Task TheCompareModelAnswersOnItsOwnRouteAndShowsInInfo()
    {
        var info = JsonDocument.Parse(await servers.Cross.Client.GetStringAsync("/info")).RootElement;
        Assert.Equal("all-MiniLM-L6-v2", info.GetProperty("compare_model_id").GetString());
        Assert.Equal("bi-encoder", info.GetProperty("compare_model_kind").GetString());
        var expected = servers.BiReference.Rerank(Query, Texts);
        var (response, body) = await PostAsync(servers.Cross.Client, "/compare/rerank", new { query = Query, texts = Texts });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected.Select(r => r.Index), body.EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(expected[0].Score, body[0].GetProperty("score").GetSingle(), 1e-5f);
        // Without --compare-model the route does not exist.
        Assert.Equal(HttpStatusCode.NotFound, (await servers.Bi.Client.PostAsJsonAsync("/compare/rerank", new { query = Query, texts = Texts })).StatusCode);
    }

    [Fact]
    public async Task HealthInfoMetricsOpenApiAndDemoPage()
    {
        Assert.Equal(HttpStatusCode.OK, (await servers.Cross.Client.GetAsync("/health")).StatusCode);
        var info = JsonDocument.Parse(await servers.Cross.Client.GetStringAsync("/info")).RootElement;
        Assert.Equal("minilm-cross-encoder", info.GetProperty("model_id").GetString());
        Assert.Equal("cross-encoder", info.GetProperty("model_kind").GetString());
        Assert.Equal("reranker", info.GetProperty("model_type").GetString());
        Assert.Equal(512, info.GetProperty("max_input_length").GetInt32());
        Assert.Equal(8, info.GetProperty("max_client_batch_size").GetInt32());
        Assert.Equal("float32", info.GetProperty("model_dtype").GetString());
        Assert.Equal("sigmoid", info.GetProperty("score_transform").GetString());

        await PostAsync(servers.Cross.Client, "/rerank", new { query = Query, texts = Texts });
        await PostRawAsync(servers.Cross.Client, "/rerank", "{");
        string metrics = await servers.Cross.Client.GetStringAsync("/metrics");
        Assert.Matches(@"crossencoder_requests_total\{route=""/rerank"",status=""200""\} [1-9]", metrics);
        Assert.Matches(@"crossencoder_requests_total\{route=""/rerank"",status=""422""\} [1-9]", metrics);
        foreach (var name in new[] { "crossencoder_request_duration_seconds_bucket", "crossencoder_queue_duration_seconds_count", "crossencoder_batch_tokens_sum",
                     "crossencoder_batch_size_count", "crossencoder_tokens_processed_total", "crossencoder_documents_truncated_total" })
            Assert.Contains(name, metrics);
        Assert.Matches(@"crossencoder_tokens_processed_total [1-9]", metrics);

        string openApi = await servers.Cross.Client.GetStringAsync("/openapi/v1.json");
        foreach (var path in new[] { "\"/rerank\"", "\"/v1/rerank\"", "\"/v2/rerank\"", "\"/embed\"", "\"/info\"" }) Assert.Contains(path, openApi);

        var page = await servers.Cross.Client.GetAsync("/");
        Assert.Equal("text/html; charset=utf-8", page.Content.Headers.ContentType!.ToString());
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("runs in this server, on your own machine", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));   // nothing fetched from elsewhere
        Assert.DoesNotContain("https://", html);
    }

    [Theory]
    [InlineData("/rerank", "{", "invalid JSON")]
    [InlineData("/rerank", "[1]", "must be a JSON object")]
    [InlineData("/rerank", """{"texts": ["a"]}""", "missing field `query`")]
    [InlineData("/rerank", """{"query": "q"}""", "missing field `texts`")]
    [InlineData("/rerank", """{"query": "q", "texts": ["a", 3]}""", "`texts[1]` must be a string")]
    [InlineData("/rerank", """{"query": "", "texts": ["a"]}""", "`query` cannot be empty")]
    [InlineData("/rerank", """{"query": "q", "texts": []}""", "`texts` cannot be empty")]
    [InlineData("/rerank", """{"query": "q", "texts": ["a"], "raw_scores": "yes"}""", "`raw_scores` must be true or false")]
    [InlineData("/rerank", """{"query": "q", "texts": ["a"], "truncation_direction": "left"}""", "left is not supported")]
    [InlineData("/v2/rerank", """{"query": "q", "documents": ["a"], "top_n": 0}""", "`top_n` must be positive")]
    [InlineData("/v1/rerank", """{"query": "q", "documents": [{"title": "a"}]}""", "must be a string or")]
    public async Task BadFieldsAre422InTheRoutesErrorShape(string route, string body, string message)
    {
        var (response, error) = await PostRawAsync(servers.Cross.Client, route, body);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        string field = route switch { "/v2/rerank" => "message", "/v1/rerank" => "detail", _ => "error" };
        Assert.Contains(message, error.GetProperty(field).GetString());
        if (route == "/rerank") Assert.Equal("validation", error.GetProperty("error_type").GetString());
        Assert.DoesNotContain("   at ", error.ToString());
    }

    [Fact]
    public async Task TooLongWithoutTruncateIs422AndWithTruncateIsScored()
    {
        string longText = string.Join(' ', Enumerable.Repeat("wings lift aircraft", 300));
        var (refused, error) = await PostAsync(servers.Cross.Client, "/rerank", new { query = Query, texts = new[] { longText }, truncate = false });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("maximum of 512 tokens", error.GetProperty("error").GetString());
        var (cut, body) = await PostAsync(servers.Cross.Client, "/rerank", new { query = Query, texts = new[] { longText }, truncate = true });
        Assert.Equal(HttpStatusCode.OK, cut.StatusCode);
        Assert.Equal(servers.CrossReference.Rerank(Query, [longText]).Single().Score, body[0].GetProperty("score").GetSingle(), 1e-5f);
        Assert.Matches(@"crossencoder_documents_truncated_total [1-9]", await servers.Cross.Client.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task TooManyDocumentsOrTooBigABodyIs413()
    {
        var (many, error) = await PostAsync(servers.Cross.Client, "/rerank", new { query = Query, texts = Enumerable.Repeat("a", 9).ToArray() });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, many.StatusCode);
        Assert.Equal("batch size 9 > maximum allowed batch size 8", error.GetProperty("error").GetString());
        var (cohere, cohereError) = await PostAsync(servers.Cross.Client, "/v2/rerank", new { query = Query, documents = Enumerable.Repeat("a", 9).ToArray() });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, cohere.StatusCode);
        Assert.Contains("batch size 9", cohereError.GetProperty("message").GetString());

        var (big, bigError) = await PostAsync(servers.Cross.Client, "/rerank", new { query = Query, texts = new[] { new string('x', 20_000) } });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.Equal("request body too large", bigError.GetProperty("error").GetString());
    }

    [Fact]
    public async Task ApiKeyIsRequiredOnApiRoutesOnly()
    {
        using var anonymous = new HttpClient { BaseAddress = servers.Bi.Client.BaseAddress };
        var (missing, error) = await PostAsync(anonymous, "/rerank", new { query = Query, texts = Texts });
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("API key", error.GetProperty("error").GetString());
        anonymous.DefaultRequestHeaders.Authorization = new("Bearer", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/info")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(anonymous, "/v2/rerank", new { query = Query, documents = Texts })).Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/")).StatusCode);

        var (ok, body) = await PostAsync(servers.Bi.Client, "/rerank", new { query = Query, texts = Texts });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(servers.BiReference.Rerank(Query, Texts).Select(r => r.Index), body.EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
    }
}
