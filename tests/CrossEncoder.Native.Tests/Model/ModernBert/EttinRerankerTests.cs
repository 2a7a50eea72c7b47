using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.ModernBert;

/// <summary>
/// The Ettin rerankers' layout: a bare <c>ModernBertModel</c> checkpoint whose head is sentence-transformers' module chain
/// Pooling(cls) -> Dense(H, H, no bias, GELU) -> LayerNorm -> Dense(H, 1), config_sentence_transformers.json saying
/// CrossEncoder with an Identity activation. Checked against the double reference's final state pushed through the chain.
/// </summary>
public sealed class EttinRerankerTests
{
    private const int H = 128;

    private sealed record Chain(float[] Dense1, float[] Gamma, float[] Beta, float[] Dense2, float Bias2);

    private static void Json(string folder, string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, path))!);
        File.WriteAllText(Path.Combine(folder, path), text);
    }

    private static float[] Random(System.Random random, int count, double scale, double offset = 0) =>
        Enumerable.Range(0, count).Select(_ => (float)(offset + scale * (random.NextDouble() * 2 - 1))).ToArray();

    private static (string Folder, Chain Chain) EttinFolder()
    {
        var config = ModernBertFolders.ShrunkConfig();
        config["local_attention"] = 8;
        config["classifier_pooling"] = "cls";
        string folder = ModernBertFolders.Write("ettin", config, seed: 41, withClassifier: false);
        var random = new System.Random(5);
        var chain = new Chain(Random(random, H * H, 1.5 / Math.Sqrt(H)), Random(random, H, 0.2, 1), Random(random, H, 0.2), Random(random, H, 1.0), 0.3f);
        Json(folder, "modules.json", """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
             {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
             {"idx": 3, "name": "3", "path": "3_LayerNorm", "type": "sentence_transformers.models.LayerNorm"},
             {"idx": 4, "name": "4", "path": "4_Dense", "type": "sentence_transformers.models.Dense"}]
            """);
        Json(folder, "1_Pooling/config.json", """{"word_embedding_dimension": 128, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}""");
        Json(folder, "2_Dense/config.json", """{"in_features": 128, "out_features": 128, "bias": false, "activation_function": "torch.nn.modules.activation.GELU"}""");
        SafeTensorsWriter.WriteFloat32(Path.Combine(folder, "2_Dense", "model.safetensors"), [new("linear.weight", ([H, H], chain.Dense1))]);
        Json(folder, "3_LayerNorm/config.json", """{"dimension": 128}""");
        SafeTensorsWriter.WriteFloat32(Path.Combine(folder, "3_LayerNorm", "model.safetensors"), [new("norm.weight", ([H], chain.Gamma)), new("norm.bias", ([H], chain.Beta))]);
        Json(folder, "4_Dense/config.json", """{"in_features": 128, "out_features": 1, "bias": true, "activation_function": "torch.nn.modules.linear.Identity"}""");
        SafeTensorsWriter.WriteFloat32(Path.Combine(folder, "4_Dense", "model.safetensors"), [new("linear.weight", ([1, H], chain.Dense2)), new("linear.bias", ([1], [chain.Bias2]))]);
        Json(folder, "config_sentence_transformers.json", """{"model_type": "CrossEncoder", "activation_fn": "torch.nn.modules.linear.Identity", "__version__": {"sentence_transformers": "5.1.0"}}""");
        return (folder, chain);
    }

    private static double Gelu(double x) => 0.5 * x * (1 + SpecialErf(x / Math.Sqrt(2)));

    // erf by its Taylor series (|x| small here: the dense outputs are O(1)); the engine's erf is a different polynomial.
    private static double SpecialErf(double x)
    {
        if (Math.Abs(x) > 5) return Math.Sign(x);
        double sum = 0, term = x;
        for (int n = 0; n < 400 && Math.Abs(term) > 1e-18; n++) { sum += term / (2 * n + 1); term *= -x * x / (n + 1); }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    private static double ReferenceLogit(string folder, Chain chain, int[] ids)
    {
        double[,] last = new NaiveModernBert(folder).Encode(ids);
        var dense = new double[H];
        for (int o = 0; o < H; o++)
        {
            double acc = 0;
            for (int k = 0; k < H; k++) acc += last[0, k] * chain.Dense1[o * H + k];   // CLS row
            dense[o] = Gelu(acc);
        }
        double mean = dense.Average(), variance = dense.Select(v => (v - mean) * (v - mean)).Average();
        double logit = chain.Bias2;
        for (int j = 0; j < H; j++) logit += ((dense[j] - mean) / Math.Sqrt(variance + 1e-5) * chain.Gamma[j] + chain.Beta[j]) * chain.Dense2[j];
        return logit;
    }

    [Fact]
    public void AnEttinStyleRerankerLoadsAsACrossEncoderAndItsRawLogitMatchesTheReference()
    {
        var (folder, chain) = EttinFolder();
        var (model, _) = ModelLoader.Load(folder, Precision.Fp32);
        Assert.Equal(ModelKind.CrossEncoder, model.Description.Kind);
        Assert.Equal(ScoreTransform.Identity, model.Description.ScoreTransform);
        Assert.Equal(1, model.Description.OutputSize);
        foreach (int length in (int[])[12, 40])
        {
            int[] ids = ModernBertFolders.Ids(length, seed: length);
            double expected = ReferenceLogit(folder, chain, ids);
            float logit = ModernBertModelTests.RunEngine(folder, ids)[ModelTaps.Output].Single();
            Assert.True(Math.Abs(logit - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{length} tokens: {logit} vs {expected}");
        }
    }

    [Fact]
    public void QuantizedEttinFolderKeepsItsHeadModulesAndRanksCloseToFp32()
    {
        var (folder, _) = EttinFolder();
        string int8 = folder + "-int8";
        try
        {
            ModelQuantization.WriteQuantizedFolder(folder, int8);
            Assert.True(File.Exists(Path.Combine(int8, "4_Dense", "model.safetensors")));
            int[] ids = ModernBertFolders.Ids(40, seed: 3);
            float fp32 = ModernBertModelTests.RunEngine(folder, ids)[ModelTaps.Output].Single();
            float q = ModernBertModelTests.RunEngine(int8, ids, Precision.Int8)[ModelTaps.Output].Single();
            Assert.NotEqual(fp32, q);                                         // int8 really ran
            Assert.True(Math.Abs(fp32 - q) < 0.1 * Math.Max(1, Math.Abs(fp32)), $"fp32 {fp32} vs int8 {q}");
        }
        finally
        {
            if (Directory.Exists(int8)) Directory.Delete(int8, recursive: true);
        }
    }
}
