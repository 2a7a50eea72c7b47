using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Metrics;
using CrossEncoder.Evaluation.Retrieval;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Hub;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Retrieval;

/// <summary>Dense retrieval and reranking with the real all-MiniLM-L6-v2 (and tiny tokenizer.json-only folders) on the 50-document Cranfield fixture.</summary>
[Collection("EvalModel")]
public sealed class ModelStagesTests(EvalModelFixture model)
{
    [Fact]
    public void Dense_scores_are_the_cosines_the_reranker_computes_and_the_cache_is_reused()
    {
        var data = BeirDataset.Load(Fixture.Beir);
        string cache = Fixture.TemporaryDirectory();
        var query = data.Queries.Where(q => q.Id == "12").ToList();
        var first = new DenseFirstStage(data.Corpus, model.ModelDirectory, cache).Retrieve(query, 100, null, default);
        Assert.False(first.IndexFromCache);
        Assert.Single(Directory.GetFiles(cache, "dense-*.f32"));
        Assert.True(first.Tokens > data.Corpus.Count * 2);

        // The same cosines through an independent path: Reranker's bi-encoder scoring of the query against every document.
        using var reranker = Reranker.Load(model.ModelDirectory);
        var expected = reranker.Rerank(query[0].Text, data.Corpus.Select(d => d.FullText).ToList());
        var ranking = first.Run.For("12");
        Assert.Equal(data.Corpus.Count, ranking.Count);
        Assert.Equal(data.Corpus[expected[0].Index].Id, ranking[0].DocumentId);
        foreach (var hit in expected)
            Assert.Equal(hit.Score, ranking.Single(r => r.DocumentId == data.Corpus[hit.Index].Id).Score, 1e-5);

        // The document vectors kept on disk are Reranker.Embed's.
        AssertEqualRows(reranker.Embed(data.Corpus.Select(d => d.FullText).ToList()), ReadCache(Assert.Single(Directory.GetFiles(cache, "dense-*.f32"))));

        var second = new DenseFirstStage(data.Corpus, model.ModelDirectory, cache).Retrieve(query, 100, null, default);
        Assert.True(second.IndexFromCache);
        Assert.Equal(ranking, second.Run.For("12"));
    }

    [Fact]
    public void Dense_runs_a_tokenizer_json_bi_encoder_with_the_vectors_and_token_counts_of_Reranker_Embed()
    {
        // An XLM-RoBERTa bi-encoder whose only tokenizer is a Unigram tokenizer.json (no vocab.txt): the first stage used to
        // read every folder with BertTokenizer and failed on it.
        using var tiny = TinyModels.XlmRoberta();
        var data = BeirDataset.Load(Fixture.Beir);
        var queries = RerankEvaluation.SelectQueries(data, null);
        string cache = Fixture.TemporaryDirectory();
        var result = new DenseFirstStage(data.Corpus, tiny.Directory, cache, maxLength: 64).Retrieve(queries, 100, null, default);

        using var encoder = Reranker.Load(tiny.Directory);
        var documentTexts = data.Corpus.Select(d => d.FullText).ToList();
        float[][] documents = encoder.Embed(documentTexts, maxLength: 64);
        float[][] queryVectors = encoder.Embed(queries.Select(q => q.Text).ToList(), maxLength: 64);
        AssertEqualRows(documents, ReadCache(Assert.Single(Directory.GetFiles(cache, "dense-*-L64.f32"))));
        for (int q = 0; q < queries.Count; q++)
        {
            var ranking = result.Run.For(queries[q].Id);
            Assert.Equal(data.Corpus.Count, ranking.Count);
            for (int d = 0; d < documents.Length; d++)
                Assert.Equal(Cosine(queryVectors[q], documents[d]), ranking.Single(r => r.DocumentId == data.Corpus[d].Id).Score, 1e-5);
        }
        long tokens = documentTexts.Concat(queries.Select(q => q.Text)).Sum(t => (long)encoder.Tokenizer.EncodeSingle(t, 64).Length);
        Assert.Equal(tokens, result.Tokens);
    }

    [Fact]
    public void Dense_embeds_the_corpus_in_chunks_and_reports_progress_after_each()
    {
        using var tiny = TinyModels.XlmRoberta();
        string[] words = ["wing lift", "heat transfer in a boundary layer", "blood cells", "supersonic flow over a flat plate at high speed"];
        var corpus = Enumerable.Range(0, 600).Select(i => new BeirDocument($"d{i}", $"doc {i}", words[i % words.Length])).ToList();
        var progress = new List<StageProgress>();
        var result = new DenseFirstStage(corpus, tiny.Directory, Fixture.TemporaryDirectory())
            .Retrieve([new BeirQuery("q", "lift of a wing")], 10, new SynchronousProgress(progress.Add), default);

        var embedding = progress.Where(p => p.Stage == "dense: embed corpus").ToList();
        Assert.Equal(new long[] { 256, 512, 600 }, embedding.Select(p => p.Done));
        Assert.All(embedding, p => Assert.Equal(600, p.Total));
        Assert.True(embedding[0].Tokens > 0 && embedding[0].Tokens < embedding[1].Tokens && embedding[1].Tokens < embedding[2].Tokens);
        Assert.Equal(10, result.Run.For("q").Count);
    }

    [Fact]
    public void Dense_refuses_a_cross_encoder_with_one_clear_message()
    {
        using var tiny = TinyModels.XlmRoberta(biEncoder: false);
        var data = BeirDataset.Load(Fixture.Beir);
        var error = Assert.Throws<FormatException>(() =>
            new DenseFirstStage(data.Corpus, tiny.Directory, Fixture.TemporaryDirectory()).Retrieve(data.Queries, 10, null, default));
        Assert.Contains("cross-encoder", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Dense_takes_a_Hub_name_and_keys_its_cache_by_content()
    {
        using var tiny = TinyModels.XlmRoberta();
        await using var hub = await FakeHub.StartAsync();
        hub.Publish("org/tiny-embed", tiny.Directory);
        var data = BeirDataset.Load(Fixture.Beir);
        var queries = RerankEvaluation.SelectQueries(data, null);
        string cache = Fixture.TemporaryDirectory();
        var byFolder = new DenseFirstStage(data.Corpus, tiny.Directory, cache).Retrieve(queries, 100, null, default);

        var options = new RerankerOptions { Hub = new HubOptions { Endpoint = hub.Endpoint, CacheDirectory = Fixture.TemporaryDirectory() } };
        var byName = new DenseFirstStage(data.Corpus, "org/tiny-embed@main", cache, modelOptions: options).Retrieve(queries, 100, null, default);
        Assert.True(byName.IndexFromCache);   // the downloaded snapshot holds the same files, so the same key
        Assert.Contains(hub.Requests, r => r.Path.EndsWith("/model.safetensors", StringComparison.Ordinal));
        foreach (var q in queries) Assert.Equal(byFolder.Run.For(q.Id), byName.Run.For(q.Id));
    }

    [Fact]
    public void Rerank_evaluation_rescores_the_top_candidates_and_measures_both_stages()
    {
        var data = BeirDataset.Load(Fixture.Beir);
        var bm25 = new Bm25FirstStage(data.Corpus, Fixture.TemporaryDirectory());
        var progress = new List<StageProgress>();
        var report = RerankEvaluation.Run(data, bm25, model.ModelDirectory, new RerankEvaluationOptions { Candidates = 5 },
            new SynchronousProgress(progress.Add));

        Assert.Equal(["3", "10", "12"], report.QueryIds);                    // query 1 has no relevant judgment
        var stage = Assert.Single(report.Reranked).Stage;
        Assert.Equal(15, stage.Pairs);
        Assert.True(stage.Tokens > 15 * 10);
        Assert.Contains(progress, p => p.Stage == "rerank-fp32" && p.Done == 15 && p.Total == 15);

        using var reranker = Reranker.Load(model.ModelDirectory);
        var documents = data.Corpus.ToDictionary(d => d.Id);
        foreach (var q in data.Queries.Where(q => report.QueryIds.Contains(q.Id)))
        {
            var firstStage = report.FirstStage.Run.For(q.Id);
            var top = firstStage.Take(5).ToList();
            var expected = reranker.Rerank(q.Text, top.Select(c => documents[c.DocumentId].FullText).ToList()).Select(r => top[r.Index].DocumentId);
            var reranked = stage.Run.For(q.Id);
            Assert.Equal(expected, reranked.Take(5).Select(r => r.DocumentId));
            // Below the candidates, the first stage's order is kept.
            Assert.Equal(firstStage.Skip(5).Select(d => d.DocumentId), reranked.Skip(5).Select(d => d.DocumentId));
        }
        // The measures are those of the runs as trec_eval would read them back from the files.
        string path = Path.Combine(Fixture.TemporaryDirectory(), "reranked.trec");
        stage.Run.Write(path, "t");
        Assert.Equal(RunEvaluator.Evaluate(TrecRun.Read(path), data.Qrels, report.QueryIds).Mean, stage.Metrics.Mean);
        Assert.InRange(Assert.Single(report.Reranked).PValues.NdcgAt10, 0, 1);
    }

    [Fact]
    public void Int8_loads_the_library_int8_model_and_ranks_like_fp32()
    {
        string[] passages = ["The boundary layer on a flat plate becomes turbulent past a critical Reynolds number.",
            "Blood pressure was measured in 40 patients before and after treatment.",
            "Transition of the laminar boundary layer is delayed by a favourable pressure gradient.",
            "Library catalogues index books by subject headings."];
        using var int8 = RerankEvaluation.LoadReranker(model.ModelDirectory, RerankPrecision.Int8);
        using var fp32 = RerankEvaluation.LoadReranker(model.ModelDirectory, RerankPrecision.Fp32);
        Assert.Equal(CrossEncoder.Native.Model.Precision.Int8, int8.Description.Precision);
        Assert.Equal(CrossEncoder.Native.Model.Precision.Fp32, fp32.Description.Precision);
        var q8 = int8.Rerank("boundary layer transition", passages);
        var q32 = fp32.Rerank("boundary layer transition", passages);
        Assert.Equal(q32.Select(r => r.Index).Take(2).Order(), q8.Select(r => r.Index).Take(2).Order());   // the two on-topic passages on top
        foreach (var hit in q8) Assert.InRange(Math.Abs(hit.Score - q32.Single(r => r.Index == hit.Index).Score), 0, 0.05);
        Assert.Contains(q8, hit => hit.Score != q32.Single(r => r.Index == hit.Index).Score);   // really int8 arithmetic, not fp32 again
    }

    private static float[][] ReadCache(string path)
    {
        // uint32 magic "EMB1", int32 count, int32 dimension, then count x dimension float32 (DenseFirstStage's layout).
        byte[] bytes = File.ReadAllBytes(path);
        int count = BitConverter.ToInt32(bytes, 4), dimension = BitConverter.ToInt32(bytes, 8);
        Assert.Equal(0x31424D45u, BitConverter.ToUInt32(bytes, 0));
        Assert.Equal(12 + count * dimension * 4, bytes.Length);
        return Enumerable.Range(0, count).Select(i => Enumerable.Range(0, dimension).Select(j => BitConverter.ToSingle(bytes, 12 + (i * dimension + j) * 4)).ToArray()).ToArray();
    }

    private static void AssertEqualRows(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            for (int j = 0; j < expected[i].Length; j++) Assert.Equal(expected[i][j], actual[i][j], 1e-6);
        }
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) (dot, na, nb) = (dot + (double)a[i] * b[i], na + (double)a[i] * a[i], nb + (double)b[i] * b[i]);
        return dot / Math.Sqrt(na * nb);
    }

    private sealed class SynchronousProgress(Action<StageProgress> report) : IProgress<StageProgress>
    {
        public void Report(StageProgress value) => report(value);
    }
}
