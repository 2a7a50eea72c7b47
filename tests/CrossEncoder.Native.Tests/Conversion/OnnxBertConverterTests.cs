using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using System.Runtime.InteropServices;
using System.Text.Json;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Conversion.Onnx;
using Onnx;
using Xunit;

namespace CrossEncoder.Native.Tests.Conversion;

/// <summary>The packaged all-MiniLM-L6-v2 ONNX converted to a Hugging Face folder: names, shapes, bit-exact values, config.</summary>
[Collection("MiniLM")]
public sealed class OnnxBertConverterTests(MiniLmFixture fixture)
{
    // all-MiniLM-L6-v2, as published on the Hugging Face hub: the converter must derive these from the graph.
    private const int Layers = 6, Hidden = 384, Heads = 12, Intermediate = 1536, Vocab = 30522, Positions = 512, TokenTypes = 2;

    /// <summary>The tensor list of the real checkpoint (BertModel names, no "bert." prefix), with PyTorch shapes.</summary>
    private static IEnumerable<(string Name, long[] Shape)> ExpectedTensors()
    {
        yield return ("embeddings.word_embeddings.weight", [Vocab, Hidden]);
        yield return ("embeddings.position_embeddings.weight", [Positions, Hidden]);
        yield return ("embeddings.token_type_embeddings.weight", [TokenTypes, Hidden]);
        yield return ("embeddings.LayerNorm.weight", [Hidden]);
        yield return ("embeddings.LayerNorm.bias", [Hidden]);
        for (int i = 0; i < Layers; i++)
        {
            string p = $"encoder.layer.{i}.";
            foreach (string projection in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                yield return (p + projection + ".weight", [Hidden, Hidden]);
                yield return (p + projection + ".bias", [Hidden]);
            }
            yield return (p + "attention.output.LayerNorm.weight", [Hidden]);
            yield return (p + "attention.output.LayerNorm.bias", [Hidden]);
            yield return (p + "intermediate.dense.weight", [Intermediate, Hidden]);
            yield return (p + "intermediate.dense.bias", [Intermediate]);
            yield return (p + "output.dense.weight", [Hidden, Intermediate]);
            yield return (p + "output.dense.bias", [Hidden]);
            yield return (p + "output.LayerNorm.weight", [Hidden]);
            yield return (p + "output.LayerNorm.bias", [Hidden]);
        }
        yield return ("pooler.dense.weight", [Hidden, Hidden]);
        yield return ("pooler.dense.bias", [Hidden]);
    }

    [Fact]
    public void EveryHuggingFaceTensorIsPresentWithItsShapeAndNothingElse()
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(fixture.ModelDirectory, "model.safetensors"));
        var expected = ExpectedTensors().ToList();
        Assert.Equal(expected.Select(e => e.Name).Order(StringComparer.Ordinal), file.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, long[] shape) in expected)
        {
            Assert.Equal(SafeTensorDType.F32, file.Tensors[name].DType);
            Assert.True(shape.SequenceEqual(file.Tensors[name].Shape), $"{name}: [{string.Join(", ", file.Tensors[name].Shape)}], expected [{string.Join(", ", shape)}]");
        }
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Matches("^model\\.onnx sha256:[0-9a-f]{64}$", file.Metadata["source"]);
    }

    [Fact]
    public void EveryConvertedValueEqualsItsOnnxInitializerBitForBit()
    {
        ModelProto model = fixture.OnnxModel;
        BertOnnxGraph bert = BertOnnxGraph.Match(model);
        using SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(fixture.ModelDirectory, "model.safetensors"));
        Assert.Equal(file.Tensors.Count, bert.Tensors.Count);
        foreach (MappedTensor mapped in bert.Tensors)
        {
            float[] onnx = OnnxGraph.ReadFloats(mapped.Source);
            float[] converted = file.ReadFloat32(mapped.Name);
            if (mapped.Transpose) converted = OnnxBertConverter.Transpose(converted, rows: (int)mapped.Shape[0], columns: (int)mapped.Shape[1]); // back to [in, out]
            else Assert.Equal(BertOnnxGraph.NormalizeName(mapped.Source.Name), mapped.Name); // named initializers keep their name
            Assert.True(MemoryMarshal.AsBytes(onnx.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(converted.AsSpan())), $"{mapped.Name} differs from ONNX initializer '{mapped.Source.Name}'");
        }
    }

    /// <summary>Independent of the matcher: initializer ids read off the node list of this export by hand.</summary>
    [Theory]
    [InlineData("927", "encoder.layer.0.attention.self.query.weight")]   // MatMul_34 -> Add_35 (query.bias)
    [InlineData("938", "encoder.layer.0.intermediate.dense.weight")]     // MatMul_112 -> Add_113 (intermediate.dense.bias)
    [InlineData("1004", "encoder.layer.5.output.dense.weight")]          // MatMul_632 -> Add_633 (output.dense.bias)
    public void MatMulWeightTransposedBackEqualsTheOnnxInitializerBytes(string onnxName, string hfName)
    {
        ModelProto model = fixture.OnnxModel;
        TensorProto initializer = model.Graph.Initializer.Single(t => t.Name == onnxName);
        using SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(fixture.ModelDirectory, "model.safetensors"));
        SafeTensorInfo info = file.Tensors[hfName];
        Assert.Equal(new[] { initializer.Dims[1], initializer.Dims[0] }, info.Shape); // [out, in] vs ONNX [in, out]

        float[] weight = file.ReadFloat32(hfName); // [out, in]
        int rows = (int)info.Shape[0], columns = (int)info.Shape[1];
        var back = new float[weight.Length]; // W^T: [in, out]
        for (int o = 0; o < rows; o++)
            for (int i = 0; i < columns; i++)
                back[i * rows + o] = weight[o * columns + i];
        Assert.True(initializer.RawData.Span.SequenceEqual(MemoryMarshal.AsBytes(back.AsSpan())));
    }

    [Fact]
    public void ConfigJsonNumbersAreDerivedFromTheGraph()
    {
        using JsonDocument config = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.ModelDirectory, "config.json")));
        JsonElement c = config.RootElement;
        Assert.Equal("BertModel", c.GetProperty("architectures")[0].GetString());
        Assert.Equal("bert", c.GetProperty("model_type").GetString());
        Assert.Equal("gelu", c.GetProperty("hidden_act").GetString()); // the graph computes x * 0.5 * (1 + erf(x / sqrt 2))
        Assert.Equal(1e-12, c.GetProperty("layer_norm_eps").GetDouble()); // Add-epsilon constant of the decomposed LayerNorm
        Assert.Equal(Hidden, c.GetProperty("hidden_size").GetInt32());
        Assert.Equal(Layers, c.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(Heads, c.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(Intermediate, c.GetProperty("intermediate_size").GetInt32());
        Assert.Equal(Vocab, c.GetProperty("vocab_size").GetInt32());
        Assert.Equal(Positions, c.GetProperty("max_position_embeddings").GetInt32());
        Assert.Equal(TokenTypes, c.GetProperty("type_vocab_size").GetInt32());
        Assert.Equal(0, c.GetProperty("pad_token_id").GetInt32());
        Assert.Equal(0.1, c.GetProperty("hidden_dropout_prob").GetDouble());

        // ... and they agree with the tensors actually written.
        using SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(fixture.ModelDirectory, "model.safetensors"));
        Assert.Equal(c.GetProperty("vocab_size").GetInt64(), file.Tensors["embeddings.word_embeddings.weight"].Shape[0]);
        Assert.Equal(c.GetProperty("max_position_embeddings").GetInt64(), file.Tensors["embeddings.position_embeddings.weight"].Shape[0]);
        Assert.Equal(c.GetProperty("intermediate_size").GetInt64(), file.Tensors["encoder.layer.0.intermediate.dense.weight"].Shape[0]);
        Assert.Equal(c.GetProperty("num_hidden_layers").GetInt32(), file.Tensors.Keys.Count(k => k.EndsWith(".attention.self.query.weight", StringComparison.Ordinal)));
    }

    [Fact]
    public void TokenizerAndSentenceTransformersFilesDescribeMeanPoolingAndNormalization()
    {
        string dir = fixture.ModelDirectory;
        Assert.Equal(File.ReadAllBytes(fixture.VocabPath), File.ReadAllBytes(Path.Combine(dir, "vocab.txt")));

        using JsonDocument tokenizer = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")));
        Assert.True(tokenizer.RootElement.GetProperty("do_lower_case").GetBoolean());
        Assert.Equal(512, tokenizer.RootElement.GetProperty("model_max_length").GetInt32());

        using JsonDocument modules = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "modules.json")));
        Assert.Equal(
            ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling", "sentence_transformers.models.Normalize"],
            modules.RootElement.EnumerateArray().Select(m => m.GetProperty("type").GetString()));
        Assert.Equal("1_Pooling", modules.RootElement[1].GetProperty("path").GetString());

        using JsonDocument pooling = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "1_Pooling", "config.json")));
        Assert.Equal(Hidden, pooling.RootElement.GetProperty("word_embedding_dimension").GetInt32());
        Assert.True(pooling.RootElement.GetProperty("pooling_mode_mean_tokens").GetBoolean());
        Assert.False(pooling.RootElement.GetProperty("pooling_mode_cls_token").GetBoolean());
    }

    [Fact]
    public void FreshConversionReportsTheGraphAndLeavesNoStagingFolder()
    {
        string root = Path.Combine(Path.GetTempPath(), $"crossencoder-convert-{Guid.NewGuid():N}");
        try
        {
            string output = Path.Combine(root, "model");
            OnnxBertConversionReport report = OnnxBertConverter.Convert(fixture.OnnxPath, fixture.VocabPath, output);
            Assert.Equal(ExpectedTensors().Count(), report.TensorCount);
            Assert.Equal(ExpectedTensors().Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)), report.ParameterCount);
            Assert.Equal(new OnnxBertConfig(Vocab, Hidden, Layers, Heads, Intermediate, "gelu", 1e-12, Positions, TokenTypes, 0), report.Config);
            Assert.Equal(["input_ids: Int64[batch, sequence]", "attention_mask: Int64[batch, sequence]", "token_type_ids: Int64[batch, sequence]"], report.Graph.Inputs);
            Assert.Equal("decomposed", report.Graph.LayerNormForm);
            Assert.Equal([output], Directory.GetDirectories(root)); // the staging folder was renamed into place
            Assert.True(report.Elapsed < TimeSpan.FromSeconds(30), $"conversion took {report.Elapsed}");

            // An existing model is not replaced silently.
            Assert.Throws<IOException>(() => OnnxBertConverter.Convert(fixture.OnnxPath, fixture.VocabPath, output));
            Assert.Equal([output], Directory.GetDirectories(root));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
