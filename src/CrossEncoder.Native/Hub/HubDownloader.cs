using System.Diagnostics;
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
/// Offline (<see cref="HubOptions.Offline"/>, or the Hub unreachable or timing out) the revision resolves through <c>refs/{revision}</c>.
/// <para>A hostile or broken server cannot hold or flood the caller (<see cref="HubLimits"/>): each metadata exchange (the revision's
/// JSON, a HEAD, a GET's headers) has a deadline, the API's JSON is capped (16 MB), a body must keep a minimum rate over a window
/// (not just send a byte now and then), a blob stops at its announced size (X-Linked-Size / Content-Length, else 50 GB), redirects
/// go only to http(s), and the API's JSON fields are checked for type. Each ends in a one-line <see cref="HubException"/>; a deadline
/// is "timed out after N s", never an <see cref="OperationCanceledException"/>, which means the caller's token only.</para>
/// </summary>
public static partial class HubDownloader
{
    private const int MaxRedirects = 10, MaxAttempts = 3;

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
    /// <exception cref="OperationCanceledException">The token was cancelled (only then: the download's own deadlines are HubExceptions).</exception>
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
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)   // our deadline, not the caller's
        {
            return FromCache(id, cache, $"{RevisionUri(id, options)} timed out after {Seconds(options.Limits.MetadataTimeout)}");
        }
        var (commit, repoFiles) = revision;
        cache.RefuseForeignLinks(id.Revision, commit);   // before anything is written under the repository's folder
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

    private static Uri RevisionUri(HubModelId id, HubOptions options) =>
        new($"{Endpoint(options)}/api/models/{id.RepoId}/revision/{Uri.EscapeDataString(id.Revision)}");

    /// <summary>The revision's commit and file list (one request: the "revision check"), under the metadata deadline and size cap.</summary>
    private static async Task<(string Commit, HashSet<string> Files)> GetRevisionAsync(HubModelId id, HubOptions options, CancellationToken cancellationToken)
    {
        Uri uri = RevisionUri(id, options);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Limits.MetadataTimeout);
        using var response = await SendAsync(HttpMethod.Get, uri, options, followAbsolute: true, rangeFrom: 0, timeout.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Error(response, id, file: null, options);
        long cap = options.Limits.MaxMetadataBytes;
        byte[] json = await ReadCappedAsync(response.Content, cap, timeout.Token).ConfigureAwait(false)
            ?? throw new HubException(HubErrorKind.Network, $"{uri} answered more than {Bytes(cap)} for the revision of {id}; is HF_ENDPOINT a Hub?");
        return ParseRevision(json, uri, id);
    }

    /// <summary>The Hub's revision reply (<c>{"sha": "...", "siblings": [{"rfilename": "..."}, ...]}</c>): the commit and the
    /// files whose paths stay inside the snapshot folder; each field checked for its kind.</summary>
    /// <exception cref="HubException">The body is not JSON, or a field is missing or of the wrong kind.</exception>
    internal static (string Commit, HashSet<string> Files) ParseRevision(byte[] json, Uri uri, HubModelId id)
    {
        try
        {
            using var document = JsonEscapes.Parse(json);
            HubException Unusable(string problem) => new(HubErrorKind.Network, $"{uri} answered an unusable revision of {id}: {problem}; is HF_ENDPOINT a Hub?");
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Unusable($"the reply is {Describe(root)}, not an object");
            if (!root.TryGetProperty("sha", out var s)) throw Unusable("'sha' is missing");
            if (s.ValueKind != JsonValueKind.String) throw Unusable($"'sha' is {Describe(s)}, not a string");
            string sha = s.GetString()!;
            if (!HubModelId.CommitPattern().IsMatch(sha)) throw Unusable($"'sha' {JsonSerializer.Serialize(sha[..Math.Min(sha.Length, 64)])} is not a 40-hex commit id");
            if (!root.TryGetProperty("siblings", out var siblings)) throw Unusable("'siblings' is missing");
            if (siblings.ValueKind != JsonValueKind.Array) throw Unusable($"'siblings' is {Describe(siblings)}, not an array");
            var files = new HashSet<string>(StringComparer.Ordinal);
            int index = 0;
            foreach (var sibling in siblings.EnumerateArray())
            {
                if (sibling.ValueKind != JsonValueKind.Object) throw Unusable($"'siblings[{index}]' is {Describe(sibling)}, not an object");
                if (!sibling.TryGetProperty("rfilename", out var name)) throw Unusable($"'siblings[{index}].rfilename' is missing");
                if (name.ValueKind != JsonValueKind.String) throw Unusable($"'siblings[{index}].rfilename' is {Describe(name)}, not a string");
                if (ModelFiles.IsSafeRelativePath(name.GetString()!)) files.Add(name.GetString()!);   // others are never fetched
                index++;
            }
            return (sha, files);
        }
        catch (JsonException e)
        {
            throw new HubException(HubErrorKind.Network, $"{uri} answered something that is not JSON ({OneLine(e.Message)}).", e);
        }
    }

    /// <summary>The body, or null when it is longer than <paramref name="cap"/> (said by Content-Length, or found while reading).</summary>
    private static async Task<byte[]?> ReadCappedAsync(HttpContent content, long cap, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > cap) return null;
        using var body = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var memory = new MemoryStream();
        var buffer = new byte[1 << 16];
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (memory.Length + read > cap) return null;
            memory.Write(buffer, 0, read);
        }
        return memory.ToArray();
    }

    /// <summary>"a number", "null", "an array"...: what a JSON value is, for an error message.</summary>
    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "missing",
    };

    /// <summary>One model's downloads at one commit.</summary>
    private sealed class Session(HubModelId id, string commit, HubOptions options, HubCache cache)
    {
        public async Task EnsureFileAsync(string file, CancellationToken cancellationToken)
        {
            if (File.Exists(cache.SnapshotPath(commit, file))) return;   // (follows the symlink: a dangling one is fetched again)
            var (etag, size, location) = await HeadAsync(file, cancellationToken).ConfigureAwait(false);
            using (await cache.LockAsync(etag, cancellationToken).ConfigureAwait(false))   // (sync disposal: no context capture in sync Load)
            {
                if (!cache.HasBlob(etag)) await DownloadBlobAsync(file, etag, size, location, cancellationToken).ConfigureAwait(false);
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
            timeout.CancelAfter(options.Limits.MetadataTimeout);
            Uri uri = ResolveUri(file);
            using var response = await SendWithDeadlineAsync(HttpMethod.Head, uri, file, followAbsolute: false, rangeFrom: 0, timeout, cancellationToken).ConfigureAwait(false);
            bool redirect = (int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is not null;
            if (!response.IsSuccessStatusCode && !redirect) throw Error(response, id, file, options);
            string? etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.ToString() ?? Header(response, "ETag"));
            if (etag is null || !SafeEtag().IsMatch(etag))
                throw new HubException(HubErrorKind.Network, $"the Hub sent no usable ETag for '{file}' of {id} ({uri}); is HF_ENDPOINT a Hub?");
            long? size = long.TryParse(Header(response, "X-Linked-Size"), out long linked) ? linked
                : redirect ? null : response.Content.Headers.ContentLength;
            if (size is < 0 || size > options.Limits.MaxBlobBytes)
                throw new HubException(HubErrorKind.Network, size < 0
                    ? $"the Hub announced a negative size ({size}) for '{file}' of {id}; is HF_ENDPOINT a Hub?"
                    : $"the Hub announced {size} bytes for '{file}' of {id}, more than the {options.Limits.MaxBlobBytes} accepted; is HF_ENDPOINT a Hub?");
            Uri from = response.RequestMessage!.RequestUri!, location = redirect ? new Uri(from, response.Headers.Location!) : from;
            RequireHttp(from, location, response.Headers.Location);
            return (etag, size, location);
        }

        /// <summary>Sends under <paramref name="deadline"/> (already armed): its firing is a one-line timeout naming the file, while
        /// the caller's own cancellation stays an <see cref="OperationCanceledException"/>.</summary>
        private async Task<HttpResponseMessage> SendWithDeadlineAsync(HttpMethod method, Uri uri, string file, bool followAbsolute, long rangeFrom,
            CancellationTokenSource deadline, CancellationToken cancellationToken)
        {
            try
            {
                return await SendAsync(method, uri, options, followAbsolute, rangeFrom, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HubException(HubErrorKind.Network, $"asking {uri} for '{file}' of {id} timed out after {Seconds(options.Limits.MetadataTimeout)}.", e);
            }
        }

        /// <summary>Downloads to blobs/{etag}.incomplete (resuming what is there), checks size and sha256, then renames into place.
        /// Runs under the blob's lock, so the .incomplete file is ours alone.</summary>
        private async Task DownloadBlobAsync(string file, string etag, long? size, Uri location, CancellationToken cancellationToken)
        {
            string blob = cache.BlobPath(etag), incomplete = blob + ".incomplete";
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            for (int attempt = 1; ; attempt++)
            {
                HubCache.DeleteIfLink(incomplete);   // planted by someone else: never append through it, start fresh
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

        /// <summary>One GET of the blob into the .incomplete file: the response headers under the metadata deadline, then the body
        /// while it keeps both the stall timeout and the minimum rate, and never past the announced size (or the cap).</summary>
        private async Task TransferAsync(string file, Uri location, string incomplete, long have, long? size, CancellationToken cancellationToken)
        {
            var limits = options.Limits;
            HttpResponseMessage response;
            using (var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                headers.CancelAfter(limits.MetadataTimeout);
                response = await SendWithDeadlineAsync(HttpMethod.Get, location, file, followAbsolute: true, have, headers, cancellationToken).ConfigureAwait(false);
            }
            using var _ = response;
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                File.Delete(incomplete);   // what we have does not fit the blob: start over
                throw new IOException($"the server refused to resume '{file}' at byte {have}.");
            }
            if (!response.IsSuccessStatusCode) throw Error(response, id, file, options);
            bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (!append) have = 0;
            long? total = size ?? (response.Content.Headers.ContentLength is { } length ? have + length : null);
            long limit = total ?? limits.MaxBlobBytes;
            using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            // Append only to a file of our own (checked again just before opening); otherwise a new file: CreateNew never follows a link.
            HubCache.DeleteIfLink(incomplete);
            if (!append) File.Delete(incomplete);
            using var output = new FileStream(incomplete, append ? FileMode.Append : FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            var buffer = new byte[1 << 16];
            using var read = new BodyReader(body, limits, cancellationToken);
            options.Progress?.Report(new HubDownloadProgress(id.RepoId, file, have, total, Completed: false));
            while (true)
            {
                int count;
                try
                {
                    count = await read.NextAsync(buffer).ConfigureAwait(false);
                }
                catch (TooSlowException slow)
                {
                    throw new HubException(HubErrorKind.Network,
                        $"downloading '{file}' of {id} was abandoned: {Bytes(slow.Bytes)} arrived in {Seconds(slow.Window)}, under the minimum rate of " +
                        $"{Bytes(limits.MinimumBytesPerSecond)}/s; run again to resume from byte {have}.");
                }
                if (count == 0) break;
                if (have + count > limit)
                {
                    output.Close();
                    File.Delete(incomplete);
                    throw new HubException(HubErrorKind.Network, total is null
                        ? $"'{file}' of {id} is longer than {limit} bytes and its size was not announced; the download was deleted, run again."
                        : $"'{file}' of {id} is longer than the {limit} bytes announced; the download was deleted, run again.");
                }
                await output.WriteAsync(buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
                have += count;
                options.Progress?.Report(new HubDownloadProgress(id.RepoId, file, have, total, Completed: false));
            }
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (total is { } t && have < t) throw new IOException($"the connection closed at byte {have} of {t}.");
            options.Progress?.Report(new HubDownloadProgress(id.RepoId, file, have, total, Completed: true));
        }
    }

    /// <summary>The body fell under the minimum rate: <see cref="Bytes"/> arrived in the last <see cref="Window"/>.</summary>
    private sealed class TooSlowException(long bytes, TimeSpan window) : Exception
    {
        public long Bytes { get; } = bytes;
        public TimeSpan Window { get; } = window;
    }

    /// <summary>
    /// Reads a body under two clocks: each read must return within <see cref="HubLimits.StallTimeout"/> (else an IOException, which
    /// is retried with Range), and every <see cref="HubLimits.RateWindow"/> must bring <see cref="HubLimits.MinimumBytesPerSecond"/>
    /// times its length (else <see cref="TooSlowException"/>): a byte now and then restarts the first clock, never the second. While a
    /// window's quota is unmet a read waits at most until the window's end, so a dribble is abandoned when its window closes.
    /// </summary>
    private sealed class BodyReader(Stream body, HubLimits limits, CancellationToken cancellationToken) : IDisposable
    {
        private readonly CancellationTokenSource _deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        private readonly long _quota = (long)Math.Ceiling(limits.MinimumBytesPerSecond * limits.RateWindow.TotalSeconds);
        private long _windowStart = Stopwatch.GetTimestamp(), _inWindow;

        public async Task<int> NextAsync(byte[] buffer)
        {
            TimeSpan left = limits.RateWindow - Stopwatch.GetElapsedTime(_windowStart);
            if (_inWindow < _quota && left <= TimeSpan.Zero) throw new TooSlowException(_inWindow, Stopwatch.GetElapsedTime(_windowStart));
            bool rateBound = _inWindow < _quota && left < limits.StallTimeout;
            _deadline.CancelAfter(rateBound ? left : limits.StallTimeout);
            int read;
            try
            {
                read = await body.ReadAsync(buffer, _deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (rateBound) throw new TooSlowException(_inWindow, Stopwatch.GetElapsedTime(_windowStart));
                throw new IOException($"no data for {Seconds(limits.StallTimeout)}.");
            }
            _inWindow += read;
            if (Stopwatch.GetElapsedTime(_windowStart) >= limits.RateWindow)
            {
                if (read > 0 && _inWindow < _quota) throw new TooSlowException(_inWindow, Stopwatch.GetElapsedTime(_windowStart));
                (_windowStart, _inWindow) = (Stopwatch.GetTimestamp(), 0);
            }
            return read;
        }

        public void Dispose() => _deadline.Dispose();
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
            var next = new Uri(uri, location);
            RequireHttp(uri, next, location);
            uri = next;
        }
    }

    /// <summary>HttpClient speaks only http(s) (it throws NotSupportedException for the rest): a redirect elsewhere is refused first.</summary>
    private static void RequireHttp(Uri from, Uri to, Uri? location)
    {
        if (to.Scheme is not ("http" or "https"))
            throw new HubException(HubErrorKind.Network, $"{from} redirected to '{location ?? to}', which is not an http(s) URL; it is not followed.");
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

    /// <summary>"1 s", "0.5 s", "30 s".</summary>
    private static string Seconds(TimeSpan span) => FormattableString.Invariant($"{span.TotalSeconds:0.###} s");

    /// <summary>"512 B", "65.5 kB", "16.8 MB", "2.10 GB" (decimal units, as the progress bar shows them).</summary>
    private static string Bytes(long bytes) => bytes switch
    {
        < 1000 => $"{bytes} B",
        < 1_000_000 => FormattableString.Invariant($"{bytes / 1e3:F1} kB"),
        < 1_000_000_000 => FormattableString.Invariant($"{bytes / 1e6:F1} MB"),
        _ => FormattableString.Invariant($"{bytes / 1e9:F2} GB"),
    };

    private static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Etag();

    [GeneratedRegex(@"^[A-Za-z0-9_\-][A-Za-z0-9_\-.]{0,127}$")]
    private static partial Regex SafeEtag();
}
