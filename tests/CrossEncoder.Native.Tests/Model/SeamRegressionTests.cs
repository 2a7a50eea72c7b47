using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tests.Tokenization;
using CrossEncoder.Native.Tests.Verification;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// The defects found when the BERT-family switch was replaced by the model seam (issue 15), each checked on the families the
/// old side paths missed: RoBERTa / XLM-R and ELECTRA.
/// </summary>
public class SeamRegressionTests
{
    private static TinyEncoder Folder(string family)
    {
        var tiny = new TinyEncoder(family, maxPositions: 66, vocab: 3002);
        File.Copy(PipelineFixtures.UnigramTokenizerJson, Path.Combine(tiny.Directory, "tokenizer.json"));
        File.WriteAllText(Path.Combine(tiny.Directory, "tokenizer_config.json"), """{"model_max_length": 64}""");
        return tiny;
    }

    [Theory]
    [InlineData("xlm-roberta")]
    [InlineData("electra")]
    public void QuantizeWritesEveryEncoderLinearAsInt8WhateverTheFamilysPrefix(string family)
    {
        // Before: only the "bert." prefix was stripped before matching, so roberta./electra. linears were all written as F32.
        using var tiny = Folder(family);
        string output = Path.Combine(Path.GetTempPath(), "quantized-" + Guid.NewGuid().ToString("N"));
        try
        {
            ModelQuantization.WriteQuantizedFolder(tiny.Directory, output);
            using var file = SafeTensorsFile.Open(Path.Combine(output, "model.safetensors"));
            for (int i = 0; i < TinyEncoder.Layers; i++)
                foreach (string module in (string[])["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"])
                {
                    string name = $"{tiny.Prefix}encoder.layer.{i}.{module}.weight";
                    Assert.Equal(SafeTensorDType.I8, file.Tensors[name].DType);
                    Assert.Equal(SafeTensorDType.F32, file.Tensors[name + "_scale"].DType);
                }
            Assert.Equal(SafeTensorDType.I8, file.Tensors[tiny.Prefix + "embeddings.word_embeddings.weight"].DType);
            Assert.Equal(SafeTensorDType.F32, file.Tensors["classifier.dense.weight"].DType);   // heads stay fp32
            // And the folder runs: int8 from the file equals int8 quantized at load, bit for bit.
            using var fromFile = Reranker.Load(output, new RerankerOptions { Precision = Precision.Int8 });
            using var atLoad = Reranker.Load(tiny.Directory, new RerankerOptions { Precision = Precision.Int8 });
            string[] docs = ["heat transfer in a boundary layer", "wing lift at low speed"];
            Assert.Equal(atLoad.Rerank("boundary layer", docs).Select(r => r.Logit), fromFile.Rerank("boundary layer", docs).Select(r => r.Logit));
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }

    [Theory]
    [InlineData("xlm-roberta")]
    [InlineData("electra")]
    public void TheInt8CosineChecksCompareTheHeadsHiddenVectorNotTheOneWideLogit(string family)
    {
        // Before: the cosine came from the "pooler" tap, which RoBERTa and ELECTRA heads lack, so it compared 1-wide logits
        // (cosine exactly 1 whatever int8 did). Now every family reports head.hidden, H wide.
        using var tiny = Folder(family);
        var fp32 = BertModel.Load(tiny.Directory, Precision.Fp32);
        var int8 = BertModel.Load(tiny.Directory, Precision.Int8);
        var workspace = fp32.CreateWorkspace(64, 2, 32);
        workspace.Batch.Add([0, 5, 6, 2], [0, 0, 0, 0]);
        int width = 0;
        fp32.Forward(workspace, (name, _, _, columns) => { if (name == ModelTaps.HeadHidden) width = columns; });
        Assert.Equal(TinyEncoder.Hidden, width);

        var tokenizer = global::CrossEncoder.Native.Tokenization.TokenizerLoader.FromModelFolder(tiny.Directory);
        var quick = PrecisionGate.QuickCheck(fp32, int8, tokenizer);
        Assert.InRange(quick.MinCosine, 0.5, 1 - 1e-7);   // int8 really moves the vector: the check measures something
        var sample = IrSample.Load().Where(r => r.Collection == "cranfield").GroupBy(r => r.QueryId).Take(2)
            .Select(g => new RankingQuery(g.First().Query, g.Select(r => r.Document).ToArray(), g.Select(r => r.Relevant ? 1 : 0).ToArray())).ToList();
        var report = PrecisionGate.Run(fp32, int8, tokenizer, sample, maxLength: 512);
        Assert.InRange(report.MinCosine, 0.5, 1 - 1e-7);
    }

    [Fact]
    public void TheGateCutsPairsAtTheModelsLimitNotAtItsPositionTableSize()
    {
        // Before: the gate capped its length at max_position_embeddings (66 here), two more than RoBERTa's 64 usable
        // positions, so a long document made the batch refuse the pair.
        using var tiny = Folder("xlm-roberta");
        var fp32 = BertModel.Load(tiny.Directory, Precision.Fp32);
        var tokenizer = global::CrossEncoder.Native.Tokenization.TokenizerLoader.FromModelFolder(tiny.Directory);
        string longText = string.Join(' ', Enumerable.Repeat("transition of the laminar boundary layer", 40));
        var queries = new[] { new RankingQuery("boundary layer", [longText, "lift"], [1, 0]) };
        var report = PrecisionGate.Run(fp32, BertModel.Load(tiny.Directory, Precision.Int8), tokenizer, queries, maxLength: 512);
        Assert.Equal(2, report.Pairs);
    }

    [Fact]
    public void OneNdcgDefinitionTrecEvalsLinearGains()
    {
        // Before: the gate's nDCG@10 used 2^g - 1 gains and eval's trec_eval linear gains, both printed as "nDCG@10".
        // Gains (2, 1) ranked in reverse: trec_eval: (1 + 2/log2 3) / (2 + 1/log2 3) = 0.7967; exponential gains: 0.7304.
        double linear = (1 + 2 / Math.Log2(3)) / (2 + 1 / Math.Log2(3));
        Assert.Equal(linear, AgreementMetrics.NdcgAt10([0.1, 0.9], [2, 1]), 12);
        var evalMetrics = Evaluation.Metrics.RankingMetrics.Ndcg([new("a", 0.1), new("b", 0.9)], new Dictionary<string, int> { ["a"] = 2, ["b"] = 1 }, 10);
        Assert.Equal(evalMetrics, AgreementMetrics.NdcgAt10([0.1, 0.9], [2, 1]), 12);
    }

    [Fact]
    public void ConstantScoreListsAgreeTheSameWayInTheQuickCheckAndTheGate()
    {
        // Before: the quick check called two constant lists uncorrelated (0), the gate called them equal (1).
        Assert.Equal(1, AgreementMetrics.Spearman([0.5, 0.5, 0.5], [0.2, 0.2, 0.2]));
        Assert.Equal(0, AgreementMetrics.Spearman([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]));
    }

    [Fact]
    public void TheLoaderNamesTheSupportedModelTypes()
    {
        using var tiny = Folder("electra");
        File.WriteAllText(Path.Combine(tiny.Directory, "config.json"), """{"model_type": "mamba", "architectures": ["MambaForCausalLM"]}""");
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(tiny.Directory, Precision.Fp32));
        Assert.Contains("model_type 'mamba' is not supported", e.Message);
        Assert.Contains("bert, roberta, xlm-roberta, electra", e.Message);
    }
    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("[1, 2]", "the top level must be a JSON object")]
    [InlineData("""{"model_type": 5}""", "field 'model_type' must be a string, got 5")]
    [InlineData("""{"model_type": "bert", "architectures": "BertModel"}""", "field 'architectures' must be an array of strings")]
    [InlineData("""{"model_type": "bert", "architectures": [1]}""", "field 'architectures' must be an array of strings")]
    [InlineData("""{"model_type": "\u0000\u001b[31m"}""", "is not supported")]
    public void AMalformedConfigIsOneClearErrorBeforeAnyFamilyRuns(string json, string expected)
    {
        using var tiny = Folder("electra");
        File.WriteAllText(Path.Combine(tiny.Directory, "config.json"), json);
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(tiny.Directory, Precision.Fp32));
        Assert.Contains(expected, e.Message);
        Assert.Throws<ModelFormatException>(() => Reranker.Load(tiny.Directory));
    }

    [Fact]
    public void TheLoaderRefusesAMissingFolderAndAnUndefinedPrecision()
    {
        Assert.Throws<DirectoryNotFoundException>(() => ModelLoader.Load(Path.Combine(Path.GetTempPath(), "no-model-" + Guid.NewGuid().ToString("N")), Precision.Fp32));
        using var tiny = Folder("electra");
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelLoader.Load(tiny.Directory, (Precision)42));
        Assert.Throws<ArgumentNullException>(() => ModelLoader.Load(tiny.Directory, Precision.Auto, tokenizer: null));
    }

    [Fact]
    public void TheGateRefusesScoreListsThatDoNotMatchTheQueries()
    {
        var queries = new[] { new RankingQuery("q", ["a", "b"], [1, 0]) };
        Assert.Throws<ArgumentException>(() => PrecisionGate.Compare(queries, [[0.1, 0.2]], [[0.1]], 1));
        Assert.Throws<ArgumentException>(() => PrecisionGate.Compare(queries, [], [], 1));
        using var tiny = Folder("electra");
        Assert.Throws<ArgumentException>(() => PrecisionGate.Run(tiny.Directory, tiny.Directory, []));
    }

    [Fact]
    public void EncodeTextsOnACrossEncoderAndBadLengthsAreClearErrors()
    {
        using var tiny = Folder("electra");
        using var reranker = Reranker.Load(tiny.Directory);
        Assert.Contains("cross-encoder", Assert.Throws<InvalidOperationException>(() => reranker.EncodeTexts(["a"])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", ["d"], new RerankOptions { MaxLength = 2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Encode("q", ["d"], new RerankOptions { MaxLength = int.MaxValue }));
        Assert.Throws<ArgumentNullException>(() => reranker.Encode("q", [null!]));
        string huge = new('x', 200_000);
        var result = Assert.Single(reranker.Rerank(huge, [huge]));
        Assert.True(result.Truncation.Truncated);
        Assert.True(float.IsFinite(result.Score));
    }
}
