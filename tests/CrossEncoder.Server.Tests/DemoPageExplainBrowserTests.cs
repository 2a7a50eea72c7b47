using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;

namespace CrossEncoder.Server.Tests;

/// <summary>
/// The demo page's explanation view in Debian's Chromium (as <see cref="DemoPageBrowserTests"/>): a click on a result shows
/// its passage with every word coloured by the server's /explain attribution (blue raises the score, red lowers it) and a
/// legend; a second click closes it. Saves screenshots/demo-explain.png under the test output (docs/screenshots/ holds a copy).
/// </summary>
public sealed class DemoPageExplainBrowserTests(ITestOutputHelper output)
{
    private const string Query = "how do airplanes stay in the air?";
    private static readonly string[] Passages =
    [
        "My grandmother's apple pie recipe uses cinnamon and brown sugar.",
        "Bananas are yellow. Wings are shaped so that air flowing over them creates lift, which holds an aircraft up. Café 🛫 ✈️!",
        "The football match was postponed because of heavy rain.",
    ];

    [Fact]
    public async Task ClickingAResultColoursItsPassageByAttributionWithALegend()
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

        // What the page must show: the server's own explanation of the passage that ranks first.
        string passage = Passages[1];
        var expected = (await (await server.Client.PostAsJsonAsync("/explain", new { query = Query, document = passage })).Content.ReadFromJsonAsync<JsonElement>())
            .GetProperty("words").EnumerateArray().Select(w => (Text: w.GetProperty("text").GetString()!, Attribution: w.GetProperty("attribution").GetDouble())).ToArray();
        double max = expected.Max(w => Math.Abs(w.Attribution));
        Assert.Contains(expected, w => w.Attribution > 0);
        Assert.Contains(expected, w => w.Attribution < 0);

        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 900, Height = 640 }, DeviceScaleFactor = 1 });
        await page.GotoAsync(server.Client.BaseAddress!.ToString());
        await page.WaitForSelectorAsync("body[data-ready=true]");
        await page.FillAsync("#query", Query);
        await page.FillAsync("#passages", string.Join('\n', Passages));
        await page.ClickAsync("#rerank");
        await page.WaitForFunctionAsync("() => document.getElementById('stats').textContent.includes('tokens')");
        await page.WaitForTimeoutAsync(900);   // the re-order animation
        var first = await page.QuerySelectorAsync("ol.results > li.result");
        Assert.Equal("1", await first!.GetAttributeAsync("data-index"));
        await (await first.QuerySelectorAsync(".text"))!.ClickAsync();
        await page.WaitForSelectorAsync("li.result .explain[data-ready=true]");

        // The coloured passage is the passage, character for character, and each word carries the server's attribution.
        var box = (await page.QuerySelectorAsync("li.result .explain"))!;
        Assert.Equal(passage, await (await box.QuerySelectorAsync(".passage"))!.EvaluateAsync<string>("e => e.textContent"));
        var words = await box.QuerySelectorAllAsync(".w");
        Assert.Equal(expected.Length, words.Count);
        for (int i = 0; i < words.Count; i++)
        {
            Assert.Equal(expected[i].Text, await words[i].EvaluateAsync<string>("e => e.textContent"));
            double shown = double.Parse((await words[i].GetAttributeAsync("data-attribution"))!, CultureInfo.InvariantCulture);
            Assert.Equal(expected[i].Attribution, shown, 1e-6);
            // Diverging colour: blue (33,102,172) for a raise, red (178,24,43) for a drop, opacity growing with |attribution|.
            string background = await words[i].EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor");
            var rgba = System.Text.RegularExpressions.Regex.Match(background, @"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)");
            Assert.True(rgba.Success, background);
            double alpha = rgba.Groups[4].Success ? double.Parse(rgba.Groups[4].Value, CultureInfo.InvariantCulture) : 1;
            Assert.Equal(0.85 * Math.Abs(expected[i].Attribution) / max, alpha, 0.01);
            if (alpha > 0.01) Assert.Equal(expected[i].Attribution > 0 ? "33,102,172" : "178,24,43", $"{rgba.Groups[1]},{rgba.Groups[2]},{rgba.Groups[3]}");
        }
        string legend = await (await box.QuerySelectorAsync(".legend"))!.InnerTextAsync();
        Assert.Contains("lowers the score", legend);
        Assert.Contains("raises it", legend);
        Assert.True(await (await box.QuerySelectorAsync(".ramp"))!.IsVisibleAsync());

        string shots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(shots);
        string file = Path.Combine(shots, "demo-explain.png");
        await (await page.QuerySelectorAsync("#columns"))!.ScreenshotAsync(new() { Path = file });
        output.WriteLine($"screenshot: {file}");

        // A second click closes the view; results of the page's other passages still explain.
        await (await first.QuerySelectorAsync(".text"))!.ClickAsync();
        Assert.Null(await page.QuerySelectorAsync("li.result .explain"));
    }
}
