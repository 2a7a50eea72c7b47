namespace CrossEncoder.Native.SafeTensors;

/// <summary>
/// A model's weights behind one interface, whether they are one <c>model.safetensors</c> or shards listed by
/// <c>model.safetensors.index.json</c> (see <see cref="SafeTensorsIndex"/>): the merged tensor view, reads by name routed to
/// the file that holds the tensor, and the path of that file for error messages. Owns its files; disposing closes them all.
/// </summary>
/// <remarks>
/// <para>A folder is opened as transformers opens it (modeling_utils' checkpoint resolution): <c>model.safetensors</c> when it
/// exists, even if an index is there too, else the index and its shards. Shards are opened in the index's sorted order;
/// <see cref="Tensors"/> lists them shard by shard, each in its data-section order.</para>
/// <para>Sharded checkpoints are validated beyond what transformers checks (it loads whatever each shard holds, so a stale or
/// hand-edited index loads silently wrong): every tensor the index lists must be in the shard it names, no tensor may be in
/// two shards, and no shard may hold a tensor the index does not list. Each violation is a
/// <see cref="SafeTensorsFormatException"/> naming the shard and the tensor. <c>metadata.total_size</c> is informational
/// and never compared with the shards, as in transformers.</para>
/// <para>Reads may run concurrently; <see cref="Dispose"/> must not race with them (as for <see cref="SafeTensorsFile"/>).</para>
/// </remarks>
internal sealed class SafeTensorsCheckpoint : IDisposable
{
    /// <summary>The single-file checkpoint's name in a model folder.</summary>
    public const string SingleFileName = "model.safetensors";

    private readonly SafeTensorsFile[] _files;
    private readonly Dictionary<string, SafeTensorInfo> _tensors;
    private readonly Dictionary<string, SafeTensorsFile> _owners;   // tensor name -> the file holding it

    private SafeTensorsCheckpoint(string path, SafeTensorsIndex? index, SafeTensorsFile[] files,
        Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, SafeTensorsFile> owners)
    {
        Location = path;
        Index = index;
        _files = files;
        _tensors = tensors;
        _owners = owners;
    }

    /// <summary>The checkpoint as a whole: the single file, or the index of a sharded one (for messages about the whole set,
    /// e.g. missing tensors).</summary>
    public string Location { get; }

    /// <summary>The index of a sharded checkpoint; null for a single file.</summary>
    public SafeTensorsIndex? Index { get; }

    /// <summary>True when the weights are shards listed by an index.</summary>
    public bool IsSharded => Index is not null;

    /// <summary>The open files: the single file, or every shard in the index's order.</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>Every tensor of every file, by name: shard by shard, each file in data-section order. An entry's
    /// <see cref="SafeTensorInfo.DataOffset"/> is relative to its own file (see <see cref="FilePathOf"/>).</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;

    /// <summary>True when <paramref name="directory"/> has weights this class opens (<c>model.safetensors</c> or an index).</summary>
    public static bool ExistsIn(string directory) =>
        File.Exists(Path.Combine(directory, SingleFileName)) || File.Exists(Path.Combine(directory, SafeTensorsIndex.FileName));

    /// <summary>Opens a model folder's weights: <c>model.safetensors</c> if present (transformers' preference), else
    /// <c>model.safetensors.index.json</c> and every shard it names.</summary>
    /// <param name="directory">The model folder.</param>
    /// <param name="cancellationToken">Checked between shards.</param>
    /// <exception cref="FileNotFoundException">The folder has neither file (callers add their hints; see <see cref="ExistsIn"/>).</exception>
    /// <exception cref="SafeTensorsFormatException">A file is malformed, a shard is missing, or the shards disagree with the index.</exception>
    public static SafeTensorsCheckpoint OpenFolder(string directory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string single = Path.Combine(directory, SingleFileName), index = Path.Combine(directory, SafeTensorsIndex.FileName);
        if (File.Exists(single)) return OpenFile(single);
        if (File.Exists(index)) return OpenSharded(index, cancellationToken);
        throw new FileNotFoundException($"'{directory}' has neither {SingleFileName} nor {SafeTensorsIndex.FileName}.", single);
    }

    /// <summary>Opens one safetensors file as a checkpoint.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafeTensorsFormatException">The file violates the format.</exception>
    public static SafeTensorsCheckpoint OpenFile(string path)
    {
        var file = SafeTensorsFile.Open(path);
        var owners = new Dictionary<string, SafeTensorsFile>(file.Tensors.Count, StringComparer.Ordinal);
        foreach (string name in file.Tensors.Keys) owners.Add(name, file);
        return new SafeTensorsCheckpoint(path, null, [file], new Dictionary<string, SafeTensorInfo>(file.Tensors, StringComparer.Ordinal), owners);
    }

    /// <summary>Opens a sharded checkpoint from its index file, validating the shards against it.</summary>
    /// <param name="indexPath">The <c>model.safetensors.index.json</c> file.</param>
    /// <param name="cancellationToken">Checked between shards.</param>
    /// <exception cref="FileNotFoundException">The index does not exist.</exception>
    /// <exception cref="SafeTensorsFormatException">The index or a shard is malformed, a shard is missing, or the shards disagree with the index.</exception>
    public static SafeTensorsCheckpoint OpenSharded(string indexPath, CancellationToken cancellationToken = default)
    {
        var index = SafeTensorsIndex.Read(indexPath);

        // 1. Every shard is there (all missing ones named at once: a half-finished download usually misses several).
        var missing = index.Shards.Where(s => !File.Exists(index.ShardPath(s))).ToList();
        if (missing.Count > 0)
        {
            string first = missing[0];
            int tensors = index.WeightMap.Values.Count(s => s == first);
            throw SafeTensorsFormatException.ForIndex(indexPath, null,
                $"{missing.Count} of its {index.Shards.Count} shard files {(missing.Count == 1 ? "is" : "are")} missing from {index.Directory}: " +
                $"{string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", ..." : "")} ({first} should hold {tensors} tensors); download them or load another folder.");
        }

        // 2. Open them all, in the index's order; close what was opened if anything fails.
        var files = new List<SafeTensorsFile>(index.Shards.Count);
        try
        {
            foreach (string shard in index.Shards)
            {
                cancellationToken.ThrowIfCancellationRequested();
                files.Add(SafeTensorsFile.Open(index.ShardPath(shard)));
            }
            var (tensors, owners) = Merge(index, files);
            return new SafeTensorsCheckpoint(indexPath, index, [.. files], tensors, owners);
        }
        catch
        {
            foreach (var file in files) file.Dispose();
            throw;
        }
    }

    /// <summary>The merged view, after checking that the shards hold exactly what the index says, each tensor once.</summary>
    private static (Dictionary<string, SafeTensorInfo>, Dictionary<string, SafeTensorsFile>) Merge(SafeTensorsIndex index, List<SafeTensorsFile> files)
    {
        var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
        var owners = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var (name, info) in file.Tensors)
            {
                if (owners.TryGetValue(name, out var other))
                    throw new SafeTensorsFormatException(file.FilePath, name,
                        $"the tensor is also in {Path.GetFileName(other.FilePath)}; a tensor must be in one shard only ({SafeTensorsIndex.FileName} lists it in " +
                        $"{(index.WeightMap.TryGetValue(name, out var listed) ? listed : "none")}).");
                tensors.Add(name, info);
                owners.Add(name, file);
            }
        }
        foreach (var (name, shard) in index.WeightMap)
        {
            if (!owners.TryGetValue(name, out var file))
                throw new SafeTensorsFormatException(index.ShardPath(shard), name, $"{SafeTensorsIndex.FileName} lists the tensor in this shard, but no shard has it.");
            if (Path.GetFileName(file.FilePath) != shard)
                throw new SafeTensorsFormatException(index.ShardPath(shard), name,
                    $"{SafeTensorsIndex.FileName} lists the tensor in this shard, but it is in {Path.GetFileName(file.FilePath)}.");
        }
        foreach (var (name, file) in owners)
        {
            if (!index.WeightMap.ContainsKey(name))
                throw new SafeTensorsFormatException(file.FilePath, name,
                    $"the shard has a tensor that {SafeTensorsIndex.FileName} does not list; the index must name every tensor (a stale index? save the model again).");
        }
        return (tensors, owners);
    }

    /// <summary>Looks up a tensor's header entry.</summary>
    /// <param name="name">The tensor name.</param>
    /// <param name="info">The entry, or null when there is no such tensor.</param>
    /// <returns>True when the tensor exists.</returns>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafeTensorInfo? info) =>
        _tensors.TryGetValue(name, out info);

    /// <summary>The path of the file holding <paramref name="name"/>: the single file, or its shard.</summary>
    /// <exception cref="KeyNotFoundException">No tensor is called <paramref name="name"/>; the message names the checkpoint.</exception>
    public string FilePathOf(string name) => Owner(name).FilePath;

    /// <summary>The raw little-endian bytes of a tensor, straight from its file's memory map; valid until <see cref="Dispose"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor is called <paramref name="name"/>.</exception>
    /// <exception cref="NotSupportedException">The tensor is larger than 2 GiB.</exception>
    /// <exception cref="ObjectDisposedException">The checkpoint has been disposed.</exception>
    public ReadOnlySpan<byte> GetBytes(string name) => Owner(name).GetBytes(name);

    /// <summary>Copies a tensor into a new float array, converting F16/BF16/F64 to F32 (see <see cref="SafeTensorsFile.ReadFloat32(string)"/>).</summary>
    /// <exception cref="KeyNotFoundException">No tensor is called <paramref name="name"/>.</exception>
    /// <exception cref="NotSupportedException">The dtype is not F32, F16, BF16 or F64, or the tensor is too large for an array.</exception>
    /// <exception cref="ObjectDisposedException">The checkpoint has been disposed.</exception>
    public float[] ReadFloat32(string name) => Owner(name).ReadFloat32(name);

    /// <summary>Copies a tensor into <paramref name="destination"/> (length = element count), converting to F32.</summary>
    /// <exception cref="KeyNotFoundException">No tensor is called <paramref name="name"/>.</exception>
    /// <exception cref="NotSupportedException">The dtype is not F32, F16, BF16 or F64.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    /// <exception cref="ObjectDisposedException">The checkpoint has been disposed.</exception>
    public void ReadFloat32(string name, Span<float> destination) => Owner(name).ReadFloat32(name, destination);

    /// <summary>Releases every file's memory map. Header information stays readable; tensor data does not.</summary>
    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }

    private SafeTensorsFile Owner(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _owners.TryGetValue(name, out var file) ? file
            : throw new KeyNotFoundException($"Tensor '{name}' not found in safetensors checkpoint '{Location}' ({_tensors.Count} tensors in {_files.Length} file{(_files.Length == 1 ? "" : "s")}).");
    }
}
