using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tests.Model.ModernBert;
using CrossEncoder.Native.Tests.Model.Qwen;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// Hostile checkpoints (issue 20): a weight holding NaN or infinity (F32, F16, BF16, an int8 tensor's scales) or stored under
/// a dtype no weight may have (I32, BOOL, ...) is refused at load with the typed format error naming the tensor, in fp32 and
/// int8, for BERT, ModernBERT and Qwen, and by quantize; never a NotSupportedException, never a NaN score.
/// </summary>
public sealed class NonFiniteWeightTests : IDisposable
{
    private readonly List<string> _folders = [];
    private readonly TinyBert _bert = new(classifier: true);

    /// <summary>A valid folder of the family and a weight of its forward pass, with its name in the file.</summary>
    private string Source(string family, out string tensor)
    {
        switch (family)
        {
            case "bert": tensor = "encoder.layer.1.attention.self.query.weight"; return _bert.Directory;
            case "modernbert": tensor = "model.layers.1.attn.Wqkv.weight"; return ModernBertFolders.GteReranker;
            default: tensor = "model.layers.1.mlp.down_proj.weight"; return QwenFolders.Qwen3;
        }
    }

    private static ITransformerModel Load(string folder, string family, Precision precision) =>
        ModelLoader.Load(folder, precision, family == "qwen" ? new AnswerTokenizer() : null).Model;

    private string Track(string folder) { _folders.Add(folder); return folder; }

    public static TheoryData<string, Precision> FamiliesAndPrecisions => new()
    {
        { "bert", Precision.Fp32 }, { "bert", Precision.Int8 },
        { "modernbert", Precision.Fp32 }, { "modernbert", Precision.Int8 },
        { "qwen", Precision.Fp32 }, { "qwen", Precision.Int8 },
    };

    [Theory]
    [MemberData(nameof(FamiliesAndPrecisions))]
    public void ANonFiniteWeightInF32F16OrBf16IsRefusedNamingTheTensorAndElement(string family, Precision precision)
    {
        string source = Source(family, out string tensor);
        (SafeTensorDType DType, float Value, int Index)[] cases =
        [
            (SafeTensorDType.F32, float.NaN, 5), (SafeTensorDType.F32, float.NegativeInfinity, 17),
            (SafeTensorDType.F16, float.PositiveInfinity, 3), (SafeTensorDType.BF16, float.NaN, 0),
        ];
        foreach (var (dtype, value, index) in cases)
        {
            string folder = Track(HostileCheckpoints.WithValue(source, tensor, index, value, dtype));
            var error = Assert.Throws<ModelFormatException>(() => Load(folder, family, precision));
            Assert.Contains($"tensor '{tensor}' holds {value} at [", error.Message);
            Assert.Contains("must be a finite number", error.Message);
            Assert.Contains("model.safetensors", error.FilePath);
        }
    }

    [Fact]
    public void AnOverflowedF16ValueIsRefusedWhereItSits()
    {
        // 1e5 is finite in F32 but above F16's largest value (65504): stored as F16 it is +infinity.
        string folder = Track(HostileCheckpoints.WithValue(_bert.Directory, "encoder.layer.0.output.dense.weight", 20, 1e5f, SafeTensorDType.F16));
        var error = Assert.Throws<ModelFormatException>(() => Load(folder, "bert", Precision.Fp32));
        Assert.Contains($"tensor 'encoder.layer.0.output.dense.weight' holds {float.PositiveInfinity} at [0, 20]", error.Message);
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("modernbert")]
    [InlineData("qwen")]
    public void ANonFiniteInt8ScaleIsRefusedNamingTheScaleTensor(string family)
    {
        string source = Source(family, out string tensor);
        if (family == "qwen") source = QwenFolders.Qwen3RerankerWithTokenizer;   // quantize loads the folder with its tokenizer
        string quantized = Track(Path.Combine(Path.GetTempPath(), "ce-int8-" + Guid.NewGuid().ToString("N")));
        ModelQuantization.WriteQuantizedFolder(source, quantized);
        string folder = Track(HostileCheckpoints.WithValue(quantized, tensor + "_scale", 2, float.PositiveInfinity));
        foreach (var precision in (Precision[])[Precision.Int8, Precision.Fp32])
        {
            var error = Assert.Throws<ModelFormatException>(() => Load(folder, family, precision));
            Assert.Contains($"tensor '{tensor}_scale' holds {float.PositiveInfinity} at [2]", error.Message);
        }
    }

    public static TheoryData<string, string> FamiliesAndIntegerDTypes()
    {
        var data = new TheoryData<string, string>();
        foreach (string family in (string[])["bert", "modernbert", "qwen"])
            foreach (string dtype in (string[])["I32", "U32", "U8", "I16", "U16", "BOOL", "I64", "U64"])
                data.Add(family, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(FamiliesAndIntegerDTypes))]
    public void AWeightStoredAsAnIntegerDTypeIsATypedFormatErrorNamingTensorAndDType(string family, string dtypeName)
    {
        Assert.True(SafeTensorDTypeExtensions.TryParseHeaderString(dtypeName, out var dtype));
        string source = Source(family, out string tensor);
        string folder = Track(HostileCheckpoints.WithDType(source, tensor, dtype));
        foreach (var precision in (Precision[])[Precision.Fp32, Precision.Int8])
        {
            var error = Assert.Throws<SafeTensorsFormatException>(() => Load(folder, family, precision));
            Assert.Equal(tensor, error.TensorName);
            Assert.Contains($"dtype {dtypeName} is not a floating-point type", error.Message);
        }
        // quantize loads the folder first: the same typed error, before anything is written.
        string output = Track(Path.Combine(Path.GetTempPath(), "ce-quantize-" + Guid.NewGuid().ToString("N")));
        Assert.Throws<SafeTensorsFormatException>(() => ModelQuantization.WriteQuantizedFolder(folder, output));
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
    }

    [Fact]
    public void RerankerLoadOfAnIntegerWeightIsAFormatExceptionNotNotSupported()
    {
        string folder = Track(HostileCheckpoints.WithDType(_bert.Directory, "classifier.weight", SafeTensorDType.I32));
        var error = Assert.ThrowsAny<FormatException>(() => Reranker.Load(folder));
        Assert.Contains("'classifier.weight'", error.Message);
    }

    public void Dispose()
    {
        _bert.Dispose();
        foreach (string folder in _folders)
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }
}
