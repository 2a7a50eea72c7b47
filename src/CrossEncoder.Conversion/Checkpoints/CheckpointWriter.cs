using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Conversion.Checkpoints;

/// <summary>How the float tensors of a written checkpoint are stored.</summary>
public enum CheckpointDType
{
    /// <summary>F32, as computed.</summary>
    Float32,

    /// <summary>BF16, rounded to nearest even as PyTorch does (what Qwen3 and most decoder checkpoints ship).</summary>
    BFloat16,
}

/// <summary>The layout of a written checkpoint: the float dtype, and one <c>model.safetensors</c> or <see cref="Shards"/>
/// shard files with <c>model.safetensors.index.json</c>.</summary>
/// <param name="DType">How float tensors are stored.</param>
/// <param name="Shards">1: one <c>model.safetensors</c>; N &gt; 1: <c>model-00001-of-0000N.safetensors</c> ... and the index,
/// the tensors split in their given order into N runs of nearly equal count (each shard non-empty).</param>
public sealed record CheckpointLayout(CheckpointDType DType = CheckpointDType.Float32, int Shards = 1)
{
    /// <summary>One F32 <c>model.safetensors</c> (what the writers here always wrote).</summary>
    public static CheckpointLayout SingleFloat32 { get; } = new();
}

/// <summary>
/// Writes checkpoints in the layouts Hugging Face models ship in (one file or shards + index, F32 or BF16), so tests and tools
/// can build the sharded BF16 folders that large models come as. Other files of a model folder (config, tokenizer) are the
/// caller's, except in <see cref="Rewrite"/>, which copies them.
/// </summary>
public static class CheckpointWriter
{
    /// <summary>Writes the tensors of a model into <paramref name="directory"/> in <paramref name="layout"/>.</summary>
    /// <param name="directory">Created if missing. Weights already there are removed first (model.safetensors, an index and
    /// its shards), so the folder ends up with exactly this checkpoint.</param>
    /// <param name="tensors">name -> (shape, data); shards take them in this order.</param>
    /// <param name="layout">Null: <see cref="CheckpointLayout.SingleFloat32"/>.</param>
    /// <param name="cancellationToken">Checked between shards.</param>
    /// <exception cref="ArgumentException">A tensor is invalid, or there are fewer tensors than shards.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The layout asks for fewer than one shard.</exception>
    public static void Write(string directory, IEnumerable<KeyValuePair<string, (long[] Shape, float[] Data)>> tensors, CheckpointLayout? layout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(tensors);
        layout ??= CheckpointLayout.SingleFloat32;
        ArgumentOutOfRangeException.ThrowIfLessThan(layout.Shards, 1, nameof(layout));
        var dtype = layout.DType == CheckpointDType.BFloat16 ? SafeTensorDType.BF16 : SafeTensorDType.F32;
        Directory.CreateDirectory(directory);
        RemoveWeights(directory);
        if (layout.Shards == 1)
        {
            SafeTensorsWriter.WriteFloats(Path.Combine(directory, SafeTensorsCheckpoint.SingleFileName), tensors, dtype);
            return;
        }
        var encoded = tensors.Select(t => (t.Key, dtype, t.Value.Shape, SafeTensorsWriter.EncodeFloats(t.Value.Data, dtype))).ToList();
        SafeTensorsWriter.WriteSharded(directory, SplitEvenly(encoded, layout.Shards), cancellationToken);
    }

    /// <summary>
    /// Copies the model folder <paramref name="source"/> to <paramref name="destination"/> with its checkpoint (one file or
    /// sharded, any float dtype) rewritten in <paramref name="layout"/>: float tensors (F32, F16, BF16, F64) are read as F32 and
    /// stored in the layout's dtype, others (e.g. I8) byte for byte. Every other file and subfolder is copied as it is.
    /// </summary>
    /// <exception cref="FileNotFoundException">The source has no checkpoint.</exception>
    /// <exception cref="SafeTensorsFormatException">The source checkpoint is malformed.</exception>
    public static void Rewrite(string source, string destination, CheckpointLayout layout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfLessThan(layout.Shards, 1, nameof(layout));
        if (Path.GetFullPath(source) == Path.GetFullPath(destination)) throw new ArgumentException("The destination must differ from the source.", nameof(destination));
        var dtype = layout.DType == CheckpointDType.BFloat16 ? SafeTensorDType.BF16 : SafeTensorDType.F32;
        var tensors = new List<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)>();
        var sourceWeights = new HashSet<string>(StringComparer.Ordinal) { SafeTensorsCheckpoint.SingleFileName, SafeTensorsIndex.FileName };
        using (var checkpoint = SafeTensorsCheckpoint.OpenFolder(source, cancellationToken))
        {
            sourceWeights.UnionWith(checkpoint.Files.Select(f => Path.GetFileName(f.FilePath)));
            foreach (var (name, info) in checkpoint.Tensors)
            {
                cancellationToken.ThrowIfCancellationRequested();
                tensors.Add(info.DType is SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F64
                    ? (name, dtype, info.Shape.ToArray(), SafeTensorsWriter.EncodeFloats(checkpoint.ReadFloat32(name), dtype))
                    : (name, info.DType, info.Shape.ToArray(), checkpoint.GetBytes(name).ToArray()));
            }
        }
        Directory.CreateDirectory(destination);
        foreach (string path in Directory.EnumerateFiles(source).Where(p => !sourceWeights.Contains(Path.GetFileName(p))))
            File.Copy(path, Path.Combine(destination, Path.GetFileName(path)), overwrite: true);
        foreach (string directory in Directory.EnumerateDirectories(source))
            CopyAll(directory, Path.Combine(destination, Path.GetFileName(directory)));
        RemoveWeights(destination);
        if (layout.Shards == 1) SafeTensorsWriter.Write(Path.Combine(destination, SafeTensorsCheckpoint.SingleFileName), tensors);
        else SafeTensorsWriter.WriteSharded(destination, SplitEvenly(tensors, layout.Shards), cancellationToken);
    }

    /// <summary>Tensors [0, T) in <paramref name="count"/> consecutive runs: run i is [i*T/count, (i+1)*T/count), so every run
    /// has T/count or T/count + 1 tensors.</summary>
    private static List<List<T>> SplitEvenly<T>(List<T> tensors, int count)
    {
        if (tensors.Count < count)
            throw new ArgumentException($"{tensors.Count} tensors cannot fill {count} shards.", nameof(tensors));
        return Enumerable.Range(0, count)
            .Select(i => tensors.GetRange(i * tensors.Count / count, (i + 1) * tensors.Count / count - i * tensors.Count / count))
            .ToList();
    }

    /// <summary>Removes a folder's checkpoint files: model.safetensors, the index and every model-*-of-*.safetensors shard.</summary>
    private static void RemoveWeights(string directory)
    {
        foreach (string path in Directory.EnumerateFiles(directory))
        {
            string name = Path.GetFileName(path);
            if (name == SafeTensorsCheckpoint.SingleFileName || name == SafeTensorsIndex.FileName ||
                (name.StartsWith("model-", StringComparison.Ordinal) && name.EndsWith(".safetensors", StringComparison.Ordinal)))
                File.Delete(path);
        }
    }

    private static void CopyAll(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string path in Directory.EnumerateFiles(source)) File.Copy(path, Path.Combine(destination, Path.GetFileName(path)), overwrite: true);
        foreach (string directory in Directory.EnumerateDirectories(source)) CopyAll(directory, Path.Combine(destination, Path.GetFileName(directory)));
    }
}
