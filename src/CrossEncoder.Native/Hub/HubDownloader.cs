using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CrossEncoder.Native.Hub;

/// <summary>
/// Downloads a model from the Hugging Face Hub into the shared huggingface_hub cache and returns its snapshot folder, speaking
/// the Hub's HTTP interface as huggingface_hub's <c>snapshot_download</c> does:
/// <list type="number">
/// <item><c>GET {endpoint}/api/models/{repo}/revision/{revision}</c>: the commit (<c>sha</c>) and file list (<c>siblings</c>).
/// This is the only request when the snapshot is already cached.</item>
/// <item>for each needed file missing from <c>snapshots/{commit}/</c>: <c>HEAD {endpoint}/{repo}/resolve/{commit}/{file}</c>,
/// following only relative redirects (renamed repositories). The blob's name is <c>X-Linked-Etag</c> (LFS files: their sha256)
/// or <c>ETag</c>, without quotes or <c>W/</c>; an absolute <c>Location</c> (the LFS storage) is where the bytes are.</item>
/// <item><c>GET</c> that location (all redirects followed; the token is only sent to the endpoint's host), with
/// <c>Range: bytes={have}-</c> when a <c>.incomplete</c> file is already there, under the blob's lock file.</item>
/// </list>
/// Offline (<see cref="HubOptions.Offline"/>, or the Hub unreachable) the revision resolves through <c>refs/{revision}</c>.
/// </summary>
public static partial class HubDownloader
{
    private const int MaxRedirects = 10, MaxAttempts = 3;
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60), MetadataTimeout = TimeSpan.FromSeconds(30);

    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,                              // redirects are followed by hand: auth must not leak to the CDN
        AutomaticDecompression = DecompressionMethods.None,     // sizes and hashes are of the stored bytes
        ConnectTimeout = TimeSpan.FromSeconds(15),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Downloads (or finds in the cache) <c>org/name[@revision]</c> and returns the snapshot folder to load.</summary>
    /// <exception cref="ArgumentException"><paramref name="modelId"/> is not <c>org/name[@revision]</c>, or the endpoint is not an http(s) URL.</exception>
    /// <exception cref="HubException">The Hub refused or failed, or (offline) the model is not cached; the message is one line.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static Task<string> DownloadModelAsync(string modelId, HubOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (!HubModelId.TryParse(modelId, out var id))
            throw new ArgumentException($"'{modelId}' is not a Hub model id (org/name or org/name@revision).", nameof(modelId));
        return DownloadModelAsync(id, options, cancellationToken);
    }

    /// <inheritdoc cref="DownloadModelAsync(string, HubOptions?, CancellationToken)"/>
    public static async Task<string> DownloadModelAsync(HubModelId id, HubOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        options ??= HubOptions.FromEnvironment();
        if (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            throw new ArgumentException($"the Hub endpoint '{options.Endpoint}' (HF_ENDPOINT) is not an http(s) URL.", nameof(options));
        if (string.IsNullOrWhiteSpace(options.CacheDirectory))
            throw new ArgumentException("the Hub cache folder (HF_HUB_CACHE / HF_HOME) is empty.", nameof(options));
        var cache = new HubCache(options.CacheDirectory, id.RepoId);
        if (options.Offline) return FromCache(id, cache, "HF_HUB_OFFLINE is set");

        (string commit, HashSet<string> repoFiles) revision;
        try
        {
            revision = await GetRevisionAsync(id, options, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.StatusCode is null && !cancellationToken.IsCancellationRequested)
        {
            return FromCache(id, cache, $"{options.Endpoint} cannot be reached ({e.Message})");   // as huggingface_hub: fall back to the cache
        }
        var (commit, repoFiles) = revision;
        HubCache.TagCacheDirectory(options.CacheDirectory);
        cache.WriteRef(id.Revision, commit);
        var session = new Session(id, commit, options, cache);
        foreach (string file in ModelFiles.Select(repoFiles, id))
            await session.EnsureFileAsync(file, cancellationToken).ConfigureAwait(false);
        foreach (string file in ModelFiles.Dependents(cache.SnapshotFolder(commit), repoFiles, id))
            await session.EnsureFileAsync(file, cancellationToken).ConfigureAwait(false);
        return cache.SnapshotFolder(commit);
    }

    private static string FromCache(HubModelId id, HubCache cache, string reason)
    {
        string? commit = cache.ReadRef(id);
        string? folder = commit is null ? null : cache.SnapshotFolder(commit);
        if (folder is null || !File.Exists(Path.Combine(folder, ModelFiles.Config)))
            throw new HubException(HubErrorKind.NotCached, $"{id} is not in the cache ({cache.RepoFolder}) and {reason}: download it once online.");
        if (!File.Exists(Path.Combine(folder, ModelFiles.Weights)) && !File.Exists(Path.Combine(folder, ModelFiles.WeightsIndex)))
            throw new HubException(HubErrorKind.NotCached, $"the cached snapshot of {id} ({folder}) has no model.safetensors and {reason}: download it once online.");
        return folder;
    }

    /// <summary>The revision's commit and file list (one request: the "revision check").</summary>
    private static async Task<(string Commit, HashSet<string> Files)> GetRevisionAsync(HubModelId id, HubOptions options, CancellationToken cancellationToken)
    {
        var uri = new Uri($"{Endpoint(options)}/api/models/{id.RepoId}/revision/{Uri.EscapeDataString(id.Revision)}");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(MetadataTimeout);
        using var response = await SendAsync(HttpMethod.Get, uri, options, followAbsolute: true, rangeFrom: 0, timeout.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Error(response, id, file: null, options);
        return ParseRevision(await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false), uri, id);
    }

    /// <summary>The Hub's revision reply (<c>{"sha": "...", "siblings": [{"rfilename": "..."}, ...]}</c>): the commit and the
    /// files whose paths stay inside the snapshot folder.</summary>
    /// <param name="body">The reply body.</param>
    /// <param name="uri">The request, for error messages.</param>
    /// <param name="id">The model, for error messages.</param>
    /// <exception cref="HubException">The body is not JSON or has no commit sha.</exception>
    internal static (string Commit, HashSet<string> Files) ParseRevision(byte[] body, Uri uri, HubModelId id)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            string? sha = document.RootElement.TryGetProperty("sha", out var s) ? s.GetString() : null;
            if (sha is null || !HubModelId.CommitPattern().IsMatch(sha))
                throw new HubException(HubErrorKind.Network, $"{uri} did not answer a commit sha for {id}.");
            var files = new HashSet<string>(StringComparer.Ordinal);
            if (document.RootElement.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
                foreach (var sibling in siblings.EnumerateArray())
                    if (sibling.TryGetProperty("rfilename", out var name) && name.GetString() is { } n && ModelFiles.IsSafeRelativePath(n)) files.Add(n);
            return (sha, files);
        }
        catch (JsonException e)
        {
            throw new HubException(HubErrorKind.Network, $"{uri} answered something that is not JSON ({e.Message}).", e);
        }
    }

    /// <summary>One model's downloads at one commit.</summary>
    private sealed class Session(HubModelId id, string commit, HubOptions options, HubCache cache)
    {
        public async Task EnsureFileAsync(string file, CancellationToken cancellationToken)
        {
            if (File.Exists(cache.SnapshotPath(commit, file))) return;   // (follows the symlink: a dangling one is fetched again)
            var (etag, size, location) = await HeadAsync(file, cancellationToken).ConfigureAwait(false);
            using (await cache.LockAsync(etag, cancellationToken).ConfigureAwait(false))   // (sync disposal: no context capture in sync Load)
            {
                if (!File.Exists(cache.BlobPath(etag))) await DownloadBlobAsync(file, etag, size, location, cancellationToken).ConfigureAwait(false);
                cache.LinkSnapshot(commit, file, etag);
            }
            // The lock file stays, as huggingface_hub leaves it: deleting it would race another process that just opened it.
        }

        private Uri ResolveUri(string file) =>
            new($"{Endpoint(options)}/{id.RepoId}/resolve/{commit}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

        /// <summary>The blob's name (normalised ETag), size and download location, from the resolve URL's headers.</summary>
        private async Task<(string Etag, long? Size, Uri Location)> HeadAsync(string file, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(MetadataTimeout);
            Uri uri = ResolveUri(file);
            using var response = await SendAsync(HttpMethod.Head, uri, options, followAbsolute: false, rangeFrom: 0, timeout.Token).ConfigureAwait(false);
            bool redirect = (int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is not null;
            if (!response.IsSuccessStatusCode && !redirect) throw Error(response, id, file, options);
            string? etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.ToString() ?? Header(response, "ETag"));
            if (etag is null || !SafeEtag().IsMatch(etag))
                throw new HubException(HubErrorKind.Network, $"the Hub sent no usable ETag for '{file}' of {id} ({uri}); is HF_ENDPOINT a Hub?");
            long? size = long.TryParse(Header(response, "X-Linked-Size"), out long linked) ? linked
                : redirect ? null : response.Content.Headers.ContentLength;
            Uri location = redirect ? new Uri(response.RequestMessage!.RequestUri!, response.Headers.Location!) : response.RequestMessage!.RequestUri!;
            return (etag, size, location);
        }

        /// <summary>Downloads to blobs/{etag}.incomplete (resuming what is there), checks size and sha256, then renames into place.
        /// Runs under the blob's lock, so the .incomplete file is ours alone.</summary>
        private async Task DownloadBlobAsync(string file, string etag, long? size, Uri location, CancellationToken cancellationToken)
        {
            string blob = cache.BlobPath(etag), incomplete = blob + ".incomplete";
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            for (int attempt = 1; ; attempt++)
            {
                long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
                if (size is { } expected && have > expected) { File.Delete(incomplete); have = 0; }
                if (size is { } complete && have == complete && complete > 0) break;
                try
                {
                    await TransferAsync(file, location, incomplete, have, size, cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (e is HttpRequestException { StatusCode: null } or IOException and not HubException && !cancellationToken.IsCancellationRequested)
                {
                    if (attempt == MaxAttempts)
                        throw new HubException(HubErrorKind.Network,
                            $"downloading '{file}' of {id} failed after {MaxAttempts} attempts ({OneLine(e.Message)}); run again to resume from byte {(File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0)}.", e);
                }
            }
            long length = new FileInfo(incomplete).Length;
            if (size is { } total && length != total)
                throw new HubException(HubErrorKind.Network, $"'{file}' of {id} arrived with {length} of {total} bytes; run again to resume.");
            if (Sha256Etag().IsMatch(etag))   // LFS files are named by their sha256: check it
            {
                string actual = await HubCache.Sha256Async(incomplete, cancellationToken).ConfigureAwait(false);
                if (actual != etag)
                {
                    File.Delete(incomplete);
                    throw new HubException(HubErrorKind.ChecksumMismatch,
                        $"checksum mismatch for '{file}' of {id}: sha256 {actual} but the Hub announced {etag}; the download was deleted, run again.");
                }
            }
            File.Move(incomplete, blob, overwrite: true);
        }

        private async Task TransferAsync(string file, Uri location, string incomplete, long have, long? size, CancellationToken cancellationToken)
        {
            using var response = await SendAsync(HttpMethod.Get, location, options, followAbsolute: true, have, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                File.Delete(incomplete);   // what we have does not fit the blob: start over
                throw new IOException($"the server refused to resume '{file}' at byte {have}.");
            }
            if (!response.IsSuccessStatusCode) throw Error(response, id, file, options);
            bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (!append) have = 0;
            long? total = size ?? (response.Content.Headers.ContentLength is { } length ? have + length : null);
            using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            using var output = new FileStream(incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            var buffer = new byte[1 << 16];
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            options.Progress?.Report(new HubDownloadProgress(id.RepoId, file, have, total, Completed: false));
            while (true)
            {
                stall.CancelAfter(StallTimeout);
                int read;
                try
                {
                    read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new IOException($"no data for {StallTimeout.TotalSeconds:F0} s.");
                }
                if (read == 0) break;
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                have += read;
                options.Progress?.Report(new HubDownloadProgress(id.RepoId, file, have, total, Completed: false));
            }
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (total is { } t && have < t) throw new IOException($"the connection closed at byte {have} of {t}.");
            options.Progress?.Report(new HubDownloadProgress(id.RepoId, file, have, total, Completed: true));
        }
    }

    /// <summary>
    /// Sends a request, following redirects by hand: relative ones always (a renamed repository), absolute ones only when
    /// <paramref name="followAbsolute"/> (the LFS storage). The token goes only to the endpoint's own host.
    /// </summary>
    private static async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, HubOptions options, bool followAbsolute, long rangeFrom,
        CancellationToken cancellationToken)
    {
        var endpoint = new Uri(Endpoint(options));
        for (int hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, uri);
            request.Headers.UserAgent.ParseAdd("CrossEncoder.Native/1.0");
            request.Headers.AcceptEncoding.ParseAdd("identity");
            if (options.Token is { Length: > 0 } token && Uri.Compare(uri, endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (rangeFrom > 0) request.Headers.Range = new RangeHeaderValue(rangeFrom, null);
            var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if ((int)response.StatusCode is not (>= 300 and < 400) || response.Headers.Location is not { } location) return response;
            if (!followAbsolute && location.IsAbsoluteUri) return response;
            if (hop == MaxRedirects)
            {
                response.Dispose();
                throw new HubException(HubErrorKind.Network, $"more than {MaxRedirects} redirects from {uri}.");
            }
            response.Dispose();
            uri = new Uri(uri, location);
        }
    }

    /// <summary>The one-line error for a failed response; the Hub says which in <c>X-Error-Code</c>.</summary>
    private static HubException Error(HttpResponseMessage response, HubModelId id, string? file, HubOptions options)
    {
        int status = (int)response.StatusCode;
        string? code = Header(response, "X-Error-Code");
        bool hasToken = options.Token is { Length: > 0 };
        string tokenHint = hasToken ? "" : " (if it is private or gated, set HF_TOKEN or pass --token)";
        string endpoint = Endpoint(options);
        return (status, code) switch
        {
            (_, "RepoNotFound") or (404, null) when file is null =>
                new HubException(HubErrorKind.NotFound, $"repository {id.RepoId} not found on {endpoint}{tokenHint}."),
            (_, "RevisionNotFound") => new HubException(HubErrorKind.NotFound, $"revision '{id.Revision}' not found in {id.RepoId}."),
            (_, "EntryNotFound") or (404, _) =>
                new HubException(HubErrorKind.NotFound, file is null ? $"{id} not found on {endpoint}." : $"file '{file}' not found in {id}."),
            (401 or 403, _) or (_, "GatedRepo") => new HubException(HubErrorKind.Unauthorized, hasToken
                ? $"access to {id.RepoId} denied (HTTP {status}): the token has no access; for a gated model accept its terms at {endpoint}/{id.RepoId}."
                : $"{id.RepoId} requires authentication (HTTP {status}): it is gated or private; set HF_TOKEN (or --token) to a token with access."),
            _ => new HubException(HubErrorKind.Network, $"HTTP {status} {response.ReasonPhrase} from {response.RequestMessage?.RequestUri} while fetching {file ?? "the revision"} of {id}."),
        };
    }

    /// <summary>huggingface_hub's normalisation: drop a weak-validator <c>W/</c> prefix and the quotes.</summary>
    internal static string? NormalizeEtag(string? etag)
    {
        if (etag is null) return null;
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        etag = etag.Trim('"');
        return etag.Length == 0 ? null : etag;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? values.FirstOrDefault() : null;

    private static string Endpoint(HubOptions options) => options.Endpoint.TrimEnd('/');

    private static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Etag();

    [GeneratedRegex(@"^[A-Za-z0-9_\-][A-Za-z0-9_\-.]{0,127}$")]
    private static partial Regex SafeEtag();
}
