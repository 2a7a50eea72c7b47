using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using System.Text.Json;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Hub;

/// <summary>
/// Hub download and cache against <see cref="FakeHub"/> on 127.0.0.1: requests made (counted), the huggingface_hub cache layout
/// (checked against its documented form, with names computed here independently: git blob sha1 and sha256), resume, locking,
/// offline use, and the one-line errors.
/// </summary>
public sealed class HubDownloaderTests : IAsyncLifetime
{
    private const string Query = "what is lift";
    private static readonly string[] Documents = ["the wing is a lift model", "heat plate", "blood cell data"];

    private readonly string _cache = Path.Combine(Path.GetTempPath(), "hubcache-" + Guid.NewGuid().ToString("N"));
    private readonly TinyBert _tiny = new(classifier: true);
    private FakeHub _hub = null!;

    public async Task InitializeAsync() => _hub = await FakeHub.StartAsync();

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        _tiny.Dispose();
        try { Directory.Delete(_cache, recursive: true); } catch (IOException) { }
    }

    private HubOptions Options(bool offline = false, string? token = null, IProgress<HubDownloadProgress>? progress = null) =>
        new() { Endpoint = _hub.Endpoint, CacheDirectory = _cache, Offline = offline, Token = token, Progress = progress };

    private float[] Scores(string model, HubOptions options)
    {
        using var reranker = Reranker.Load(model, new RerankerOptions { Hub = options });
        return reranker.Rerank(Query, Documents).OrderBy(r => r.Index).Select(r => r.Score).ToArray();
    }

    private float[] ReferenceScores()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        return reranker.Rerank(Query, Documents).OrderBy(r => r.Index).Select(r => r.Score).ToArray();
    }

    private string RepoFolder(string repoId) => Path.Combine(_cache, "models--" + repoId.Replace("/", "--"));

    [Fact]
    public void DownloadsOnceThenOnlyChecksTheRevisionAndOfflineMakesNoRequest()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        float[] expected = ReferenceScores();

        Assert.Equal(expected, Scores("org/tiny", Options()));
        // 1 revision check, then per file a HEAD and a GET (config.json, vocab.txt, model.safetensors via its LFS redirect).
        Assert.Equal(1, _hub.Count(r => r.Path.StartsWith("/api/models/org/tiny/revision/main")));
        Assert.Equal(3, _hub.Count(r => r.Method == "HEAD"));
        Assert.Equal(1, _hub.Count(r => r.Path.StartsWith("/lfs/")));
        int first = _hub.Requests.Count;
        Assert.Equal(7, first);

        Assert.Equal(expected, Scores("org/tiny", Options()));
        Assert.Equal(first + 1, _hub.Requests.Count);                        // the revision check only
        Assert.StartsWith("/api/models/org/tiny/revision/main", _hub.Requests.Last().Path);

        Assert.Equal(expected, Scores("org/tiny", Options(offline: true)));
        Assert.Equal(first + 1, _hub.Requests.Count);                        // offline: none
    }

    [Fact]
    public async Task TheCacheHasHuggingFaceHubsLayout()
    {
        byte[] readme = "# tiny"u8.ToArray(), pickle = new byte[300];
        string commit = _hub.Publish("org/tiny", _tiny.Directory, extra: [("README.md", readme), ("pytorch_model.bin", pickle), ("onnx/model.onnx", pickle)]);
        string snapshot = await HubDownloader.DownloadModelAsync("org/tiny", Options());

        string repo = RepoFolder("org/tiny");
        Assert.Equal(Path.Combine(repo, "snapshots", commit), snapshot);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));    // the bare sha, no newline
        byte[] config = File.ReadAllBytes(Path.Combine(_tiny.Directory, "config.json"));
        byte[] weights = File.ReadAllBytes(Path.Combine(_tiny.Directory, "model.safetensors"));
        byte[] vocab = File.ReadAllBytes(Path.Combine(_tiny.Directory, "vocab.txt"));
        // Non-LFS blobs are named by the git blob sha1 (the ETag), LFS blobs by their sha256 (X-Linked-Etag).
        var expectedBlobs = new[] { FakeHub.GitBlobSha1(config), FakeHub.GitBlobSha1(vocab), FakeHub.Sha256(weights) }.Order().ToArray();
        Assert.Equal(expectedBlobs, Directory.GetFiles(Path.Combine(repo, "blobs")).Select(f => Path.GetFileName(f)!).Order().ToArray());
        foreach (var (file, content, blob) in new[] { ("config.json", config, FakeHub.GitBlobSha1(config)), ("vocab.txt", vocab, FakeHub.GitBlobSha1(vocab)), ("model.safetensors", weights, FakeHub.Sha256(weights)) })
        {
            var link = new FileInfo(Path.Combine(snapshot, file));
            Assert.Equal("../../blobs/" + blob, link.LinkTarget);          // relative symlink, as huggingface_hub makes
            Assert.Equal(content, File.ReadAllBytes(link.FullName));
        }
        Assert.Equal(["config.json", "model.safetensors", "vocab.txt"], Directory.GetFileSystemEntries(snapshot).Select(f => Path.GetFileName(f)!).Order().ToArray());
        Assert.True(File.Exists(Path.Combine(_cache, ".locks", "models--org--tiny", FakeHub.Sha256(weights) + ".lock")));
        Assert.StartsWith("Signature: 8a477f597d28d172789f06886806bc55\n", File.ReadAllText(Path.Combine(_cache, "CACHEDIR.TAG")));
        Assert.DoesNotContain(Directory.GetFiles(_cache, "*", SearchOption.AllDirectories), f => f.EndsWith(".incomplete") || f.EndsWith(".tmp"));
        Assert.Equal(0, _hub.Count(r => r.Path.Contains("README") || r.Path.Contains(".bin") || r.Path.Contains(".onnx")));   // only what the model needs
    }

    [Fact]
    public void ACacheLaidOutByHuggingFaceHubIsUsedOfflineAsIs()
    {
        // What huggingface_hub leaves after snapshot_download (written here by hand from its documented layout).
        string commit = new('c', 40), repo = RepoFolder("org/from-python");
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", commit));
        foreach (string file in new[] { "config.json", "vocab.txt", "model.safetensors" })
        {
            string etag = FakeHub.Sha256(File.ReadAllBytes(Path.Combine(_tiny.Directory, file)));
            File.Copy(Path.Combine(_tiny.Directory, file), Path.Combine(repo, "blobs", etag));
            File.CreateSymbolicLink(Path.Combine(repo, "snapshots", commit, file), "../../blobs/" + etag);
        }
        Assert.Equal(ReferenceScores(), Scores("org/from-python", Options(offline: true)));
        Assert.Empty(_hub.Requests);
    }

    [Fact]
    public async Task SentenceTransformersModuleFilesInSubfoldersAreFetched()
    {
        using var encoder = new TinyBert(classifier: false);
        File.WriteAllText(Path.Combine(encoder.Directory, "modules.json"),
            """[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]""");
        Directory.CreateDirectory(Path.Combine(encoder.Directory, "1_Pooling"));
        File.WriteAllText(Path.Combine(encoder.Directory, "1_Pooling", "config.json"), """{"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false}""");
        File.WriteAllText(Path.Combine(encoder.Directory, "sentence_bert_config.json"), """{"max_seq_length":32}""");
        _hub.Publish("org/encoder", encoder.Directory);

        string snapshot = await HubDownloader.DownloadModelAsync("org/encoder", Options());
        Assert.Equal("../../../blobs/" + FakeHub.GitBlobSha1(File.ReadAllBytes(Path.Combine(encoder.Directory, "1_Pooling", "config.json"))),
            new FileInfo(Path.Combine(snapshot, "1_Pooling", "config.json")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(snapshot, "sentence_bert_config.json")));
        using var reranker = Reranker.Load(snapshot);
        Assert.Equal(PoolingMode.Cls, ((BertModel)reranker.Model).SentenceHead!.Pooling.Mode);
    }

    [Fact]
    public async Task SentenceTransformersModuleWeightsAreFetchedAndAPickleOnlyModuleIsRefused()
    {
        // An Ettin-style CrossEncoder: Pooling -> Dense -> LayerNorm -> Dense, each weighted module with its own model.safetensors.
        using var encoder = new TinyBert(classifier: false, withPooler: false);
        SentenceTransformersHeadTests.WriteEttinChain(encoder.Directory);
        _hub.Publish("org/ettin", encoder.Directory);
        string snapshot = await HubDownloader.DownloadModelAsync("org/ettin", Options());
        foreach (string module in new[] { "2_Dense", "3_LayerNorm", "4_Dense" })
        {
            Assert.True(File.Exists(Path.Combine(snapshot, module, "config.json")), module);
            Assert.True(File.Exists(Path.Combine(snapshot, module, "model.safetensors")), module);
        }
        Assert.True(File.Exists(Path.Combine(snapshot, "config_sentence_transformers.json")));
        using (var downloaded = Reranker.Load(snapshot))
        using (var direct = Reranker.Load(encoder.Directory))
            Assert.Equal(direct.Rerank(Query, Documents).Select(r => r.Score), downloaded.Rerank(Query, Documents).Select(r => r.Score));

        File.Move(Path.Combine(encoder.Directory, "2_Dense", "model.safetensors"), Path.Combine(encoder.Directory, "2_Dense", "pytorch_model.bin"));
        _hub.Publish("org/ettin-pickle", encoder.Directory);
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/ettin-pickle", Options()));
        Assert.Equal(HubErrorKind.Unsupported, e.Kind);
        Assert.Contains("2_Dense/pytorch_model.bin", e.Message);
        Assert.DoesNotContain(_hub.Requests, r => r.Path.Contains("ettin-pickle/resolve/") && r.Path.EndsWith("pytorch_model.bin"));
    }

    [Fact]
    public void ARevisionAfterTheAtSignIsResolvedAndRecordedInRefs()
    {
        string main = _hub.Publish("org/tiny", _tiny.Directory);
        using var other = new TinyBert(classifier: true, seed: 11);
        string v1 = _hub.Publish("org/tiny", other.Directory, revision: "v1");
        using (var reranker = Reranker.Load("org/tiny@v1", new RerankerOptions { Hub = Options() }))
        using (var direct = Reranker.Load(other.Directory))
            Assert.Equal(direct.Rerank(Query, Documents).Select(r => r.Score), reranker.Rerank(Query, Documents).Select(r => r.Score));
        Assert.Equal(v1, File.ReadAllText(Path.Combine(RepoFolder("org/tiny"), "refs", "v1")));
        Assert.Equal(ReferenceScores(), Scores($"org/tiny@{main}", Options()));
        Assert.False(File.Exists(Path.Combine(RepoFolder("org/tiny"), "refs", main)));   // a commit is not a ref
        Assert.Equal(ReferenceScores(), Scores($"org/tiny@{main}", Options(offline: true)));
    }

    [Fact]
    public async Task ARenamedRepositoryIsFollowedAndCachedUnderTheNameAsked()
    {
        _hub.Publish("org/tiny-v2", _tiny.Directory);
        _hub.Renamed["org/tiny"] = "org/tiny-v2";
        string snapshot = await HubDownloader.DownloadModelAsync("org/tiny", Options());
        Assert.StartsWith(Path.Combine(RepoFolder("org/tiny"), "snapshots") + Path.DirectorySeparatorChar, snapshot);   // as huggingface_hub names it
        Assert.Equal(File.ReadAllBytes(Path.Combine(_tiny.Directory, "model.safetensors")), File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Equal(4, _hub.Count(r => r.Path.Contains("/org/tiny/")));   // revision check + 3 HEADs, each redirected once
        Assert.Equal(0, _hub.Count(r => r.Method == "GET" && r.Path.Contains("/org/tiny/resolve/")));   // the GETs go straight to where HEAD was sent
    }

    [Fact]
    public void AFolderOnDiskWinsOverAHubIdOfTheSameSpelling()
    {
        string relative = "hubtest-" + Guid.NewGuid().ToString("N")[..8] + "/tiny";
        try
        {
            CopyFolder(_tiny.Directory, relative);
            Assert.Equal(ReferenceScores(), Scores(relative, Options()));
            Assert.Empty(_hub.Requests);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(relative)!, recursive: true);
        }
    }

    [Theory]
    [InlineData("org/name", true)]
    [InlineData("BAAI/bge-reranker-v2-m3@main", true)]
    [InlineData("cross-encoder/ms-marco-MiniLM-L-6-v2@refs/pr/3", true)]
    [InlineData("/abs/org", false)]
    [InlineData("./org/name", false)]
    [InlineData("a/b/c", false)]
    [InlineData("org\\name", false)]
    [InlineData("org/na..me", false)]
    [InlineData("org/a--b", false)]
    [InlineData("org/name@", false)]
    [InlineData("name", false)]
    public void HubIdsAreOrgSlashNameWithAnOptionalRevision(string text, bool isId) => Assert.Equal(isId, HubModelId.TryParse(text, out _));

    [Theory]
    [InlineData("\"abc123\"", "abc123")]
    [InlineData("W/\"abc123\"", "abc123")]
    [InlineData("abc123", "abc123")]
    public void EtagsAreNormalisedAsHuggingFaceHubDoes(string header, string expected) => Assert.Equal(expected, HubDownloader.NormalizeEtag(header));

    [Fact]
    public async Task AnInterruptedDownloadResumesWithRange()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        byte[] weights = File.ReadAllBytes(Path.Combine(_tiny.Directory, "model.safetensors"));
        string sha = FakeHub.Sha256(weights);
        _hub.InterruptBlobs[sha] = 4096;   // the first GET drops after 4 KB

        string snapshot = await HubDownloader.DownloadModelAsync("org/tiny", Options());
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var lfs = _hub.Requests.Where(r => r.Path == "/lfs/" + sha).ToList();
        Assert.Equal(2, lfs.Count);
        Assert.Null(lfs[0].Range);
        Assert.Equal("bytes=4096-", lfs[1].Range);
    }

    [Fact]
    public async Task APartialFileLeftByAKilledProcessIsResumed()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        byte[] weights = File.ReadAllBytes(Path.Combine(_tiny.Directory, "model.safetensors"));
        string sha = FakeHub.Sha256(weights);
        Directory.CreateDirectory(Path.Combine(RepoFolder("org/tiny"), "blobs"));
        File.WriteAllBytes(Path.Combine(RepoFolder("org/tiny"), "blobs", sha + ".incomplete"), weights[..1000]);

        string snapshot = await HubDownloader.DownloadModelAsync("org/tiny", Options());
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Equal(["bytes=1000-"], _hub.Requests.Where(r => r.Path == "/lfs/" + sha).Select(r => r.Range));
    }

    [Fact]
    public async Task ConcurrentLoadsOfOneModelDownloadEachBlobOnceAndAllSucceed()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        _hub.ChunkDelay = TimeSpan.FromMilliseconds(5);   // ~20 chunks: the loads overlap
        float[] expected = ReferenceScores();
        var loads = Enumerable.Range(0, 4).Select(_ => Task.Run(() => Scores("org/tiny", Options()))).ToArray();
        foreach (float[] scores in await Task.WhenAll(loads)) Assert.Equal(expected, scores);
        Assert.Equal(1, _hub.Count(r => r.Path.StartsWith("/lfs/")));
        Assert.Single(Directory.GetFiles(Path.Combine(RepoFolder("org/tiny"), "blobs"), "*.safetensors*").Concat(
            Directory.GetFiles(Path.Combine(RepoFolder("org/tiny"), "blobs")).Where(f => Path.GetFileName(f).Length == 64)));
    }

    [Fact]
    public async Task ProgressIsReportedUpToTheFileSize()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        long size = new FileInfo(Path.Combine(_tiny.Directory, "model.safetensors")).Length;
        var reports = new List<HubDownloadProgress>();
        await HubDownloader.DownloadModelAsync("org/tiny", Options(progress: new SynchronousProgress(reports.Add)));
        var weights = reports.Where(r => r.FileName == "model.safetensors").ToList();
        Assert.True(weights.Count >= 2);
        Assert.All(weights, r => Assert.Equal(size, r.TotalBytes));
        Assert.Equal(weights.Select(r => r.BytesDownloaded).Order(), weights.Select(r => r.BytesDownloaded));
        Assert.True(weights[^1].Completed);
        Assert.Equal(size, weights[^1].BytesDownloaded);
    }

    [Fact]
    public async Task CancellationStopsADownloadAndLeavesNoBlob()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        _hub.ChunkDelay = TimeSpan.FromMilliseconds(20);
        using var cancel = new CancellationTokenSource();
        var progress = new SynchronousProgress(p => { if (p.FileName == "model.safetensors" && p.BytesDownloaded > 2048) cancel.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options(progress: progress), cancel.Token));
        string sha = FakeHub.Sha256(File.ReadAllBytes(Path.Combine(_tiny.Directory, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(RepoFolder("org/tiny"), "blobs", sha)));
    }

    [Fact]
    public async Task ACorruptedBlobFailsItsChecksumAndIsNotKept()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        string sha = FakeHub.Sha256(File.ReadAllBytes(Path.Combine(_tiny.Directory, "model.safetensors")));
        _hub.CorruptBlobs[sha] = true;
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options()));
        Assert.Equal(HubErrorKind.ChecksumMismatch, e.Kind);
        Assert.Matches($"^checksum mismatch for 'model.safetensors' of org/tiny: sha256 [0-9a-f]{{64}} but the Hub announced {sha}; the download was deleted, run again.$", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoFolder("org/tiny"), "blobs"), sha + "*"));

        _hub.CorruptBlobs.Clear();   // a good server afterwards: the next run succeeds
        Assert.Equal(ReferenceScores(), Scores("org/tiny", Options()));
    }

    [Fact]
    public async Task AGatedRepositoryNeedsTheTokenAndGetsIt()
    {
        _hub.Publish("org/gated", _tiny.Directory, token: "hf_secret");
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/gated", Options()));
        Assert.Equal(HubErrorKind.Unauthorized, e.Kind);
        Assert.Equal("org/gated requires authentication (HTTP 401): it is gated or private; set HF_TOKEN (or --token) to a token with access.", e.Message);
        var wrong = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/gated", Options(token: "hf_wrong")));
        Assert.StartsWith("access to org/gated denied (HTTP 401): the token has no access", wrong.Message);

        Assert.Equal(ReferenceScores(), Scores("org/gated", Options(token: "hf_secret")));
        // The token went to the Hub, never to the LFS storage's URL.
        Assert.All(_hub.Requests.Where(r => r.Path.StartsWith("/lfs/")), r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task MissingRepositoriesRevisionsAndFilesAreOneLineErrors()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        async Task<HubException> Fails(string id, string? token = null) =>
            await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync(id, Options(token: token)));

        var anonymous = await Fails("org/missing");
        Assert.Equal((HubErrorKind.NotFound, $"repository org/missing not found on {_hub.Endpoint} (if it is private or gated, set HF_TOKEN or pass --token)."), (anonymous.Kind, anonymous.Message));
        Assert.Equal($"repository org/missing not found on {_hub.Endpoint}.", (await Fails("org/missing", token: "hf_x")).Message);
        Assert.Equal("revision 'nope' not found in org/tiny.", (await Fails("org/tiny@nope")).Message);
        _hub.HiddenFiles["vocab.txt"] = true;
        var file = await Fails("org/tiny");
        Assert.Equal((HubErrorKind.NotFound, "file 'vocab.txt' not found in org/tiny."), (file.Kind, file.Message));
    }

    [Fact]
    public async Task ARepositoryWithOnlyPickledWeightsIsRefusedWithTheWayToSafetensors()
    {
        string folder = Path.Combine(_cache, "pickle-only");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(_tiny.Directory, "config.json"), Path.Combine(folder, "config.json"));
        File.Copy(Path.Combine(_tiny.Directory, "vocab.txt"), Path.Combine(folder, "vocab.txt"));
        File.WriteAllBytes(Path.Combine(folder, "pytorch_model.bin"), new byte[64]);
        _hub.Publish("org/pickled", folder);
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/pickled", Options()));
        Assert.Equal(HubErrorKind.Unsupported, e.Kind);
        Assert.StartsWith("org/pickled has no model.safetensors (it has only pytorch_model.bin): pickled PyTorch weights are never loaded.", e.Message);
        Assert.Contains("org/pickled@refs/pr/<N>", e.Message);
        Assert.Contains("save_pretrained(\"<dir>\", safe_serialization=True)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Single(_hub.Requests);   // the revision check; nothing downloaded
    }

    /// <summary>A copy of the tiny model as two shards + model.safetensors.index.json (no model.safetensors), as large models ship.</summary>
    private string TwoShardFolder(string name)
    {
        string folder = Path.Combine(_cache, name);
        CrossEncoder.Conversion.Checkpoints.CheckpointWriter.Rewrite(_tiny.Directory, folder, new(Shards: 2));
        return folder;
    }

    [Fact]
    public async Task AShardedRepositoryDownloadsTheIndexThenEveryShardAndLoads()
    {
        string commit = _hub.Publish("org/sharded", TwoShardFolder("sharded"));
        float[] expected = ReferenceScores();
        string snapshot = await HubDownloader.DownloadModelAsync("org/sharded", Options());

        string[] shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        Assert.Equal(["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "vocab.txt"],
            Directory.GetFileSystemEntries(snapshot).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());
        foreach (string shard in shards)   // LFS blobs, linked from the snapshot as huggingface_hub does
        {
            byte[] content = File.ReadAllBytes(Path.Combine(_cache, "sharded", shard));
            Assert.Equal("../../blobs/" + FakeHub.Sha256(content), new FileInfo(Path.Combine(snapshot, shard)).LinkTarget);
            Assert.Equal(1, _hub.Count(r => r.Method == "HEAD" && r.Path.EndsWith("/resolve/" + commit + "/" + shard, StringComparison.Ordinal)));
        }
        Assert.Equal(5, _hub.Count(r => r.Method == "HEAD"));   // config.json, the index, vocab.txt, two shards
        Assert.Equal(2, _hub.Count(r => r.Path.StartsWith("/lfs/")));
        Assert.Equal(expected, Scores("org/sharded", Options()));
        Assert.Equal(expected, Scores("org/sharded", Options(offline: true)));
    }

    [Fact]
    public async Task ARepositoryWithBothTheSingleFileAndShardsDownloadsOnlyTheSingleFile()
    {
        // transformers prefers model.safetensors; so does the download, and the shards are never fetched.
        string folder = TwoShardFolder("both");
        File.Copy(Path.Combine(_tiny.Directory, "model.safetensors"), Path.Combine(folder, "model.safetensors"));
        _hub.Publish("org/both", folder);
        string snapshot = await HubDownloader.DownloadModelAsync("org/both", Options());
        Assert.Equal(["config.json", "model.safetensors", "vocab.txt"], Directory.GetFileSystemEntries(snapshot).Select(f => Path.GetFileName(f)!).Order().ToArray());
        Assert.Equal(0, _hub.Count(r => r.Path.Contains("model-0000") || r.Path.Contains(".index.json")));
        Assert.Equal(ReferenceScores(), Scores("org/both", Options()));
    }

    [Theory]
    [InlineData("../model-00001-of-00002.safetensors")]
    [InlineData("sub/model-00001-of-00002.safetensors")]
    public async Task AnIndexNamingAShardOutsideTheFolderIsRefusedBeforeAnyShardIsFetched(string shard)
    {
        string folder = TwoShardFolder("escape");
        string index = Path.Combine(folder, "model.safetensors.index.json");
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"model-00001-of-00002.safetensors\"", JsonSerializer.Serialize(shard)));
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.Copy(Path.Combine(folder, "model-00001-of-00002.safetensors"), Path.Combine(folder, "sub", "model-00001-of-00002.safetensors"));   // the repo even has it
        _hub.Publish("org/escape", folder);
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/escape", Options()));
        Assert.Equal(HubErrorKind.Unsupported, e.Kind);
        Assert.StartsWith("model.safetensors.index.json of org/escape cannot be used: tensor '", e.Message);
        Assert.Contains($"shard name \"{shard}\" is not a plain file name in the model folder", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(0, _hub.Count(r => r.Path.Contains("model-0000")));
    }

    [Fact]
    public async Task AnIndexNamingAShardTheRepositoryLacksIsNotFoundBeforeAnyShardIsFetched()
    {
        string folder = TwoShardFolder("lacking");
        File.Delete(Path.Combine(folder, "model-00002-of-00002.safetensors"));
        _hub.Publish("org/lacking", folder);
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/lacking", Options()));
        Assert.Equal((HubErrorKind.NotFound, "model.safetensors.index.json of org/lacking names shard 'model-00002-of-00002.safetensors', which the repository does not have."),
            (e.Kind, e.Message));
        Assert.Equal(0, _hub.Count(r => r.Path.Contains("model-0000")));
    }

    [Fact]
    public async Task AMalformedIndexIsOneLineNamingTheRepository()
    {
        string folder = TwoShardFolder("malformed");
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), """{"metadata": {}}""");
        _hub.Publish("org/malformed", folder);
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/malformed", Options()));
        Assert.Equal((HubErrorKind.Unsupported, "model.safetensors.index.json of org/malformed cannot be used: 'weight_map' is missing; the index must map every tensor name to its shard file."),
            (e.Kind, e.Message));
    }

    [Fact]
    public async Task ABadEndpointIsNamed()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options() with { Endpoint = "huggingface.co" }));
        Assert.StartsWith("the Hub endpoint 'huggingface.co' (HF_ENDPOINT) is not an http(s) URL.", e.Message);
    }

    [Fact]
    public async Task OfflineAndNotCachedSaysSo()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/tiny", Options(offline: true)));
        Assert.Equal(HubErrorKind.NotCached, e.Kind);
        Assert.Equal($"org/tiny is not in the cache ({RepoFolder("org/tiny")}) and HF_HUB_OFFLINE is set: download it once online.", e.Message);
        Assert.Empty(_hub.Requests);
    }

    [Fact]
    public async Task AnUnreachableHubFallsBackToTheCache()
    {
        _hub.Publish("org/tiny", _tiny.Directory);
        string snapshot = await HubDownloader.DownloadModelAsync("org/tiny", Options());
        var down = Options() with { Endpoint = "http://127.0.0.1:9" };   // discard port: connection refused
        Assert.Equal(snapshot, await HubDownloader.DownloadModelAsync("org/tiny", down));
        var e = await Assert.ThrowsAsync<HubException>(() => HubDownloader.DownloadModelAsync("org/other", down));
        Assert.Equal(HubErrorKind.NotCached, e.Kind);
        Assert.Contains("http://127.0.0.1:9 cannot be reached", e.Message);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    /// <summary>IProgress that runs the handler on the reporting thread (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
    private sealed class SynchronousProgress(Action<HubDownloadProgress> handler) : IProgress<HubDownloadProgress>
    {
        public void Report(HubDownloadProgress value) => handler(value);
    }
}
