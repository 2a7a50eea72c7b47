namespace CrossEncoder.Native.Hub;

/// <summary>What went wrong talking to the Hub or its cache.</summary>
public enum HubErrorKind
{
    /// <summary>401/403: the repository is gated or private and the token (HF_TOKEN) is missing or has no access.</summary>
    Unauthorized,
    /// <summary>404: no such repository, revision or file.</summary>
    NotFound,
    /// <summary>Offline (HF_HUB_OFFLINE=1 or the Hub unreachable) and the model is not in the cache.</summary>
    NotCached,
    /// <summary>A downloaded file does not hash to the sha256 the Hub announced.</summary>
    ChecksumMismatch,
    /// <summary>The repository has no files this library can load (e.g. only pytorch_model.bin).</summary>
    Unsupported,
    /// <summary>The transfer failed (connection lost, unexpected status, truncated or oversized body, timed out, too slow).</summary>
    Network,
    /// <summary>The cache holds a symbolic link where the download writes (a folder it did not make): it is not written through.</summary>
    UnsafeCache,
}

/// <summary>A one-line, actionable error from the Hub download or its cache.</summary>
public sealed class HubException : IOException
{
    /// <summary>Creates the error.</summary>
    public HubException(HubErrorKind kind, string message, Exception? inner = null) : base(message, inner) => Kind = kind;

    /// <summary>The category of the failure.</summary>
    public HubErrorKind Kind { get; }
}
