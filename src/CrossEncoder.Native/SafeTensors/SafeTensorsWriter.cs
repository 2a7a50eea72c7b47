using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CrossEncoder.Native.SafeTensors;

/// <summary>Writes safetensors files (header sorted by name, 8-byte aligned, data contiguous in header order) and sharded
/// checkpoints (shards + <c>model.safetensors.index.json</c>); float tensors as F32, BF16 or F16.</summary>
/// <remarks>
/// The layout is the one <see cref="SafeTensorsFile"/> documents and validates: an 8-byte little-endian header
/// length, a JSON header padded with spaces so the data section starts on an 8-byte boundary, then every tensor's
/// bytes back to back in the order of the (name-sorted) header. The file is written to a temporary name in the
/// same directory and moved over <c>path</c> at the end, so a crash never leaves a half-written file under the
/// final name.
/// </remarks>
internal static class SafeTensorsWriter
{
    /// <summary>The data section starts at a multiple of this many bytes (the reference pads the header the same way).</summary>
    private const int HeaderAlignment = 8;

    /// <summary>Writes F32 tensors (name -> (shape, data)) and optional metadata to <paramref name="path"/>.</summary>
    /// <param name="path">Destination file; replaced if it exists.</param>
    /// <param name="tensors">Tensors by name; <c>Data.Length</c> must equal the product of <c>Shape</c>.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> string map.</param>
    /// <exception cref="ArgumentException">A name is repeated or reserved, a dimension is negative, or a data length does not match its shape.</exception>
    public static void WriteFloat32(string path, IEnumerable<KeyValuePair<string, (long[] Shape, float[] Data)>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        // float[] is reinterpreted as bytes without a copy (little-endian hosts only, see EnsureLittleEndian).
        WriteCore(path, tensors.Select(t => new PendingTensor(t.Key, SafeTensorDType.F32, t.Value.Shape, null, t.Value.Data)), metadata);
    }

    /// <summary>Writes raw tensors of any dtype; <c>Data.Length</c> must equal elements x dtype size.</summary>
    /// <param name="path">Destination file; replaced if it exists.</param>
    /// <param name="tensors">Tensors with their little-endian raw bytes.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> string map.</param>
    /// <exception cref="ArgumentException">A name is repeated or reserved, a dimension is negative, or a data length does not match shape x dtype size.</exception>
    public static void Write(string path, IEnumerable<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        WriteCore(path, tensors.Select(t => new PendingTensor(t.Name, t.DType, t.Shape, t.Data, null)), metadata);
    }

    /// <summary>Writes float tensors (name -> (shape, data)) stored as <paramref name="dtype"/>: F32 as they are, BF16 rounded to
    /// nearest even as PyTorch does (<see cref="BFloat16"/>), or F16 rounded to nearest even (IEEE).</summary>
    /// <param name="path">Destination file; replaced if it exists.</param>
    /// <param name="tensors">Tensors by name; <c>Data.Length</c> must equal the product of <c>Shape</c>.</param>
    /// <param name="dtype">F32, BF16 or F16.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> string map.</param>
    /// <exception cref="ArgumentException">A name is repeated or reserved, a data length does not match its shape, or
    /// <paramref name="dtype"/> is not a float type this writer encodes.</exception>
    public static void WriteFloats(string path, IEnumerable<KeyValuePair<string, (long[] Shape, float[] Data)>> tensors, SafeTensorDType dtype,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        EnsureFloatEncoding(dtype);
        if (dtype == SafeTensorDType.F32)
        {
            WriteFloat32(path, tensors, metadata);
            return;
        }
        Write(path, tensors.Select(t => (t.Key, dtype, t.Value.Shape, EncodeFloats(t.Value.Data ?? throw new ArgumentException($"Tensor '{t.Key}': data must not be null.", nameof(tensors)), dtype))), metadata);
    }

    /// <summary>The little-endian bytes of <paramref name="values"/> stored as <paramref name="dtype"/> (F32, BF16 or F16; see
    /// <see cref="WriteFloats"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not F32, BF16 or F16.</exception>
    public static byte[] EncodeFloats(ReadOnlySpan<float> values, SafeTensorDType dtype)
    {
        EnsureFloatEncoding(dtype);
        EnsureLittleEndian();
        var bytes = new byte[(long)values.Length * dtype.SizeInBytes()];
        switch (dtype)
        {
            case SafeTensorDType.F32:
                MemoryMarshal.AsBytes(values).CopyTo(bytes);
                break;
            case SafeTensorDType.BF16:
                BFloat16.FromSingle(values, MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()));
                break;
            default:   // F16: the cast rounds to nearest even, overflowing to infinity, NaN kept
                var halves = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan());
                for (int i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
                break;
        }
        return bytes;
    }

    /// <summary>
    /// Writes a sharded checkpoint into <paramref name="directory"/> as transformers' save_pretrained does: one safetensors
    /// file per group of <paramref name="shards"/>, named <c>model-00001-of-0000N.safetensors</c> (metadata
    /// <c>{"format": "pt"}</c>), then <c>model.safetensors.index.json</c> mapping every tensor to its shard, with
    /// <c>metadata.total_size</c> the sum of the tensors' bytes. The index is written last, so its presence marks a complete
    /// checkpoint. Returns the shard file names.
    /// </summary>
    /// <param name="directory">Created if missing. It must not hold <c>model.safetensors</c>, which loaders prefer over an index.</param>
    /// <param name="shards">The tensors of each shard, in shard order; at least one shard, none empty, no name twice.</param>
    /// <param name="cancellationToken">Checked between shards.</param>
    /// <exception cref="ArgumentException">A shard is empty, a name is repeated across shards, or a tensor is invalid (as in <see cref="Write"/>).</exception>
    /// <exception cref="IOException">The directory already holds <c>model.safetensors</c>.</exception>
    public static IReadOnlyList<string> WriteSharded(string directory,
        IReadOnlyList<IReadOnlyList<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)>> shards, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(shards);
        if (shards.Count == 0) throw new ArgumentException("A sharded checkpoint needs at least one shard.", nameof(shards));
        Directory.CreateDirectory(directory);
        string single = Path.Combine(directory, SafeTensorsCheckpoint.SingleFileName);
        if (File.Exists(single))
            throw new IOException($"'{directory}' already has {SafeTensorsCheckpoint.SingleFileName}, which loaders read instead of an index; delete it first.");

        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new List<string>(shards.Count);
        long totalSize = 0;
        for (int s = 0; s < shards.Count; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var shard = shards[s] ?? throw new ArgumentException($"Shard {s + 1} is null.", nameof(shards));
            if (shard.Count == 0) throw new ArgumentException($"Shard {s + 1} of {shards.Count} has no tensor.", nameof(shards));
            string name = SafeTensorsIndex.ShardName(s + 1, shards.Count);
            foreach (var t in shard)
            {
                if (t.Name is not null && !weightMap.TryAdd(t.Name, name))
                    throw new ArgumentException($"Tensor '{t.Name}' is in {weightMap[t.Name]} and {name}; a tensor goes in one shard.", nameof(shards));
                totalSize = checked(totalSize + (t.Data?.LongLength ?? 0));
            }
            Write(Path.Combine(directory, name), shard, ShardMetadata);
            names.Add(name);
        }
        SafeTensorsIndex.Write(Path.Combine(directory, SafeTensorsIndex.FileName), weightMap, totalSize);
        return names;
    }

    /// <summary>
    /// Splits tensors into shards of at most <paramref name="maxShardBytes"/> as huggingface_hub's
    /// <c>split_torch_state_dict_into_shards</c> does (what save_pretrained's <c>max_shard_size</c> means): in the given order, a
    /// tensor that would tip the current shard over the limit starts a new one, and a tensor larger than the limit gets a
    /// shard of its own.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxShardBytes"/> is not positive.</exception>
    public static List<List<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)>> SplitBySize(
        IEnumerable<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)> tensors, long maxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var shards = new List<List<(string, SafeTensorDType, long[], byte[])>>();
        var current = new List<(string, SafeTensorDType, long[], byte[])>();
        long currentSize = 0;
        foreach (var t in tensors)
        {
            long size = t.Data?.LongLength ?? 0;
            if (size > maxShardBytes)
            {
                shards.Add([t]);   // its own shard; the current one stays open (huggingface_hub's order)
                continue;
            }
            if (currentSize + size > maxShardBytes && current.Count > 0)
            {
                shards.Add(current);
                current = [];
                currentSize = 0;
            }
            current.Add(t);
            currentSize += size;
        }
        if (current.Count > 0) shards.Add(current);
        return shards;
    }

    /// <summary>What transformers writes into each shard's <c>__metadata__</c>.</summary>
    private static readonly Dictionary<string, string> ShardMetadata = new(StringComparer.Ordinal) { ["format"] = "pt" };

    private static void EnsureFloatEncoding(SafeTensorDType dtype)
    {
        if (dtype is not (SafeTensorDType.F32 or SafeTensorDType.BF16 or SafeTensorDType.F16))
            throw new ArgumentException($"Float tensors are written as F32, BF16 or F16, not {dtype}.", nameof(dtype));
    }

    /// <summary>One tensor waiting to be written; exactly one of <see cref="Bytes"/> and <see cref="Floats"/> is set.</summary>
    private readonly record struct PendingTensor(string Name, SafeTensorDType DType, long[] Shape, byte[]? Bytes, float[]? Floats)
    {
        public ReadOnlySpan<byte> Data => Bytes is not null ? Bytes : MemoryMarshal.AsBytes(Floats.AsSpan());
        public long DataLength => Bytes is not null ? Bytes.LongLength : Floats is not null ? Floats.LongLength * sizeof(float) : 0;
    }

    private static void WriteCore(string path, IEnumerable<PendingTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        EnsureLittleEndian();

        // 1. Validate and sort by name (ordinal, like the reference's BTreeMap); data is laid out in this order.
        var sorted = new List<PendingTensor>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            Validate(t);
            if (!seen.Add(t.Name))
                throw new ArgumentException($"Duplicate tensor name '{t.Name}'.", nameof(tensors));
            sorted.Add(t);
        }
        sorted.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));

        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (key is null || value is null)
                    throw new ArgumentException("Metadata keys and values must not be null.", nameof(metadata));
            }
        }

        // 2. Header JSON: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]},...}
        byte[] header = BuildHeader(sorted, metadata);

        // 3. Write [u64 header length][header][data] to a temp file beside the target, then move it into place.
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Span<byte> lengthPrefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(lengthPrefix, (ulong)header.Length);
                stream.Write(lengthPrefix);
                stream.Write(header);
                foreach (var t in sorted)
                    stream.Write(t.Data);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    private static void Validate(in PendingTensor t)
    {
        if (t.Name is null)
            throw new ArgumentException("Tensor name must not be null.", "tensors");
        if (t.Name == SafeTensorsFile.MetadataKey)
            throw new ArgumentException($"Tensor name '{SafeTensorsFile.MetadataKey}' is reserved for metadata.", "tensors");
        if (!Enum.IsDefined(t.DType))
            throw new ArgumentException($"Tensor '{t.Name}': unknown dtype {(int)t.DType}.", "tensors");
        if (t.Shape is null)
            throw new ArgumentException($"Tensor '{t.Name}': shape must not be null.", "tensors");
        if (t.Bytes is null && t.Floats is null)
            throw new ArgumentException($"Tensor '{t.Name}': data must not be null.", "tensors");

        long expected;
        try
        {
            long elements = 1;
            foreach (long dim in t.Shape)
            {
                if (dim < 0)
                    throw new ArgumentException($"Tensor '{t.Name}': negative dimension {dim} in shape [{string.Join(", ", t.Shape)}].", "tensors");
                elements = checked(elements * dim);
            }
            expected = checked(elements * t.DType.SizeInBytes());
        }
        catch (OverflowException e)
        {
            throw new ArgumentException($"Tensor '{t.Name}': shape [{string.Join(", ", t.Shape)}] overflows a 64-bit byte count.", "tensors", e);
        }

        if (expected != t.DataLength)
        {
            throw new ArgumentException(
                $"Tensor '{t.Name}': data has {t.DataLength} bytes but shape [{string.Join(", ", t.Shape)}] x {t.DType.ToHeaderString()} ({t.DType.SizeInBytes()} bytes) needs {expected}.",
                "tensors");
        }
    }

    private static byte[] BuildHeader(List<PendingTensor> sorted, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps names such as "a+b" readable; the output is still valid JSON.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null && metadata.Count > 0)
            {
                json.WriteStartObject(SafeTensorsFile.MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    json.WriteString(key, value);
                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var t in sorted)
            {
                long end = checked(offset + t.DataLength);
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.ToHeaderString());
                json.WriteStartArray("shape");
                foreach (long dim in t.Shape)
                    json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }

        // Pad with spaces (legal trailing JSON whitespace) so 8 + header length is a multiple of 8.
        int padding = (int)((HeaderAlignment - buffer.Length % HeaderAlignment) % HeaderAlignment);
        for (int i = 0; i < padding; i++)
            buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void EnsureLittleEndian()
    {
        // The format stores little-endian values and we write arrays without byte swapping.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("SafeTensorsWriter supports little-endian hosts only.");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
