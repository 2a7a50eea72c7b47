using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Qwen;
using CrossEncoder.Native.Tests.Model.ModernBert;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.Qwen;

/// <summary>Qwen2 / Qwen3 against the independent double-precision reference (<see cref="NaiveQwen"/>) on random checkpoints
/// of real configs: every layer, the final norm, the two answer logits' difference; the prefix cache against full
/// recomputation, bit for bit; and the mistakes the reference can be made to make, each caught.</summary>
public sealed class QwenModelTests
{
    internal static QwenModel Load(string folder, Precision precision = Precision.Fp32, KernelCapabilities? caps = null) =>
        (QwenModel)ModelLoader.Load(folder, precision, new AnswerTokenizer(), caps).Model;

    /// <summary>Runs one sequence with taps; returns every tap, each [rows, columns] flattened.</summary>
    internal static Dictionary<string, float[]> RunEngine(QwenModel model, int[] ids)
    {
        var workspace = model.CreateWorkspace(ids.Length, 1, ids.Length);
        workspace.Batch.Clear();
        workspace.Batch.Add(ids, new int[ids.Length]);
        var taps = new Dictionary<string, float[]>();
        model.Forward(workspace, (name, values, rows, columns) => taps[name] = values[..(rows * columns)].ToArray());
        return taps;
    }

    private static (int Positive, int Negative) AnswersOf(string folder) =>
        folder.Contains("mxbai") ? (16, 15) : (QwenFolders.AnswerIds.Yes, QwenFolders.AnswerIds.No);

    public static TheoryData<string, int> Cases => new()
    {
        { "qwen3", 1 }, { "qwen3", 5 }, { "qwen3", 40 }, { "qwen3", 130 },
        { "qwen3-untied", 17 }, { "qwen3-untied", 64 },
        { "qwen2", 1 }, { "qwen2", 33 }, { "qwen2", 130 },
        { "qwen3-bf16-sharded", 40 },
    };

    internal static string FolderOf(string name) => name switch
    {
        "qwen3" => QwenFolders.Qwen3,
        "qwen3-untied" => QwenFolders.Qwen3UntiedWithBiases,
        "qwen3-bf16-sharded" => QwenFolders.Qwen3Bf16Sharded,
        _ => QwenFolders.Qwen2,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryLayerAndTheAnswerLogitsMatchTheDoubleReference(string name, int length)
    {
        string folder = FolderOf(name);
        int[] ids = QwenFolders.Ids(length, seed: length);
        var (positive, negative) = AnswersOf(folder);
        var reference = new NaiveQwen(folder);
        double[] logits = reference.LastLogits(ids, positive, negative);
        var model = Load(folder);
        var taps = RunEngine(model, ids);

        Assert.True(ModernBertModelTests.RelativeError(taps[ModelTaps.Embeddings], reference.States["embeddings"]) < 1e-6, "embeddings");
        for (int l = 0; l < model.Config.NumHiddenLayers; l++)
        {
            double error = ModernBertModelTests.RelativeError(taps[ModelTaps.Layer(l)], reference.States[$"layer.{l}"]);
            Assert.True(error < 1e-5, $"layer {l}: relative error {error:E2}");
        }
        Assert.True(ModernBertModelTests.RelativeError(taps[ModelTaps.HeadHidden], reference.States["final"]) < 1e-5, "final norm of the last token");
        double difference = logits[0] - logits[1];
        float engine = taps[ModelTaps.Output][0];
        Assert.True(Math.Abs(engine - difference) <= 1e-5 * Math.Max(1, Math.Abs(logits[0]) + Math.Abs(logits[1])),
            $"logit difference: engine {engine}, reference {difference} (logits {logits[0]}, {logits[1]})");
    }

    [Theory]
    [InlineData(QwenMutation.InterleavedGroups, "qwen3")]
    [InlineData(QwenMutation.NormAfterRotary, "qwen3")]
    [InlineData(QwenMutation.InterleavedRotary, "qwen3")]
    [InlineData(QwenMutation.Bidirectional, "qwen3")]
    [InlineData(QwenMutation.InterleavedRotary, "qwen2")]
    [InlineData(QwenMutation.Bidirectional, "qwen2")]
    public void EachMistakeTheReferenceCanMakeMovesTheLogitsFarBeyondTheTolerance(QwenMutation mutation, string name)
    {
        // The engine matches the correct reference within 1e-5 (above); a reference with one of these mistakes must be far
        // from it, or the comparison could not tell the engine's convention apart.
        string folder = FolderOf(name);
        int[] ids = QwenFolders.Ids(40, seed: 40);
        var (positive, negative) = AnswersOf(folder);
        double right = Difference(new NaiveQwen(folder).LastLogits(ids, positive, negative));
        double wrong = Difference(new NaiveQwen(folder, mutation).LastLogits(ids, positive, negative));
        float engine = Load(folder).Forward1(ids);
        Assert.True(Math.Abs(engine - right) < 1e-4, $"engine {engine} vs reference {right}");
        Assert.True(Math.Abs(wrong - right) > 1e-2, $"{mutation}: {wrong} vs {right}");
    }

    private static double Difference(double[] logits) => logits[0] - logits[1];

    public static TheoryData<string, Precision, string> CachePaths()
    {
        var data = new TheoryData<string, Precision, string>();
        foreach (var isa in KernelIsas.All)
            foreach (string name in new[] { "qwen3", "qwen2" })
            {
                data.Add(name, Precision.Fp32, isa.ToString());
                if (isa == KernelIsas.Best) data.Add(name, Precision.Int8, isa.ToString());
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(CachePaths))]
    public void CandidatesAfterACachedPrefixScoreBitForBitAsTheWholeSequences(string name, Precision precision, string isaName)
    {
        if (precision == Precision.Int8 && !GemmInt8.IsSupported(KernelCapabilities.Default.Int8Isa)) return;
        var caps = KernelCapabilities.Default with { Isa = Enum.Parse<KernelIsa>(isaName) };
        var model = Load(FolderOf(name), precision, caps);
        int[] prefix = QwenFolders.Ids(37, seed: 1);
        int[][] suffixes = [QwenFolders.Ids(1, seed: 2), QwenFolders.Ids(20, seed: 3), QwenFolders.Ids(75, seed: 4), QwenFolders.Ids(9, seed: 5)];

        var whole = model.CreateWorkspace(1024, 8, 256);
        whole.Batch.Clear();
        foreach (var suffix in suffixes) whole.Batch.Add([.. prefix, .. suffix], new int[prefix.Length + suffix.Length]);
        float[] expected = model.Forward(whole).ToArray();

        var cached = model.CreateWorkspace(1024, 8, 256);
        model.ComputePrefix(cached, prefix);
        cached.Batch.Clear();
        foreach (var suffix in suffixes) cached.Batch.Add(suffix, new int[suffix.Length]);
        float[] actual = model.Forward(cached).ToArray();
        for (int i = 0; i < suffixes.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"candidate {i}: whole {expected[i]:R}, after the cached prefix {actual[i]:R}");

        model.ClearPrefix(cached);
        cached.Batch.Clear();
        cached.Batch.Add([.. prefix, .. suffixes[2]], new int[prefix.Length + suffixes[2].Length]);
        Assert.Equal(expected[2], model.Forward(cached)[0]);   // cleared: whole sequences again
    }

    [Fact]
    public void ABf16ShardedCheckpointScoresAsItsF32WeightsRoundedToBf16()
    {
        // The same random weights: as one F32 file they differ from the BF16 shards (rounding), so the BF16 folder must give
        // the F32 folder's output only after that folder's weights are rounded to BF16 the way torch rounds them.
        string rounded = Path.Combine(Path.GetTempPath(), $"crossencoder-tests-{Environment.ProcessId}", "qwen3-reranker-bf16-rounded");
        if (!Directory.Exists(rounded))
            global::CrossEncoder.Conversion.Checkpoints.CheckpointWriter.Rewrite(QwenFolders.Qwen3Bf16Sharded, rounded, global::CrossEncoder.Conversion.Checkpoints.CheckpointLayout.SingleFloat32);
        int[] ids = QwenFolders.Ids(33, seed: 6);
        float bf16 = Load(QwenFolders.Qwen3Bf16Sharded).Forward1(ids), f32 = Load(QwenFolders.Qwen3).Forward1(ids);
        Assert.Equal(Load(rounded).Forward1(ids), bf16);
        Assert.NotEqual(f32, bf16);
        Assert.True(global::CrossEncoder.Native.SafeTensors.SafeTensorsCheckpoint.OpenFolder(QwenFolders.Qwen3Bf16Sharded) is { IsSharded: true, Files.Count: 3 } checkpoint && checkpoint.Tensors.Values.All(t => t.DType == global::CrossEncoder.Native.SafeTensors.SafeTensorDType.BF16));
    }

    [Fact]
    public void TheLastLayerShortcutGivesTheFullComputationsOutput()
    {
        var model = Load(QwenFolders.Qwen3);
        int[] ids = QwenFolders.Ids(50, seed: 8);
        float full = RunEngine(model, ids)[ModelTaps.Output][0];   // a tap computes every row of every layer
        Assert.Equal(full, model.Forward1(ids));
    }
}

internal static class QwenModelTestExtensions
{
    /// <summary>The output of one sequence, no tap (the shortcut path).</summary>
    public static float Forward1(this QwenModel model, int[] ids)
    {
        var workspace = model.CreateWorkspace(ids.Length, 1, ids.Length);
        workspace.Batch.Clear();
        workspace.Batch.Add(ids, new int[ids.Length]);
        return model.Forward(workspace)[0];
    }
}
