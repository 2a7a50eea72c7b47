using System.Security.Cryptography;

namespace CrossEncoder.Native.Hub;

/// <summary>
/// The huggingface_hub cache layout, shared with Python tools (transformers, sentence-transformers) in both directions:
/// <code>
/// {cache}/models--{org}--{name}/
///     blobs/{etag}                       file contents, named by ETag (the sha256 for LFS files, the git blob sha1 otherwise)
///     blobs/{etag}.incomplete            a download in progress (resumed with Range by whoever holds the lock)
///     refs/{revision}                    the commit a branch or tag pointed to when last resolved (no newline)
///     snapshots/{commit}/{path}          relative symlink to ../../blobs/{etag} (a copy where symlinks are not allowed)
/// {cache}/.locks/models--{org}--{name}/{etag}.lock   flock held while a blob is written
/// </code>
/// Blobs and snapshot entries appear atomically (written beside, then renamed), so a reader never sees half a file.
/// Nothing is written through a symbolic link the download did not make: a folder under the repository's folder that is a link
/// is refused (<see cref="HubErrorKind.UnsafeCache"/>), and a blob, <c>.incomplete</c> or lock file that is a link is deleted (the
/// link, never its target) and made anew. Only the snapshot entries are links, and the download makes them itself.
/// </summary>
internal sealed class HubCache(string cacheDirectory, string repoId)
{
    /// <summary>models--org--name.</summary>
    public static string FolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    public string RepoFolder { get; } = Path.Combine(cacheDirectory, FolderName(repoId));

    public string BlobPath(string etag) => Path.Combine(RepoFolder, "blobs", etag);

    public string LockPath(string etag) => Path.Combine(cacheDirectory, ".locks", FolderName(repoId), etag + ".lock");

    public string SnapshotFolder(string commit) => Path.Combine(RepoFolder, "snapshots", commit);

    public string SnapshotPath(string commit, string file) => Path.Combine(SnapshotFolder(commit), Path.Combine(file.Split('/')));

    private string RefPath(string revision) => Path.Combine(RepoFolder, "refs", Path.Combine(revision.Split('/')));

    /// <summary>Refuses (<see cref="HubErrorKind.UnsafeCache"/>) when a folder the download writes into for this revision and commit
    /// is a symbolic link: the repository's folder, blobs/, refs/ (and the revision's subfolders), snapshots/ and snapshots/{commit}/.
    /// The cache folder itself may be a link (a cache moved to another disk).</summary>
    public void RefuseForeignLinks(string revision, string commit)
    {
        RefuseLink(RepoFolder);
        RefuseLink(Path.Combine(RepoFolder, "blobs"));
        RefuseLink(Path.Combine(RepoFolder, "snapshots"));
        RefuseLink(SnapshotFolder(commit));
        RefuseLinksBetween(Path.Combine(RepoFolder, "refs"), Path.GetDirectoryName(RefPath(revision))!);
    }

    /// <summary><paramref name="folder"/> and each folder below it down to <paramref name="deepest"/> (inclusive), refused if a link.</summary>
    private static void RefuseLinksBetween(string folder, string deepest)
    {
        RefuseLink(folder);
        foreach (string part in Path.GetRelativePath(folder, deepest).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            folder = Path.Combine(folder, part);
            RefuseLink(folder);
        }
    }

    private static void RefuseLink(string folder)
    {
        if (new FileInfo(folder).LinkTarget is { } target)
            throw new HubException(HubErrorKind.UnsafeCache,
                $"the cache folder {folder} is a symbolic link (to {target}), which the download did not make and will not write through; remove it and run again.");
    }

    /// <summary>Deletes <paramref name="path"/> when it is a symbolic link (the link itself, whatever it points to); true if it did.</summary>
    public static bool DeleteIfLink(string path)
    {
        if (new FileInfo(path).LinkTarget is null) return false;
        File.Delete(path);
        return true;
    }

    /// <summary>Whether the blob is already downloaded: a file of the cache's own (a link planted in its place is deleted, so the
    /// blob is fetched anew instead of serving whatever the link points to).</summary>
    public bool HasBlob(string etag)
    {
        string path = BlobPath(etag);
        DeleteIfLink(path);
        return File.Exists(path);
    }

    /// <summary>The commit a branch or tag resolved to last time, or the revision itself when it is a commit; null if unknown.</summary>
    public string? ReadRef(HubModelId id)
    {
        if (id.RevisionIsCommit) return id.Revision;
        string path = RefPath(id.Revision);
        if (!File.Exists(path)) return null;
        string commit = File.ReadAllText(path).Trim();
        return HubModelId.CommitPattern().IsMatch(commit) ? commit : null;
    }

    /// <summary>Records that <paramref name="revision"/> now points at <paramref name="commit"/> (nothing for a commit revision).</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit) return;
        string path = RefPath(revision);
        if (File.Exists(path) && File.ReadAllText(path) == commit) return;
        WriteAtomically(path, stream => stream.Write(System.Text.Encoding.ASCII.GetBytes(commit)));
    }

    /// <summary>Points snapshots/{commit}/{file} at the blob: a relative symlink as huggingface_hub makes, or a copy where the
    /// file system refuses symlinks. Replaces any previous entry atomically.</summary>
    public void LinkSnapshot(string commit, string file, string etag)
    {
        string pointer = SnapshotPath(commit, file), blob = BlobPath(etag);
        string folder = Path.GetDirectoryName(pointer)!;
        RefuseLinksBetween(SnapshotFolder(commit), folder);   // e.g. 1_Pooling/ of a Sentence Transformers model
        Directory.CreateDirectory(folder);
        string temporary = pointer + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            File.CreateSymbolicLink(temporary, Path.GetRelativePath(folder, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, temporary, overwrite: true);
        }
        File.Move(temporary, pointer, overwrite: true);
    }

    /// <summary>Marks the cache folder as a cache for backup tools (the CACHEDIR.TAG convention, https://bford.info/cachedir/),
    /// as huggingface_hub does; written once.</summary>
    public static void TagCacheDirectory(string cacheDirectory)
    {
        string tag = Path.Combine(cacheDirectory, "CACHEDIR.TAG");
        if (File.Exists(tag)) return;
        try
        {
            WriteAtomically(tag, stream => stream.Write("Signature: 8a477f597d28d172789f06886806bc55\n# Hugging Face Hub cache (written by CrossEncoder.Native); see https://bford.info/cachedir/\n"u8));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // best effort: a read-only cache still works
    }

    /// <summary>Writes a file through a temporary sibling and a rename, so readers see all of it or none.</summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write)) write(stream);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>
    /// Takes the blob's lock file (an exclusive flock, the same lock Python's filelock takes, so a Python process and this one
    /// never write the same blob together), polling until it is free.
    /// </summary>
    public async Task<FileStream> LockAsync(string etag, CancellationToken cancellationToken)
    {
        string path = LockPath(etag);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        DeleteIfLink(path);   // opening a dangling link would create its target
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);   // held by another download of this blob
            }
        }
    }

    /// <summary>Lower-case hex sha256 of a file.</summary>
    public static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        byte[] hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }
}
