// The safetensors format (huggingface/safetensors), as this reader parses and validates it.
//
//   offset 0        8-byte little-endian u64 N: the header length in bytes.
//   offset 8        N bytes of UTF-8 JSON: one object. Writers pad it with trailing spaces so the data
//                   section starts on an 8-byte boundary; any trailing JSON whitespace is accepted.
//   offset 8 + N    the data section: every tensor's bytes, back to back, little-endian, row-major.
//
// The header object maps tensor names to entries, plus one optional reserved key:
//
//   {
//     "__metadata__": { "format": "pt" },                         optional, string -> string only
//     "bert.embeddings.word_embeddings.weight": {
//       "dtype": "F32",                                           BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 I64 U64 F64
//       "shape": [30522, 384],                                    non-negative integers, outermost first; [] = scalar
//       "data_offsets": [0, 46881792]                             [begin, end) relative to the data section start
//     },
//     ...
//   }
//
// Validation, following the reference reader (safetensors/src/tensor.rs) and a little stricter:
//   * the file has at least the 8 length bytes; N <= 100,000,000 (a configurable cap); 8 + N <= file length;
//   * the header is valid UTF-8 and one JSON object (nothing but whitespace after it);
//   * each entry has exactly the keys dtype, shape, data_offsets (unknown or repeated keys are rejected);
//   * tensor names are unique (the reference silently keeps the last duplicate; we reject);
//   * product(shape) x dtype size, computed with overflow checks, equals end - begin; begin <= end;
//   * every [begin, end) lies inside the data section;
//   * sorted by offset, the tensors tile the data section exactly: the first starts at 0, each starts
//     where the previous ended (no gap, no overlap), and the last ends at the end of the file.
// Every violation throws SafeTensorsFormatException naming the file, the tensor at fault and the problem.
// After Open succeeds, every tensor's bytes are known to lie inside the mapped file, so reads need no
// further bounds checks beyond the span's own.

using System.IO.MemoryMappedFiles;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace CrossEncoder.Native.SafeTensors;

/// <summary>A safetensors file opened read-only through a memory map; the header is validated on open.</summary>
/// <remarks>
/// Reads may run concurrently from several threads; <see cref="Dispose"/> must not race with them.
/// The file is opened with <see cref="FileShare.Read"/>; another process truncating it while it is mapped is
/// outside what any memory-mapped reader can defend against.
/// </remarks>
internal sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>The reserved header key holding the optional string-to-string metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Default cap on the header length, the same as the reference implementation's (100,000,000 bytes).</summary>
    public const int DefaultMaxHeaderLength = 100_000_000;

    /// <summary>Size of the little-endian u64 that opens the file.</summary>
    private const int LengthPrefixSize = sizeof(ulong);

    private readonly Dictionary<string, SafeTensorInfo> _tensors;
    private readonly Dictionary<string, string> _metadata;
    private readonly long _dataStart;                 // file offset of the data section (8 + N)
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private byte* _base;                              // first byte of the file in the view; null after Dispose

    private SafeTensorsFile(string filePath, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer,
        long dataStart, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        FilePath = filePath;
        _map = map;
        _view = view;
        _base = basePointer;
        _dataStart = dataStart;
        _tensors = tensors;
        _metadata = metadata;
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <param name="path">The file to open.</param>
    /// <returns>The open file; dispose it to release the memory map.</returns>
    /// <exception cref="SafeTensorsFormatException">The file violates the format.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist (other I/O errors pass through as <see cref="IOException"/>).</exception>
    public static SafeTensorsFile Open(string path) => Open(path, DefaultMaxHeaderLength);

    /// <summary>Opens and validates <paramref name="path"/>, rejecting headers longer than <paramref name="maxHeaderLength"/> bytes.</summary>
    /// <param name="path">The file to open.</param>
    /// <param name="maxHeaderLength">Largest accepted header length N, in bytes.</param>
    /// <returns>The open file; dispose it to release the memory map.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxHeaderLength"/> is negative.</exception>
    /// <exception cref="SafeTensorsFormatException">The file violates the format.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist (other I/O errors pass through as <see cref="IOException"/>).</exception>
    public static SafeTensorsFile Open(string path, int maxHeaderLength)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(maxHeaderLength);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("SafeTensorsFile supports little-endian hosts only.");

        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool pointerAcquired = false;
        try
        {
            long fileLength = stream.Length;
            if (fileLength == 0)
                throw new SafeTensorsFormatException(path, null, "the file is empty (0 bytes); expected an 8-byte header length, a JSON header and tensor data.");
            if (fileLength < LengthPrefixSize)
                throw new SafeTensorsFormatException(path, null, $"the file has only {fileLength} bytes, fewer than the 8-byte header length that starts every safetensors file.");

            // Map the whole file read-only; the map owns the stream from here on.
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* viewPointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref viewPointer);
            pointerAcquired = true;
            byte* basePointer = viewPointer + view.PointerOffset;

            var (dataStart, tensors, metadata) = ParseAndValidate(path, basePointer, fileLength, maxHeaderLength);
            return new SafeTensorsFile(path, map, view, basePointer, dataStart, tensors, metadata);
        }
        catch
        {
            if (pointerAcquired)
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            if (map is not null)
                map.Dispose();
            else
                stream.Dispose();
            throw;
        }
    }

    /// <summary>The file path.</summary>
    public string FilePath { get; }

    /// <summary>Tensors by name, in data-section order.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;

    /// <summary>The optional <c>__metadata__</c> string map (empty when the header has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>Looks up a tensor's header entry.</summary>
    /// <param name="name">The tensor name.</param>
    /// <param name="info">The entry, or null when there is no such tensor.</param>
    /// <returns>True when the tensor exists.</returns>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafeTensorInfo? info) =>
        _tensors.TryGetValue(name, out info);

    /// <summary>The raw little-endian bytes of a tensor, read straight from the memory map (no copy).</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>A view that is valid only until this file is disposed; do not keep it past <see cref="Dispose"/>.</returns>
    /// <exception cref="KeyNotFoundException">No tensor is called <paramref name="name"/>; the message names the tensor and the file.</exception>
    /// <exception cref="NotSupportedException">The tensor is larger than 2 GiB, which a span cannot address.</exception>
    /// <exception cref="ObjectDisposedException">The file has been disposed.</exception>
    public ReadOnlySpan<byte> GetBytes(string name) => GetBytes(GetInfo(name));

    /// <summary>Copies a tensor into a new float array, converting F16/BF16/F64 to F32.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>The tensor's elements in row-major order.</returns>
    /// <exception cref="KeyNotFoundException">No tensor is called <paramref name="name"/>; the message names the tensor and the file.</exception>
    /// <exception cref="SafeTensorsFormatException">The tensor's dtype is not F32, F16, BF16 or F64.</exception>
    /// <exception cref="NotSupportedException">The tensor has more than <see cref="Array.MaxLength"/> elements.</exception>
    /// <exception cref="ObjectDisposedException">The file has been disposed.</exception>
    public float[] ReadFloat32(string name)
    {
        var info = GetInfo(name);
        EnsureFloatDType(info);
        long count = info.ByteLength / info.DType.SizeInBytes();
        if (count > Array.MaxLength)
            throw new NotSupportedException($"Tensor '{name}' in '{FilePath}' has {count} elements, more than a float[] can hold.");
        ObjectDisposedException.ThrowIf(_base is null, this);
        var result = GC.AllocateUninitializedArray<float>((int)count);
        ConvertToFloat32(info, GetBytes(info), result);
        return result;
    }

    /// <summary>Copies a tensor into <paramref name="destination"/> (length = element count), converting to F32.</summary>
    /// <param name="name">The tensor name.</param>
    /// <param name="destination">Receives the elements in row-major order; its length must equal the element count.</param>
    /// <exception cref="KeyNotFoundException">No tensor is called <paramref name="name"/>; the message names the tensor and the file.</exception>
    /// <exception cref="SafeTensorsFormatException">The tensor's dtype is not F32, F16, BF16 or F64.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    /// <exception cref="ObjectDisposedException">The file has been disposed.</exception>
    public void ReadFloat32(string name, Span<float> destination)
    {
        var info = GetInfo(name);
        EnsureFloatDType(info);
        long count = info.ByteLength / info.DType.SizeInBytes();
        if (destination.Length != count)
        {
            throw new ArgumentException(
                $"Tensor '{name}' in '{FilePath}' has {count} elements (shape [{string.Join(", ", info.Shape)}]) but the destination has length {destination.Length}.",
                nameof(destination));
        }
        ConvertToFloat32(info, GetBytes(info), destination);
    }

    /// <summary>Releases the memory map. Header information stays readable; tensor data does not.</summary>
    public void Dispose()
    {
        if (_base is null)
            return;
        _base = null;
        _view!.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map!.Dispose();
        _view = null;
        _map = null;
    }

    // ---------------------------------------------------------------------------------------------
    // Reading

    private SafeTensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_tensors.TryGetValue(name, out var info))
            throw new KeyNotFoundException($"Tensor '{name}' not found in safetensors file '{FilePath}' ({_tensors.Count} tensors).");
        return info;
    }

    private ReadOnlySpan<byte> GetBytes(SafeTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_base is null, this);
        if (info.ByteLength > int.MaxValue)
            throw new NotSupportedException($"Tensor '{info.Name}' in '{FilePath}' has {info.ByteLength} bytes, more than a span can address.");
        // Open proved [dataStart + offset, + length) lies inside the mapped file.
        return new ReadOnlySpan<byte>(_base + _dataStart + info.DataOffset, (int)info.ByteLength);
    }

    private void EnsureFloatDType(SafeTensorInfo info)
    {
        if (info.DType is not (SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F64))
        {
            // A valid file may hold integer tensors (position ids, masks); read as a weight, one is a format error of the model
            // file, named, never a NotSupportedException that escapes the callers' typed-error handling.
            throw new SafeTensorsFormatException(FilePath, info.Name,
                $"dtype {info.DType.ToHeaderString()} is not a floating-point type; a weight must be F32, F16, BF16 or F64 (or I8 with its scales, as quantize writes).");
        }
    }

    /// <summary>destination[i] = (float)source[i] for the tensor's dtype; lengths already agree.</summary>
    private static void ConvertToFloat32(SafeTensorInfo info, ReadOnlySpan<byte> source, Span<float> destination)
    {
        // Bytes are little-endian and the host is little-endian (checked in Open), so reinterpreting is exact.
        // The data section need not be aligned, so we never assume it: CopyTo and MemoryMarshal.Cast spans are
        // read with unaligned-safe loads on the platforms .NET supports.
        switch (info.DType)
        {
            case SafeTensorDType.F32:
                source.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case SafeTensorDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case SafeTensorDType.BF16:
                ConvertBFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(source), MemoryMarshal.Cast<float, uint>(destination));
                break;
            case SafeTensorDType.F64:
                ReadOnlySpan<double> doubles = MemoryMarshal.Cast<byte, double>(source);
                for (int i = 0; i < doubles.Length; i++)
                    destination[i] = (float)doubles[i];   // round to nearest, as C casts do
                break;
            default:
                throw new InvalidOperationException($"Unreachable: dtype {info.DType} passed EnsureFloatDType.");
        }
    }

    /// <summary>bf16 is the upper half of an IEEE single: bits32[i] = bits16[i] &lt;&lt; 16 (exact, NaN payloads kept).</summary>
    private static void ConvertBFloat16ToSingle(ReadOnlySpan<ushort> bits16, Span<uint> bits32)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && bits16.Length >= Vector<ushort>.Count)
        {
            // One vector of ushort widens into two vectors of uint.
            int last = bits16.Length - Vector<ushort>.Count;
            for (; i <= last; i += Vector<ushort>.Count)
            {
                Vector.Widen(new Vector<ushort>(bits16.Slice(i)), out Vector<uint> low, out Vector<uint> high);
                (low << 16).CopyTo(bits32.Slice(i));
                (high << 16).CopyTo(bits32.Slice(i + Vector<uint>.Count));
            }
        }
        for (; i < bits16.Length; i++)
            bits32[i] = (uint)bits16[i] << 16;
    }

    // ---------------------------------------------------------------------------------------------
    // Header parsing and validation (see the format comment at the top of the file)

    private static (long DataStart, Dictionary<string, SafeTensorInfo> Tensors, Dictionary<string, string> Metadata) ParseAndValidate(
        string path, byte* file, long fileLength, int maxHeaderLength)
    {
        // 1. The header length N, and where the data section starts.
        ulong headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(file, LengthPrefixSize));
        if (headerLength > (ulong)maxHeaderLength)
            throw new SafeTensorsFormatException(path, null, $"header length {headerLength} exceeds the limit of {maxHeaderLength} bytes (corrupt length prefix?).");
        long available = fileLength - LengthPrefixSize;
        if ((long)headerLength > available)
            throw new SafeTensorsFormatException(path, null, $"header length {headerLength} is larger than the {available} bytes that follow the length prefix (file truncated?).");
        int n = (int)headerLength;
        long dataStart = LengthPrefixSize + n;
        long dataLength = fileLength - dataStart;

        // 2. The header text: UTF-8 JSON, one object.
        var header = new ReadOnlySpan<byte>(file + LengthPrefixSize, n);
        if (n == 0)
            throw new SafeTensorsFormatException(path, null, "header length is 0; the header must be a JSON object.");
        if (!Utf8.IsValid(header))
            throw new SafeTensorsFormatException(path, null, "header is not valid UTF-8.");
        var (entries, metadata) = ParseHeader(path, header);

        // 3. Per tensor: begin <= end, shape x dtype size == end - begin (overflow-checked), inside the data section.
        var tensors = new List<SafeTensorInfo>(entries.Count);
        foreach (var e in entries)
        {
            string shapeText = $"[{string.Join(", ", e.Shape)}]";
            if (e.Begin > e.End)
                throw new SafeTensorsFormatException(path, e.Name, $"data_offsets [{e.Begin}, {e.End}] have begin > end.");
            long byteCount;
            try
            {
                long elements = 1;
                foreach (long dim in e.Shape)
                    elements = checked(elements * dim);
                byteCount = checked(elements * e.DType.SizeInBytes());
            }
            catch (OverflowException)
            {
                throw new SafeTensorsFormatException(path, e.Name, $"shape {shapeText} x {e.DType.ToHeaderString()} overflows a 64-bit byte count.");
            }
            if (e.End - e.Begin != byteCount)
            {
                throw new SafeTensorsFormatException(path, e.Name,
                    $"data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin} bytes but shape {shapeText} x {e.DType.ToHeaderString()} ({e.DType.SizeInBytes()} bytes) needs {byteCount}.");
            }
            if (e.End > dataLength)
            {
                throw new SafeTensorsFormatException(path, e.Name,
                    $"data_offsets [{e.Begin}, {e.End}] are out of bounds: the data section has only {dataLength} bytes (file truncated?).");
            }
            tensors.Add(new SafeTensorInfo(e.Name, e.DType, Array.AsReadOnly(e.Shape), e.Begin, byteCount));   // read-only: shared by every caller
        }

        // 4. Sorted by offset, the tensors tile the data section: no gap, no overlap, nothing after the last.
        tensors.Sort((a, b) => a.DataOffset != b.DataOffset ? a.DataOffset.CompareTo(b.DataOffset) : a.ByteLength.CompareTo(b.ByteLength));
        long expected = 0;
        SafeTensorInfo? previous = null;
        foreach (var t in tensors)
        {
            if (t.DataOffset < expected)
            {
                throw new SafeTensorsFormatException(path, t.Name,
                    $"data [{t.DataOffset}, {t.DataOffset + t.ByteLength}) overlaps tensor '{previous!.Name}' [{previous.DataOffset}, {expected}).");
            }
            if (t.DataOffset > expected)
            {
                string after = previous is null ? "the start of the data section" : $"the end of tensor '{previous.Name}'";
                throw new SafeTensorsFormatException(path, t.Name,
                    $"data starts at {t.DataOffset}, leaving a gap of {t.DataOffset - expected} bytes after {after} at {expected}.");
            }
            expected = t.DataOffset + t.ByteLength;
            previous = t;
        }
        if (expected != dataLength)
        {
            throw new SafeTensorsFormatException(path, null,
                $"{dataLength - expected} trailing bytes after the last tensor's data: the header describes {expected} data bytes but the file holds {dataLength}.");
        }

        var byName = new Dictionary<string, SafeTensorInfo>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors)
            byName.Add(t.Name, t);
        return (dataStart, byName, metadata);
    }

    /// <summary>A header entry as written, before the cross-tensor checks.</summary>
    private readonly record struct HeaderEntry(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End);

    /// <summary>Parses the header JSON strictly: one object of tensor entries plus optional <c>__metadata__</c>.</summary>
    private static (List<HeaderEntry> Entries, Dictionary<string, string> Metadata) ParseHeader(string path, ReadOnlySpan<byte> header)
    {
        var entries = new List<HeaderEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        string? current = null;   // the tensor being parsed, for messages about JSON syntax errors

        if (header.TrimStart(" \t\r\n"u8).IsEmpty)
            throw new SafeTensorsFormatException(path, null, "header contains only whitespace; it must be a JSON object.");

        // Default options: no comments, no trailing commas, max depth 64; isFinalBlock so truncation is an error.
        var reader = new Utf8JsonReader(header, isFinalBlock: true, state: default);
        try
        {
            Next(ref reader, path, null);
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new SafeTensorsFormatException(path, null, $"header must be a JSON object, but it starts with {Describe(reader.TokenType)}.");

            while (true)
            {
                Next(ref reader, path, current);
                if (reader.TokenType == JsonTokenType.EndObject)
                    break;
                string key = reader.GetString()!;   // inside an object, the token is always a PropertyName
                Next(ref reader, path, key);

                if (key == MetadataKey)
                {
                    if (sawMetadata)
                        throw new SafeTensorsFormatException(path, null, $"'{MetadataKey}' appears more than once.");
                    sawMetadata = true;
                    ParseMetadata(ref reader, path, metadata);
                    continue;
                }

                current = key;
                if (!names.Add(key))
                    throw new SafeTensorsFormatException(path, key, "duplicate tensor name in header.");
                entries.Add(ParseEntry(ref reader, path, key));
                current = null;
            }

            // Only whitespace (the writers' space padding) may follow the object; Read throws on anything else.
            if (reader.Read())
                throw new SafeTensorsFormatException(path, null, $"unexpected {Describe(reader.TokenType)} after the header object.");
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(path, current,
                $"header is not valid JSON at byte {reader.BytesConsumed} of {header.Length}: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString on malformed escapes; surfaced as a format error, never as a crash.
            throw new SafeTensorsFormatException(path, current, $"header contains an unreadable JSON string: {e.Message}", e);
        }
        return (entries, metadata);
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, string path, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return;   // the reference deserializes "__metadata__": null as "no metadata"
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafeTensorsFormatException(path, null, $"'{MetadataKey}' must be an object of strings, found {Describe(reader.TokenType)}.");
        while (true)
        {
            Next(ref reader, path, null);
            if (reader.TokenType == JsonTokenType.EndObject)
                return;
            string key = reader.GetString()!;
            Next(ref reader, path, null);
            if (reader.TokenType != JsonTokenType.String)
                throw new SafeTensorsFormatException(path, null, $"'{MetadataKey}' value for key '{key}' must be a string, found {Describe(reader.TokenType)}.");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new SafeTensorsFormatException(path, null, $"'{MetadataKey}' has duplicate key '{key}'.");
        }
    }

    private static HeaderEntry ParseEntry(ref Utf8JsonReader reader, string path, string name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafeTensorsFormatException(path, name, $"entry must be an object with dtype, shape and data_offsets, found {Describe(reader.TokenType)}.");

        SafeTensorDType? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (true)
        {
            Next(ref reader, path, name);
            if (reader.TokenType == JsonTokenType.EndObject)
                break;
            string key = reader.GetString()!;
            Next(ref reader, path, name);
            switch (key)
            {
                case "dtype":
                    if (dtype is not null)
                        throw new SafeTensorsFormatException(path, name, "'dtype' appears more than once.");
                    if (reader.TokenType != JsonTokenType.String)
                        throw new SafeTensorsFormatException(path, name, $"'dtype' must be a string, found {Describe(reader.TokenType)}.");
                    string text = reader.GetString()!;
                    if (!SafeTensorDTypeExtensions.TryParseHeaderString(text, out var parsed))
                    {
                        throw new SafeTensorsFormatException(path, name,
                            $"unknown dtype \"{text}\"; supported: BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64.");
                    }
                    dtype = parsed;
                    break;
                case "shape":
                    if (shape is not null)
                        throw new SafeTensorsFormatException(path, name, "'shape' appears more than once.");
                    shape = ReadIntegerArray(ref reader, path, name, "shape");
                    break;
                case "data_offsets":
                    if (offsets is not null)
                        throw new SafeTensorsFormatException(path, name, "'data_offsets' appears more than once.");
                    offsets = ReadIntegerArray(ref reader, path, name, "data_offsets");
                    if (offsets.Length != 2)
                        throw new SafeTensorsFormatException(path, name, $"'data_offsets' must be [begin, end], found {offsets.Length} numbers.");
                    break;
                default:
                    throw new SafeTensorsFormatException(path, name, $"unknown key '{key}' in entry; allowed keys are dtype, shape and data_offsets.");
            }
        }

        if (dtype is null)
            throw new SafeTensorsFormatException(path, name, "missing 'dtype'.");
        if (shape is null)
            throw new SafeTensorsFormatException(path, name, "missing 'shape'.");
        if (offsets is null)
            throw new SafeTensorsFormatException(path, name, "missing 'data_offsets'.");
        return new HeaderEntry(name, dtype.Value, shape, offsets[0], offsets[1]);
    }

    /// <summary>Reads a JSON array of non-negative integers that fit in a long (dimensions or offsets).</summary>
    private static long[] ReadIntegerArray(ref Utf8JsonReader reader, string path, string name, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafeTensorsFormatException(path, name, $"'{field}' must be an array of non-negative integers, found {Describe(reader.TokenType)}.");
        var values = new List<long>(4);
        while (true)
        {
            Next(ref reader, path, name);
            if (reader.TokenType == JsonTokenType.EndArray)
                return values.ToArray();
            if (reader.TokenType != JsonTokenType.Number)
                throw new SafeTensorsFormatException(path, name, $"'{field}' must contain only non-negative integers, found {Describe(reader.TokenType)}.");
            if (!reader.TryGetUInt64(out ulong value))
            {
                string raw = Encoding.UTF8.GetString(reader.ValueSpan);
                throw new SafeTensorsFormatException(path, name, $"'{field}' value {raw} is not a non-negative integer.");
            }
            if (value > long.MaxValue)
                throw new SafeTensorsFormatException(path, name, $"'{field}' value {value} is larger than 2^63 - 1.");
            values.Add((long)value);
        }
    }

    /// <summary>Advances the reader; running out of tokens means the header JSON ended early.</summary>
    private static void Next(ref Utf8JsonReader reader, string path, string? tensor)
    {
        if (!reader.Read())
            throw new SafeTensorsFormatException(path, tensor, "header JSON ends before the object is closed.");
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };
}
