using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary>
/// Issue 20's status codes: text that is not text (invalid or overlong UTF-8, a lone surrogate escape) in any field of any
/// route is a 422 in the route's error shape, not a 500; the framework's own 4xx (no route, wrong method) carry the route's
/// error body; the API key's scheme is case-insensitive; and a model that computes NaN from finite weights is a 500 naming
/// the stage, with /health saying so (503).
/// </summary>
public sealed class ErrorStatusTests(ServersFixture servers) : IClassFixture<ServersFixture>
{
    /// <summary>The UTF-8 of <paramref name="json"/> with the placeholder <c>@</c> replaced by <paramref name="bad"/>.</summary>
    private static byte[] Body(string json, byte[] bad)
    {
        byte[] text = Encoding.UTF8.GetBytes(json);
        int at = Array.IndexOf(text, (byte)'@');
        return [.. text[..at], .. bad, .. text[(at + 1)..]];
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostBytesAsync(HttpClient client, string route, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await client.PostAsync(route, content);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public static TheoryData<string, string> BadTexts => new()
    {
        { "invalid", "FF" },            // never a UTF-8 byte
        { "overlong", "C0AF" },         // '/' in two bytes
        { "truncated", "E282" },        // a 3-byte sequence cut short
        { "lone surrogate", "5C7564383030" },   // the escape \ud800
    };

    [Theory]
    [MemberData(nameof(BadTexts))]
    public async Task TextThatIsNotTextIs422InTheRouteShapeOnEveryRoute(string kind, string hex)
    {
        byte[] bad = Convert.FromHexString(hex);
        (HttpClient Client, string Route, string Json, string Field, string Key)[] cases =
        [
            (servers.Cross.Client, "/rerank", """{"query": "a@b", "texts": ["x"]}""", "query", "error"),
            (servers.Cross.Client, "/rerank", """{"query": "q", "texts": ["x", "a@b"]}""", "texts[1]", "error"),
            (servers.Cross.Client, "/v2/rerank", """{"query": "q", "documents": ["a@"]}""", "documents[0]", "message"),
            (servers.Cross.Client, "/v1/rerank", """{"query": "q", "documents": [{"text": "@"}]}""", "documents[0].text", "detail"),
            (servers.Bi.Client, "/embed", """{"inputs": "@"}""", "inputs", "error"),
            (servers.Bi.Client, "/embed", """{"inputs": ["ok", "@"]}""", "inputs[1]", "error"),
        ];
        foreach (var (client, route, json, field, key) in cases)
        {
            var (status, body) = await PostBytesAsync(client, route, Body(json, bad));
            Assert.True(status == HttpStatusCode.UnprocessableEntity, $"{kind} in {route} {field}: {(int)status} {body}");
            Assert.Contains($"`{field}` is not valid text", body.GetProperty(key).GetString());
            if (key == "error") Assert.Equal("validation", body.GetProperty("error_type").GetString());
        }
    }

    [Fact]
    public async Task FrameworkStatusesCarryTheRouteErrorBody()
    {
        var client = servers.Cross.Client;
        var notFound = await client.GetAsync("/no-such-route");
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        var body = JsonDocument.Parse(await notFound.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("no route GET /no-such-route", body.GetProperty("error").GetString());
        Assert.Equal("validation", body.GetProperty("error_type").GetString());

        var cohere = await client.GetAsync("/v2/nothing");
        Assert.Equal(HttpStatusCode.NotFound, cohere.StatusCode);
        Assert.Equal("no route GET /v2/nothing", JsonDocument.Parse(await cohere.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString());

        var method = await client.GetAsync("/rerank");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, method.StatusCode);
        Assert.Equal("method GET is not allowed on /rerank", JsonDocument.Parse(await method.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());

        var jina = await client.PutAsync("/v1/rerank", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, jina.StatusCode);
        Assert.Equal("method PUT is not allowed on /v1/rerank", JsonDocument.Parse(await jina.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task TheBearerSchemeIsCaseInsensitiveAndTheKeyExact()
    {
        using var client = new HttpClient { BaseAddress = servers.Bi.Client.BaseAddress };
        foreach (string scheme in (string[])["bearer", "BEARER", "Bearer", "bEaReR"])
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(scheme, ServersFixture.Key);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/info")).StatusCode);
        }
        foreach (string key in (string[])[ServersFixture.Key + "x", ServersFixture.Key[..^1], ServersFixture.Key.ToUpperInvariant(), ""])
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/info")).StatusCode);
        }
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", ServersFixture.Key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/info")).StatusCode);
        client.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/openapi/v1.json")).StatusCode);   // documented as public
    }

    private const string Overflowing = "bert.encoder.layer.0.attention.output.dense.weight";

    [Fact]
    public async Task AModelThatOverflowsIsA500NamingTheStageAndHealthSaysSo()
    {
        // One attention output projection at 3e38: every weight finite (it loads), the activations overflow in layer 0.
        string folder = Path.Combine(Path.GetTempPath(), "ce-server-overflow-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        foreach (string file in Directory.GetFiles(TestModels.CrossEncoder)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        string weights = Path.Combine(folder, "model.safetensors");
        List<KeyValuePair<string, (long[], float[])>> tensors;
        using (var file = SafeTensorsFile.Open(weights))
            tensors = [.. file.Tensors.Values.Select(t => new KeyValuePair<string, (long[], float[])>(t.Name,
                (t.Shape.ToArray(), t.Name == Overflowing ? Enumerable.Repeat(3e38f, 384 * 384).ToArray() : file.ReadFloat32(t.Name))))];
        SafeTensorsWriter.WriteFloat32(weights, tensors);
        try
        {
            await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = folder });
            var health = await server.Client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            var healthBody = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
            Assert.Contains("cannot produce a finite score", healthBody.GetProperty("error").GetString());

            var content = new StringContent("""{"query": "lift", "texts": ["wings", "pie"]}""", Encoding.UTF8, "application/json");
            var response = await server.Client.PostAsync("/rerank", content);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            string text = await response.Content.ReadAsStringAsync();
            var body = JsonDocument.Parse(text).RootElement;
            Assert.Equal(JsonValueKind.Object, body.ValueKind);   // an error, never an array of NaN scores
            Assert.Equal("backend", body.GetProperty("error_type").GetString());
            Assert.Contains("'layer.0.attention.out'", body.GetProperty("error").GetString());
            Assert.Contains("overflowed", body.GetProperty("error").GetString());

            var cohere = await server.Client.PostAsync("/v2/rerank", new StringContent("""{"query": "lift", "documents": ["wings"]}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.InternalServerError, cohere.StatusCode);
            Assert.Contains("overflowed", JsonDocument.Parse(await cohere.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString());
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}

/// <summary>A request line or headers past Kestrel's default limits (8 KiB, 32 KiB) get the route's error body, not the empty
/// answer Kestrel writes itself.</summary>
public sealed class RequestLimitTests(ServersFixture servers) : IClassFixture<ServersFixture>
{
    [Fact]
    public async Task ALongUriIs414AndLargeHeadersAre431WithTheRouteBody()
    {
        var client = servers.Cross.Client;
        var uri = await client.GetAsync("/info?q=" + new string('a', 10_000));
        Assert.Equal(HttpStatusCode.RequestUriTooLong, uri.StatusCode);
        Assert.Equal("request URI too long", JsonDocument.Parse(await uri.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/rerank") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Add("x-padding", new string('b', 40_000));
        var headers = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, headers.StatusCode);
        Assert.Equal("request headers too large", JsonDocument.Parse(await headers.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString());

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/info?q=" + new string('a', 7_000))).StatusCode);   // under the limit
    }
}
