using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>The engine's packed forward pass against <see cref="NaiveBert"/> (double precision, one sequence at a time) on
/// small random models, so the plumbing (packing, per-sequence attention, residuals, heads) is checked independently of ONNX.</summary>
public class BertModelTests
{
    /// <summary>fp32 engine vs double reference on a 2-layer H=16 model with O(1) activations: float rounding through ~10
    /// chained ops stays far below this; a real bug (wrong mask, wrong position, wrong order) is O(0.1).</summary>
    private const double Tolerance = 2e-5;

    private static readonly int[][] Sequences =
    [
        [101, 104, 105, 102, 106, 107, 108, 102],            // [CLS] the wing [SEP] lift flow heat [SEP]
        [101, 110, 102],                                     // shortest pair-like input
        [101, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 102, 104, 105, 106, 102],
        [101, 102],
        [101, 133, 102, 120, 121, 100, 102],
    ];

    private static int[] TypesFor(int[] ids)
    {
        int firstSep = Array.IndexOf(ids, 102);
        return ids.Select((_, i) => i > firstSep ? 1 : 0).ToArray();
    }

    private static BertWorkspace Fill(BertModel model, int[][] sequences, int capacityTokens = 256)
    {
        var workspace = model.CreateWorkspace(capacityTokens, sequences.Length);
        foreach (var ids in sequences) workspace.Batch.Add(ids, TypesFor(ids));
        return workspace;
    }

    [Fact]
    public void CrossEncoderLogitsAndEveryLayerMatchTheNaiveReference()
    {
        using var tiny = new TinyBert(classifier: true, prefix: "bert.");
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(ModelKind.CrossEncoder, model.Kind);
        var taps = new Dictionary<string, float[]>();
        var workspace = Fill(model, Sequences);
        float[] logits = model.Forward(workspace, (name, values, _, _) => taps[name] = values.ToArray()).ToArray();

        var naive = new NaiveBert(tiny.Tensors, TinyBert.Hidden, TinyBert.Heads, TinyBert.Layers, 1e-12, prefix: "bert.");
        int row = 0;
        for (int s = 0; s < Sequences.Length; s++)
        {
            var last = naive.Encode(Sequences[s], TypesFor(Sequences[s]));
            foreach (var (name, expected) in naive.States)
                for (int t = 0; t < Sequences[s].Length; t++)
                    for (int j = 0; j < TinyBert.Hidden; j++)
                        Assert.True(Math.Abs(taps[name][(row + t) * TinyBert.Hidden + j] - expected[t, j]) <= Tolerance,
                            $"{name} differs at sequence {s}, token {t}, dim {j}: {taps[name][(row + t) * TinyBert.Hidden + j]} vs {expected[t, j]}");
            double[] pooled = naive.Pool(last);
            for (int j = 0; j < TinyBert.Hidden; j++) Assert.Equal(pooled[j], taps["pooler"][s * TinyBert.Hidden + j], Tolerance);
            Assert.Equal(naive.Classify(pooled), logits[s], Tolerance);
            row += Sequences[s].Length;
        }
    }

    [Theory]
    [InlineData(16)]   // H a multiple of every AVX2/portable panel: Q projected for the [CLS] rows only
    [InlineData(12)]   // H not on a panel boundary: Q | K | V projected for every row, attention still on [CLS] only
    public void CrossEncoderLastLayerOnTheClsRowsOnlyGivesTheSameLogits(int hidden)
    {
        using var tiny = new TinyBert(classifier: true, prefix: "bert.", hidden: hidden);
        var model = BertModel.Load(tiny.Directory);
        var workspace = Fill(model, Sequences);
        float[] full = model.ForwardCore(workspace, null, firstTokensOnly: false, default).ToArray();
        float[] shortcut = model.ForwardCore(workspace, null, firstTokensOnly: true, default).ToArray();
        float[] viaPublic = model.Forward(workspace).ToArray();
        var naive = new NaiveBert(tiny.Tensors, hidden, TinyBert.Heads, TinyBert.Layers, 1e-12, prefix: "bert.");
        for (int s = 0; s < Sequences.Length; s++)
        {
            // Rows are computed independently in every kernel, so the shortcut's [CLS] row differs from the full pass's only
            // by float summation order in the attention of one row (dot products vs tiles): ~1e-7 on O(1) activations.
            Assert.Equal(full[s], shortcut[s], 1e-6);
            Assert.Equal(shortcut[s], viaPublic[s]);
            Assert.Equal(naive.Classify(naive.Pool(naive.Encode(Sequences[s], TypesFor(Sequences[s])))), shortcut[s], Tolerance);
        }
    }

    [Fact]
    public void BiEncoderMeanPoolingMatchesTheNaiveReference()
    {
        using var tiny = new TinyBert(classifier: false);
        File.WriteAllText(Path.Combine(tiny.Directory, "modules.json"),
            """[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]""");
        Directory.CreateDirectory(Path.Combine(tiny.Directory, "1_Pooling"));
        File.WriteAllText(Path.Combine(tiny.Directory, "1_Pooling", "config.json"), """{"word_embedding_dimension":16,"pooling_mode_cls_token":false,"pooling_mode_mean_tokens":true}""");
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(ModelKind.BiEncoder, model.Kind);
        Assert.Equal("Pooling(mean) -> Normalize", model.SentenceHead!.ToString());
        float[] embeddings = model.Forward(Fill(model, Sequences)).ToArray();

        var naive = new NaiveBert(tiny.Tensors, TinyBert.Hidden, TinyBert.Heads, TinyBert.Layers, 1e-12);
        for (int s = 0; s < Sequences.Length; s++)
        {
            var last = naive.Encode(Sequences[s], TypesFor(Sequences[s]));
            var mean = Enumerable.Range(0, TinyBert.Hidden).Select(j => Enumerable.Range(0, Sequences[s].Length).Average(t => last[t, j])).ToArray();
            double norm = Math.Sqrt(mean.Sum(m => m * m));
            for (int j = 0; j < TinyBert.Hidden; j++) Assert.Equal(mean[j] / norm, embeddings[s * TinyBert.Hidden + j], Tolerance);
        }
    }

    [Fact]
    public void ASequenceScoresTheSameAloneOrInABatch()
    {
        using var tiny = new TinyBert(classifier: true);
        var model = BertModel.Load(tiny.Directory);
        float[] batched = model.Forward(Fill(model, Sequences)).ToArray();
        for (int s = 0; s < Sequences.Length; s++)
        {
            float alone = model.Forward(Fill(model, [Sequences[s]])).ToArray()[0];
            Assert.Equal(alone, batched[s], 1e-6);
        }
    }

    [Fact]
    public void ASteadyStateForwardPassAllocatesNothing()
    {
        using var tiny = new TinyBert(classifier: true);
        var model = BertModel.Load(tiny.Directory);
        var workspace = model.CreateWorkspace(256, Sequences.Length);
        var types = Sequences.Select(TypesFor).ToArray();
        void Run()
        {
            workspace.Batch.Clear();
            for (int s = 0; s < Sequences.Length; s++) workspace.Batch.Add(Sequences[s], types[s]);
            model.Forward(workspace);
        }
        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void TheBatchRejectsBadInputWithClearErrors()
    {
        using var tiny = new TinyBert(classifier: true);
        var model = BertModel.Load(tiny.Directory);
        var workspace = model.CreateWorkspace(64, 2);
        var batch = workspace.Batch;
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => batch.Add([101, 5000, 102], [0, 0, 0])).Message);
        Assert.Contains("-1", Assert.Throws<ArgumentException>(() => batch.Add([101, -1, 102], [0, 0, 0])).Message);
        Assert.Contains("Token type id 2", Assert.Throws<ArgumentException>(() => batch.Add([101, 102], [0, 2])).Message);
        Assert.Contains("differ in length", Assert.Throws<ArgumentException>(() => batch.Add([101, 102], [0])).Message);
        Assert.Contains("at least one token", Assert.Throws<ArgumentException>(() => batch.Add([], [])).Message);
        var tooLong = Enumerable.Repeat(104, TinyBert.MaxPositions + 1).ToArray();
        Assert.Contains("maximum of 40", Assert.Throws<ArgumentException>(() => batch.Add(tooLong, new int[tooLong.Length])).Message);
        batch.Add([101, 102], [0, 0]);
        batch.Add([101, 102], [0, 0]);
        Assert.False(batch.CanAdd(1));
        Assert.Throws<InvalidOperationException>(() => batch.Add([101, 102], [0, 0]));
        Assert.Empty(model.Forward(model.CreateWorkspace(8, 1)).ToArray());
    }

    [Fact]
    public void WeightsUnderTheBertPrefixAndGammaBetaAliasesLoadToTheSameModel()
    {
        using var plain = new TinyBert(classifier: false, withPooler: false);
        using var aliased = new TinyBert(classifier: false, withPooler: false, prefix: "bert.", edit: tensors =>
        {
            foreach (string name in tensors.Keys.Where(n => n.Contains("LayerNorm")).ToList())
            {
                var value = tensors[name];
                tensors.Remove(name);
                tensors[name.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta")] = value;
            }
            tensors["bert.embeddings.position_ids"] = ([1, TinyBert.MaxPositions], Enumerable.Range(0, TinyBert.MaxPositions).Select(i => (float)i).ToArray());
        });
        var a = BertModel.Load(plain.Directory);
        var b = BertModel.Load(aliased.Directory);
        Assert.False(a.HasPooler);
        Assert.Equal(a.Forward(Fill(a, Sequences)).ToArray(), b.Forward(Fill(b, Sequences)).ToArray());
    }
}
