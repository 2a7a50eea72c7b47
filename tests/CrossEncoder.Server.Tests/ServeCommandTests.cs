using System.Net;
using System.Text.RegularExpressions;
using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary><c>crossencoder serve</c> end to end in-process: starts, answers, stops on cancellation (Ctrl+C) with exit 0;
/// bad options are usage errors.</summary>
public sealed class ServeCommandTests
{
    [Fact]
    public async Task ServeAnswersThenStopsOnCtrlC()
    {
        var buffer = new StringWriter();
        var stdout = TextWriter.Synchronized(buffer);
        string Printed() { lock (stdout) return buffer.ToString(); }
        var stderr = new StringWriter();
        using var ctrlC = new CancellationTokenSource();
        var run = Task.Run(() => Cli.Cli.Run(["serve", "--model", TestModels.CrossEncoder, "--port", "0", "--max-client-batch-size", "2"], TextReader.Null, stdout, stderr, ctrlC.Token));
        Match listening = Match.Empty;
        for (int i = 0; i < 600 && !(listening = Regex.Match(Printed(), @"listening on (http://127\.0\.0\.1:\d+/)")).Success && !run.IsCompleted; i++) await Task.Delay(50);
        Assert.True(listening.Success, $"no 'listening on' line: {Printed()} {stderr}");

        using var client = new HttpClient { BaseAddress = new Uri(listening.Groups[1].Value) };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        var tooMany = await client.PostAsync("/rerank", new StringContent("""{"query": "q", "texts": ["a", "b", "c"]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMany.StatusCode);   // the flag reached the server

        ctrlC.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("stopped.", Printed());
    }

    [Fact]
    public void BadOptionsAreUsageErrors()
    {
        var stderr = new StringWriter();
        Assert.Equal(2, Cli.Cli.Run(["serve", "--port", "70000"], TextReader.Null, new StringWriter(), stderr));
        Assert.Contains("--port", stderr.ToString());
        Assert.Equal(1, Cli.Cli.Run(["serve", "--model", "/nonexistent/model"], TextReader.Null, new StringWriter(), stderr = new StringWriter()));
        Assert.Contains("does not exist", stderr.ToString());
    }
}
