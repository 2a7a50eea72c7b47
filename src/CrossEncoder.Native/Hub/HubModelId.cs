using System.Text.RegularExpressions;

namespace CrossEncoder.Native.Hub;

/// <summary>A Hub model reference: <c>org/name</c>, optionally <c>@revision</c> (a branch, tag, commit or <c>refs/pr/N</c>).</summary>
/// <param name="RepoId">The repository, <c>org/name</c>.</param>
/// <param name="Revision">The revision; <c>main</c> when none was given.</param>
public sealed partial record HubModelId(string RepoId, string Revision)
{
    /// <summary>The revision used when none is given.</summary>
    public const string DefaultRevision = "main";

    /// <summary>
    /// Parses <c>org/name</c> or <c>org/name@revision</c>. Exactly one slash before the revision: anything else (absolute or
    /// dotted paths, deeper paths, backslashes) is a path on disk, never a repository.
    /// </summary>
    public static bool TryParse(string? text, out HubModelId id)
    {
        id = null!;
        if (string.IsNullOrWhiteSpace(text)) return false;
        int at = text.IndexOf('@');
        string repo = at < 0 ? text : text[..at];
        string revision = at < 0 ? DefaultRevision : text[(at + 1)..];
        if (!RepoPattern().IsMatch(repo) || repo.Contains("--", StringComparison.Ordinal) || repo.Contains("..", StringComparison.Ordinal)) return false;
        if (revision.Length == 0 || revision.Contains("..", StringComparison.Ordinal) || !RevisionPattern().IsMatch(revision)) return false;
        id = new HubModelId(repo, revision);
        return true;
    }

    /// <summary>A 40-hex-digit commit hash (a revision that never moves).</summary>
    public bool RevisionIsCommit => CommitPattern().IsMatch(Revision);

    /// <inheritdoc/>
    public override string ToString() => Revision == DefaultRevision ? RepoId : $"{RepoId}@{Revision}";

    // The Hub's naming rule for each part: letters, digits, '-', '_', '.', not starting with '-' or '.', at most 96 characters.
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,95}$")]
    private static partial Regex RepoPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$")]
    private static partial Regex RevisionPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    internal static partial Regex CommitPattern();
}
