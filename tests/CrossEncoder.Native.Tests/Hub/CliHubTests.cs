using CrossEncoder.Cli;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Hub;

/// <summary>
/// <c>crossencoder rerank --model org/name</c> end to end against <see cref="FakeHub"/>, configured as a user would: HF_ENDPOINT,
/// HF_HUB_CACHE, HF_HOME, HF_HUB_OFFLINE (this class is the only one that sets them; xUnit runs its tests one at a time).
/// </summary>
public sealed class CliHubTests : IAsyncLifetime
{
    private static readonly string[] Variables = ["HF_ENDPOINT", "HF_HUB_CACHE", "HF_HOME", "HF_HUB_OFFLINE", "HF_TOKEN"];
    private readonly string _home = Path.Combine(Path.GetTempPath(), "hfhome-" + Guid.NewGuid().ToString("N"));
    private readonly TinyBert _tiny = new(classifier: true);
    private readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
    private FakeHub _hub = null!;

    public async Task InitializeAsync()
    {
        _hub = await FakeHub.StartAsync();
        Environment.SetEnvironmentVariable("HF_ENDPOINT", _hub.Endpoint);
        Environment.SetEnvironmentVariable("HF_HOME", _home);                       // no stray token file from this machine
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(_home, "cache"));
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", null);
        Environment.SetEnvironmentVariable("HF_TOKEN", null);
    }

    public async Task DisposeAsync()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
        await _hub.DisposeAsync();
        _tiny.Dispose();
        try { Directory.Delete(_home, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, new StringReader(""), output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static string[] Rerank(string model, params string[] extra) =>
        ["rerank", "--model", model, "--query", "what is lift", .. extra, "the wing is a lift model", "heat plate", "blood cell data"];

    [Fact]
    public void RerankByHubIdDownloadsOnceReusesTheCacheAndRanksAsTheFolderDoes()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        var fromFolder = Run(Rerank(_tiny.Directory));
        Assert.Equal(0, fromFolder.Code);

        var first = Run(Rerank("org/tiny"));
        Assert.True(first.Code == 0, first.Err);
        Assert.Equal(fromFolder.Out, first.Out);
        Assert.Equal("", first.Err);                        // piped (not a terminal): no progress bar
        int requests = _hub.Requests.Count;
        Assert.Equal(7, requests);                           // revision check + HEAD and GET of three files (+ the LFS GET)

        var second = Run(Rerank("org/tiny"));
        Assert.Equal(fromFolder.Out, second.Out);
        Assert.Equal(requests + 1, _hub.Requests.Count);     // only the revision check

        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        var offline = Run(Rerank("org/tiny"));
        Assert.Equal(fromFolder.Out, offline.Out);
        Assert.Equal(requests + 1, _hub.Requests.Count);     // no request at all
        Assert.True(Directory.Exists(Path.Combine(_home, "cache", "models--org--tiny", "snapshots")));

        var json = Run(Rerank("org/tiny", "--json"));
        Assert.Equal("org/tiny", System.Text.Json.JsonDocument.Parse(json.Out).RootElement.GetProperty("model").GetString());   // the id, not the cache path
    }

    [Fact]
    public void AModernBertRerankerLoadsByName()
    {
        string folder = Model.ModernBert.ModernBertFolders.CreateRerankerFolder();
        try
        {
            _hub.Publish("Alibaba-NLP/gte-reranker-modernbert-base", folder);
            var fromFolder = Run(Rerank(folder, "--json"));
            Assert.True(fromFolder.Code == 0, fromFolder.Err);
            var byName = Run(Rerank("Alibaba-NLP/gte-reranker-modernbert-base", "--json"));
            Assert.True(byName.Code == 0, byName.Err);
            static string Results(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("results").GetRawText();
            Assert.Equal(Results(fromFolder.Out), Results(byName.Out));
            Assert.Contains(_hub.Requests, r => r.Path.EndsWith("tokenizer.json", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void AQwen3RerankerLoadsByNameWithItsVocabularyAndMergesAndTheInstruction()
    {
        // Qwen/Qwen3-Reranker-0.6B as the Hub serves this revision's files: config.json, model.safetensors, vocab.json,
        // merges.txt, tokenizer_config.json (no tokenizer.json); the prompt is recognised from the repository's name.
        string folder = Model.Qwen.QwenFolders.Qwen3RerankerWithTokenizer;
        _hub.Publish("Qwen/Qwen3-Reranker-0.6B", folder);
        var fromFolder = Run(Rerank(folder, "--json"));
        Assert.True(fromFolder.Code == 0, fromFolder.Err);
        var byName = Run(Rerank("Qwen/Qwen3-Reranker-0.6B", "--json"));
        Assert.True(byName.Code == 0, byName.Err);
        static string Results(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("results").GetRawText();
        Assert.Equal(Results(fromFolder.Out), Results(byName.Out));
        Assert.Contains("logit(\"yes\") - logit(\"no\")", System.Text.Json.JsonDocument.Parse(byName.Out).RootElement.GetProperty("scoring_rule").GetString());
        Assert.Contains(_hub.Requests, r => r.Path.EndsWith("merges.txt", StringComparison.Ordinal));
        var instructed = Run(Rerank("Qwen/Qwen3-Reranker-0.6B", "--json", "--instruction", "Find physics abstracts"));
        Assert.True(instructed.Code == 0, instructed.Err);
        Assert.NotEqual(Results(byName.Out), Results(instructed.Out));
        var wrongPrompt = Run(Rerank("Qwen/Qwen3-Reranker-0.6B", "--prompt", "llama"));
        Assert.Equal(2, wrongPrompt.Code);
        Assert.Contains("--prompt must be", wrongPrompt.Err);
    }

    [Fact]
    public void TokenizeAcceptsAHubIdToo()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        var fromFolder = Run("tokenize", "--model", _tiny.Directory, "--query", "what is lift", "--doc", "the wing", "--json");
        var fromHub = Run("tokenize", "--model", "org/tiny", "--query", "what is lift", "--doc", "the wing", "--json");
        Assert.True(fromHub.Code == 0, fromHub.Err);
        Assert.Equal(fromFolder.Out, fromHub.Out);
    }

    [Fact]
    public void HubErrorsAreOneLineFailures()
    {
        _hub.Publish("org/gated", _tiny.Directory, token: "hf_secret");
        var gated = Run(Rerank("org/gated"));
        Assert.Equal((1, "error: org/gated requires authentication (HTTP 401): it is gated or private; set HF_TOKEN (or --token) to a token with access.\n"),
            (gated.Code, gated.Err.Replace("\r", "")));
        Assert.Equal(0, Run(Rerank("org/gated", "--token", "hf_secret")).Code);
        Environment.SetEnvironmentVariable("HF_TOKEN", "hf_secret");
        Assert.Equal(0, Run(Rerank("org/gated")).Code);
        Environment.SetEnvironmentVariable("HF_TOKEN", null);

        var missing = Run(Rerank("org/missing"));
        Assert.Equal((1, $"error: repository org/missing not found on {_hub.Endpoint} (if it is private or gated, set HF_TOKEN or pass --token).\n"),
            (missing.Code, missing.Err.Replace("\r", "")));

        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        var offline = Run(Rerank("org/elsewhere"));
        Assert.Equal(1, offline.Code);
        Assert.Matches(@"^error: org/elsewhere is not in the cache \(.+models--org--elsewhere\) and HF_HUB_OFFLINE is set: download it once online\.\n$", offline.Err.Replace("\r", ""));
    }

    [Fact]
    public void AHubTimeoutIsAFailureWhileCtrlCIsACancellation()
    {
        _hub.Intercept = async context =>
        {
            if (!(context.Request.Path.Value ?? "").StartsWith("/api/models/", StringComparison.Ordinal)) return false;
            try { await Task.Delay(TimeSpan.FromSeconds(20), context.RequestAborted); } catch (OperationCanceledException) { }   // never answers
            return true;
        };
        HubLimits.Override.Value = HubLimits.Default with { MetadataTimeout = TimeSpan.FromSeconds(1) };
        try
        {
            var slow = Run(Rerank("org/slow"));
            Assert.Equal(1, slow.Code);
            Assert.Matches(@"^error: org/slow is not in the cache \(.+models--org--slow\) and http://127\.0\.0\.1:\d+/api/models/org/slow/revision/main timed out after 1 s: download it once online\.\n$",
                slow.Err.Replace("\r", ""));
        }
        finally
        {
            HubLimits.Override.Value = null;
        }

        using var ctrlC = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));   // the user presses Ctrl+C while it waits
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(Rerank("org/slow"), new StringReader(""), new StringWriter(), error, ctrlC.Token);
        Assert.Equal((130, "error: cancelled.\n"), (code, error.ToString().Replace("\r", "")));
    }

    [Fact]
    public void TheProgressLineShowsBytesRateAndEta()
    {
        Assert.Equal("model.safetensors  45.2 MB / 90.9 MB [###########.............]  12.3 MB/s  ETA 4s",
            DownloadProgressBar.Format("model.safetensors", 45_200_000, 90_900_000, 12_300_000));
        Assert.Equal("model.safetensors  2.50 GB / 2.50 GB [########################]  1.0 MB/s",
            DownloadProgressBar.Format("model.safetensors", 2_500_000_000, 2_500_000_000, 1_000_000));

        var now = TimeSpan.Zero;
        var output = new StringWriter();
        var bar = new DownloadProgressBar(output, () => now);
        bar.Report(new HubDownloadProgress("org/x", "config.json", 700, 700, Completed: true));   // small files draw nothing
        Assert.Equal("", output.ToString());
        bar.Report(new HubDownloadProgress("org/x", "model.safetensors", 0, 20_000_000, Completed: false));
        now = TimeSpan.FromSeconds(1);
        bar.Report(new HubDownloadProgress("org/x", "model.safetensors", 10_000_000, 20_000_000, Completed: false));
        now = TimeSpan.FromSeconds(1.05);
        bar.Report(new HubDownloadProgress("org/x", "model.safetensors", 10_500_000, 20_000_000, Completed: false));   // < 100 ms: not redrawn
        now = TimeSpan.FromSeconds(2);
        bar.Report(new HubDownloadProgress("org/x", "model.safetensors", 20_000_000, 20_000_000, Completed: true));
        Assert.Equal(
            "\rmodel.safetensors  0 B / 20.0 MB [........................]  0 B/s\u001b[K" +
            "\rmodel.safetensors  10.0 MB / 20.0 MB [############............]  10.0 MB/s  ETA 1s\u001b[K" +
            "\rmodel.safetensors  20.0 MB / 20.0 MB [########################]  10.0 MB/s\u001b[K" + Environment.NewLine,
            output.ToString());
    }
}
