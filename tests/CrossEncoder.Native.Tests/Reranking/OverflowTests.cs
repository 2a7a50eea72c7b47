using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tests.Model.ModernBert;
using CrossEncoder.Native.Tests.Model.Qwen;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary>
/// Finite weights whose arithmetic overflows (every value of one matrix 3e38, issue 20): the checkpoint loads, and
/// <see cref="Reranker.Rerank"/> throws a <see cref="ModelComputationException"/> naming the first stage that stopped being
/// finite, in fp32 and int8, for BERT, ModernBERT and Qwen; never a NaN or infinite score, never the softmax kernel's
/// ArgumentException.
/// </summary>
public sealed class OverflowTests : IDisposable
{
    private readonly List<string> _folders = [];
    private readonly TinyBert _bert = new(classifier: true);

    public static TheoryData<string, string, string, Precision> Cases => new()
    {
        { "bert", "encoder.layer.0.attention.output.dense.weight", "layer.0.attention.out", Precision.Fp32 },
        { "bert", "encoder.layer.1.intermediate.dense.weight", "layer.1.ffn.", Precision.Int8 },   // int8: in layer 1's FFN
        { "bert", "classifier.weight", "output", Precision.Fp32 },
        { "modernbert", "model.layers.1.mlp.Wo.weight", "layer.1.ffn.output", Precision.Fp32 },
        { "modernbert", "model.layers.2.attn.Wo.weight", "layer.2.attention.", Precision.Int8 },
        { "qwen", "model.layers.1.mlp.down_proj.weight", "layer.1.ffn.output", Precision.Fp32 },
        { "qwen", "model.layers.0.self_attn.o_proj.weight", "layer.0.attention.", Precision.Int8 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OverflowingActivationsAreAnErrorNamingTheStageNeverAScore(string family, string tensor, string stage, Precision precision)
    {
        string source = family switch
        {
            "bert" => _bert.Directory,
            "modernbert" => Track(ModernBertFolders.CreateRerankerFolder()),
            _ => QwenFolders.Qwen3RerankerWithTokenizer,
        };
        string folder = Track(HostileCheckpoints.WithAll(source, tensor, 3e38f));
        // Finite weights: it loads. (The copy's folder name no longer says qwen3-reranker, so the prompt is named.)
        using var reranker = Reranker.Load(folder, new RerankerOptions { Precision = precision, Prompt = family == "qwen" ? "qwen3-reranker" : null });
        string[] documents = ["the wing produces lift", "a second passage about boundary layers", "third"];
        var error = Assert.Throws<ModelComputationException>(() => reranker.Rerank("how do wings produce lift", documents));
        // The stage (or, for int8, the block) whose weights were inflated: every stage before it is finite.
        Assert.StartsWith(stage, error.Stage);
        Assert.InRange(error.InputIndex, 0, documents.Length - 1);
        Assert.False(float.IsFinite(error.Value));
        Assert.Contains($"'{error.Stage}'", error.Message);
        Assert.Contains("overflowed", error.Message);
    }

    [Fact]
    public void ScoreRefusesNonFiniteOutputsItIsHanded()
    {
        using var reranker = Reranker.Load(_bert.Directory);
        var inputs = reranker.Encode("lift", ["wing", "tail"]);
        var error = Assert.Throws<ModelComputationException>(() => reranker.Score(inputs, [0.5f, float.NaN]));
        Assert.Equal(1, error.InputIndex);
        Assert.Equal(ModelTaps.Output, error.Stage);
    }

    private string Track(string folder) { _folders.Add(folder); return folder; }

    public void Dispose()
    {
        _bert.Dispose();
        foreach (string folder in _folders)
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }
}
