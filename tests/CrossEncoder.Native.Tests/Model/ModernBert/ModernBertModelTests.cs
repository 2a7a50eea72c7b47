using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.ModernBert;

/// <summary>ModernBERT against the independent double-precision reference (<see cref="NaiveModernBert"/>) on random
/// checkpoints of real configs: every layer and the logits, at lengths below, at and far beyond the window.</summary>
public sealed class ModernBertModelTests
{
    /// <summary>Runs the engine on one sequence; returns every tap, each [rows, columns] flattened.</summary>
    internal static Dictionary<string, float[]> RunEngine(string folder, int[] ids, Precision precision = Precision.Fp32, KernelCapabilities? caps = null)
    {
        var (model, _) = ModelLoader.Load(folder, precision, capabilities: caps);
        var workspace = model.CreateWorkspace(ids.Length, 1, ids.Length);
        workspace.Batch.Clear();
        workspace.Batch.Add(ids, new int[ids.Length]);
        var taps = new Dictionary<string, float[]>();
        model.Forward(workspace, (name, values, rows, columns) => taps[name] = values[..(rows * columns)].ToArray());
        return taps;
    }

    /// <summary>max |engine - reference| relative to max(1, max |reference|).</summary>
    internal static double RelativeError(float[] engine, double[,] reference)
    {
        double maxDiff = 0, maxAbs = 1;
        int columns = reference.GetLength(1);
        Assert.Equal(reference.Length, engine.Length);
        for (int i = 0; i < reference.GetLength(0); i++)
            for (int j = 0; j < columns; j++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(engine[i * columns + j] - reference[i, j]));
                maxAbs = Math.Max(maxAbs, Math.Abs(reference[i, j]));
            }
        return maxDiff / maxAbs;
    }

    internal static double RelativeError(float[] engine, double[] reference)
    {
        var matrix = new double[1, reference.Length];
        for (int j = 0; j < reference.Length; j++) matrix[0, j] = reference[j];
        return RelativeError(engine, matrix);
    }

    public static TheoryData<string, int> Cases => new()
    {
        { "gte", 12 }, { "gte", 40 }, { "gte", 130 }, { "gte", 2000 },
        { "window8", 12 }, { "window8", 40 }, { "window8", 130 },
        { "cls-biases", 40 }, { "cls-biases", 130 },
    };

    private static string FolderOf(string name) => name switch
    {
        "gte" => ModernBertFolders.GteReranker,
        "window8" => ModernBertFolders.SmallWindow,
        _ => ModernBertFolders.ClsWithBiases,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryLayerAndTheLogitsMatchTheDoubleReference(string name, int length)
    {
        string folder = FolderOf(name);
        int[] ids = ModernBertFolders.Ids(length, seed: length);
        var reference = new NaiveModernBert(folder);
        double[] logits = reference.Classify(ids, out double[] headHidden);
        var taps = RunEngine(folder, ids);

        Assert.True(RelativeError(taps[ModelTaps.Embeddings], reference.States["embeddings"]) < 1e-5, "embeddings");
        for (int l = 0; l < 4; l++)
        {
            double error = RelativeError(taps[ModelTaps.Layer(l)], reference.States[$"layer.{l}"]);
            Assert.True(error < 1e-5, $"layer {l}: relative error {error:E2}");
        }
        Assert.True(RelativeError(taps["final_norm"], reference.States["final_norm"]) < 1e-5, "final_norm");
        Assert.True(RelativeError(taps[ModelTaps.HeadHidden], headHidden) < 1e-5, "head.hidden");
        double logitError = RelativeError(taps[ModelTaps.Output], logits);
        Assert.True(logitError < 1e-5, $"logits {string.Join(", ", taps[ModelTaps.Output])} vs {string.Join(", ", logits)}: {logitError:E2}");
    }

    /// <summary>
    /// gte-reranker-modernbert-base's config.json as published (22 layers, H 768, 12 heads of 64, I 1152, global every 3,
    /// mean pooling, no biases), only the vocabulary shrunk to 1,000 rows (it sizes the embedding table, no layer): every one
    /// of the 22 layers and the logit against the double reference.
    /// </summary>
    [Fact]
    public void TheRealGteRerankerShapeMatchesTheReferenceAtEveryLayer()
    {
        var config = global::CrossEncoder.Conversion.Checkpoints.ModernBertCheckpoint.ReadConfig(Path.Combine(ModernBertFolders.FixtureFolder, "gte-reranker-modernbert-base.config.json"));
        Assert.Equal(22, (int)config["num_hidden_layers"]!);
        Assert.Equal(768, (int)config["hidden_size"]!);
        config["vocab_size"] = 1000;
        config["pad_token_id"] = 3;
        string folder = ModernBertFolders.Write("real-shape", config, seed: 51, withClassifier: true);
        try
        {
            int[] ids = ModernBertFolders.Ids(24, seed: 8);
            var reference = new NaiveModernBert(folder);
            double[] logits = reference.Classify(ids, out _);
            var taps = RunEngine(folder, ids);
            for (int l = 0; l < 22; l++)
            {
                double error = RelativeError(taps[ModelTaps.Layer(l)], reference.States[$"layer.{l}"]);
                Assert.True(error < 1e-5, $"layer {l}: relative error {error:E2}");
            }
            Assert.True(RelativeError(taps[ModelTaps.Output], logits) < 1e-5, $"logit {taps[ModelTaps.Output][0]} vs {logits[0]}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public static TheoryData<ModernBertMutation, string, int> Mutations => new()
    {
        { ModernBertMutation.InterleavedRotary, "gte", 40 },
        { ModernBertMutation.NarrowWindow, "window8", 40 },
        { ModernBertMutation.NarrowWindow, "gte", 300 },
        { ModernBertMutation.NormOnLayerZero, "gte", 40 },
        { ModernBertMutation.OtherPooling, "gte", 40 },
        { ModernBertMutation.OtherPooling, "cls-biases", 40 },
    };

    /// <summary>Each classic reimplementation mistake, made in the reference, moves the logits far outside the 1e-5 the engine
    /// meets: the comparison above can tell the conventions apart.</summary>
    [Theory]
    [MemberData(nameof(Mutations))]
    public void EachConventionMistakeIsDetected(ModernBertMutation mutation, string name, int length)
    {
        string folder = FolderOf(name);
        int[] ids = ModernBertFolders.Ids(length, seed: 7);
        double[] wrong = new NaiveModernBert(folder, mutation).Classify(ids, out _);
        var taps = RunEngine(folder, ids);
        double error = RelativeError(taps[ModelTaps.Output], wrong);
        Assert.True(error > 1e-3, $"{mutation}: the engine is within {error:E2} of the mistaken reference");
    }

    [Fact]
    public void PackedBatchOfMixedLengthsEqualsOneSequenceAtATime()
    {
        string folder = ModernBertFolders.SmallWindow;
        int[][] sequences = [ModernBertFolders.Ids(3, 1), ModernBertFolders.Ids(40, 2), ModernBertFolders.Ids(9, 3), ModernBertFolders.Ids(1, 4), ModernBertFolders.Ids(77, 5)];
        var (model, _) = ModelLoader.Load(folder, Precision.Fp32);
        var workspace = model.CreateWorkspace(sequences.Sum(s => s.Length), sequences.Length, 77);
        workspace.Batch.Clear();
        foreach (var ids in sequences) workspace.Batch.Add(ids, new int[ids.Length]);
        float[] batched = model.Forward(workspace).ToArray();
        for (int s = 0; s < sequences.Length; s++)
        {
            float[] single = RunEngine(folder, sequences[s])[ModelTaps.Output];
            for (int j = 0; j < single.Length; j++) Assert.Equal(single[j], batched[s * single.Length + j], 5);
        }
    }

    [Fact]
    public void LayerTypesAndRopeParametersDescribeTheSameModelAsTheClassicFields()
    {
        var config = ModernBertFolders.ShrunkConfig();
        config["local_attention"] = 8;
        string classic = ModernBertFolders.Write("classic-style", config, seed: 21, withClassifier: true);
        var modern = (System.Text.Json.Nodes.JsonObject)config.DeepClone();
        modern.Remove("global_attn_every_n_layers");
        modern.Remove("global_rope_theta");
        modern.Remove("local_rope_theta");
        modern["layer_types"] = new System.Text.Json.Nodes.JsonArray("full_attention", "sliding_attention", "sliding_attention", "full_attention");
        modern["rope_parameters"] = System.Text.Json.Nodes.JsonNode.Parse("""{"full_attention": {"rope_type": "default", "rope_theta": 160000.0}, "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}""");
        string newer = ModernBertFolders.Write("newer-style", modern, seed: 21, withClassifier: true);
        int[] ids = ModernBertFolders.Ids(40, 9);
        Assert.Equal(RunEngine(classic, ids)[ModelTaps.Output], RunEngine(newer, ids)[ModelTaps.Output]);

        // And the layer pattern is read, not assumed: making layer 1 global changes the result.
        modern["layer_types"] = new System.Text.Json.Nodes.JsonArray("full_attention", "full_attention", "sliding_attention", "full_attention");
        string changed = ModernBertFolders.Write("newer-style-changed", modern, seed: 21, withClassifier: true);
        Assert.NotEqual(RunEngine(classic, ids)[ModelTaps.Output], RunEngine(changed, ids)[ModelTaps.Output]);
    }

    /// <summary>A CLS-pooling head lets the last layer compute the [CLS] rows only (keys and values from every token, the
    /// first token's window on a local last layer): the untapped output equals the full computation's.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheClsOnlyLastLayerGivesTheFullComputationsLogits(bool localLastLayer)
    {
        var config = ModernBertFolders.ShrunkConfig();
        config["classifier_pooling"] = "cls";
        config["local_attention"] = 8;
        if (localLastLayer) config["global_attn_every_n_layers"] = 2;   // layers 0, 2 global; 1, 3 (the last) local
        string folder = ModernBertFolders.Write(localLastLayer ? "cls-local-last" : "cls-global-last", config, seed: 23, withClassifier: true);
        var model = (global::CrossEncoder.Native.Model.ModernBert.ModernBertModel)ModelLoader.Load(folder, Precision.Fp32).Model;
        int[][] sequences = [ModernBertFolders.Ids(40, 1), ModernBertFolders.Ids(3, 2), ModernBertFolders.Ids(130, 3), ModernBertFolders.Ids(1, 4)];
        var workspace = model.CreateWorkspace(sequences.Sum(q => q.Length), sequences.Length, 130);
        workspace.Batch.Clear();
        foreach (var ids in sequences) workspace.Batch.Add(ids, new int[ids.Length]);
        var buffers = (global::CrossEncoder.Native.Model.ModernBert.ModernBertWorkspace)workspace;
        float[] full = model.ForwardCore(workspace, null, firstTokensOnly: false, default).ToArray();
        float[] secondRowFull = buffers.Hidden.AsSpan(128, 128).ToArray();     // token 1 of sequence 0 after final_norm
        float[] shortcut = model.Forward(workspace).ToArray();
        Assert.NotEqual(secondRowFull, buffers.Hidden.AsSpan(128, 128).ToArray());   // the shortcut ran: that row skipped the last layer
        Assert.Equal(full.Length, shortcut.Length);
        for (int i = 0; i < full.Length; i++) Assert.Equal(full[i], shortcut[i], 5);
        // and the full computation is the reference's
        double[] logits = new NaiveModernBert(folder).Classify(sequences[2], out _);
        Assert.True(RelativeError(full.AsSpan(2 * logits.Length, logits.Length).ToArray(), logits) < 1e-5);
    }

    [Fact]
    public void DescriptionReportsTheModernBertShape()
    {
        var (model, _) = ModelLoader.Load(ModernBertFolders.GteReranker, Precision.Fp32);
        var d = model.Description;
        Assert.Equal("modernbert", d.Family);
        Assert.Equal(ModelKind.CrossEncoder, d.Kind);
        Assert.Equal(8192, d.MaxSequenceLength);
        Assert.Equal(1, d.OutputSize);
        Assert.Equal(4, d.Layers);
        Assert.Equal(ScoreTransform.Sigmoid, d.ScoreTransform);   // gte-reranker-modernbert-base's config names no activation
    }
}
