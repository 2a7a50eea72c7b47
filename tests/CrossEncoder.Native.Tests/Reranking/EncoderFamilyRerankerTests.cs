using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tests.Tokenization;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Native.Tests.Verification;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary>
/// End to end on XLM-RoBERTa and ELECTRA folders (small random weights with Hugging Face names, real tokenizers): the
/// reranker's logit for each (query, passage) equals the double-precision reference run on the ids Hugging Face's own
/// tokenizer (Tokenizers.DotNet) gives, and the length limit is the model's position table or the user's MaxLength.
/// </summary>
public class EncoderFamilyRerankerTests
{
    private const double Tolerance = 1e-5;

    private static (string Query, string[] Documents) Sample()
    {
        var rows = IrSample.Load().Where(r => r.Collection == "cranfield" && r.QueryId == 1).ToArray();
        return (rows[0].Query, rows.Select(r => r.Document[..Math.Min(300, r.Document.Length)]).ToArray());
    }

    [Fact]
    public void XlmRobertaRerankerScoresEqualTheReferenceOnHuggingFaceIds()
    {
        // bge-reranker-base's layout: XLMRobertaForSequenceClassification, tokenizer.json (Precompiled + Metaspace + Unigram +
        // RobertaProcessing), 514 positions = 512 tokens.
        using var tiny = new TinyEncoder("xlm-roberta", maxPositions: 514, vocab: 3002);
        File.Copy(PipelineFixtures.UnigramTokenizerJson, Path.Combine(tiny.Directory, "tokenizer.json"));
        File.WriteAllText(Path.Combine(tiny.Directory, "tokenizer_config.json"), """{"model_max_length": 512, "tokenizer_class": "XLMRobertaTokenizer"}""");
        using var reranker = Reranker.Load(tiny.Directory);
        Assert.IsType<PipelineTokenizer>(reranker.Tokenizer);
        Assert.Equal(512, reranker.ModelMaxLength);

        var (query, documents) = Sample();
        var results = reranker.Rerank(query, documents);
        int[][] hf = PipelineFixtures.Oracle(PipelineFixtures.UnigramTokenizerJson, [query, .. documents]);
        int[] queryIds = hf[0][1..^1];   // without <s> ... </s>
        var naive = new NaiveBert(tiny.Tensors, TinyEncoder.Hidden, TinyEncoder.Heads, TinyEncoder.Layers, 1e-5, tiny.Prefix, robertaPaddingIdx: 1);
        foreach (var result in results)
        {
            Assert.False(result.Truncation.Truncated);
            int[] ids = [0, .. queryIds, 2, 2, .. hf[result.Index + 1][1..^1], 2];   // <s> q </s></s> d </s>
            double logit = naive.Head(naive.Encode(ids, new int[ids.Length]), gelu: false)[0];
            Assert.Equal(logit, result.Logit, Tolerance);
            Assert.Equal(1 / (1 + Math.Exp(-logit)), result.Score, Tolerance);
        }
    }

    [Fact]
    public void AnXlmRobertaFolderWithOnlySentencePieceBpeModelUsesFairseqIds()
    {
        using var tiny = new TinyEncoder("xlm-roberta", maxPositions: 42, vocab: 3002);
        File.Copy(PipelineFixtures.UnigramModel, Path.Combine(tiny.Directory, "sentencepiece.bpe.model"));
        using var reranker = Reranker.Load(tiny.Directory);
        var pair = reranker.Tokenizer.EncodePair("wing lift", "heat transfer", 40);
        var spm = PipelineTokenizer.FromSentencePieceModel(PipelineFixtures.UnigramModel);
        int[] Fairseq(string text) => spm.EncodeToIds(text).Select(i => i == 0 ? 3 : i + 1).ToArray();
        Assert.Equal([0, .. Fairseq("wing lift"), 2, 2, .. Fairseq("heat transfer"), 2], pair.InputIds);
    }

    [Fact]
    public void RerankCapsAtTheModelsPositionTableOrTheUsersMaxLength()
    {
        // 42 position rows hold 40 tokens after RoBERTa's offset, fewer than the tokenizer's 512.
        using var tiny = new TinyEncoder("xlm-roberta", maxPositions: 42, vocab: 3002);
        File.Copy(PipelineFixtures.UnigramTokenizerJson, Path.Combine(tiny.Directory, "tokenizer.json"));
        using var reranker = Reranker.Load(tiny.Directory);
        Assert.Equal(40, reranker.ModelMaxLength);
        var (query, documents) = Sample();
        var results = reranker.Rerank(query, documents);
        Assert.All(results, r => Assert.True(r.Truncation.Truncated));
        foreach (var r in results)
            Assert.Equal(40, reranker.Tokenizer.EncodePair(query, documents[r.Index], 40).Length);
        var shorter = reranker.Rerank(query, documents, options: new RerankOptions { MaxLength = 24 });
        Assert.NotEqual(results.Select(r => r.Logit), shorter.OrderBy(r => results.ToList().FindIndex(x => x.Index == r.Index)).Select(r => r.Logit));
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Rerank(query, documents, options: new RerankOptions { MaxLength = 41 }));
    }

    [Fact]
    public void ElectraRerankerScoresEqualTheReference()
    {
        // ms-marco-electra-base's layout: ElectraForSequenceClassification with a BERT WordPiece vocab.txt; here E < H.
        using var tiny = new TinyEncoder("electra", embeddingSize: 8, maxPositions: 64, vocab: TinyBert.Vocabulary.Length);
        File.WriteAllLines(Path.Combine(tiny.Directory, "vocab.txt"), TinyBert.Vocabulary);
        using var reranker = Reranker.Load(tiny.Directory);
        Assert.IsType<BertTokenizer>(reranker.Tokenizer);
        string query = "what is the lift of a wing";
        string[] documents = ["the boundary layer of a plate in high speed flow", "blood cell data", "wing lift and heat"];
        var results = reranker.Rerank(query, documents);
        var naive = new NaiveBert(tiny.Tensors, TinyEncoder.Hidden, TinyEncoder.Heads, TinyEncoder.Layers, 1e-12, tiny.Prefix, embeddingSize: 8);
        foreach (var result in results)
        {
            var pair = reranker.Tokenizer.EncodePair(query, documents[result.Index], 64);
            Assert.Contains(1, pair.TokenTypeIds);
            double logit = naive.Head(naive.Encode(pair.InputIds, pair.TokenTypeIds), gelu: true)[0];
            Assert.Equal(logit, result.Logit, Tolerance);
        }
    }

    [Fact]
    public void ALongPositionModelReranksShortInputsWithoutSizingForItsLimitAndLongInputsPastFiveHundredTwelveTokens()
    {
        // bge-reranker-v2-m3's layout: 8,194 position rows, tokenizer_config model_max_length 8192.
        using var tiny = new TinyEncoder("xlm-roberta", maxPositions: 8194, vocab: 3002);
        File.Copy(PipelineFixtures.UnigramTokenizerJson, Path.Combine(tiny.Directory, "tokenizer.json"));
        File.WriteAllText(Path.Combine(tiny.Directory, "tokenizer_config.json"), """{"model_max_length": 8192}""");
        using var reranker = Reranker.Load(tiny.Directory);
        Assert.Equal(8192, reranker.ModelMaxLength);

        // Short inputs: the workspace is sized for them, not for 8,192 tokens (whose attention scratch alone would be
        // 4 heads x 8192^2 floats = 1 GB here, 4.3 GB for the real model's 16 heads).
        long before = GC.GetAllocatedBytesForCurrentThread();
        reranker.Rerank("wing lift", ["heat transfer in a boundary layer", "blood cells"]);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "a short rerank allocated a workspace sized for the model's limit");

        // A 1,500-token pair reads positions far past 512, and still equals the reference.
        string query = "what similarity laws must be obeyed";
        string document = string.Join(" ", Enumerable.Repeat(PipelineFixtures.Texts[60], 12));
        var result = reranker.Rerank(query, [document])[0];
        int[][] hf = PipelineFixtures.Oracle(PipelineFixtures.UnigramTokenizerJson, [query, document]);
        int[] ids = [0, .. hf[0][1..^1], 2, 2, .. hf[1][1..^1], 2];
        Assert.InRange(ids.Length, 1000, 8192);
        Assert.False(result.Truncation.Truncated);
        var naive = new NaiveBert(tiny.Tensors, TinyEncoder.Hidden, TinyEncoder.Heads, TinyEncoder.Layers, 1e-5, tiny.Prefix, robertaPaddingIdx: 1);
        Assert.Equal(naive.Head(naive.Encode(ids, new int[ids.Length]), gelu: false)[0], result.Logit, Tolerance);
    }
}
