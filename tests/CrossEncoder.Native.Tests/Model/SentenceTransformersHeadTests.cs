using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// sentence-transformers module chains as heads (<see cref="SentenceTransformersHead"/>) on tiny BERT folders: the engine's
/// chain against an independent double-precision reference computed from the model's own tapped last hidden state, the
/// folder errors, and a Reranker end to end on a 5.x CrossEncoder folder laid out as the Ettin rerankers are.
/// </summary>
public class SentenceTransformersHeadTests
{
    /// <summary>fp32 chain (GEMM, GELU polynomial, LayerNorm) vs double on O(1) vectors of width 16: ~1e-6 in practice.</summary>
    private const double Tolerance = 1e-5;

    private const int H = TinyBert.Hidden;

    private static readonly int[][] Sequences =
    [
        [101, 104, 105, 102, 106, 107, 108, 102],
        [101, 110, 102],
        [101, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 102, 104, 105, 106, 102],
        [101, 102],
        [101, 133, 102, 120, 121, 100, 102],
    ];

    // ---- folder writing ----------------------------------------------------------------------------------------------

    private static void WriteJson(string directory, string relativePath, object value)
    {
        string path = Path.Combine(directory, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, JsonSerializer.Serialize(value));
    }

    private static void WriteTensors(string directory, string module, Dictionary<string, (long[] Shape, float[] Data)> tensors) =>
        SafeTensorsWriter.WriteFloat32(Path.Combine(directory, module, "model.safetensors"),
            tensors.Select(t => new KeyValuePair<string, (long[], float[])>(t.Key, (t.Value.Shape, t.Value.Data))));

    private static float[] Random(Random random, int count, float scale, float offset = 0) =>
        Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale) + offset).ToArray();

    private static object Module(int index, string path, string type) => new Dictionary<string, object> { ["idx"] = index, ["name"] = index.ToString(), ["path"] = path, ["type"] = type };

    /// <summary>The weights of the Ettin-style chain, kept for the reference.</summary>
    internal sealed record EttinWeights(float[] Dense1, float[] Gamma, float[] Beta, float[] Dense2, float Bias2);

    /// <summary>Pooling(cls) -> Dense(H->H, no bias, GELU) -> LayerNorm(H) -> Dense(H->1, Identity), with the 5.x module
    /// type names and config layouts, and config_sentence_transformers.json saying CrossEncoder (activation_fn optional).</summary>
    internal static EttinWeights WriteEttinChain(string directory, string? activation = "torch.nn.modules.linear.Identity", int seed = 3)
    {
        var random = new Random(seed);
        var weights = new EttinWeights(Random(random, H * H, 0.5f), Random(random, H, 0.2f, 1f), Random(random, H, 0.2f), Random(random, H, 0.6f), Random(random, 1, 0.5f)[0]);
        WriteJson(directory, "modules.json", new[]
        {
            Module(0, "", "sentence_transformers.base.modules.transformer.Transformer"),
            Module(1, "1_Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling"),
            Module(2, "2_Dense", "sentence_transformers.base.modules.dense.Dense"),
            Module(3, "3_LayerNorm", "sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm"),
            Module(4, "4_Dense", "sentence_transformers.base.modules.dense.Dense"),
        });
        WriteJson(directory, "1_Pooling/config.json", new Dictionary<string, object> { ["embedding_dimension"] = H, ["pooling_mode"] = "cls", ["include_prompt"] = true });
        WriteJson(directory, "2_Dense/config.json", new Dictionary<string, object>
        {
            ["in_features"] = H, ["out_features"] = H, ["bias"] = false, ["activation_function"] = "torch.nn.modules.activation.GELU",
            ["module_input_name"] = "sentence_embedding", ["module_output_name"] = "sentence_embedding", ["use_residual"] = false,
        });
        WriteTensors(directory, "2_Dense", new() { ["linear.weight"] = ([H, H], weights.Dense1) });
        WriteJson(directory, "3_LayerNorm/config.json", new Dictionary<string, object> { ["dimension"] = H });
        WriteTensors(directory, "3_LayerNorm", new() { ["norm.weight"] = ([H], weights.Gamma), ["norm.bias"] = ([H], weights.Beta) });
        WriteJson(directory, "4_Dense/config.json", new Dictionary<string, object>
        {
            ["in_features"] = H, ["out_features"] = 1, ["bias"] = true, ["activation_function"] = "torch.nn.modules.linear.Identity",
            ["module_input_name"] = "sentence_embedding", ["module_output_name"] = "scores",
        });
        WriteTensors(directory, "4_Dense", new() { ["linear.weight"] = ([1, H], weights.Dense2), ["linear.bias"] = ([1], [weights.Bias2]) });
        var stConfig = new Dictionary<string, object?>
        {
            ["model_type"] = "CrossEncoder", ["__version__"] = new Dictionary<string, string> { ["sentence_transformers"] = "5.1.0" },
            ["prompts"] = new Dictionary<string, string>(), ["default_prompt_name"] = null,
        };
        if (activation is not null) stConfig["activation_fn"] = activation;
        WriteJson(directory, "config_sentence_transformers.json", stConfig);
        return weights;
    }

    /// <summary>A BERT folder without a classification head (BertModel), as ModernBERT's Ettin checkpoints are ModernBertModel.</summary>
    private static TinyBert HeadlessBert() => new(classifier: false, withPooler: false);

    // ---- the double reference ----------------------------------------------------------------------------------------

    /// <summary>erf by its Maclaurin series (exact to ~1e-13 for |x| &lt; 4 in double; |erf| = 1 - 1.5e-8 at 4 and beyond).</summary>
    private static double Erf(double x)
    {
        if (Math.Abs(x) >= 6) return Math.Sign(x);
        double sum = 0, term = x;   // term_n = (-1)^n x^(2n+1) / n!
        for (int n = 0; n < 200; n++)
        {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    private static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>y[out] = act(W[out, in] x + b).</summary>
    private static double[] Dense(double[] x, float[] w, float[]? b, int outFeatures, Func<double, double> activation) =>
        Enumerable.Range(0, outFeatures).Select(o => activation(Enumerable.Range(0, x.Length).Sum(i => (double)w[o * x.Length + i] * x[i]) + (b?[o] ?? 0))).ToArray();

    private static double[] LayerNorm(double[] x, float[] gamma, float[] beta, double eps)
    {
        double mean = x.Average(), variance = x.Sum(v => (v - mean) * (v - mean)) / x.Length;
        return x.Select((v, i) => (v - mean) / Math.Sqrt(variance + eps) * gamma[i] + beta[i]).ToArray();
    }

    private static double[] Normalize(double[] x)
    {
        double norm = Math.Sqrt(x.Sum(v => v * v));
        return x.Select(v => v / Math.Max(norm, 1e-12)).ToArray();
    }

    /// <summary>Runs the model with a tap and returns the last hidden state, head.hidden and the output.</summary>
    private static (float[] Hidden, float[] HeadHidden, float[] Output, BertWorkspace Workspace) RunTapped(BertModel model)
    {
        var workspace = model.CreateWorkspace(256, Sequences.Length);
        foreach (var ids in Sequences) workspace.Batch.Add(ids, new int[ids.Length]);
        float[] hidden = [], headHidden = [];
        string last = ModelTaps.Layer(TinyBert.Layers - 1);
        float[] output = model.Forward(workspace, (name, values, _, _) =>
        {
            if (name == last) hidden = values.ToArray();
            if (name == ModelTaps.HeadHidden) headHidden = values.ToArray();
        }).ToArray();
        return (hidden, headHidden, output, workspace);
    }

    private static double[] Row(float[] hidden, int row) => hidden.AsSpan(row * H, H).ToArray().Select(v => (double)v).ToArray();

    // ---- tests --------------------------------------------------------------------------------------------------------

    [Fact]
    public void AnEttinStyleCrossEncoderChainMatchesTheDoubleReference()
    {
        using var tiny = HeadlessBert();
        var w = WriteEttinChain(tiny.Directory);
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(ModelKind.CrossEncoder, model.Kind);
        Assert.Equal(1, model.Description.OutputSize);
        Assert.Equal(ScoreTransform.Identity, model.Description.ScoreTransform);
        var head = model.SentenceHead!;
        Assert.True(head.IsScore);
        Assert.Equal(H, head.HeadHiddenSize);
        Assert.Equal($"Pooling(cls) -> Dense({H}->{H}, no bias, Gelu) -> LayerNorm({H}) -> Dense({H}->1, Identity)", head.ToString());

        var (hidden, headHidden, logits, workspace) = RunTapped(model);
        Assert.Equal(Sequences.Length, logits.Length);
        Assert.Equal(Sequences.Length * H, headHidden.Length);
        for (int s = 0; s < Sequences.Length; s++)
        {
            double[] cls = Row(hidden, workspace.Batch.Starts[s]);                                    // Pooling(cls)
            double[] dense = Dense(cls, w.Dense1, null, H, Gelu);                                     // GELU(W1 x)
            double[] normed = LayerNorm(dense, w.Gamma, w.Beta, 1e-5);                               // LayerNorm, torch's eps
            double logit = Dense(normed, w.Dense2, [w.Bias2], 1, v => v)[0];                         // W2 x + b2
            Assert.Equal(logit, logits[s], Tolerance);
            for (int k = 0; k < H; k++) Assert.Equal(normed[k], headHidden[s * H + k], Tolerance);   // what the last Dense reads
        }

        // Without a tap the last layer computes the [CLS] rows only (CLS pooling reads nothing else): the same logits.
        var fresh = model.CreateWorkspace(256, Sequences.Length);
        foreach (var ids in Sequences) fresh.Batch.Add(ids, new int[ids.Length]);
        float[] shortcut = model.Forward(fresh).ToArray();
        for (int s = 0; s < Sequences.Length; s++) Assert.Equal(logits[s], shortcut[s], 1e-5);
    }

    [Fact]
    public void AMeanDenseTanhNormalizeBiEncoderMatchesTheDoubleReference()
    {
        // The 2.x-4.x layout: module types sentence_transformers.models.*, pooling as one boolean per mode.
        using var tiny = HeadlessBert();
        const int Out = 8;
        var random = new Random(5);
        float[] weight = Random(random, Out * H, 0.5f), bias = Random(random, Out, 0.3f);
        WriteJson(tiny.Directory, "modules.json", new[]
        {
            Module(0, "", "sentence_transformers.models.Transformer"), Module(1, "1_Pooling", "sentence_transformers.models.Pooling"),
            Module(2, "2_Dense", "sentence_transformers.models.Dense"), Module(3, "3_Normalize", "sentence_transformers.models.Normalize"),
        });
        WriteJson(tiny.Directory, "1_Pooling/config.json", new Dictionary<string, object>
        {
            ["word_embedding_dimension"] = H, ["pooling_mode_cls_token"] = false, ["pooling_mode_mean_tokens"] = true, ["pooling_mode_max_tokens"] = false,
            ["pooling_mode_mean_sqrt_len_tokens"] = false, ["pooling_mode_weightedmean_tokens"] = false, ["pooling_mode_lasttoken"] = false, ["include_prompt"] = true,
        });
        WriteJson(tiny.Directory, "2_Dense/config.json", new Dictionary<string, object>
            { ["in_features"] = H, ["out_features"] = Out, ["bias"] = true, ["activation_function"] = "torch.nn.modules.activation.Tanh" });
        WriteTensors(tiny.Directory, "2_Dense", new() { ["linear.weight"] = ([Out, H], weight), ["linear.bias"] = ([Out], bias) });
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(ModelKind.BiEncoder, model.Kind);
        Assert.Equal(ScoreTransform.Cosine, model.Description.ScoreTransform);
        Assert.Equal(Out, model.Description.OutputSize);
        Assert.False(model.SentenceHead!.IsScore);
        Assert.Equal($"Pooling(mean) -> Dense({H}->{Out}, Tanh) -> Normalize", model.SentenceHead.ToString());

        var (hidden, headHidden, embeddings, workspace) = RunTapped(model);
        for (int s = 0; s < Sequences.Length; s++)
        {
            int start = workspace.Batch.Starts[s], length = workspace.Batch.LengthOf(s);
            double[] mean = Enumerable.Range(0, H).Select(k => Enumerable.Range(start, length).Average(r => (double)hidden[r * H + k])).ToArray();   // every token, specials included
            double[] expected = Normalize(Dense(mean, weight, bias, Out, Math.Tanh));
            for (int k = 0; k < Out; k++) Assert.Equal(expected[k], embeddings[s * Out + k], Tolerance);
            for (int k = 0; k < H; k++) Assert.Equal(mean[k], headHidden[s * H + k], Tolerance);
        }
    }

    [Fact]
    public void MaxAndLastTokenPoolingMatchTheReference()
    {
        using var tiny = HeadlessBert();
        WriteJson(tiny.Directory, "modules.json", new[] { Module(0, "", "sentence_transformers.models.Transformer"), Module(1, "1_Pooling", "sentence_transformers.models.Pooling") });
        foreach (string mode in new[] { "max", "lasttoken" })
        {
            WriteJson(tiny.Directory, "1_Pooling/config.json", new Dictionary<string, object> { ["embedding_dimension"] = H, ["pooling_mode"] = mode });
            var model = BertModel.Load(tiny.Directory);
            var (hidden, _, embeddings, workspace) = RunTapped(model);
            for (int s = 0; s < Sequences.Length; s++)
            {
                int start = workspace.Batch.Starts[s], end = workspace.Batch.Starts[s + 1];
                for (int k = 0; k < H; k++)
                {
                    float expected = mode == "max" ? Enumerable.Range(start, end - start).Max(r => hidden[r * H + k]) : hidden[(end - 1) * H + k];
                    Assert.Equal(expected, embeddings[s * H + k]);
                }
            }
        }
    }

    /// <summary>Each bad folder: what to break, the file the error must name, and words of its problem.</summary>
    public static TheoryData<string, string, string> BadFolders => new()
    {
        { "missing module weights", "2_Dense/model.safetensors", "model.safetensors) are missing" },
        { "wrong Dense shape", "2_Dense/model.safetensors", "tensor 'linear.weight' has shape [16, 8]; the config implies [16, 16]" },
        { "unknown activation", "2_Dense/config.json", "activation_function 'torch.nn.modules.activation.SiLU' is not supported" },
        { "pytorch_model.bin only", "2_Dense/pytorch_model.bin", "pickle" },
        { "unsupported pooling mode", "1_Pooling/config.json", "pooling mode 'weightedmean' is not supported" },
        { "several pooling modes", "1_Pooling/config.json", "concatenate several vectors" },
        { "widths that do not chain", "4_Dense/config.json", "in_features is 8, but the step before it produces vectors of 16" },
        { "missing LayerNorm tensor", "3_LayerNorm/model.safetensors", "Missing (1): norm.bias [16]" },
        { "a CrossEncoder chain without a final Dense", "modules.json", "not in the Dense layer that produces the score" },
        { "an unsupported module", "modules.json", "'sentence_transformers.models.WordWeights' is not supported" },
        { "a Dense before the pooling", "modules.json", "comes before any Pooling module" },
    };

    [Theory]
    [MemberData(nameof(BadFolders))]
    public void ABadChainFailsWithAnErrorNamingTheFileAndTheProblem(string breakage, string file, string problem)
    {
        using var tiny = HeadlessBert();
        string dir = tiny.Directory;
        WriteEttinChain(dir);
        var modules = JsonSerializer.Deserialize<List<Dictionary<string, object>>>(File.ReadAllText(Path.Combine(dir, "modules.json")))!;
        switch (breakage)
        {
            case "missing module weights": File.Delete(Path.Combine(dir, "2_Dense", "model.safetensors")); break;
            case "wrong Dense shape": WriteTensors(dir, "2_Dense", new() { ["linear.weight"] = ([16, 8], new float[128]) }); break;
            case "unknown activation":
                WriteJson(dir, "2_Dense/config.json", new Dictionary<string, object> { ["in_features"] = H, ["out_features"] = H, ["activation_function"] = "torch.nn.modules.activation.SiLU" });
                break;
            case "pytorch_model.bin only": File.Move(Path.Combine(dir, "2_Dense", "model.safetensors"), Path.Combine(dir, "2_Dense", "pytorch_model.bin")); break;
            case "unsupported pooling mode": WriteJson(dir, "1_Pooling/config.json", new Dictionary<string, object> { ["pooling_mode"] = "weightedmean" }); break;
            case "several pooling modes":
                WriteJson(dir, "1_Pooling/config.json", new Dictionary<string, object> { ["pooling_mode_cls_token"] = true, ["pooling_mode_mean_tokens"] = true });
                break;
            case "widths that do not chain":
                WriteJson(dir, "4_Dense/config.json", new Dictionary<string, object> { ["in_features"] = 8, ["out_features"] = 1 });
                break;
            case "missing LayerNorm tensor":
                WriteTensors(dir, "3_LayerNorm", new() { ["norm.weight"] = ([H], new float[H]) });
                break;
            case "a CrossEncoder chain without a final Dense": WriteJson(dir, "modules.json", modules.Take(4)); break;
            case "an unsupported module":
                modules.Insert(2, (Dictionary<string, object>)Module(9, "9_WordWeights", "sentence_transformers.models.WordWeights"));
                WriteJson(dir, "modules.json", modules);
                break;
            case "a Dense before the pooling": WriteJson(dir, "modules.json", new[] { modules[0], modules[2], modules[1] }); break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }
        var error = Assert.Throws<ModelFormatException>(() => BertModel.Load(dir));
        Assert.Equal(Path.GetFullPath(Path.Combine(dir, file)), Path.GetFullPath(error.FilePath));
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void ARerankerOnAnEttinStyleFolderReportsIdentityAndKeepsTheRawLogits()
    {
        using var tiny = HeadlessBert();
        WriteEttinChain(tiny.Directory);
        string[] documents = ["the boundary layer of the wing", "heat flow in a plate", "blood cell data", "lift"];
        const string Query = "what is the boundary layer ?";
        float[] raw;
        using (var reranker = Reranker.Load(tiny.Directory))
        {
            Assert.Equal(ModelKind.CrossEncoder, reranker.Description.Kind);
            Assert.Equal(ScoreTransform.Identity, reranker.Description.ScoreTransform);
            var results = reranker.Rerank(Query, documents);
            Assert.All(results, r => Assert.Equal(r.Logit, r.Score));
            raw = results.OrderBy(r => r.Index).Select(r => r.Score).ToArray();
        }
        Assert.Contains(raw, v => v < 0 || v > 1);   // raw logits, not probabilities

        // Without activation_fn a CrossEncoder scores sigmoid(logit), as sentence-transformers; the logits are the same.
        WriteEttinChain(tiny.Directory, activation: null);
        using (var reranker = Reranker.Load(tiny.Directory))
        {
            Assert.Equal(ScoreTransform.Sigmoid, reranker.Description.ScoreTransform);
            var results = reranker.Rerank(Query, documents).OrderBy(r => r.Index).ToArray();
            for (int i = 0; i < documents.Length; i++)
            {
                Assert.Equal(raw[i], results[i].Logit);
                Assert.Equal(1 / (1 + Math.Exp(-raw[i])), results[i].Score, 1e-6);
            }
        }
    }

    [Fact]
    public void ConfigSentenceTransformersJsonNamesTheActivationBeforeConfigJson()
    {
        // sentence-transformers 5.x reads activation_fn from config_sentence_transformers.json first, then config.json's
        // sentence_transformers.activation_fn (4.x), then sbert_ce_default_activation_function; only torch.* paths count.
        using var tiny = HeadlessBert();
        string config = Path.Combine(tiny.Directory, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).TrimEnd().TrimEnd('}') + """, "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Sigmoid"}}""");
        Assert.Equal(ScoreTransform.Sigmoid, ModelFolder.Open(tiny.Directory).CrossEncoderTransform);
        Assert.Null(ModelFolder.Open(tiny.Directory).SentenceTransformersModelType);
        WriteJson(tiny.Directory, "config_sentence_transformers.json", new Dictionary<string, string> { ["model_type"] = "CrossEncoder", ["activation_fn"] = "torch.nn.modules.linear.Identity" });
        var folder = ModelFolder.Open(tiny.Directory);
        Assert.Equal(ScoreTransform.Identity, folder.CrossEncoderTransform);
        Assert.True(folder.IsSentenceTransformersCrossEncoder);
        WriteJson(tiny.Directory, "config_sentence_transformers.json", new Dictionary<string, string> { ["model_type"] = "CrossEncoder", ["activation_fn"] = "my_package.Identity" });
        Assert.Equal(ScoreTransform.Sigmoid, ModelFolder.Open(tiny.Directory).CrossEncoderTransform);   // untrusted: config.json's applies
        WriteJson(tiny.Directory, "config_sentence_transformers.json", new Dictionary<string, object> { ["model_type"] = 3 });
        Assert.Contains("field 'model_type' must be a string", Assert.Throws<ModelFormatException>(() => ModelFolder.Open(tiny.Directory)).Message);
    }

    [Fact]
    public void TheHeadStaysFp32InInt8AndAQuantizedFolderKeepsItsModules()
    {
        using var tiny = HeadlessBert();
        WriteEttinChain(tiny.Directory);
        var fp32 = BertModel.Load(tiny.Directory);
        var int8 = BertModel.Load(tiny.Directory, Precision.Int8);
        Assert.NotEmpty(int8.QuantizableTensors);
        Assert.DoesNotContain(int8.QuantizableTensors, t => t.Name.StartsWith("linear.", StringComparison.Ordinal) || t.Name.StartsWith("norm.", StringComparison.Ordinal));
        float[] reference = RunTapped(fp32).Output, quantized = RunTapped(int8).Output;
        for (int s = 0; s < Sequences.Length; s++) Assert.Equal(reference[s], quantized[s], 0.2);   // only the encoder is int8

        string destination = Path.Combine(Path.GetTempPath(), "st-quantized-" + Guid.NewGuid().ToString("N"));
        try
        {
            ModelQuantization.WriteQuantizedFolder(tiny.Directory, destination);
            foreach (string module in new[] { "2_Dense", "3_LayerNorm", "4_Dense" })
                Assert.True(File.Exists(Path.Combine(destination, module, "model.safetensors")), module);
            var fromFolder = BertModel.Load(destination, Precision.Int8);
            Assert.Equal(ModelKind.CrossEncoder, fromFolder.Kind);
            Assert.Equal(quantized, RunTapped(fromFolder).Output);
        }
        finally
        {
            try { Directory.Delete(destination, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void TryLoadReturnsNullWithoutAChainAndTheDefaultIsMeanPooling()
    {
        using var tiny = HeadlessBert();
        var folder = ModelFolder.Open(tiny.Directory);
        Assert.Null(SentenceTransformersHead.TryLoad(folder, H, global::CrossEncoder.Native.Kernels.KernelCapabilities.Default));
        WriteJson(tiny.Directory, "modules.json", new[] { Module(0, "", "sentence_transformers.models.Transformer") });
        Assert.Null(SentenceTransformersHead.TryLoad(folder, H, global::CrossEncoder.Native.Kernels.KernelCapabilities.Default));
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(ModelKind.BiEncoder, model.Kind);
        Assert.Equal("Pooling(mean)", model.SentenceHead!.ToString());
        Assert.Equal(H, model.Description.OutputSize);
    }
}
