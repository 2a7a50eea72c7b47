using CrossEncoder.Conversion.Onnx;
using Google.Protobuf;
using Onnx;
using Xunit;

namespace CrossEncoder.Native.Tests.Conversion;

/// <summary>Inputs that are not a convertible BERT export fail with an exception naming the problem, and leave no output behind.</summary>
[Collection("MiniLM")]
public sealed class ConversionFailureTests(MiniLmFixture fixture) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("crossencoder-convert-fail-").FullName;

    private string Output => Path.Combine(_root, "model");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void AssertNothingWritten() => Assert.Empty(Directory.GetDirectories(_root));

    [Fact]
    public void ANonOnnxFileIsRejectedByName()
    {
        string bogus = Path.Combine(_root, "bogus.onnx");
        File.WriteAllBytes(bogus, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x12, 0x34, 0x56, 0x78]);
        var error = Assert.Throws<OnnxConversionException>(() => OnnxBertConverter.Convert(bogus, fixture.VocabPath, Output));
        Assert.Contains("bogus.onnx", error.Message);
        Assert.Contains("not a valid ONNX model", error.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void ATextFileIsRejectedByName()
    {
        string text = Path.Combine(_root, "notes.onnx");
        File.WriteAllText(text, "this is not a model\n");
        var error = Assert.Throws<OnnxConversionException>(() => OnnxBertConverter.Convert(text, fixture.VocabPath, Output));
        Assert.Contains("notes.onnx", error.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void AMissingOnnxFileIsAFileNotFound()
    {
        string missing = Path.Combine(_root, "absent.onnx");
        var error = Assert.Throws<FileNotFoundException>(() => OnnxBertConverter.Convert(missing, fixture.VocabPath, Output));
        Assert.Contains("absent.onnx", error.Message);
    }

    [Fact]
    public void AMissingVocabularyIsAFileNotFoundNamingIt()
    {
        string missing = Path.Combine(_root, "vocab.txt");
        var error = Assert.Throws<FileNotFoundException>(() => OnnxBertConverter.Convert(fixture.OnnxPath, missing, Output));
        Assert.Contains("Vocabulary", error.Message);
        Assert.Equal(missing, error.FileName);
        AssertNothingWritten();
    }

    [Fact]
    public void AVocabularyOfTheWrongSizeIsRejected()
    {
        string vocab = Path.Combine(_root, "short-vocab.txt");
        File.WriteAllLines(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]);
        var error = Assert.Throws<OnnxConversionException>(() => OnnxBertConverter.Convert(fixture.OnnxPath, vocab, Output));
        Assert.Contains("4 tokens", error.Message);
        Assert.Contains("30522", error.Message);
        AssertNothingWritten();
    }

    /// <summary>Removes one initializer from the real graph (named, numeric MatMul weight, LayerNorm scale).</summary>
    [Theory]
    [InlineData("embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings.weight")]
    [InlineData("928", "encoder.layer.0.attention.self.key.weight")] // MatMul_36's weight: the key projection goes missing
    [InlineData("encoder.layer.2.output.LayerNorm.weight", "encoder.layer.2.output.LayerNorm.weight")]
    [InlineData("encoder.layer.4.intermediate.dense.bias", "MatMul_520")] // the bias that names the weight: an unmapped MatMul
    public void AGraphWithAnInitializerRemovedFailsNamingWhatIsMissing(string removed, string expectedInMessage)
    {
        ModelProto model = fixture.OnnxModel.Clone();
        TensorProto initializer = model.Graph.Initializer.Single(t => t.Name == removed);
        model.Graph.Initializer.Remove(initializer);
        string broken = Path.Combine(_root, "broken.onnx");
        File.WriteAllBytes(broken, model.ToByteArray());

        var error = Assert.Throws<OnnxConversionException>(() => OnnxBertConverter.Convert(broken, fixture.VocabPath, Output));
        Assert.Contains(expectedInMessage, error.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void AnInitializerWhoseNameContradictsTheGraphIsRejected()
    {
        // Give layer 1's output LayerNorm scale a name claiming layer 3: the graph says one thing, the name another.
        ModelProto model = fixture.OnnxModel.Clone();
        TensorProto a = model.Graph.Initializer.Single(t => t.Name == "encoder.layer.1.output.LayerNorm.weight");
        foreach (NodeProto node in model.Graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == a.Name) node.Input[i] = "encoder.layer.3.output.LayerNorm.weight_";
        a.Name = "encoder.layer.3.output.LayerNorm.weight_";
        string broken = Path.Combine(_root, "renamed.onnx");
        File.WriteAllBytes(broken, model.ToByteArray());

        var error = Assert.Throws<OnnxConversionException>(() => OnnxBertConverter.Convert(broken, fixture.VocabPath, Output));
        Assert.Contains("encoder.layer.1.output.LayerNorm.weight", error.Message);
        Assert.Contains("disagrees", error.Message);
    }
}
