using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>XLM-RoBERTa and ELECTRA cross-encoders (packed fp32 engine) against <see cref="NaiveBert"/>'s double-precision
/// RoBERTa/ELECTRA paths on small random checkpoints with Hugging Face names: every layer, the head and the logit.</summary>
public class EncoderFamilyTests
{
    /// <summary>The budget: fp32 rounding through a 2-layer H=16 model stayed below 2.5e-6 here (AVX2 path); a wrong
    /// position offset, a missing projection or the wrong head activation is O(0.1).</summary>
    private const double Tolerance = 1e-5;

    // XLM-R style: <s>=0, <pad>=1, </s>=2; the pair layout <s> A </s></s> B </s>. One sequence holds a literal <pad> (id 1),
    // which RoBERTa gives position padding_idx and skips in the count.
    private static readonly int[][] RobertaSequences =
    [
        [0, 10, 11, 12, 2, 2, 20, 21, 22, 23, 2],
        [0, 5, 2],
        [0, 30, 31, 1, 32, 2, 2, 40, 2],
        [0, .. Enumerable.Range(3, 37), 2],   // 39 tokens: the longest a 42-row table holds is 40
    ];

    private static readonly int[][] ElectraSequences =
    [
        [1, 10, 11, 2, 20, 21, 22, 2],
        [1, 2],
        [1, 30, 31, 32, 33, 34, 2, 40, 41, 2],
    ];

    private static int[] ElectraTypes(int[] ids)
    {
        int firstSep = Array.IndexOf(ids, 2);
        return ids.Select((_, i) => i > firstSep ? 1 : 0).ToArray();
    }

    public static TheoryData<string, int> Families => new() { { "xlm-roberta", TinyEncoder.Hidden }, { "electra", TinyEncoder.Hidden }, { "electra", 8 } };

    [Theory]
    [MemberData(nameof(Families))]
    public void EveryLayerAndTheLogitMatchTheDoublePrecisionReference(string family, int embeddingSize)
    {
        using var tiny = new TinyEncoder(family, embeddingSize);
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(ModelKind.CrossEncoder, model.Kind);
        bool roberta = family == "xlm-roberta";
        int[][] sequences = roberta ? RobertaSequences : ElectraSequences;
        int[] TypesOf(int[] ids) => roberta ? new int[ids.Length] : ElectraTypes(ids);

        var workspace = model.CreateWorkspace(256, sequences.Length);
        foreach (var ids in sequences) workspace.Batch.Add(ids, TypesOf(ids));
        var taps = new Dictionary<string, float[]>();
        float[] logits = model.Forward(workspace, (name, values, _, _) => taps[name] = values.ToArray()).ToArray();
        Assert.DoesNotContain("pooler", taps.Keys);

        var naive = new NaiveBert(tiny.Tensors, TinyEncoder.Hidden, TinyEncoder.Heads, TinyEncoder.Layers, roberta ? 1e-5 : 1e-12, tiny.Prefix,
            robertaPaddingIdx: roberta ? 1 : null, embeddingSize: embeddingSize);
        int row = 0, checkedValues = 0;
        for (int s = 0; s < sequences.Length; s++)
        {
            var last = naive.Encode(sequences[s], TypesOf(sequences[s]));
            foreach (var (name, expected) in naive.States)
                for (int t = 0; t < sequences[s].Length; t++)
                    for (int j = 0; j < TinyEncoder.Hidden; j++, checkedValues++)
                        Assert.True(Math.Abs(taps[name][(row + t) * TinyEncoder.Hidden + j] - expected[t, j]) <= Tolerance,
                            $"{family}: {name} differs at sequence {s}, token {t}, dim {j}: {taps[name][(row + t) * TinyEncoder.Hidden + j]} vs {expected[t, j]}");
            Assert.Equal(naive.Head(last, gelu: !roberta)[0], logits[s], Tolerance);
            row += sequences[s].Length;
        }
        Assert.True(checkedValues > 900);
    }

    [Fact]
    public void RobertaPositionsStartAfterThePaddingIndex()
    {
        // If positions started at 0 (BERT's rule) the embeddings would differ; prove the test above could fail by running the
        // naive reference with BERT positions and seeing it disagree with the engine.
        using var tiny = new TinyEncoder("xlm-roberta");
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(2, model.Config.FirstPosition);
        Assert.Equal(40, model.Config.MaxSequenceLength);
        var workspace = model.CreateWorkspace(64, 1);
        workspace.Batch.Add(RobertaSequences[0], new int[RobertaSequences[0].Length]);
        var taps = new Dictionary<string, float[]>();
        model.Forward(workspace, (name, values, _, _) => taps[name] = values.ToArray());
        var bertPositions = new NaiveBert(tiny.Tensors, TinyEncoder.Hidden, TinyEncoder.Heads, TinyEncoder.Layers, 1e-5, tiny.Prefix);
        bertPositions.Encode(RobertaSequences[0], new int[RobertaSequences[0].Length]);
        Assert.True(Math.Abs(taps["embeddings"][0] - bertPositions.States["embeddings"][0, 0]) > 1e-3);
    }

    [Fact]
    public void RobertaRejectsASequenceLongerThanItsPositionTableAfterTheOffset()
    {
        using var tiny = new TinyEncoder("xlm-roberta");
        var model = BertModel.Load(tiny.Directory);
        var batch = model.CreateWorkspace(128, 1).Batch;
        Assert.Contains("maximum of 40", Assert.Throws<ArgumentException>(() => batch.Add(new int[41], new int[41])).Message);
        Assert.Contains("Token type id 1", Assert.Throws<ArgumentException>(() => batch.Add([0, 5, 2], [0, 1, 1])).Message);
    }

    [Fact]
    public void ALongPositionVariantLoadsWithItsFullLength()
    {
        // bge-reranker-v2-m3: 8,194 position rows, 8,192 usable tokens.
        using var tiny = new TinyEncoder("xlm-roberta", maxPositions: 8194);
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(8192, model.Config.MaxSequenceLength);
        var workspace = model.CreateWorkspace(1100, 1);
        var ids = Enumerable.Range(0, 1000).Select(i => 3 + i % 50).ToArray();
        workspace.Batch.Add(ids, new int[ids.Length]);
        var taps = new Dictionary<string, float[]>();
        model.Forward(workspace, (name, values, _, _) => taps[name] = values.ToArray());
        var naive = new NaiveBert(tiny.Tensors, TinyEncoder.Hidden, TinyEncoder.Heads, TinyEncoder.Layers, 1e-5, tiny.Prefix, robertaPaddingIdx: 1);
        naive.Encode(ids, new int[ids.Length]);
        for (int t = 990; t < 1000; t++)   // the far positions: rows 992..1001 of the table
            for (int j = 0; j < TinyEncoder.Hidden; j++)
                Assert.Equal(naive.States["embeddings"][t, j], taps["embeddings"][t * TinyEncoder.Hidden + j], Tolerance);
    }

    [Fact]
    public void AStrayPoolerInARobertaClassifierIsIgnoredAndWrongNamesAreListed()
    {
        using (var withPooler = new TinyEncoder("xlm-roberta", withPooler: true))
            Assert.False(BertModel.Load(withPooler.Directory).HasPooler);

        using var mislabelled = new TinyEncoder("electra", editConfig: c => { c["model_type"] = "bert"; c["architectures"] = new[] { "BertForSequenceClassification" }; });
        var error = Assert.Throws<ModelFormatException>(() => BertModel.Load(mislabelled.Directory)).Message;
        Assert.Contains("Missing", error);
        Assert.Contains("embeddings.word_embeddings.weight", error);
        Assert.Contains("Unexpected", error);
        Assert.Contains("classifier.out_proj.weight", error);
    }

    [Theory]
    [InlineData("xlm-roberta", "ElectraForSequenceClassification", "architecture 'ElectraForSequenceClassification' is not supported for model_type 'xlm-roberta'")]
    [InlineData("electra", "ElectraForMaskedLM", "architecture 'ElectraForMaskedLM' is not supported")]
    public void MismatchedArchitecturesAreRejected(string family, string architecture, string message)
    {
        using var tiny = new TinyEncoder(family, editConfig: c => c["architectures"] = new[] { architecture });
        Assert.Contains(message, Assert.Throws<ModelFormatException>(() => BertModel.Load(tiny.Directory)).Message);
    }

    [Fact]
    public void AnXlmRobertaModelIsABiEncoderWhoseMeanPooledEmbeddingsMatchTheReference()
    {
        // XLMRobertaModel (embeddings, e.g. a bge-m3-style encoder): RoBERTa positions, its pooler present but unused by
        // mean pooling.
        using var tiny = new TinyEncoder("xlm-roberta", withPooler: true, classifier: false);
        var model = BertModel.Load(tiny.Directory);
        Assert.Equal(ModelKind.BiEncoder, model.Kind);
        Assert.True(model.HasPooler);
        var workspace = model.CreateWorkspace(256, RobertaSequences.Length);
        foreach (var ids in RobertaSequences) workspace.Batch.Add(ids, new int[ids.Length]);
        float[] embeddings = model.Forward(workspace).ToArray();
        var naive = new NaiveBert(tiny.Tensors, TinyEncoder.Hidden, TinyEncoder.Heads, TinyEncoder.Layers, 1e-5, tiny.Prefix, robertaPaddingIdx: 1);
        for (int s = 0; s < RobertaSequences.Length; s++)
        {
            var last = naive.Encode(RobertaSequences[s], new int[RobertaSequences[s].Length]);
            for (int j = 0; j < TinyEncoder.Hidden; j++)
                Assert.Equal(Enumerable.Range(0, RobertaSequences[s].Length).Average(t => last[t, j]), embeddings[s * TinyEncoder.Hidden + j], Tolerance);
        }
    }
}
