using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;

namespace CrossEncoder.Server.Tests;

/// <summary>
/// The demo page in a real browser: Debian's Chromium driven by Playwright (through ExecutablePath: Playwright's own browser
/// download cannot work offline). Types a query and passages, clicks, and checks the order and score bars against the
/// server's /rerank answer; saves desktop and phone screenshots under the test output (screenshots/). Chromium comes from
/// <c>apt-get install chromium</c> (.ci/run installs it); set CROSSENCODER_CHROMIUM to use another binary. When it cannot
/// start, the test fails in CI (CI=true); elsewhere it reports that and returns.
/// </summary>
public sealed class DemoPageBrowserTests(ITestOutputHelper output)
{
    private const string Query = "how do airplanes stay in the air?";
    private static readonly string[] Passages =
    [
        "The football match was postponed because of heavy rain.",
        "Wings are shaped so that air flowing over them creates lift, which holds an aircraft up.",
        "My grandmother's apple pie recipe uses cinnamon and brown sugar.",
        "Pressure differences between the upper and lower surfaces of a wing push it upwards.",
        "Water tomato plants early in the morning so the leaves dry before noon.",
        "Pilots raise the nose to increase the angle of attack and the lift during takeoff.",
    ];
    private static readonly int[] OffTopic = [0, 2, 4];

    [Fact]
    public async Task TypingAndClickingReordersThePassagesWithScoreBars()
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

        // What the page must show: the server's own ranking.
        var expected = (await (await server.Client.PostAsJsonAsync("/rerank", new { query = Query, texts = Passages, truncate = true })).Content.ReadFromJsonAsync<JsonElement>())
            .EnumerateArray().Select(r => (Index: r.GetProperty("index").GetInt32(), Score: r.GetProperty("score").GetSingle())).ToArray();
        Assert.All(expected.TakeLast(OffTopic.Length), r => Assert.Contains(r.Index, OffTopic));   // the off-topic lines sink

        string shots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(shots);
        foreach (var (name, width, height) in new[] { ("desktop", 1280, 900), ("phone", 390, 844) })
        {
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = width, Height = height }, DeviceScaleFactor = 1 });
            await page.GotoAsync(server.Client.BaseAddress!.ToString());
            await page.WaitForSelectorAsync("body[data-ready=true]");
            Assert.Contains("all-MiniLM-L6-v2", await page.InnerTextAsync("#model"));
            await page.FillAsync("#query", Query);
            await page.FillAsync("#passages", string.Join('\n', Passages));
            await page.ClickAsync("#rerank");
            await page.WaitForFunctionAsync("() => document.getElementById('stats').textContent.includes('tokens')");
            await page.WaitForTimeoutAsync(900);   // the re-order animation and bar fill take 0.6 s

            var items = await page.QuerySelectorAllAsync("ol.results > li.result");
            Assert.Equal(Passages.Length, items.Count);
            var track = await page.QuerySelectorAsync("ol.results > li.result .bar");
            double trackWidth = (await track!.BoundingBoxAsync())!.Width;
            double previousTop = double.MinValue;
            for (int position = 0; position < items.Count; position++)
            {
                Assert.Equal(expected[position].Index.ToString(CultureInfo.InvariantCulture), await items[position].GetAttributeAsync("data-index"));
                Assert.Equal(Passages[expected[position].Index], await (await items[position].QuerySelectorAsync(".text"))!.InnerTextAsync());
                // On screen in that order (the animation is over), and the bar's drawn width is the score's share of the track.
                var box = (await items[position].BoundingBoxAsync())!;
                Assert.True(box.Y > previousTop, $"item {position} is not below the one before it");
                previousTop = box.Y;
                double fill = (await (await items[position].QuerySelectorAsync(".bar > span"))!.BoundingBoxAsync())?.Width ?? 0;
                Assert.Equal(Math.Clamp(expected[position].Score, 0, 1) * trackWidth, fill, 1.5);
                Assert.Equal(expected[position].Score.ToString("F3", CultureInfo.InvariantCulture), await (await items[position].QuerySelectorAsync(".score"))!.InnerTextAsync());
            }
            Assert.Matches(@"Took \d+ ms .* \d+ tokens, 6 passages", await page.InnerTextAsync("#stats"));
            string file = Path.Combine(shots, $"demo-{name}.png");
            await page.ScreenshotAsync(new() { Path = file, FullPage = true });
            output.WriteLine($"screenshot: {file}");
            await page.CloseAsync();
        }
    }
}
