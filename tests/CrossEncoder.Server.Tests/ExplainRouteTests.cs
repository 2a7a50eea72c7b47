using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary><c>POST /explain</c>: the library's explanation through the scheduler, its spans, and every refusal in TEI's error shape.</summary>
public sealed class ExplainRouteTests(ServersFixture servers) : IClassFixture<ServersFixture>
{
    private const string Query = "how do airplanes stay in the air?";
    private const string Document = "My grandmother bakes pies. Wings are shaped so that air flowing over them creates lift. Café 東京 ✈️!";

    private static async Task<(HttpResponseMessage Response, JsonElement Body)> PostRawAsync(HttpClient client, string body)
    {
        var response = await client.PostAsync("/explain", new StringContent(body, Encoding.UTF8, "application/json"));
        return (response, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task TheRouteReturnsTheLibrarysExplanationWithExactSpans()
    {
        var expected = servers.CrossReference.Explain(Query, Document);
        foreach (string field in new[] { "document", "text" })
        {
            var response = await servers.Cross.Client.PostAsJsonAsync("/explain", new Dictionary<string, string> { ["query"] = Query, [field] = Document });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(expected.Score, body.GetProperty("score").GetSingle(), 1e-6f);
            Assert.Equal("utf-16", body.GetProperty("offsets").GetString());
            var words = body.GetProperty("words").EnumerateArray().ToArray();
            Assert.Equal(expected.DocumentWords.Count, words.Length);
            for (int i = 0; i < words.Length; i++)
            {
                int start = words[i].GetProperty("start").GetInt32(), length = words[i].GetProperty("length").GetInt32();
                Assert.Equal(Document.Substring(start, length), words[i].GetProperty("text").GetString());
                Assert.Equal(expected.DocumentWords[i].Attribution!.Value, words[i].GetProperty("attribution").GetSingle(), 1e-6f);
                Assert.False(words[i].GetProperty("beyond_truncation").GetBoolean());
            }
            Assert.Equal(expected.DocumentSentences.Select(s => s.Text), body.GetProperty("sentences").EnumerateArray().Select(s => s.GetProperty("text").GetString()));
            Assert.Equal(expected.QueryWords.Count, body.GetProperty("query_words").GetArrayLength());
            Assert.Equal(expected.SequencesScored, body.GetProperty("sequences_scored").GetInt32());
            Assert.Equal(expected.TokensScored.ToString(), response.Headers.GetValues("x-compute-tokens").Single());
        }
    }

    [Fact]
    public async Task WordsPastTheCutSayNullAndSentencesCanBeLeftOut()
    {
        string longDocument = string.Join(' ', Enumerable.Repeat("Wings are shaped so that air flowing over them creates lift.", 8));
        var (response, body) = await PostRawAsync(servers.Cross.Client, JsonSerializer.Serialize(new { query = Query, document = longDocument, sentences = false, max_length = 64 }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(body.GetProperty("truncated").GetBoolean());
        var last = body.GetProperty("words").EnumerateArray().Last();
        Assert.Equal(JsonValueKind.Null, last.GetProperty("attribution").ValueKind);
        Assert.True(last.GetProperty("beyond_truncation").GetBoolean());
        Assert.Equal(0, body.GetProperty("sentences").GetArrayLength());

        (response, body) = await PostRawAsync(servers.Cross.Client, JsonSerializer.Serialize(new { query = Query, document = longDocument, truncate = false, max_length = 64 }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("truncate", body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("{\"query\": \"q\"}", "missing field `document` (or `text`)")]
    [InlineData("{\"document\": \"lift\"}", "missing field `query`")]
    [InlineData("{\"query\": \"q\", \"document\": \"a\", \"text\": \"b\"}", "not both")]
    [InlineData("{\"query\": \"q\", \"document\": \"  \"}", "`document` cannot be empty")]
    [InlineData("{\"query\": \"\", \"document\": \"lift\"}", "`query` cannot be empty")]
    [InlineData("{\"query\": \"q\", \"document\": \"... ?!\"}", "no words")]
    [InlineData("{\"query\": \"q\", \"document\": 7}", "`document` must be a string")]
    [InlineData("{\"query\": \"q\", \"document\": \"lift\", \"sentences\": \"yes\"}", "`sentences` must be true or false")]
    [InlineData("{\"query\": \"q\", \"document\": \"lift\", \"max_length\": 100000}", "`max_length` must be from 3 to the model's limit of 512")]
    [InlineData("{\"query\": \"q\", \"document\": \"lift\", \"max_length\": 2}", "`max_length` must be from 3")]
    [InlineData("[1]", "the body must be a JSON object")]
    [InlineData("{\"query\": ", "invalid JSON")]
    public async Task BadRequestsAre422InTeisErrorShape(string request, string message)
    {
        var (response, body) = await PostRawAsync(servers.Cross.Client, request);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains(message, body.GetProperty("error").GetString());
        Assert.Equal("validation", body.GetProperty("error_type").GetString());
    }

    [Fact]
    public async Task ABodyOverTheLimitIs413AndTheRouteIsInTheOpenApiDocument()
    {
        var (response, body) = await PostRawAsync(servers.Cross.Client, JsonSerializer.Serialize(new { query = Query, document = new string('a', 20_000) }));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request body too large", body.GetProperty("error").GetString());
        string openApi = await servers.Cross.Client.GetStringAsync("/openapi/v1.json");
        Assert.Contains("\"/explain\"", openApi);
        Assert.Contains("ExplainResponse", openApi);
    }
}
