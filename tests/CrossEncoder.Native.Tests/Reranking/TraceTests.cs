using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tests.Model.ModernBert;
using CrossEncoder.Native.Tests.Model.Qwen;
using CrossEncoder.Native.Tests.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary>
/// <see cref="Reranker.Trace"/> on random checkpoints of every family (BERT, XLM-RoBERTa, ELECTRA, a BERT bi-encoder,
/// ModernBERT, Qwen3 and Qwen2 decoder rerankers, each with its real kind of tokenizer): the traced score is the score
/// <see cref="Reranker.Rerank"/> gives the pair, the tokens are those Encode makes, every layer reports its stages with the
/// right shapes, and the attended tokens are read from the scoring position's attention row.
/// </summary>
public sealed class TraceTests
{
    private const string Query = "what is the lift of a wing";
    private const string Document = "wing lift and heat in high speed flow";

    /// <summary>A model folder by name, and a cleanup for the ones this test wrote.</summary>
    private static (string Folder, IDisposable? Owner) FolderOf(string family)
    {
        switch (family)
        {
            case "bert": { var tiny = new TinyBert(classifier: true); return (tiny.Directory, tiny); }
            case "bert-bi-encoder": { var tiny = new TinyBert(classifier: false); return (tiny.Directory, tiny); }
            case "xlm-roberta":
            {
                var tiny = new TinyEncoder("xlm-roberta", maxPositions: 514, vocab: 3002);
                File.Copy(PipelineFixtures.UnigramTokenizerJson, Path.Combine(tiny.Directory, "tokenizer.json"));
                return (tiny.Directory, tiny);
            }
            case "electra":
            {
                var tiny = new TinyEncoder("electra", embeddingSize: 8, maxPositions: 64, vocab: TinyBert.Vocabulary.Length);
                File.WriteAllLines(Path.Combine(tiny.Directory, "vocab.txt"), TinyBert.Vocabulary);
                return (tiny.Directory, tiny);
            }
            case "modernbert":
            {
                string folder = ModernBertFolders.CreateRerankerFolder();
                return (folder, new FolderDeleter(folder));
            }
            case "qwen3": return (QwenFolders.Qwen3RerankerWithTokenizer, null);
            default: return (QwenFolders.MxbaiRerankWithTokenizer, null);
        }
    }

    private sealed class FolderDeleter(string folder) : IDisposable
    {
        public void Dispose() { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    }

    public static TheoryData<string> Families => new() { "bert", "bert-bi-encoder", "xlm-roberta", "electra", "modernbert", "qwen3", "mxbai-qwen2" };

    [Theory]
    [MemberData(nameof(Families))]
    public void TheTracedScoreIsTheRerankScoreAndEveryStageHasItsShape(string family)
    {
        var (folder, owner) = FolderOf(family);
        using var _ = owner;
        using var reranker = Reranker.Load(folder);
        var expected = reranker.Rerank(Query, [Document])[0];
        var inputs = reranker.Encode(Query, [Document]);
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        int intermediate = config.RootElement.GetProperty("intermediate_size").GetInt32();

        var trace = reranker.Trace(Query, Document, topTokens: 4);

        // The score and logit: the traced pass computes every row and no cached prefix, so equal to float rounding only.
        Assert.Equal(expected.Score, trace.Score, 1e-5);
        Assert.Equal(expected.Logit, trace.Logit, 1e-5);
        var description = reranker.Description;
        bool decoder = family.Contains("qwen");
        Assert.Equal(description.Kind == ModelKind.BiEncoder ? "cosine(query, document)" : "sigmoid(logit)", trace.ScoreRule);
        Assert.Equal(inputs.Sequences.Count, trace.Sequences.Count);
        Assert.Equal(description.Kind == ModelKind.BiEncoder ? 2 : 1, trace.Sequences.Count);

        for (int s = 0; s < trace.Sequences.Count; s++)
        {
            var sequence = trace.Sequences[s];
            var encoded = inputs.Sequences[s];
            int t = encoded.Length, h = description.HiddenSize;
            Assert.Equal(encoded.InputIds, sequence.Tokens.Select(x => x.Id));
            Assert.Equal(encoded.TokenTypeIds, sequence.Tokens.Select(x => x.TypeId));
            Assert.Equal(encoded.Tokens, sequence.Tokens.Select(x => x.Text));
            Assert.Equal(decoder ? t - 1 : 0, sequence.FocusPosition);
            Assert.Equal((t, h), (sequence.Embeddings.Rows, sequence.Embeddings.Columns));
            Assert.Equal(description.Layers, sequence.Layers.Count);
            foreach (var layer in sequence.Layers)
            {
                int heads = layer.Heads;
                Assert.True(heads > 0 && h % heads == 0 || decoder, $"{heads} heads");
                Assert.Equal((heads * t, t), (layer.Probabilities.Rows, layer.Probabilities.Columns));
                foreach (var stage in new[] { layer.Attention, layer.AttentionResidual, layer.FeedForward, layer.Output })
                    Assert.Equal((t, h), (stage.Rows, stage.Columns));
                Assert.Equal(t, layer.FeedForwardIntermediate.Rows);
                Assert.Equal(intermediate, layer.FeedForwardIntermediate.Columns);   // config.json's intermediate_size: GELU, GeGLU, SwiGLU
                Assert.Equal($"layer.{layer.Index}.ffn.output", layer.FeedForward.Name);

                // The focus row of every head is a distribution; a decoder's last token sees every key, an encoder's [CLS] too.
                Assert.Equal(heads, layer.FocusAttention.Count);
                foreach (var row in layer.FocusAttention)
                {
                    Assert.Equal(t, row.Count);
                    Assert.Equal(1.0, row.Sum(p => (double)p), 1e-5);
                }
                // Top attended: the head average, best first, and the best is the largest average weight.
                var mean = Enumerable.Range(0, t).Select(j => layer.FocusAttention.Average(row => (double)row[j])).ToArray();
                Assert.Equal(Math.Min(4, t), layer.TopAttended.Count);
                Assert.Equal(mean.Max(), layer.TopAttended[0].Weight, 1e-6);
                Assert.Equal(sequence.Tokens[layer.TopAttended[0].Position].Text, layer.TopAttended[0].Text);
                for (int k = 1; k < layer.TopAttended.Count; k++) Assert.True(layer.TopAttended[k].Weight <= layer.TopAttended[k - 1].Weight);
                for (int head = 0; head < heads; head++)
                    Assert.Equal(layer.FocusAttention[head].Max(), layer.HeadTop[head].Weight);
                Assert.True(layer.Elapsed > TimeSpan.Zero);
            }
            Assert.Equal(ModelTaps.Output, sequence.Head[^1].Name);
            Assert.Equal((1, description.OutputSize), (sequence.Head[^1].Rows, sequence.Head[^1].Columns));
            Assert.Equal(description.OutputSize, sequence.Output.Count);
            Assert.Equal(sequence.Output.Take(8), sequence.Head[^1].FocusValues);
        }
    }

    [Fact]
    public void RunTappedReturnsTheForwardRowAndReportsEveryLayer()
    {
        using var tiny = new TinyBert(classifier: true);
        using var reranker = Reranker.Load(tiny.Directory);
        var inputs = reranker.Encode(Query, [Document, "blood cells"]);
        var outputs = new float[2];
        reranker.Forward(inputs.Sequences, outputs);
        var names = new List<string>();
        float[] row = reranker.RunTapped(inputs.Sequences[1], (name, _, _, _) => names.Add(name));
        Assert.Equal(outputs[1], row[0], 1e-6);
        Assert.Equal(TinyBert.Layers, names.Count(n => n.EndsWith(".attention.probabilities", StringComparison.Ordinal)));
        Assert.Contains(ModelTaps.Output, names);
    }

    [Fact]
    public void BadInputGetsAnErrorThatNamesIt()
    {
        using var tiny = new TinyBert(classifier: true);
        using var reranker = Reranker.Load(tiny.Directory);
        Assert.Throws<ArgumentNullException>(() => reranker.Trace(null!, Document));
        Assert.Throws<ArgumentNullException>(() => reranker.Trace(Query, null!));
        var top = Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Trace(Query, Document, topTokens: 0));
        Assert.Contains("topTokens", top.Message);
        var length = Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Trace(Query, Document, new RerankOptions { MaxLength = 100_000 }));
        Assert.Contains("maximum length", length.Message);
        // Empty texts are valid input: the pair is then only its special tokens.
        var empty = reranker.Trace("", "");
        Assert.Equal(["[CLS]", "[SEP]", "[SEP]"], empty.Sequences[0].Tokens.Select(x => x.Text));
        Assert.Equal(reranker.Rerank("", [""])[0].Score, empty.Score, 1e-6);
    }
}
