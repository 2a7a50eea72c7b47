using System.Net.Http.Json;
using System.Text.Json;
using CrossEncoder.Native.Reranking;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;

namespace CrossEncoder.Server.Tests;

/// <summary>
/// The demo page's long-passage toggle in Debian's Chromium (as <see cref="DemoPageBrowserTests"/>): a passage whose answer
/// sits past token 512 sinks when truncated, rises to the top when chunked, and shows its winning chunk highlighted, the
/// very span the server's /rerank returns. Saves screenshots/demo-long.png under the test output (docs/screenshots/ holds a copy).
/// </summary>
public sealed class DemoPageLongDocumentBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheLongPassageToggleRanksByTheBestChunkAndHighlightsIt()
    {
        await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.BiEncoder });
        using var playwright = await Playwright.CreateAsync();
        IBrowser browser;
        string executable = Environment.GetEnvironmentVariable("CROSSENCODER_CHROMIUM") is { Length: > 0 } set ? set : "/usr/bin/chromium";
        try
        {
            browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = executable, Headless = true, Args = ["--no-sandbox", "--disable-gpu"] });
        }
        catch (Exception ex) when (!string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            output.WriteLine($"Chromium could not start ({executable}: {ex.Message.Split('\n')[0]}); install it with `apt-get install chromium`. In CI this fails.");
            return;
        }
        await using var _ = browser;

        // The page takes one passage per line: the long document's paragraphs in one line.
        using var reference = Reranker.Load(TestModels.BiEncoder);
        var c = LongDocument.Build(reference.Tokenizer, reference.ModelMaxLength - 2, oneLine: true);
        string[] passages = [.. c.Competitors.Select(p => p.Trim()), c.Document];
        int longIndex = passages.Length - 1;

        // What the page must show: the server's own answers, truncated and chunked.
        async Task<JsonElement[]> Ask(string mode) =>
            [.. (await (await server.Client.PostAsJsonAsync("/rerank", new { query = c.Query, texts = passages, truncate = true, long_documents = mode }))
                .Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()];
        var truncated = await Ask("truncate");
        var chunked = await Ask("chunk");
        Assert.NotEqual(longIndex, truncated[0].GetProperty("index").GetInt32());
        Assert.Equal(longIndex, chunked[0].GetProperty("index").GetInt32());
        var chunk = chunked[0].GetProperty("chunk");
        string winning = chunk.GetProperty("text").GetString()!;
        int chunks = chunked[0].GetProperty("chunks").GetInt32();
        Assert.True(chunks >= 3, $"{chunks} chunks");
        Assert.Equal(c.AnswerStart, chunk.GetProperty("start").GetInt32());   // the answer, which starts past token 512

        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1000, Height = 900 }, DeviceScaleFactor = 1 });
        await page.GotoAsync(server.Client.BaseAddress!.ToString());
        await page.WaitForSelectorAsync("body[data-ready=true]");
        Assert.False(await page.IsCheckedAsync("#long"));   // the server's default is truncate
        await page.FillAsync("#query", c.Query);
        await page.FillAsync("#passages", string.Join('\n', passages));

        async Task<string[]> RerankAsync()
        {
            await page.EvaluateAsync("() => document.getElementById('stats').textContent = ''");
            await page.ClickAsync("#rerank");
            await page.WaitForFunctionAsync("() => document.getElementById('stats').textContent.includes('tokens')");
            await page.WaitForTimeoutAsync(900);   // the re-order animation
            var items = await page.QuerySelectorAllAsync("ol.results > li.result");
            var indices = new List<string>();
            foreach (var li in items) indices.Add(await li.GetAttributeAsync("data-index") ?? "");
            return [.. indices];
        }

        // Truncated: the page's order is the server's, and nothing is highlighted.
        var order = await RerankAsync();
        Assert.Equal(truncated.Select(r => r.GetProperty("index").GetInt32().ToString()), order);
        Assert.Null(await page.QuerySelectorAsync("mark.chunk"));

        // Chunked: the long passage on top, its winning chunk highlighted inside the whole passage, with a note.
        await page.CheckAsync("#long");
        order = await RerankAsync();
        Assert.Equal(chunked.Select(r => r.GetProperty("index").GetInt32().ToString()), order);
        var first = (await page.QuerySelectorAsync("ol.results > li.result"))!;
        var marks = await first.QuerySelectorAllAsync("mark.chunk");
        Assert.Single(marks);
        Assert.Equal(winning, await marks[0].EvaluateAsync<string>("e => e.textContent"));
        Assert.Equal(passages[longIndex], await (await first.QuerySelectorAsync(".text"))!.EvaluateAsync<string>("e => e.textContent"));
        string before = await (await first.QuerySelectorAsync(".text"))!.EvaluateAsync<string>("e => e.firstChild.textContent");
        Assert.Equal(chunk.GetProperty("start").GetInt32(), before.Length);   // the mark sits at the server's offset
        Assert.Contains($"best of {chunks} chunks", await (await first.QuerySelectorAsync(".chunk-note"))!.InnerTextAsync());
        Assert.True(await marks[0].IsVisibleAsync());
        // The short passages fit in one chunk: no highlight, no note.
        Assert.Equal(1, await page.EvaluateAsync<int>("() => document.querySelectorAll('mark.chunk').length"));

        string shots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(shots);
        string file = Path.Combine(shots, "demo-long.png");
        await first.ScreenshotAsync(new() { Path = file });
        output.WriteLine($"screenshot: {file}");

        // Back to truncation: the highlight goes away.
        await page.UncheckAsync("#long");
        await RerankAsync();
        Assert.Null(await page.QuerySelectorAsync("mark.chunk"));
    }
}
