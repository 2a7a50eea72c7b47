namespace CrossEncoder.Cli;

/// <summary>
/// What a command's action reads and writes: the process's standard streams and Ctrl+C token in production, string
/// readers and writers in tests. Every command is built with one, so nothing in a command touches <see cref="Console"/>.
/// </summary>
internal sealed record CliContext(TextReader In, TextWriter Out, TextWriter Error, CancellationToken CancellationToken);

/// <summary>An expected failure (missing file, invalid model): printed as one line, exit code 1.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>A usage error found after parsing (no documents, a value over the model's limit): one line plus the usage, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
