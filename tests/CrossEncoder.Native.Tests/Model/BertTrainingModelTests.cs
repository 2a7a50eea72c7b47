using System.Text.Json;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Training;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// The trainable BERT (<see cref="BertTrainingModel"/>): its forward equals the inference model's, its gradients equal
/// PyTorch autograd's on a committed fixture (tools/autograd/make_bert_fixture.py) and central finite differences of its
/// own forward, with and without dropout, and a head is created for a checkpoint without one.
/// </summary>
public class BertTrainingModelTests
{
    // Float32 forward/backward against PyTorch's float64 on the same float32 weights: relative to the tensor's largest gradient.
    private const double AutogradTolerance = 2e-5;
    // Float32 central differences (step 1e-2 on O(1) weights): truncation ~1e-4 |f'''|, rounding ~1e-7 |loss| / 1e-2.
    private const double FiniteDifferenceAbsolute = 2e-3, FiniteDifferenceRelative = 2e-2;

    private static string FixtureFolder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "bert-autograd");

    private static void Fill(PackedBatch batch, int[][] ids, int[][] types)
    {
        batch.Clear();
        for (int s = 0; s < ids.Length; s++) batch.Add(ids[s], types[s]);
    }

    /// <summary>BCE-with-logits, mean over the batch, and its gradient with respect to the logits (the fixture's loss).</summary>
    private static (double Loss, float[] Gradient) BinaryCrossEntropy(ReadOnlySpan<float> logits, double[] labels)
    {
        double loss = 0;
        var gradient = new float[logits.Length];
        for (int i = 0; i < logits.Length; i++)
        {
            double z = logits[i], y = labels[i];
            loss += Math.Max(z, 0) - z * y + Math.Log(1 + Math.Exp(-Math.Abs(z)));
            gradient[i] = (float)((1 / (1 + Math.Exp(-z)) - y) / logits.Length);
        }
        return (loss / logits.Length, gradient);
    }

    [Fact]
    public void GradientsEqualPyTorchAutogradOnTheFixture()
    {
        using var fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFolder, "fixture.json")));
        var root = fixture.RootElement;
        int[][] ids = root.GetProperty("input_ids").EnumerateArray().Select(a => a.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        int[][] types = root.GetProperty("token_type_ids").EnumerateArray().Select(a => a.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        double[] labels = root.GetProperty("labels").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] expectedLogits = root.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();

        foreach (var isa in new[] { KernelIsa.Portable, KernelIsa.Avx2, KernelIsa.Avx512 })
        {
            var model = BertTrainingModel.Load(FixtureFolder, capabilities: KernelCapabilities.Default with { Isa = isa });
            var workspace = model.CreateWorkspace(64, 8, 32);
            Fill(workspace.Batch, ids, types);
            var logits = model.Forward(workspace, dropoutSeed: null).ToArray();
            for (int i = 0; i < logits.Length; i++) Assert.Equal(expectedLogits[i], logits[i], 5);
            var (loss, dLogits) = BinaryCrossEntropy(logits, labels);
            Assert.Equal(root.GetProperty("loss").GetDouble(), loss, 5);
            model.ZeroGradients();
            model.Backward(workspace, dLogits);

            using var gradients = SafeTensorsFile.Open(Path.Combine(FixtureFolder, "gradients.safetensors"));
            Assert.Equal(gradients.Tensors.Keys.Order(), model.Parameters.Select(p => p.Name).Order());
            // A tensor whose gradient is zero in exact arithmetic (the key bias: softmax ignores a per-row shift) is judged
            // against 1 % of the largest gradient of the model instead of its own round-off.
            double floor = 0.01 * model.Parameters.Max(p => gradients.ReadFloat32(p.Name).Max(Math.Abs));
            foreach (var parameter in model.Parameters)
            {
                var expected = gradients.ReadFloat32(parameter.Name);
                double scale = Math.Max(floor, expected.Max(Math.Abs));
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(parameter.Gradient[i] - expected[i]) <= AutogradTolerance * scale,
                        $"{isa} {parameter.Name}[{i}]: {parameter.Gradient[i]:R}, autograd {expected[i]:R} (scale {scale:E2})");
            }
        }
    }

    [Fact]
    public void ForwardWithoutDropoutEqualsTheInferenceModel()
    {
        using var tiny = new TinyBert(classifier: true, prefix: "bert.");
        var inference = BertModel.Load(tiny.Directory);
        var training = BertTrainingModel.Load(tiny.Directory);
        int[][] ids = [[101, 104, 105, 102, 110, 111, 102], [101, 120, 102], [101, 106, 107, 108, 109, 102, 112, 113, 114, 115, 116, 117, 102]];
        int[][] types = ids.Select(s => s.Select((_, i) => i < s.Length / 2 ? 0 : 1).ToArray()).ToArray();
        var inferenceWorkspace = inference.CreateWorkspace(64, 8, 40);
        var trainingWorkspace = training.CreateWorkspace(64, 8, 40);
        Fill(inferenceWorkspace.Batch, ids, types);
        Fill(trainingWorkspace.Batch, ids, types);
        var expected = inference.Forward(inferenceWorkspace).ToArray();
        var actual = training.Forward(trainingWorkspace, dropoutSeed: null).ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"logit {i}: {actual[i]} vs {expected[i]}");
        // Dropout changes the logits, reproducibly from the seed.
        var dropped = training.Forward(trainingWorkspace, dropoutSeed: 3).ToArray();
        Assert.NotEqual(actual, dropped);
        Assert.Equal(dropped, training.Forward(trainingWorkspace, dropoutSeed: 3).ToArray());
    }

    [Theory]
    [InlineData(null)]
    [InlineData(11)]
    public void GradientsEqualFiniteDifferencesOfTheForward(int? dropoutSeed)
    {
        using var tiny = new TinyBert(classifier: false, prefix: "", withPooler: false, editConfig: c => { c["hidden_dropout_prob"] = 0.2; c["attention_probs_dropout_prob"] = 0.2; });
        var model = BertTrainingModel.Load(tiny.Directory, headSeed: 5);
        Assert.Contains(model.Parameters, p => p.Name == "bert.pooler.dense.weight");   // created: the checkpoint had none
        Assert.Contains(model.Parameters, p => p.Name == "classifier.weight");
        Assert.Equal(1, model.OutputSize);
        var workspace = model.CreateWorkspace(64, 8, 40);
        int[][] ids = [[101, 104, 105, 106, 102, 110, 102], [101, 120, 121, 102, 122, 123, 124, 125, 102]];
        int[][] types = [[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1, 1, 1, 1]];
        Fill(workspace.Batch, ids, types);
        float[] weights = [0.7f, -1.3f];
        double Loss()
        {
            var logits = model.Forward(workspace, dropoutSeed);
            return weights[0] * (double)logits[0] + weights[1] * (double)logits[1];
        }
        Loss();
        model.ZeroGradients();
        model.Backward(workspace, weights);
        var random = new Random(9);
        foreach (var parameter in model.Parameters)
        {
            // A few entries of every tensor; for the embedding tables, rows the batch uses.
            var candidates = parameter.Name.Contains("word_embeddings") ? new[] { 104 * 16 + 3, 120 * 16 + 7, 101 * 16 }
                : Enumerable.Range(0, 3).Select(_ => random.Next(parameter.Value.Length)).ToArray();
            foreach (int index in candidates)
            {
                float saved = parameter.Value[index];
                const float step = 1e-2f;
                parameter.Value[index] = saved + step; double plus = Loss();
                parameter.Value[index] = saved - step; double minus = Loss();
                parameter.Value[index] = saved;
                double fd = (plus - minus) / (2 * step), analytic = parameter.Gradient[index];
                Assert.True(Math.Abs(fd - analytic) <= FiniteDifferenceAbsolute + FiniteDifferenceRelative * Math.Abs(fd),
                    $"{parameter.Name}[{index}] (dropout seed {dropoutSeed}): backward {analytic:R}, finite difference {fd:R}");
            }
        }
    }

    [Fact]
    public void SavedWeightsLoadAsAnInferenceCrossEncoderWithTheSameLogits()
    {
        using var tiny = new TinyBert(classifier: false, prefix: "");
        var model = BertTrainingModel.Load(tiny.Directory, headSeed: 1);
        string folder = Path.Combine(Path.GetTempPath(), "trained-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            model.SaveWeights(Path.Combine(folder, "model.safetensors"));
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(tiny.Directory, "config.json")))!.AsObject();
            config["architectures"] = new System.Text.Json.Nodes.JsonArray("BertForSequenceClassification");
            config["id2label"] = new System.Text.Json.Nodes.JsonObject { ["0"] = "LABEL_0" };
            File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
            var inference = BertModel.Load(folder);
            Assert.Equal(ModelKind.CrossEncoder, inference.Kind);
            int[][] ids = [[101, 104, 102, 105, 102]];
            int[][] types = [[0, 0, 0, 1, 1]];
            var a = inference.CreateWorkspace(16, 2, 40);
            var b = model.CreateWorkspace(16, 2, 40);
            Fill(a.Batch, ids, types);
            Fill(b.Batch, ids, types);
            Assert.Equal(inference.Forward(a)[0], model.Forward(b, null)[0], 5);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void OtherFamiliesAndMisuseGiveClearErrors()
    {
        using var roberta = new TinyBert(classifier: false, editConfig: c => { c["model_type"] = "roberta"; c["architectures"] = new[] { "RobertaModel" }; c["type_vocab_size"] = 2; });
        var error = Assert.Throws<ModelFormatException>(() => BertTrainingModel.Load(roberta.Directory));
        Assert.Contains("roberta", error.Message);
        using var tiny = new TinyBert(classifier: true);
        var model = BertTrainingModel.Load(tiny.Directory);
        var workspace = model.CreateWorkspace(16, 2, 40);
        workspace.Batch.Add([101, 104, 102], [0, 0, 0]);
        Assert.Throws<InvalidOperationException>(() => model.Backward(workspace, new float[1]));
        model.Forward(workspace, null);
        Assert.Throws<ArgumentException>(() => model.Backward(workspace, new float[2]));
    }
}
