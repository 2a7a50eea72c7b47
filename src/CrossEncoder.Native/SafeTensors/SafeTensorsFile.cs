namespace CrossEncoder.Native.SafeTensors;

// STUB: the safetensors helper replaces this file with the real memory-mapped reader (same public API).

/// <summary>A safetensors file opened read-only through a memory map; the header is validated on open.</summary>
public sealed class SafeTensorsFile : IDisposable
{
    private SafeTensorsFile() => throw new NotImplementedException();

    /// <summary>The reserved header key holding the optional string-to-string metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="SafeTensorsFormatException">The file violates the format.</exception>
    public static SafeTensorsFile Open(string path) => throw new NotImplementedException();

    /// <summary>The file path.</summary>
    public string FilePath => throw new NotImplementedException();

    /// <summary>Tensors by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => throw new NotImplementedException();

    /// <summary>The optional <c>__metadata__</c> string map.</summary>
    public IReadOnlyDictionary<string, string> Metadata => throw new NotImplementedException();

    /// <summary>Copies a tensor into a new float array, converting F16/BF16/F64 to F32.</summary>
    public float[] ReadFloat32(string name) => throw new NotImplementedException();

    /// <summary>Copies a tensor into <paramref name="destination"/> (length = element count), converting to F32.</summary>
    public void ReadFloat32(string name, Span<float> destination) => throw new NotImplementedException();

    /// <inheritdoc />
    public void Dispose() { }
}
