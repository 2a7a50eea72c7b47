using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Tests.Model;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace CrossEncoder.Native.Tests.Hub;

/// <summary>
/// The downloader against a hostile Hub stand-in (<see cref="FakeHub.Intercept"/>) and a tampered cache: symbolic links planted where
/// it writes, bodies dribbled a byte at a time, endless replies, redirects to other schemes, JSON of the wrong shape. Each ends in
/// one <see cref="HubException"/> line naming the file, field or location, and nothing outside the cache is touched.
/// </summary>
public sealed class HostileHubTests : IAsyncLifetime
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "hubcache-" + Guid.NewGuid().ToString("N"));
    private readonly string _outside = Path.Combine(Path.GetTempPath(), "hub-outside-" + Guid.NewGuid().ToString("N"));
    private readonly TinyBert _tiny = new(classifier: true);
    private FakeHub _hub = null!;

    /// <summary>Small limits so a hostile server is abandoned within about a second.</summary>
    private static readonly HubLimits Fast = new()
    {
        MetadataTimeout = TimeSpan.FromSeconds(1),
        StallTimeout = TimeSpan.FromSeconds(5),
        RateWindow = TimeSpan.FromSeconds(1),
        MinimumBytesPerSecond = 1024,
        MaxMetadataBytes = 64 << 10,
        MaxBlobBytes = 256 << 10,
    };

    public async Task InitializeAsync()
    {
        _hub = await FakeHub.StartAsync();
        Directory.CreateDirectory(_outside);
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        _tiny.Dispose();
        foreach (string folder in new[] { _cache, _outside })
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }

    private HubOptions Options() => new() { Endpoint = _hub.Endpoint, CacheDirectory = _cache, Limits = Fast };

    private string RepoFolder(string repoId) => Path.Combine(_cache, "models--" + repoId.Replace("/", "--"));

    private byte[] Weights => File.ReadAllBytes(Path.Combine(_tiny.Directory, "model.safetensors"));

    private static bool Is(HttpContext context, string method, string pathStart) =>
        context.Request.Method == method && (context.Request.Path.Value ?? "").StartsWith(pathStart, StringComparison.Ordinal);

    /// <summary>Writes <paramref name="bytes"/> one at a time, <paramref name="delay"/> apart, until sent or the client goes.</summary>
    private static async Task DribbleAsync(HttpContext context, byte[] bytes, TimeSpan delay)
    {
        try
        {
            foreach (byte b in bytes)
            {
                await context.Response.Body.WriteAsync(new[] { b }, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(delay, context.RequestAborted);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException) { }
    }

    /// <summary>Never answers (for 20 s at most, or until the client goes).</summary>
    private static async Task HangAsync(HttpContext context)
    {
        try { await Task.Delay(TimeSpan.FromSeconds(20), context.RequestAborted); }
        catch (OperationCanceledException) { }
    }

    // ---- 1. symbolic links planted in the cache ----

    [Fact]
    public async Task AnIncompleteFileThatIsASymlinkIsDeletedNotFollowed()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        string sha = FakeHub.Sha256(Weights);
        string victim = Path.Combine(_outside, "victim.bin");
        byte[] original = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        File.WriteAllBytes(victim, original);
        string blobs = Path.Combine(RepoFolder("org/tiny"), "blobs");
        Directory.CreateDirectory(blobs);
        File.CreateSymbolicLink(Path.Combine(blobs, sha + ".incomplete"), victim);

        string snapshot = await HubDownloader.DownloadModelAsync("org/tiny", Options());

        Assert.Equal(original, File.ReadAllBytes(victim));                            // neither appended to nor truncated
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Null(new FileInfo(Path.Combine(blobs, sha)).LinkTarget);               // the blob is a file of our own
        Assert.Equal([null], _hub.Requests.Where(r => r.Path == "/lfs/" + sha).Select(r => r.Range));   // started fresh, no Range
    }

    [Fact]
    public async Task ABlobThatIsASymlinkIsReplacedByTheDownloadedBytes()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        string sha = FakeHub.Sha256(Weights);
        string victim = Path.Combine(_outside, "victim.bin");
        File.WriteAllBytes(victim, "not the model"u8.ToArray());
        string blobs = Path.Combine(RepoFolder("org/tiny"), "blobs");
        Directory.CreateDirectory(blobs);
        File.CreateSymbolicLink(Path.Combine(blobs, sha), victim);

        string snapshot = await HubDownloader.DownloadModelAsync("org/tiny", Options());

        Assert.Equal("not the model", File.ReadAllText(victim));
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Null(new FileInfo(Path.Combine(blobs, sha)).LinkTarget);
    }

    [Theory]
    [InlineData("blobs")]
    [InlineData("snapshots")]
    [InlineData("refs")]
    public async Task ACacheFolderThatIsASymlinkIsRefusedAndNothingIsWrittenThrough(string folder)
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        string link = Path.Combine(RepoFolder("org/tiny"), folder);
        Directory.CreateDirectory(RepoFolder("org/tiny"));
        Directory.CreateSymbolicLink(link, _outside);

        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));

        Assert.Equal(HubErrorKind.UnsafeCache, e.Kind);
        Assert.Equal($"the cache folder {link} is a symbolic link (to {_outside}), which the download did not make and will not write through; remove it and run again.", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_outside));
    }

    // ---- 2. dribbled bodies and slow metadata ----

    [Fact]
    public async Task ABlobDribbledAByteAtATimeIsAbandonedAtTheMinimumRate()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        byte[] weights = Weights;
        _hub.Intercept = async context =>
        {
            if (!Is(context, "GET", "/lfs/")) return false;
            context.Response.ContentLength = weights.Length;
            await DribbleAsync(context, weights[..30], TimeSpan.FromMilliseconds(300));   // ~9 s at most, then the body stops short
            return true;
        };
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}");
        Assert.Equal(HubErrorKind.Network, e.Kind);
        Assert.Matches(@"^downloading 'model\.safetensors' of org/tiny was abandoned: \d+ B arrived in \d+(\.\d+)? s, under the minimum rate of 1\.0 kB/s; run again to resume from byte \d+\.$", e.Message);
    }

    [Fact]
    public async Task ARevisionReplyDribbledPastTheDeadlineIsATimeoutNotACancellation()
    {
        _hub.Intercept = async context =>
        {
            if (!Is(context, "GET", "/api/models/")) return false;
            context.Response.ContentType = "application/json";
            await DribbleAsync(context, Encoding.UTF8.GetBytes("{\"sha\": \"" + new string('a', 40) + "\", \"siblings\": []}"), TimeSpan.FromMilliseconds(300));
            return true;
        };
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/slow", Options()));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}");
        Assert.Equal(HubErrorKind.NotCached, e.Kind);   // as when the Hub is unreachable: a cached copy would have been used
        Assert.Equal($"org/slow is not in the cache ({RepoFolder("org/slow")}) and {_hub.Endpoint}/api/models/org/slow/revision/main timed out after 1 s: download it once online.", e.Message);
    }

    [Fact]
    public async Task AHeadThatNeverAnswersIsATimeoutNamingTheFile()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        _hub.Intercept = async context =>
        {
            if (!Is(context, "HEAD", "/org/tiny/resolve/") || !context.Request.Path.Value!.EndsWith("/config.json", StringComparison.Ordinal)) return false;
            await HangAsync(context);
            return true;
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal(HubErrorKind.Network, e.Kind);
        Assert.Matches(@"^asking http://127\.0\.0\.1:\d+/org/tiny/resolve/[0-9a-f]{40}/config\.json for 'config\.json' of org/tiny timed out after 1 s\.$", e.Message);
    }

    [Fact]
    public async Task ABlobWhoseHeadersNeverComeIsATimeoutNamingTheFile()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        _hub.Intercept = async context =>
        {
            if (!Is(context, "GET", "/lfs/")) return false;
            await HangAsync(context);
            return true;
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Matches(@"^asking http://127\.0\.0\.1:\d+/lfs/[0-9a-f]{64} for 'model\.safetensors' of org/tiny timed out after 1 s\.$", e.Message);
    }

    // ---- 3. endless replies ----

    [Fact]
    public async Task AnEndlessRevisionReplyIsCutAtTheCap()
    {
        string commit = _hub.Publish("org/tiny", _tiny.Directory);
        _hub.Intercept = async context =>
        {
            if (!Is(context, "GET", "/api/models/")) return false;
            context.Response.ContentType = "application/json";   // valid JSON, 4 MB of padding, no Content-Length
            var siblings = Directory.GetFiles(_tiny.Directory).Select(f => new { rfilename = Path.GetFileName(f) });
            string head = JsonSerializer.Serialize(new { sha = commit, siblings });
            try
            {
                await context.Response.WriteAsync(head[..^1] + ",\"pad\":\"", context.RequestAborted);
                var pad = new string('x', 64 << 10);
                for (int i = 0; i < 64; i++) await context.Response.WriteAsync(pad, context.RequestAborted);
                await context.Response.WriteAsync("\"}", context.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException) { }
            return true;
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal(HubErrorKind.Network, e.Kind);
        Assert.Equal($"{_hub.Endpoint}/api/models/org/tiny/revision/main answered more than 65.5 kB for the revision of org/tiny; is HF_ENDPOINT a Hub?", e.Message);
    }

    [Fact]
    public async Task ABlobLongerThanItsAnnouncedSizeIsStoppedThere()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        byte[] weights = Weights;
        string sha = FakeHub.Sha256(weights);
        _hub.Intercept = async context =>
        {
            if (!Is(context, "GET", "/lfs/")) return false;
            try   // chunked (no Content-Length): the blob, then 4 MB more than X-Linked-Size said
            {
                await context.Response.Body.WriteAsync(weights, context.RequestAborted);
                var more = new byte[64 << 10];
                for (int i = 0; i < 64; i++) await context.Response.Body.WriteAsync(more, context.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException) { }
            return true;
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal(HubErrorKind.Network, e.Kind);
        Assert.Equal($"'model.safetensors' of org/tiny is longer than the {weights.Length} bytes announced; the download was deleted, run again.", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoFolder("org/tiny"), "blobs"), sha + "*"));
    }

    [Fact]
    public async Task AFileOfUnannouncedSizeIsStoppedAtTheCap()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        _hub.Intercept = async context =>
        {
            // config.json: HEAD without Content-Length, then an endless chunked body (4 MB here).
            if (!(context.Request.Path.Value ?? "").EndsWith("/config.json", StringComparison.Ordinal) || !(context.Request.Path.Value ?? "").Contains("/resolve/")) return false;
            context.Response.Headers.ETag = "\"" + new string('1', 40) + "\"";
            if (HttpMethods.IsHead(context.Request.Method)) return true;
            try
            {
                var chunk = new byte[64 << 10];
                for (int i = 0; i < 64; i++) await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException) { }
            return true;
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal($"'config.json' of org/tiny is longer than {256 << 10} bytes and its size was not announced; the download was deleted, run again.", e.Message);
    }

    [Fact]
    public async Task AnAnnouncedSizeOverTheCapIsRefusedBeforeAnyByteIsFetched()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        string sha = FakeHub.Sha256(Weights);
        _hub.Intercept = context =>
        {
            if (!Is(context, "HEAD", "/org/tiny/resolve/") || !context.Request.Path.Value!.EndsWith("/model.safetensors", StringComparison.Ordinal)) return Task.FromResult(false);
            context.Response.StatusCode = 302;
            context.Response.Headers.Location = $"{_hub.LfsEndpoint}/lfs/{sha}";
            context.Response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            context.Response.Headers["X-Linked-Size"] = "1000000000000";   // 1 TB
            return Task.FromResult(true);
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal($"the Hub announced 1000000000000 bytes for 'model.safetensors' of org/tiny, more than the {256 << 10} accepted; is HF_ENDPOINT a Hub?", e.Message);
        Assert.Equal(0, _hub.Count(r => r.Path.StartsWith("/lfs/")));
    }

    // ---- 5. redirects to other schemes ----

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://127.0.0.1/model.safetensors")]
    public async Task AFileRedirectToAnotherSchemeIsRefusedNamingTheLocation(string location)
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        string sha = FakeHub.Sha256(Weights);
        _hub.Intercept = context =>
        {
            if (!Is(context, "HEAD", "/org/tiny/resolve/") || !context.Request.Path.Value!.EndsWith("/model.safetensors", StringComparison.Ordinal)) return Task.FromResult(false);
            context.Response.StatusCode = 302;
            context.Response.Headers.Location = location;
            context.Response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            context.Response.Headers["X-Linked-Size"] = Weights.Length.ToString();
            return Task.FromResult(true);
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal(HubErrorKind.Network, e.Kind);
        Assert.Matches($"^http://127\\.0\\.0\\.1:\\d+/org/tiny/resolve/[0-9a-f]{{40}}/model\\.safetensors redirected to '{System.Text.RegularExpressions.Regex.Escape(location)}', which is not an http\\(s\\) URL; it is not followed\\.$", e.Message);
    }

    [Fact]
    public async Task ARevisionRedirectToAnotherSchemeIsRefusedNamingTheLocation()
    {
        _hub.Intercept = context =>
        {
            if (!Is(context, "GET", "/api/models/")) return Task.FromResult(false);
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = "ftp://127.0.0.1/revision";
            return Task.FromResult(true);
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal($"{_hub.Endpoint}/api/models/org/tiny/revision/main redirected to 'ftp://127.0.0.1/revision', which is not an http(s) URL; it is not followed.", e.Message);
    }

    // ---- 6. JSON of the wrong shape ----

    [Theory]
    [InlineData("""{"sha": 3, "siblings": []}""", "'sha' is a number, not a string")]
    [InlineData("""{"siblings": []}""", "'sha' is missing")]
    [InlineData("""{"sha": "SHA", "siblings": 5}""", "'siblings' is a number, not an array")]
    [InlineData("""{"sha": "SHA"}""", "'siblings' is missing")]
    [InlineData("""{"sha": "SHA", "siblings": [5]}""", "'siblings[0]' is a number, not an object")]
    [InlineData("""{"sha": "SHA", "siblings": [{"rfilename": "config.json"}, {"rfilename": null}]}""", "'siblings[1].rfilename' is null, not a string")]
    [InlineData("""{"sha": "SHA", "siblings": [{"rfilename": 7}]}""", "'siblings[0].rfilename' is a number, not a string")]
    [InlineData("""[1, 2]""", "the reply is an array, not an object")]
    public async Task RevisionJsonOfTheWrongShapeNamesTheField(string json, string problem)
    {
        string commit = _hub.Publish("org/tiny", _tiny.Directory);
        _hub.Intercept = async context =>
        {
            if (!Is(context, "GET", "/api/models/")) return false;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(json.Replace("SHA", commit));
            return true;
        };
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal(HubErrorKind.Network, e.Kind);
        Assert.Equal($"{_hub.Endpoint}/api/models/org/tiny/revision/main answered an unusable revision of org/tiny: {problem}; is HF_ENDPOINT a Hub?", e.Message);
    }
}
