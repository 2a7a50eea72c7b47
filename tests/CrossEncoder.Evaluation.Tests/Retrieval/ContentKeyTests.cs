using CrossEncoder.Evaluation.Retrieval;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Retrieval;

/// <summary><see cref="ContentKey.OfModel"/>: the dense cache key changes whenever a file that decides the embeddings does.</summary>
public sealed class ContentKeyTests
{
    private static string Folder(params (string Name, string Content)[] files)
    {
        string directory = Fixture.TemporaryDirectory("model-key");
        foreach (var (name, content) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(directory, name))!);
            File.WriteAllText(Path.Combine(directory, name), content);
        }
        return directory;
    }

    [Fact]
    public void A_model_key_covers_sharded_weights_and_every_tokenizer_file()
    {
        // Two fine-tunes of one base, sharded: the same config and index, different weights.
        const string index = """{"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}""";
        string Sharded(string second) => ContentKey.OfModel(Folder(("config.json", "{}"), ("model.safetensors.index.json", index),
            ("model-00001-of-00002.safetensors", "first"), ("model-00002-of-00002.safetensors", second)));
        Assert.Equal(Sharded("second"), Sharded("second"));
        Assert.NotEqual(Sharded("second"), Sharded("other"));

        // A SentencePiece-only folder, and tokenizer_config.json (do_lower_case changes a WordPiece tokenizer's ids).
        string With(string name, string content) => ContentKey.OfModel(Folder(("config.json", "{}"), ("model.safetensors", "w"), (name, content)));
        Assert.NotEqual(With("sentencepiece.bpe.model", "one"), With("sentencepiece.bpe.model", "two"));
        Assert.NotEqual(With("tokenizer_config.json", """{"do_lower_case": true}"""), With("tokenizer_config.json", """{"do_lower_case": false}"""));
    }

    [Fact]
    public void A_model_key_covers_the_weights_of_sentence_transformers_modules()
    {
        // A bi-encoder with a Dense projection: two folders differing only in 2_Dense/model.safetensors embed differently.
        const string modules = """[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]""";
        string WithDense(string weights, string config = "{}") => ContentKey.OfModel(Folder(("config.json", "{}"), ("model.safetensors", "w"), ("modules.json", modules),
            ("1_Pooling/config.json", "{}"), ("2_Dense/config.json", config), ("2_Dense/model.safetensors", weights)));
        Assert.Equal(WithDense("one"), WithDense("one"));
        Assert.NotEqual(WithDense("one"), WithDense("two"));
        Assert.NotEqual(WithDense("one"), WithDense("one", """{"activation_function": "torch.nn.modules.activation.Tanh"}"""));
    }
}
