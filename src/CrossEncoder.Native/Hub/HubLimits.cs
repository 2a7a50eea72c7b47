namespace CrossEncoder.Native.Hub;

/// <summary>
/// How long and how much the downloader waits for and accepts from the Hub, so a slow, stuck or hostile server is abandoned
/// with a one-line <see cref="HubException"/> instead of holding the caller forever or filling memory or disk.
/// Internal: the defaults suit real Hubs; tests shrink them (through <see cref="HubOptions.Limits"/> or <see cref="Override"/>).
/// </summary>
internal sealed record HubLimits
{
    /// <summary>Longest wait for any single read of a blob's body to return data.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Overall deadline of a metadata exchange (the revision's JSON, a HEAD, a GET's response headers), body included.</summary>
    public TimeSpan MetadataTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A blob must bring at least <see cref="MinimumBytesPerSecond"/> x this window in every window of this length.</summary>
    public TimeSpan RateWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The slowest transfer rate kept (averaged over <see cref="RateWindow"/>).</summary>
    public long MinimumBytesPerSecond { get; init; } = 1024;

    /// <summary>Largest JSON reply of the Hub's API accepted (the real ones are kilobytes).</summary>
    public long MaxMetadataBytes { get; init; } = 16 << 20;

    /// <summary>Largest blob accepted when neither X-Linked-Size nor Content-Length announced its size (the Hub's file limit is 50 GB).</summary>
    public long MaxBlobBytes { get; init; } = 50_000_000_000;

    /// <summary>The limits of real use.</summary>
    public static HubLimits Default { get; } = new();

    /// <summary>Replaces <see cref="Default"/> for the current async flow only (tests that go through <see cref="HubOptions.FromEnvironment"/>).</summary>
    internal static readonly AsyncLocal<HubLimits?> Override = new();

    /// <summary>The limits a new <see cref="HubOptions"/> starts with.</summary>
    public static HubLimits Current => Override.Value ?? Default;
}
