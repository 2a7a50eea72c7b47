using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using CrossEncoder.Native.SafeTensors;
using FsCheck.Xunit;
using Xunit;
using static CrossEncoder.Native.Tests.SafeTensors.SafeTensorsTestFiles;

namespace CrossEncoder.Native.Tests.SafeTensors;

public sealed class SafeTensorsFileTests : IDisposable
{
    private readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>One F32 [2] tensor "a" at [0, 8): the smallest interesting valid file.</summary>
    private const string OneTensor = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";

    /// <summary>Byte length of <see cref="OneTensor"/>; the file is 8 + 54 + 8 = 70 bytes.</summary>
    private const int OneTensorLength = 54;

    [Fact]
    public void OneTensor_HasTheLengthTheTruncationCasesAssume() => Assert.Equal(OneTensorLength, Encoding.UTF8.GetByteCount(OneTensor));

    // ------------------------------------------------------------------ valid files

    [Fact]
    public void HandBuiltFile_Parses()
    {
        string header = """
            {"__metadata__":{"format":"pt"},
             "b":{"data_offsets":[8,10],"shape":[],"dtype":"I16"},
             "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "empty":{"dtype":"F64","shape":[0,3],"data_offsets":[10,10]}}
            """;
        using var file = SafeTensorsFile.Open(_files.WriteRaw(header + "     ", 10));
        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        var a = file.Tensors["a"];
        Assert.Equal(("a", SafeTensorDType.F32, 0L, 8L), (a.Name, a.DType, a.DataOffset, a.ByteLength));
        Assert.Equal([2L], a.Shape);
        Assert.Empty(file.Tensors["b"].Shape);
        Assert.Equal(1, file.Tensors["b"].ElementCount);
        Assert.Equal(0, file.Tensors["empty"].ElementCount);
        Assert.Empty(file.ReadFloat32("empty"));
        Assert.Equal([8, 9], file.GetBytes("b").ToArray());
        Assert.True(file.TryGetTensor("a", out var info));
        Assert.Equal(8, info.ByteLength);
        Assert.False(file.TryGetTensor("zzz", out _));
    }

    [Fact]
    public void EmptyHeaderObject_AndNullMetadata_AreValid()
    {
        using (var file = SafeTensorsFile.Open(_files.WriteRaw("{}", 0)))
            Assert.Empty(file.Tensors);
        using (var file = SafeTensorsFile.Open(_files.WriteRaw("""{"__metadata__":null}""", 0)))
            Assert.Empty(file.Metadata);
    }

    [Fact]
    public void TrailingWhitespacePadding_IsAccepted() =>
        SafeTensorsFile.Open(_files.WriteRaw(OneTensor + " \t\r\n   ", 8)).Dispose();

    [Fact]
    public void ReadFloat32_ConvertsHalf()
    {
        // 1, -2, 0.5, +inf, 65504 (max half), smallest subnormal 2^-24
        ushort[] bits = [0x3C00, 0xC000, 0x3800, 0x7C00, 0x7BFF, 0x0001];
        string path = _files.WriteBytes(Raw("""{"h":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}}""", MemoryMarshal.AsBytes(bits.AsSpan()).ToArray()));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([1f, -2f, 0.5f, float.PositiveInfinity, 65504f, MathF.Pow(2, -24)], file.ReadFloat32("h"));
    }

    [Fact]
    public void ReadFloat32_ConvertsBFloat16_AcrossVectorTails()
    {
        for (int length = 0; length <= 70; length++)
        {
            var rng = new Random(length);
            var bits = new ushort[length];
            for (int i = 0; i < length; i++)
                bits[i] = (ushort)rng.Next(0, 65536);
            string header = "{\"x\":{\"dtype\":\"BF16\",\"shape\":[" + length + "],\"data_offsets\":[0," + 2 * length + "]}}";
            using var file = SafeTensorsFile.Open(_files.WriteBytes(Raw(header, MemoryMarshal.AsBytes(bits.AsSpan()).ToArray())));
            float[] actual = file.ReadFloat32("x");
            for (int i = 0; i < length; i++)
                Assert.Equal((uint)bits[i] << 16, BitConverter.SingleToUInt32Bits(actual[i]));
        }
    }

    [Fact]
    public void ReadFloat32_ConvertsDouble()
    {
        double[] values = [1.0, -0.1, 1e300, 3.5];
        string path = _files.WriteBytes(Raw("""{"d":{"dtype":"F64","shape":[4],"data_offsets":[0,32]}}""", MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([1f, -0.1f, float.PositiveInfinity, 3.5f], file.ReadFloat32("d"));
    }

    [Fact]
    public void ReadFloat32_CopiesF32_IntoSpan_AtUnalignedDataStart()
    {
        // Header of odd length (no padding): the data section starts at an unaligned file offset.
        float[] values = [1.25f, -7f, float.NaN];
        string header = """{"f":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""";
        Assert.NotEqual(0, (8 + Encoding.UTF8.GetByteCount(header)) % 4);
        using var file = SafeTensorsFile.Open(_files.WriteBytes(Raw(header, MemoryMarshal.AsBytes(values.AsSpan()).ToArray())));
        var destination = new float[3];
        file.ReadFloat32("f", destination);
        Assert.Equal(values, destination);
    }

    [Fact]
    public void ReadFloat32_WrongDestinationLength_ThrowsArgumentException()
    {
        using var file = SafeTensorsFile.Open(_files.WriteRaw(OneTensor, 8));
        var e = Assert.Throws<ArgumentException>(() => file.ReadFloat32("a", new float[3]));
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void ReadFloat32_UnknownName_ThrowsKeyNotFound_NamingTensorAndFile()
    {
        string path = _files.WriteRaw(OneTensor, 8);
        using var file = SafeTensorsFile.Open(path);
        var e = Assert.Throws<KeyNotFoundException>(() => file.ReadFloat32("bert.pooler.dense.weight"));
        Assert.Contains("'bert.pooler.dense.weight'", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Throws<KeyNotFoundException>(() => file.GetBytes("nope"));
    }

    [Fact]
    public void ReadFloat32_NonFloatDType_IsAFormatError_NamingTensorAndDType()
    {
        using var file = SafeTensorsFile.Open(_files.WriteRaw("""{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", 8));
        var e = Assert.Throws<SafeTensorsFormatException>(() => file.ReadFloat32("ids"));
        Assert.Equal("ids", e.TensorName);
        Assert.Contains("'ids'", e.Message);
        Assert.Contains("I64", e.Message);
        Assert.Equal(8, file.GetBytes("ids").Length);   // raw access still works
    }

    [Fact]
    public void AfterDispose_ReadsThrowObjectDisposed_AndTheFileIsReleased()
    {
        string path = _files.WriteRaw(OneTensor, 8);
        var file = SafeTensorsFile.Open(path);
        file.Dispose();
        file.Dispose();   // idempotent
        Assert.Throws<ObjectDisposedException>(() => file.ReadFloat32("a"));
        Assert.Throws<ObjectDisposedException>(() => file.ReadFloat32("a", new float[2]));
        Assert.Throws<ObjectDisposedException>(() => file.GetBytes("a"));
        Assert.Equal(8, file.Tensors["a"].ByteLength);   // header information outlives the map
        using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
    }

    [Fact]
    public void OpenTwice_SharesRead()
    {
        string path = _files.WriteRaw(OneTensor, 8);
        using var first = SafeTensorsFile.Open(path);
        using var second = SafeTensorsFile.Open(path);
        Assert.Equal(first.ReadFloat32("a"), second.ReadFloat32("a"));
    }

    [Fact]
    public void MissingFile_ThrowsFileNotFound() =>
        Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(Path.Combine(_files.DirectoryPath, "missing.safetensors")));

    // ------------------------------------------------------------------ round trip (FsCheck)

    private static readonly SafeTensorDType[] FloatDTypes = [SafeTensorDType.F32, SafeTensorDType.F16, SafeTensorDType.BF16, SafeTensorDType.F64];

    /// <summary>
    /// Writer -> reader over random shapes (0 to 4 dims, zeros included) and every float dtype: the header
    /// comes back exactly, the raw bytes come back exactly, and ReadFloat32 equals a scalar reference conversion.
    /// </summary>
    [Property(MaxTest = 60)]
    public void RoundTrip_RandomShapes_EveryFloatDType(byte[][] shapes, int seed)
    {
        shapes ??= [];
        var rng = new Random(seed);
        var written = new List<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)>();
        for (int i = 0; i < Math.Min(shapes.Length, 6); i++)
        {
            long[] shape = (shapes[i] ?? []).Take(4).Select(d => (long)(d % 7)).ToArray();
            var dtype = FloatDTypes[rng.Next(FloatDTypes.Length)];
            long count = shape.Aggregate(1L, (a, b) => a * b);
            var data = new byte[count * dtype.SizeInBytes()];
            rng.NextBytes(data);
            written.Add(($"layer.{rng.Next(100)}.t{i}", dtype, shape, data));
        }

        string path = _files.NewPath("prop");
        SafeTensorsWriter.Write(path, written, new Dictionary<string, string> { ["seed"] = seed.ToString() });
        using var file = SafeTensorsFile.Open(path);

        Assert.Equal(written.Count, file.Tensors.Count);
        Assert.Equal(seed.ToString(), file.Metadata["seed"]);
        foreach (var (name, dtype, shape, data) in written)
        {
            var info = file.Tensors[name];
            Assert.Equal(dtype, info.DType);
            Assert.Equal(shape, info.Shape);
            Assert.Equal(data, file.GetBytes(name).ToArray());
            Assert.Equal(ReferenceToFloat32(dtype, data), file.ReadFloat32(name));
        }
    }

    [Property(MaxTest = 30)]
    public void RoundTrip_WriteFloat32_IsBitExact(float[] values)
    {
        values ??= [];
        string path = _files.NewPath("prop32");
        SafeTensorsWriter.WriteFloat32(path, new Dictionary<string, (long[], float[])> { ["v"] = ([values.Length], values) });
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(values.Select(BitConverter.SingleToUInt32Bits), file.ReadFloat32("v").Select(BitConverter.SingleToUInt32Bits));
    }

    /// <summary>The slow twin: one element at a time with the plainest conversion for each dtype.</summary>
    private static float[] ReferenceToFloat32(SafeTensorDType dtype, byte[] data)
    {
        int size = dtype.SizeInBytes();
        var result = new float[data.Length / size];
        for (int i = 0; i < result.Length; i++)
        {
            var bytes = data.AsSpan(i * size, size);
            result[i] = dtype switch
            {
                SafeTensorDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(bytes),
                SafeTensorDType.F16 => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes),
                SafeTensorDType.BF16 => BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(bytes) << 16),
                SafeTensorDType.F64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes),
                _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
            };
        }
        return result;
    }

    // ------------------------------------------------------------------ malformed files (raw bytes, one case each)

    [Fact]
    public void EmptyFile_IsRejected() =>
        AssertInvalid(_files.WriteBytes([]), "the file is empty");

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void FileShorterThanLengthPrefix_IsRejected(int length) =>
        AssertInvalid(_files.WriteBytes(new byte[length]), "fewer than the 8-byte header length");

    [Theory]
    [InlineData(3, "fewer than the 8-byte header length", null)]                // inside the length prefix
    [InlineData(8, "is larger than the 0 bytes", null)]                         // right after the prefix
    [InlineData(8 + 20, "is larger than the 20 bytes", null)]                   // inside the header
    [InlineData(8 + OneTensorLength - 1, "is larger than the 53 bytes", null)]  // one byte short of the header
    [InlineData(8 + OneTensorLength, "out of bounds: the data section has only 0 bytes", "a")]     // header complete, no data
    [InlineData(8 + OneTensorLength + 3, "out of bounds: the data section has only 3 bytes", "a")] // inside the data
    [InlineData(8 + OneTensorLength + 7, "out of bounds: the data section has only 7 bytes", "a")] // one byte short
    public void TruncatedFile_IsRejected(int cut, string fragment, string? tensor)
    {
        byte[] full = Raw(OneTensor, new byte[8]);
        Assert.Equal(8 + OneTensorLength + 8, full.Length);
        AssertInvalid(_files.WriteBytes(full[..cut]), fragment, tensor);
    }

    [Theory]
    [InlineData(9223372036854775808UL)]     // 2^63
    [InlineData(ulong.MaxValue)]
    [InlineData(100_000_001UL)]             // one over the reference cap
    public void HugeHeaderLength_IsRejected(ulong declared) =>
        AssertInvalid(_files.WriteBytes(Raw(declared, Encoding.UTF8.GetBytes(OneTensor), new byte[8])), "exceeds the limit of 100000000 bytes");

    [Fact]
    public void HeaderLengthAtTheCap_IsCheckedAgainstTheFile() =>
        AssertInvalid(_files.WriteBytes(Raw(100_000_000UL, Encoding.UTF8.GetBytes(OneTensor), new byte[8])), "is larger than the 62 bytes");

    [Fact]
    public void HeaderLongerThanCustomCap_IsRejected()
    {
        string path = _files.WriteRaw(OneTensor, 8);
        Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path, maxHeaderLength: OneTensorLength - 1).Dispose());
        SafeTensorsFile.Open(path, maxHeaderLength: OneTensorLength).Dispose();
    }

    [Fact]
    public void HeaderLengthLargerThanFile_IsRejected() =>
        AssertInvalid(_files.WriteBytes(Raw(1000UL, Encoding.UTF8.GetBytes(OneTensor), new byte[8])), "header length 1000 is larger than the 62 bytes");

    [Fact]
    public void ZeroHeaderLength_IsRejected() =>
        AssertInvalid(_files.WriteBytes(Raw("", new byte[8])), "header length is 0");

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""")]     // unclosed
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},}""")]   // trailing comma
    [InlineData("""{'a':1}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} x""")] // garbage after the object
    [InlineData("""{} {}""")]
    [InlineData("""{/* c */}""")]
    public void BadJson_IsRejected(string header) =>
        AssertInvalid(_files.WriteRaw(header, 8), "not valid JSON");

    [Fact]
    public void InvalidUtf8_IsRejected()
    {
        byte[] header = Encoding.UTF8.GetBytes(OneTensor);
        header[2] = 0xFF;   // inside the name "a"
        AssertInvalid(_files.WriteBytes(Raw(header, new byte[8])), "not valid UTF-8");
    }

    [Fact]
    public void WhitespaceOnlyHeader_IsRejected() =>
        AssertInvalid(_files.WriteRaw("        ", 0), "only whitespace");

    [Theory]
    [InlineData("[1,2]", "starts with an array")]
    [InlineData("\"tensors\"", "starts with a string")]
    [InlineData("42", "starts with a number")]
    [InlineData("null", "starts with null")]
    public void JsonNotAnObject_IsRejected(string header, string fragment)
    {
        var e = AssertInvalid(_files.WriteRaw(header, 0), "header must be a JSON object");
        Assert.Contains(fragment, e.Problem);
    }

    [Theory]
    [InlineData("""{"w":{"shape":[2],"data_offsets":[0,8]}}""", "missing 'dtype'")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,8]}}""", "missing 'shape'")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2]}}""", "missing 'data_offsets'")]
    public void MissingField_IsRejected(string header, string fragment) =>
        AssertInvalid(_files.WriteRaw(header, 8), fragment, "w");

    [Theory]
    [InlineData("F8_E4M3")]
    [InlineData("float32")]
    [InlineData("f32")]
    [InlineData("")]
    public void UnknownDType_IsRejected(string dtype) =>
        AssertInvalid(_files.WriteRaw($$$"""{"w":{"dtype":"{{{dtype}}}","shape":[2],"data_offsets":[0,8]}}""", 8), $"unknown dtype \"{dtype}\"", "w");

    [Fact]
    public void DTypeNotAString_IsRejected() =>
        AssertInvalid(_files.WriteRaw("""{"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}""", 8), "'dtype' must be a string", "w");

    [Theory]
    [InlineData("[-1,2]", "value -1 is not a non-negative integer")]
    [InlineData("[1.5]", "value 1.5 is not a non-negative integer")]
    [InlineData("[2e0]", "value 2e0 is not a non-negative integer")]
    [InlineData("[\"2\"]", "must contain only non-negative integers, found a string")]
    [InlineData("[[2]]", "must contain only non-negative integers, found an array")]
    [InlineData("2", "must be an array of non-negative integers")]
    [InlineData("[9223372036854775808]", "larger than 2^63 - 1")]
    [InlineData("[99999999999999999999999]", "is not a non-negative integer")]
    public void BadShape_IsRejected(string shape, string fragment) =>
        AssertInvalid(_files.WriteRaw($$$"""{"w":{"dtype":"U8","shape":{{{shape}}},"data_offsets":[0,2]}}""", 2), fragment, "w");

    [Fact]
    public void ShapeTimesDTypeSizeNotByteLength_IsRejected() =>
        AssertInvalid(_files.WriteRaw("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8),
            "span 8 bytes but shape [3] x F32 (4 bytes) needs 12", "w");

    [Theory]
    [InlineData("[1099511627776,1099511627776]", "U8")]   // 2^40 x 2^40 elements
    [InlineData("[4611686018427387904]", "F32")]          // 2^62 elements x 4 bytes
    public void ShapeProductOverflow_IsRejected(string shape, string dtype) =>
        AssertInvalid(_files.WriteRaw($$$"""{"w":{"dtype":"{{{dtype}}}","shape":{{{shape}}},"data_offsets":[0,8]}}""", 8), "overflows a 64-bit byte count", "w");

    [Fact]
    public void OffsetsOutOfBounds_AreRejected() =>
        AssertInvalid(_files.WriteRaw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4), "out of bounds", "w");

    [Fact]
    public void HugeOffsets_AreRejected() =>
        AssertInvalid(_files.WriteRaw("""{"w":{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}""", 1), "out of bounds", "w");

    [Fact]
    public void BeginAfterEnd_IsRejected() =>
        AssertInvalid(_files.WriteRaw("""{"w":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}}""", 8), "begin > end", "w");

    [Theory]
    [InlineData("[0]")]
    [InlineData("[0,1,2]")]
    [InlineData("{}")]
    public void DataOffsetsNotAPair_AreRejected(string offsets) =>
        AssertInvalid(_files.WriteRaw("""{"w":{"dtype":"U8","shape":[1],"data_offsets":""" + offsets + "}}", 1), "data_offsets", "w");

    [Fact]
    public void OverlappingTensors_AreRejected()
    {
        var e = AssertInvalid(_files.WriteRaw("""
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}
            """, 12), "overlaps tensor 'a'", "b");
        Assert.Contains("[4, 12)", e.Problem);
    }

    [Fact]
    public void IdenticalOffsets_AreRejectedAsOverlap() =>
        AssertInvalid(_files.WriteRaw("""
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}
            """, 8), "overlaps tensor", "b");

    [Fact]
    public void GapBetweenTensors_IsRejected() =>
        AssertInvalid(_files.WriteRaw("""
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}
            """, 20), "gap of 4 bytes after the end of tensor 'a'", "b");

    [Fact]
    public void GapBeforeFirstTensor_IsRejected() =>
        AssertInvalid(_files.WriteRaw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12),
            "gap of 4 bytes after the start of the data section", "a");

    [Fact]
    public void TrailingBytesAfterData_AreRejected() =>
        AssertInvalid(_files.WriteRaw(OneTensor, 13), "5 trailing bytes after the last tensor's data");

    [Fact]
    public void DataWithoutTensors_IsRejected() =>
        AssertInvalid(_files.WriteRaw("{}", 1), "1 trailing bytes");

    [Fact]
    public void DuplicateTensorNames_AreRejected() =>
        AssertInvalid(_files.WriteRaw("""
            {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}
            """, 8), "duplicate tensor name", "a");

    [Fact]
    public void DuplicateNamesViaEscapes_AreRejected() =>
        AssertInvalid(_files.WriteRaw("""
            {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}
            """, 8), "duplicate tensor name", "a");

    [Theory]
    [InlineData("""{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"offsets":[0,1]}}""", "unknown key 'offsets'")]
    [InlineData("""{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", "'dtype' appears more than once")]
    [InlineData("""{"w":{"dtype":"U8","shape":[1],"shape":[1],"data_offsets":[0,1]}}""", "'shape' appears more than once")]
    [InlineData("""{"w":[1]}""", "entry must be an object")]
    [InlineData("""{"w":"U8"}""", "entry must be an object")]
    public void MalformedEntry_IsRejected(string header, string fragment) =>
        AssertInvalid(_files.WriteRaw(header, 1), fragment, "w");

    [Theory]
    [InlineData("""{"__metadata__":{"k":1}}""", "value for key 'k' must be a string")]
    [InlineData("""{"__metadata__":{"k":{"nested":"x"}}}""", "value for key 'k' must be a string")]
    [InlineData("""{"__metadata__":["x"]}""", "must be an object of strings")]
    [InlineData("""{"__metadata__":{"k":"x","k":"y"}}""", "duplicate key 'k'")]
    [InlineData("""{"__metadata__":{},"__metadata__":{}}""", "appears more than once")]
    public void MalformedMetadata_IsRejected(string header, string fragment) =>
        AssertInvalid(_files.WriteRaw(header, 0), fragment);

    [Fact]
    public void DeeplyNestedJson_IsRejectedWithoutStackOverflow()
    {
        string nested = new string('[', 100_000) + new string(']', 100_000);
        AssertInvalid(_files.WriteRaw($$$"""{"w":{"dtype":"U8","shape":{{{nested}}},"data_offsets":[0,1]}}""", 1), "found an array", "w");
        AssertInvalid(_files.WriteRaw("""{"__metadata__":{"k":""" + nested + "}}", 0), "must be a string");
    }

    // ------------------------------------------------------------------ fuzz

    private const string JsonPunctuation = "{}[]\",:0123456789- e.\\";

    /// <summary>
    /// Flip bits, overwrite bytes and truncate a valid file at many fixed-seed positions (biased to the header,
    /// where parsing happens): every open must succeed or throw SafeTensorsFormatException, and a file that
    /// opens must read back without error.
    /// </summary>
    [Fact]
    public void Fuzz_CorruptedFiles_OpenOrThrowFormatException()
    {
        string header = """
            {"__metadata__":{"format":"pt","note":"x"},
             "bert.embeddings.word_embeddings.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},
             "bert.pooler.dense.bias":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},
             "classifier.weight":{"dtype":"BF16","shape":[1,2],"data_offsets":[32,36]},
             "d":{"dtype":"F64","shape":[1],"data_offsets":[36,44]},
             "ids":{"dtype":"I64","shape":[],"data_offsets":[44,52]}}
            """;
        byte[] valid = Raw(header, Enumerable.Range(0, 52).Select(i => (byte)(i * 37)).ToArray());
        SafeTensorsFile.Open(_files.WriteBytes(valid)).Dispose();   // the base case is valid

        var rng = new Random(20240611);
        string path = _files.NewPath("fuzz");
        int opened = 0, rejected = 0;
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            byte[] bytes = (byte[])valid.Clone();
            int mutations = 1 + rng.Next(3);
            for (int m = 0; m < mutations; m++)
            {
                // 80% of positions inside prefix + header, the rest anywhere.
                int position = (rng.Next(5) < 4 ? rng.Next(8 + Encoding.UTF8.GetByteCount(header)) : rng.Next(valid.Length)) % bytes.Length;
                switch (rng.Next(4))
                {
                    case 0: bytes[position] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: bytes[position] = (byte)rng.Next(256); break;
                    case 2: bytes[position] = (byte)JsonPunctuation[rng.Next(JsonPunctuation.Length)]; break;
                    case 3: bytes = bytes[..position]; break;
                }
                if (bytes.Length == 0)
                    break;
            }
            File.WriteAllBytes(path, bytes);

            try
            {
                using var file = SafeTensorsFile.Open(path);
                foreach (var info in file.Tensors.Values)
                {
                    _ = file.GetBytes(info.Name).Length;
                    if (info.DType is SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F64)
                        _ = file.ReadFloat32(info.Name);
                }
                opened++;
            }
            catch (SafeTensorsFormatException e)
            {
                Assert.Contains(path, e.Message);
                rejected++;
            }
            // Anything else propagates and fails the test with the offending exception.
        }
        Assert.True(opened > 0 && rejected > 0, $"opened {opened}, rejected {rejected}");
    }
}
