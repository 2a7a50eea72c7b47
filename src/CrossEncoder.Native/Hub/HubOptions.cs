namespace CrossEncoder.Native.Hub;

/// <summary>
/// Where and how models are fetched from the Hugging Face Hub. <see cref="FromEnvironment"/> reads the same environment variables
/// as Python's <c>huggingface_hub</c> (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME), so both share one cache.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The Hub's base address (HF_ENDPOINT; default https://huggingface.co).</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Access token for gated or private repositories (HF_TOKEN, else the file <c>$HF_HOME/token</c> that
    /// <c>hf auth login</c> writes); null for anonymous access.</summary>
    public string? Token { get; init; }

    /// <summary>The cache folder holding <c>models--org--name</c> (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub).</summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory();

    /// <summary>Never touch the network; use only what is cached (HF_HUB_OFFLINE=1).</summary>
    public bool Offline { get; init; }

    /// <summary>Receives download progress (called on the downloading thread, often: throttle any rendering).</summary>
    public IProgress<HubDownloadProgress>? Progress { get; init; }

    /// <summary>Timeouts, minimum rate and size caps (internal: the defaults suit real Hubs; tests shrink them).</summary>
    internal HubLimits Limits { get; init; } = HubLimits.Current;

    /// <summary>Default Hub address.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Options from the environment variables huggingface_hub reads.</summary>
    public static HubOptions FromEnvironment() => new()
    {
        Endpoint = NonEmpty("HF_ENDPOINT") ?? DefaultEndpoint,
        Token = NonEmpty("HF_TOKEN") ?? NonEmpty("HUGGING_FACE_HUB_TOKEN") ?? ReadTokenFile(),
        CacheDirectory = DefaultCacheDirectory(),
        Offline = IsTrue(Environment.GetEnvironmentVariable("HF_HUB_OFFLINE") ?? Environment.GetEnvironmentVariable("TRANSFORMERS_OFFLINE")),
    };

    /// <summary>huggingface_hub's rule: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, where HF_HOME defaults to
    /// $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.</summary>
    public static string DefaultCacheDirectory()
    {
        if ((NonEmpty("HF_HUB_CACHE") ?? NonEmpty("HUGGINGFACE_HUB_CACHE")) is { } cache) return ExpandHome(cache);
        return Path.Combine(HomeDirectory(), "hub");
    }

    private static string HomeDirectory()
    {
        if (NonEmpty("HF_HOME") is { } home) return ExpandHome(home);
        string xdg = NonEmpty("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(ExpandHome(xdg), "huggingface");
    }

    private static string? ReadTokenFile()
    {
        string path = NonEmpty("HF_TOKEN_PATH") is { } p ? ExpandHome(p) : Path.Combine(HomeDirectory(), "token");
        try
        {
            return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } token ? token : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "")
            : path;

    private static string? NonEmpty(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value.Trim() : null;

    /// <summary>huggingface_hub's truth values: 1, ON, YES, TRUE (any case).</summary>
    internal static bool IsTrue(string? value) => value?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
}

/// <summary>Progress of one file's download.</summary>
/// <param name="RepoId">The repository (org/name).</param>
/// <param name="FileName">The file's path in the repository.</param>
/// <param name="BytesDownloaded">Bytes of the file on disk so far (a resumed download starts above zero).</param>
/// <param name="TotalBytes">The file's size, when the server said.</param>
/// <param name="Completed">True on the last report for this file.</param>
public readonly record struct HubDownloadProgress(string RepoId, string FileName, long BytesDownloaded, long? TotalBytes, bool Completed);
