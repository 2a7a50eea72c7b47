using System.Buffers.Binary;
using System.Text;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.SafeTensors;

/// <summary>A temp directory per test class instance, deleted on dispose; plus raw-byte file builders.</summary>
/// <remarks>Malformed files are always built from raw bytes here, never with <see cref="SafeTensorsWriter"/>.</remarks>
public sealed class SafeTensorsTestFiles : IDisposable
{
    public SafeTensorsTestFiles()
    {
        DirectoryPath = Path.Combine(Path.GetTempPath(), "safetensors-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DirectoryPath);
    }

    public string DirectoryPath { get; }

    private int _counter;

    /// <summary>A fresh file path inside the temp directory.</summary>
    public string NewPath(string stem = "t") => Path.Combine(DirectoryPath, $"{stem}-{Interlocked.Increment(ref _counter)}.safetensors");

    /// <summary>Writes bytes to a new file and returns its path.</summary>
    public string WriteBytes(byte[] bytes, string stem = "t")
    {
        string path = NewPath(stem);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>[u64 LE length of header][header UTF-8][data].</summary>
    public static byte[] Raw(string header, byte[] data) => Raw(Encoding.UTF8.GetBytes(header), data);

    /// <summary>[u64 LE length of header][header][data].</summary>
    public static byte[] Raw(byte[] header, byte[] data) => Raw((ulong)header.Length, header, data);

    /// <summary>[u64 LE declared length][header][data], with a declared length that may lie.</summary>
    public static byte[] Raw(ulong declaredLength, byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>Writes a raw file with <paramref name="dataLength"/> data bytes (0, 1, 2, ...).</summary>
    public string WriteRaw(string header, int dataLength) =>
        WriteBytes(Raw(header, Enumerable.Range(0, dataLength).Select(i => (byte)i).ToArray()));

    /// <summary>Opening must fail with a format error whose problem contains <paramref name="fragment"/> and names the tensor.</summary>
    public static SafeTensorsFormatException AssertInvalid(string path, string fragment, string? tensor = null)
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(fragment, e.Problem, StringComparison.Ordinal);
        Assert.Equal(tensor, e.TensorName);
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        if (tensor is not null)
            Assert.Contains($"'{tensor}'", e.Message, StringComparison.Ordinal);
        return e;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(DirectoryPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
