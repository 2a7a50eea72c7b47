using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Tests.Model.ModernBert;
using CrossEncoder.Native.Tests.Model.Qwen;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// The per-layer taps of <see cref="ModelTaps"/> (attention probabilities, the attention and feed-forward blocks' outputs, the
/// residual stream between them) on every family, against the double-precision references (<see cref="NaiveBert"/>,
/// <see cref="NaiveModernBert"/>, <see cref="NaiveQwen"/>) on random checkpoints, for packed batches of several sequences:
/// probabilities come once per sequence in batch order, [nH*T, T], rows summing to 1, masked keys exactly 0.
/// </summary>
public sealed class LayerTapsTests
{
    /// <summary>Float rounding of a handful of chained ops on O(1) activations stays far below this; a wrong head, row or mask
    /// moves a probability by O(0.1).</summary>
    private const double Tolerance = 2e-5;

    /// <summary>Every tap of one forward pass in call order: (name, values, rows, columns).</summary>
    private static List<(string Name, float[] Values, int Rows, int Columns)> Record(ITransformerModel model, ModelWorkspace workspace, out float[] output)
    {
        var taps = new List<(string, float[], int, int)>();
        output = model.Forward(workspace, (name, values, rows, columns) => taps.Add((name, values[..(rows * columns)].ToArray(), rows, columns))).ToArray();
        return taps;
    }

    private static ModelWorkspace Fill(ITransformerModel model, int[][] sequences, Func<int[], int[]>? types = null)
    {
        var workspace = model.CreateWorkspace(sequences.Sum(s => s.Length), sequences.Length, sequences.Max(s => s.Length));
        workspace.Batch.Clear();
        foreach (var ids in sequences) workspace.Batch.Add(ids, types?.Invoke(ids) ?? new int[ids.Length]);
        return workspace;
    }

    /// <summary>Layer l's probabilities of sequence s: the s-th report under its name.</summary>
    private static (float[] Values, int Rows, int Columns) ProbabilitiesOf(List<(string Name, float[] Values, int Rows, int Columns)> taps, int layer, int sequence)
    {
        var reports = taps.Where(t => t.Name == ModelTaps.AttentionProbabilities(layer)).ToList();
        var (_, values, rows, columns) = reports[sequence];
        return (values, rows, columns);
    }

    private static void AssertProbabilities(float[] engine, int rows, int columns, double[,] reference, int heads, int t, string what)
    {
        Assert.Equal(heads * t, rows);
        Assert.Equal(t, columns);
        Assert.Equal(reference.Length, engine.Length);
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int j = 0; j < columns; j++)
            {
                float p = engine[r * columns + j];
                sum += p;
                if (reference[r, j] == 0) Assert.True(p == 0, $"{what}: row {r} key {j} is masked but has {p}");
                Assert.True(Math.Abs(p - reference[r, j]) <= Tolerance, $"{what}: row {r} (head {r / t}, query {r % t}) key {j}: {p} vs {reference[r, j]}");
            }
            Assert.True(Math.Abs(sum - 1) < 1e-5, $"{what}: row {r} sums to {sum}");
        }
    }

    /// <summary>The [N, H] tap <paramref name="name"/> rows of sequence s (from <paramref name="row"/>) against the reference's [T, H].</summary>
    private static void AssertRows(List<(string Name, float[] Values, int Rows, int Columns)> taps, string name, int row, double[,] reference, string what)
    {
        var (_, values, _, columns) = taps.Single(t => t.Name == name);
        for (int i = 0; i < reference.GetLength(0); i++)
            for (int j = 0; j < reference.GetLength(1); j++)
                Assert.True(Math.Abs(values[(row + i) * columns + j] - reference[i, j]) <= Tolerance * Math.Max(1, Math.Abs(reference[i, j])),
                    $"{what}: {name} token {i} dim {j}: {values[(row + i) * columns + j]} vs {reference[i, j]}");
    }

    [Fact]
    public void BertReportsEachSequencesProbabilitiesAndSublayersAsTheReference()
    {
        using var tiny = new TinyBert(classifier: true, prefix: "bert.");
        var model = BertModel.Load(tiny.Directory);
        int[][] sequences = [[101, 104, 105, 102, 106, 107, 108, 102], [101, 110, 102], [101, 111, 112, 113, 114, 115, 116, 117, 102, 104, 105, 102]];
        static int[] Types(int[] ids) { int sep = Array.IndexOf(ids, 102); return ids.Select((_, i) => i > sep ? 1 : 0).ToArray(); }
        var taps = Record(model, Fill(model, sequences, Types), out _);

        Assert.Equal(TinyBert.Layers * sequences.Length, taps.Count(t => t.Name.EndsWith(".attention.probabilities", StringComparison.Ordinal)));
        var naive = new NaiveBert(tiny.Tensors, TinyBert.Hidden, TinyBert.Heads, TinyBert.Layers, 1e-12, prefix: "bert.");
        int row = 0;
        for (int s = 0; s < sequences.Length; s++)
        {
            naive.Encode(sequences[s], Types(sequences[s]));
            for (int l = 0; l < TinyBert.Layers; l++)
            {
                var (values, rows, columns) = ProbabilitiesOf(taps, l, s);
                AssertProbabilities(values, rows, columns, naive.Probabilities[l], TinyBert.Heads, sequences[s].Length, $"bert sequence {s} layer {l}");
                foreach (string name in new[] { ModelTaps.AttentionOutput(l), ModelTaps.AttentionResidual(l), ModelTaps.FeedForwardOutput(l), ModelTaps.Layer(l) })
                    AssertRows(taps, name, row, naive.States[name], $"bert sequence {s}");
            }
            row += sequences[s].Length;
        }
        var intermediate = taps.Single(t => t.Name == ModelTaps.FeedForwardIntermediate(0));
        Assert.Equal((row, TinyBert.Intermediate), (intermediate.Rows, intermediate.Columns));
    }

    [Fact]
    public void ModernBertProbabilitiesAreZeroOutsideTheWindowAndMatchTheReference()
    {
        string folder = ModernBertFolders.SmallWindow;   // window 8: 4 keys on each side on layers 1 and 2
        var (model, _) = ModelLoader.Load(folder, Precision.Fp32);
        int[][] sequences = [ModernBertFolders.Ids(12, seed: 1), ModernBertFolders.Ids(5, seed: 2), ModernBertFolders.Ids(20, seed: 3)];
        var taps = Record(model, Fill(model, sequences), out _);
        var naive = new NaiveModernBert(folder);
        int row = 0;
        for (int s = 0; s < sequences.Length; s++)
        {
            int t = sequences[s].Length;
            naive.Encode(sequences[s]);
            for (int l = 0; l < 4; l++)
            {
                var (values, rows, columns) = ProbabilitiesOf(taps, l, s);
                AssertProbabilities(values, rows, columns, naive.Probabilities[l], 2, t, $"modernbert sequence {s} layer {l}");
                foreach (string name in new[] { ModelTaps.AttentionOutput(l), ModelTaps.AttentionResidual(l), ModelTaps.FeedForwardOutput(l), ModelTaps.Layer(l) })
                    AssertRows(taps, name, row, naive.States[name], $"modernbert sequence {s}");
            }
            if (t > 9)
            {
                // Layer 1 is local: query 0 sees keys 0..4 only; layer 0 is global and sees all of them.
                var (local, _, _) = ProbabilitiesOf(taps, 1, s);
                var (global, _, _) = ProbabilitiesOf(taps, 0, s);
                Assert.All(Enumerable.Range(5, t - 5), j => Assert.Equal(0f, local[j]));
                Assert.All(Enumerable.Range(0, t), j => Assert.True(global[j] > 0));
            }
            row += t;
        }
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("qwen2")]
    public void QwenProbabilitiesAreCausalGroupedAndMatchTheReference(string name)
    {
        string folder = QwenModelTests.FolderOf(name);
        var model = QwenModelTests.Load(folder);
        int[][] sequences = [QwenFolders.Ids(9, seed: 4), QwenFolders.Ids(1, seed: 5), QwenFolders.Ids(14, seed: 6)];
        var taps = Record(model, Fill(model, sequences), out float[] output);
        var naive = new NaiveQwen(folder);
        int heads = model.Config.NumAttentionHeads, row = 0;
        for (int s = 0; s < sequences.Length; s++)
        {
            int t = sequences[s].Length;
            double[] logits = naive.LastLogits(sequences[s], QwenFolders.AnswerIds.Yes, QwenFolders.AnswerIds.No);
            for (int l = 0; l < model.Config.NumHiddenLayers; l++)
            {
                var (values, rows, columns) = ProbabilitiesOf(taps, l, s);
                AssertProbabilities(values, rows, columns, naive.Probabilities[l], heads, t, $"{name} sequence {s} layer {l}");
                for (int i = 0; i < rows; i++)
                    for (int j = i % t + 1; j < t; j++) Assert.Equal(0f, values[i * t + j]);   // nothing to the right of the query
                foreach (string tap in new[] { ModelTaps.AttentionOutput(l), ModelTaps.AttentionResidual(l), ModelTaps.FeedForwardOutput(l), ModelTaps.Layer(l) })
                    AssertRows(taps, tap, row, naive.States[tap], $"{name} sequence {s}");
            }
            if (!name.Contains("qwen2")) Assert.Equal(logits[0] - logits[1], output[s], 1e-4);
            row += t;
        }
    }

    [Fact]
    public void ATapChangesNoOutputAndTheTappedPassIsComputedInFull()
    {
        // Without a tap the decoder's last layer runs its last rows only; with one every row is computed and reported, and the
        // score is the same up to the summation order of one attention row.
        var model = QwenModelTests.Load(QwenFolders.Qwen3);
        int[][] sequences = [QwenFolders.Ids(30, seed: 7), QwenFolders.Ids(11, seed: 8)];
        var workspace = Fill(model, sequences);
        float[] plain = model.Forward(workspace).ToArray();
        var taps = Record(model, workspace, out float[] tapped);
        for (int s = 0; s < sequences.Length; s++) Assert.Equal(plain[s], tapped[s], 1e-5);
        int last = model.Config.NumHiddenLayers - 1;
        Assert.Equal(41, taps.Single(t => t.Name == ModelTaps.Layer(last)).Rows);
        Assert.Equal(41, taps.Single(t => t.Name == ModelTaps.FeedForwardOutput(last)).Rows);
    }

    [Fact]
    public void ATappedDecoderPassRefusesACachedPrefix()
    {
        var model = QwenModelTests.Load(QwenFolders.Qwen3);
        var workspace = model.CreateWorkspace(64, 2, 64);
        model.ComputePrefix(workspace, QwenFolders.Ids(10, seed: 9));
        workspace.Batch.Add(QwenFolders.Ids(5, seed: 10));
        var error = Assert.Throws<ArgumentException>(() => model.Forward(workspace, (_, _, _, _) => { }));
        Assert.Contains("prefix", error.Message);
    }
}
