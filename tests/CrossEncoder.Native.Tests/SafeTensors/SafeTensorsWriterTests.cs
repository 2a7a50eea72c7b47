using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.SafeTensors;

public sealed class SafeTensorsWriterTests : IDisposable
{
    private readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static (string Header, byte[] Data) Split(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return (Encoding.UTF8.GetString(bytes, 8, (int)n), bytes[(8 + (int)n)..]);
    }

    [Fact]
    public void Header_IsSortedByName_PaddedTo8_AndDataFollowsHeaderOrder()
    {
        string path = _files.NewPath();
        SafeTensorsWriter.WriteFloat32(path, new Dictionary<string, (long[], float[])>
        {
            ["zeta"] = ([2], [1f, 2f]),
            ["alpha"] = ([1, 3], [3f, 4f, 5f]),
            ["mid.weight"] = ([], [6f]),
        }, new Dictionary<string, string> { ["format"] = "pt" });

        var (header, data) = Split(path);
        Assert.Equal(0, (8 + Encoding.UTF8.GetByteCount(header)) % 8);
        Assert.Equal(header.TrimEnd(' '), header.TrimEnd(' ').Trim());   // only trailing spaces are padding

        using var json = JsonDocument.Parse(header);
        var names = json.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["__metadata__", "alpha", "mid.weight", "zeta"], names);
        Assert.Equal("pt", json.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());

        long expected = 0;
        foreach (var name in names.Skip(1))
        {
            var entry = json.RootElement.GetProperty(name);
            Assert.Equal("F32", entry.GetProperty("dtype").GetString());
            var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal(expected, offsets[0]);
            expected = offsets[1];
        }
        Assert.Equal(expected, data.Length);
        // alpha, then mid.weight, then zeta
        Assert.Equal(new float[] { 3, 4, 5, 6, 1, 2 }, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray());
    }

    [Fact]
    public void NoTensors_WritesAnEmptyObject()
    {
        string path = _files.NewPath();
        SafeTensorsWriter.Write(path, []);
        var (header, data) = Split(path);
        Assert.Equal("{}      ", header);
        Assert.Empty(data);
        using var file = SafeTensorsFile.Open(path);
        Assert.Empty(file.Tensors);
    }

    [Fact]
    public void DuplicateName_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(_files.NewPath(),
            [("w", SafeTensorDType.U8, [1], [1]), ("w", SafeTensorDType.U8, [1], [2])]));
        Assert.Contains("Duplicate tensor name 'w'", e.Message);
    }

    [Fact]
    public void DataLengthMismatch_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(_files.NewPath(),
            [("w", SafeTensorDType.F16, [3], new byte[5])]));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("needs 6", e.Message);

        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.WriteFloat32(_files.NewPath(),
            new Dictionary<string, (long[], float[])> { ["f"] = ([2, 2], new float[3]) }));
    }

    [Fact]
    public void NegativeDimension_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(_files.NewPath(),
            [("w", SafeTensorDType.U8, [-1, 2], new byte[2])]));
        Assert.Contains("negative dimension -1", e.Message);
    }

    [Fact]
    public void ShapeOverflow_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(_files.NewPath(),
            [("w", SafeTensorDType.F32, [1L << 40, 1L << 40], [])]));
        Assert.Contains("overflows", e.Message);
    }

    [Fact]
    public void ReservedMetadataName_Throws() =>
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(_files.NewPath(),
            [("__metadata__", SafeTensorDType.U8, [1], [1])]));

    [Fact]
    public void FailedWrite_LeavesExistingFileAndNoTempFiles()
    {
        string path = _files.NewPath();
        File.WriteAllText(path, "previous");
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("w", SafeTensorDType.U8, [2], new byte[1])]));
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_files.DirectoryPath));
    }

    [Fact]
    public void Write_ReplacesExistingFile_AndLeavesNoTempFiles()
    {
        string path = _files.NewPath();
        File.WriteAllText(path, "previous");
        SafeTensorsWriter.Write(path, [("b", SafeTensorDType.I8, [2], [1, 255])]);
        using (var file = SafeTensorsFile.Open(path))
            Assert.Equal(SafeTensorDType.I8, file.Tensors["b"].DType);
        Assert.Equal([path], Directory.GetFiles(_files.DirectoryPath));
    }

    [Fact]
    public void NonAsciiNames_AndMetadata_RoundTrip()
    {
        string path = _files.NewPath();
        var metadata = new Dictionary<string, string> { ["note"] = "quotes \" and \\ and ünïcode <+>" };
        SafeTensorsWriter.Write(path, [("naïve+\"name\"", SafeTensorDType.Bool, [2], [0, 1])], metadata);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(2, file.Tensors["naïve+\"name\""].ByteLength);
        Assert.Equal(metadata["note"], file.Metadata["note"]);
    }
}
