using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>Every way a model folder can be wrong gets a typed error that names the file and the problem.</summary>
public class ModelLoadingErrorTests
{
    [Fact]
    public void MissingAndUnexpectedTensorsAreAllListed()
    {
        using var tiny = new TinyBert(classifier: true, edit: t =>
        {
            t.Remove("encoder.layer.1.intermediate.dense.weight");
            t.Remove("classifier.bias");
            t["encoder.layer.9.output.dense.weight"] = ([2], [1f, 2f]);
        });
        var e = Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("Missing (2): ", e.Message);
        Assert.Contains("encoder.layer.1.intermediate.dense.weight [24, 16]", e.Message);
        Assert.Contains("classifier.bias [1]", e.Message);
        Assert.Contains("Unexpected (1): encoder.layer.9.output.dense.weight", e.Message);
    }

    [Theory]
    [InlineData("encoder.layer.1.output.dense.weight", float.NaN, 5)]
    [InlineData("encoder.layer.0.attention.self.query.weight", float.PositiveInfinity, 17)]
    [InlineData("embeddings.word_embeddings.weight", float.NaN, 40)]
    public void ANonFiniteWeightIsRefusedInFp32AndInt8(string tensor, float value, int index)
    {
        // fp32 would return NaN scores; int8 would round the value to some integer and return finite, wrong ones.
        using var tiny = new TinyBert(classifier: true, edit: t => t[tensor].Data[index] = value);
        foreach (var precision in (Precision[])[Precision.Fp32, Precision.Int8])
        {
            var e = Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory, precision));
            Assert.Contains($"tensor '{tensor}' holds {value} at [", e.Message);
            Assert.Contains("every weight must be a finite number", e.Message);
        }
        string output = Path.Combine(Path.GetTempPath(), "ce-nonfinite-" + Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Throws<ModelFormatException>(() => ModelQuantization.WriteQuantizedFolder(tiny.Directory, output));
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void AClassifierInABertModelCheckpointIsUnexpectedNotIgnored()
    {
        // A cross-encoder checkpoint whose config says BertModel would otherwise silently lose its head and score by cosine.
        using var tiny = new TinyBert(classifier: true, editConfig: c => c["architectures"] = new[] { "BertModel" });
        var e = Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory));
        Assert.Contains("Unexpected (2): classifier.bias, classifier.weight", e.Message);
    }

    [Fact]
    public void AWrongShapeNamesTheTensorAndBothShapes()
    {
        using var tiny = new TinyBert(classifier: false, edit: t => t["encoder.layer.0.attention.self.key.weight"] = ([16, 8], new float[128]));
        var e = Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory));
        Assert.Contains("'encoder.layer.0.attention.self.key.weight' has shape [16, 8]; the config implies [16, 16]", e.Message);
    }

    [Theory]
    [InlineData("hidden_act", "\"relu\"", "hidden_act 'relu' is not supported")]
    [InlineData("model_type", "\"deberta-v2\"", "model_type 'deberta-v2' is not supported")]
    [InlineData("num_attention_heads", "5", "hidden_size 16 is not a multiple of num_attention_heads 5")]
    [InlineData("hidden_size", "\"sixteen\"", "field 'hidden_size' must be an integer")]
    [InlineData("hidden_size", "-16", "hidden_size must be positive")]
    [InlineData("layer_norm_eps", "0", "layer_norm_eps must be in (0, 1)")]
    [InlineData("position_embedding_type", "\"relative_key\"", "position_embedding_type 'relative_key' is not supported")]
    [InlineData("architectures", "[\"RobertaForSequenceClassification\"]", "architecture 'RobertaForSequenceClassification' is not supported")]
    [InlineData("pad_token_id", "99999", "pad_token_id 99999 is outside the vocabulary")]
    public void UnsupportedConfigValuesAreRejected(string field, string json, string expected)
    {
        using var tiny = new TinyBert(classifier: false);
        string path = Path.Combine(tiny.Directory, "config.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config[field] = System.Text.Json.Nodes.JsonNode.Parse(json);
        File.WriteAllText(path, config.ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory));
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 16,", "not valid JSON")]
    [InlineData("[1, 2]", "must be a JSON object")]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"vocab_size\": 10}", "required field 'hidden_size' is missing")]
    public void MalformedConfigJsonIsRejected(string content, string expected)
    {
        using var tiny = new TinyBert(classifier: false);
        File.WriteAllText(Path.Combine(tiny.Directory, "config.json"), content);
        Assert.Contains(expected, Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory)).Message);
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        using var tiny = new TinyBert(classifier: false);
        Assert.Throws<DirectoryNotFoundException>(() => BertModel.Load(Path.Combine(tiny.Directory, "nope")));
        File.Move(Path.Combine(tiny.Directory, "model.safetensors"), Path.Combine(tiny.Directory, "pytorch_model.bin"));
        Assert.Contains("pytorch_model.bin is a pickle", Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory)).Message);
        File.Delete(Path.Combine(tiny.Directory, "config.json"));
        Assert.Contains("config.json not found", Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory)).Message);
    }

    [Fact]
    public void UnsupportedSentenceTransformersModulesAreRejected()
    {
        using var tiny = new TinyBert(classifier: false);
        File.WriteAllText(Path.Combine(tiny.Directory, "modules.json"), """[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_LSTM","type":"sentence_transformers.models.LSTM"}]""");
        Assert.Contains("'sentence_transformers.models.LSTM' is not supported", Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory)).Message);
    }
}
