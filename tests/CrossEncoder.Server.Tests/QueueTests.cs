using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary>Back-pressure and lifecycle with the scheduler held at a gate: a full queue answers 429, a client that leaves is
/// dropped before its forward pass, and stopping the server drains the requests already in.</summary>
public sealed class QueueTests
{
    private static readonly object Request = new { query = "wing lift", texts = new[] { "the wing lift in high speed flow", "blood cell data" } };

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), "timed out waiting");
    }

    private static async Task<string> MetricAsync(HttpClient client, string name) =>
        (await client.GetStringAsync("/metrics")).Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1];

    [Fact]
    public async Task AFullQueueAnswers429AndTheAdmittedRequestStillCompletes()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.CrossEncoder, MaxConcurrentRequests = 1, BeforeBatch = () => gate.Task });
        var admitted = server.Client.PostAsJsonAsync("/rerank", Request);
        await WaitForAsync(() => server.App.Services is not null && MetricAsync(server.Client, "crossencoder_queue_requests").Result == "1");

        var refused = await server.Client.PostAsJsonAsync("/rerank", Request);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("overloaded", error.GetProperty("error_type").GetString());
        var cohere = await server.Client.PostAsJsonAsync("/v2/rerank", new { query = "q", documents = new[] { "d" } });
        Assert.Equal(HttpStatusCode.TooManyRequests, cohere.StatusCode);

        gate.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await admitted).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsJsonAsync("/rerank", Request)).StatusCode);   // room again
    }

    [Fact]
    public async Task AClientThatDisconnectsIsDroppedBeforeItsForwardPass()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.CrossEncoder, BeforeBatch = () => gate.Task });
        using var leaving = new CancellationTokenSource();
        var abandoned = server.Client.PostAsJsonAsync("/rerank", Request, leaving.Token);
        await WaitForAsync(() => MetricAsync(server.Client, "crossencoder_queue_requests").Result == "1");
        leaving.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await Task.Delay(200);   // let Kestrel notice the reset

        gate.SetResult();
        await WaitForAsync(() => MetricAsync(server.Client, "crossencoder_requests_cancelled_total").Result == "1");
        Assert.Equal("0", await MetricAsync(server.Client, "crossencoder_tokens_processed_total"));   // no forward pass ran for it
        Assert.Equal("0", await MetricAsync(server.Client, "crossencoder_queue_requests"));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsJsonAsync("/rerank", Request)).StatusCode);
    }

    [Fact]
    public async Task StoppingDrainsInFlightRequestsThenRefusesConnections()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.CrossEncoder, BeforeBatch = () => gate.Task });
        var address = server.Client.BaseAddress!;
        var inFlight = server.Client.PostAsJsonAsync("/rerank", Request);
        await WaitForAsync(() => MetricAsync(server.Client, "crossencoder_queue_requests").Result == "1");

        var stopping = server.App.StopAsync();   // what Ctrl-C / SIGTERM does
        await Task.Delay(300);
        Assert.False(stopping.IsCompleted, "the server stopped while a request was in flight");
        gate.SetResult();
        var response = await inFlight;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetArrayLength());
        await stopping;

        using var late = new HttpClient { BaseAddress = address };
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => late.GetAsync("/health"));
        Assert.IsType<SocketException>(refused.InnerException);
        await server.DisposeAsync();
    }
}
