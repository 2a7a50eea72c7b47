using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CrossEncoder.Native.Tests.Hub;

/// <summary>
/// A Hugging Face Hub served by Kestrel on 127.0.0.1, speaking the parts of the Hub's HTTP interface huggingface_hub uses, as
/// documented by its client: <c>GET /api/models/{repo}/revision/{rev}</c> (sha + siblings), <c>HEAD|GET /{repo}/resolve/{rev}/{file}</c>
/// (X-Repo-Commit; small files answer 200 with the git blob sha1 as ETag; LFS files answer 302 to the LFS storage with
/// X-Linked-Etag = sha256 and X-Linked-Size), and the LFS storage <c>GET /lfs/{sha256}</c> honouring Range. Errors carry
/// X-Error-Code as the Hub does (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo). Every request is recorded.
/// </summary>
internal sealed class FakeHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Repo> _repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _lfs = new(StringComparer.Ordinal);

    private FakeHub(WebApplication app) => _app = app;

    public string Endpoint { get; private set; } = "";

    /// <summary>The LFS storage's origin (same host, another port), where LFS files are redirected.</summary>
    public string LfsEndpoint { get; private set; } = "";

    /// <summary>Every request: method, path (with query), Range header, Authorization header.</summary>
    public ConcurrentQueue<(string Method, string Path, string? Range, string? Authorization)> Requests { get; } = new();

    /// <summary>LFS blobs (by sha256) served with one byte flipped.</summary>
    public ConcurrentDictionary<string, bool> CorruptBlobs { get; } = new();

    /// <summary>LFS blobs (by sha256) whose next full GET sends this many bytes and then drops the connection.</summary>
    public ConcurrentDictionary<string, int> InterruptBlobs { get; } = new();

    /// <summary>Delay between 1 KB chunks of LFS bodies (to make concurrent loads overlap, or to cancel mid-download).</summary>
    public TimeSpan ChunkDelay { get; set; }

    /// <summary>A hostile Hub: called first for every request (after recording it); when it returns true the request is answered.</summary>
    public Func<HttpContext, Task<bool>>? Intercept { get; set; }

    public static async Task<FakeHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0);   // the Hub
            o.Listen(IPAddress.Loopback, 0);   // the LFS storage: another origin, as the Hub's CDN is
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var hub = new FakeHub(app);
        app.Run(hub.HandleAsync);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        (hub.Endpoint, hub.LfsEndpoint) = (addresses[0], addresses[1]);
        return hub;
    }

    /// <summary>Publishes every file of <paramref name="folder"/> (recursively) as one commit of <paramref name="repoId"/> under
    /// <paramref name="revision"/>; files named *.safetensors/*.bin/*.onnx are LFS files. Returns the commit sha.</summary>
    public string Publish(string repoId, string folder, string revision = "main", string? token = null, IEnumerable<(string Path, byte[] Content)>? extra = null)
    {
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => (Path: Path.GetRelativePath(folder, f).Replace('\\', '/'), Content: File.ReadAllBytes(f)))
            .Concat(extra ?? []).ToDictionary(f => f.Path, f => f.Content, StringComparer.Ordinal);
        string commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(repoId + revision + string.Join(",", files.Keys) + files.Values.Sum(v => v.Length) + Guid.NewGuid())));
        var repo = _repos.GetOrAdd(repoId, _ => new Repo());
        repo.Token = token;
        repo.Commits[commit] = files;
        repo.Refs[revision] = commit;
        foreach (var (path, content) in files)
            if (IsLfs(path)) _lfs[Sha256(content)] = content;
        return commit;
    }

    /// <summary>Old repository id -> new one (answered with relative 307 redirects, as the Hub does for renamed repositories).</summary>
    public ConcurrentDictionary<string, string> Renamed { get; } = new(StringComparer.Ordinal);

    /// <summary>Files listed in the repository's siblings whose resolve URL nevertheless answers 404 (EntryNotFound).</summary>
    public ConcurrentDictionary<string, bool> HiddenFiles { get; } = new(StringComparer.Ordinal);

    public static bool IsLfs(string path) => path.EndsWith(".safetensors", StringComparison.Ordinal) || path.EndsWith(".bin", StringComparison.Ordinal) || path.EndsWith(".onnx", StringComparison.Ordinal);

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>Git's blob id: sha1 of "blob {length}\0" + content (what the Hub sends as ETag for non-LFS files).</summary>
    public static string GitBlobSha1(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));

    public int Count(Func<(string Method, string Path, string? Range, string? Authorization), bool> predicate) => Requests.Count(predicate);

    private sealed class Repo
    {
        public string? Token;
        public readonly ConcurrentDictionary<string, Dictionary<string, byte[]>> Commits = new(StringComparer.Ordinal);
        public readonly ConcurrentDictionary<string, string> Refs = new(StringComparer.Ordinal);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = Uri.UnescapeDataString(request.Path.Value ?? "");
        Requests.Enqueue((request.Method, path, request.Headers.Range.ToString() is { Length: > 0 } r ? r : null,
            request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null));
        if (Intercept is { } intercept && await intercept(context)) return;
        var response = context.Response;
        string[] parts = path.Trim('/').Split('/');

        if (parts is ["lfs", var blobSha] && _lfs.TryGetValue(blobSha, out var blob))
        {
            await ServeLfsAsync(context, blobSha, blob);
            return;
        }
        bool api = parts.Length >= 5 && parts[0] == "api" && parts[1] == "models" && parts[4] == "revision";
        bool resolve = parts.Length >= 5 && parts[2] == "resolve";
        if (!api && !resolve) { response.StatusCode = 404; return; }
        string repoId = api ? parts[2] + "/" + parts[3] : parts[0] + "/" + parts[1];
        if (Renamed.TryGetValue(repoId, out string? newId))
        {
            // A renamed repository: the Hub answers 307 with a relative Location under the new name.
            response.StatusCode = 307;
            response.Headers.Location = (request.Path.Value ?? "").Replace("/" + repoId + "/", "/" + newId + "/", StringComparison.Ordinal);
            return;
        }
        bool authorized = request.Headers.Authorization.ToString() is { Length: > 0 } auth;
        if (!_repos.TryGetValue(repoId, out var repo))
        {
            // As the Hub: anonymous callers are told 401 (a private repository is not revealed), authenticated ones 404.
            Fail(response, authorized ? 404 : 401, "RepoNotFound");
            return;
        }
        string revision = api ? string.Join('/', parts[5..]) : parts[3];
        string? commit = repo.Commits.ContainsKey(revision) ? revision : repo.Refs.GetValueOrDefault(revision);
        if (api)
        {
            if (commit is null) { Fail(response, 404, "RevisionNotFound"); return; }
            response.ContentType = "application/json";
            await response.WriteAsync(JsonSerializer.Serialize(new
            {
                id = repoId,
                sha = commit,
                siblings = repo.Commits[commit].Keys.Order(StringComparer.Ordinal).Select(f => new { rfilename = f }),
            }));
            return;
        }
        if (repo.Token is { } token && request.Headers.Authorization.ToString() != "Bearer " + token)
        {
            Fail(response, 401, "GatedRepo");
            return;
        }
        if (commit is null) { Fail(response, 404, "RevisionNotFound"); return; }
        response.Headers["X-Repo-Commit"] = commit;
        string file = string.Join('/', parts[4..]);
        if (!repo.Commits[commit].TryGetValue(file, out var content) || HiddenFiles.ContainsKey(file)) { Fail(response, 404, "EntryNotFound"); return; }
        if (IsLfs(file))
        {
            string sha = Sha256(content);
            response.StatusCode = 302;
            response.Headers.Location = $"{LfsEndpoint}/lfs/{sha}";
            response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            response.Headers["X-Linked-Size"] = content.Length.ToString();
            response.Headers.ETag = "\"" + GitBlobSha1(content) + "\"";   // the pointer file's id, which must NOT name the blob
            return;
        }
        response.Headers.ETag = "W/\"" + GitBlobSha1(content) + "\"";     // weak form, normalised by the client
        response.ContentLength = content.Length;
        if (HttpMethods.IsGet(request.Method)) await response.Body.WriteAsync(content);
    }

    private async Task ServeLfsAsync(HttpContext context, string sha, byte[] blob)
    {
        var response = context.Response;
        if (CorruptBlobs.ContainsKey(sha))
        {
            blob = (byte[])blob.Clone();
            blob[blob.Length / 2] ^= 0x5A;
        }
        long start = 0;
        if (context.Request.Headers.Range.ToString() is { Length: > 0 } range)
        {
            if (!range.StartsWith("bytes=", StringComparison.Ordinal) || !range.EndsWith('-') || !long.TryParse(range[6..^1], out start) || start >= blob.Length)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{blob.Length}";
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {start}-{blob.Length - 1}/{blob.Length}";
        }
        response.ContentLength = blob.Length - start;
        response.Headers.ETag = $"\"{sha}\"";
        int stopAt = start == 0 && InterruptBlobs.TryRemove(sha, out int cut) ? cut : int.MaxValue;
        for (long offset = start; offset < blob.Length; offset += 1024)
        {
            if (offset >= stopAt)
            {
                await response.Body.FlushAsync();
                await Task.Delay(300);   // let the client read what was sent (an abort resets the socket, dropping unread bytes)
                context.Abort();         // the connection drops mid-body
                return;
            }
            int length = (int)Math.Min(1024, Math.Min(blob.Length - offset, stopAt - offset));
            await response.Body.WriteAsync(blob.AsMemory((int)offset, length));
            if (ChunkDelay > TimeSpan.Zero)
            {
                await response.Body.FlushAsync();
                await Task.Delay(ChunkDelay);
            }
        }
    }

    private static void Fail(HttpResponse response, int status, string code)
    {
        response.StatusCode = status;
        response.Headers["X-Error-Code"] = code;
        response.Headers["X-Error-Message"] = code;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
