namespace CrossEncoder.Native.SafeTensors;

// STUB: the safetensors helper replaces this file with the real writer (same public API).

/// <summary>Writes safetensors files: header sorted by name, 8-byte aligned, data contiguous in header order.</summary>
public static class SafeTensorsWriter
{
    /// <summary>Writes F32 tensors (name -> (shape, data)) and optional metadata to <paramref name="path"/>.</summary>
    public static void WriteFloat32(string path, IEnumerable<KeyValuePair<string, (long[] Shape, float[] Data)>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => throw new NotImplementedException();

    /// <summary>Writes raw tensors of any dtype; <c>Data.Length</c> must equal elements x dtype size.</summary>
    public static void Write(string path, IEnumerable<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => throw new NotImplementedException();
}
