using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Metrics;
using CrossEncoder.Evaluation.Retrieval;
using CrossEncoder.Native.Reranking;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Retrieval;

/// <summary>Dense retrieval and reranking with the real all-MiniLM-L6-v2 on the 50-document Cranfield fixture.</summary>
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

        var second = new DenseFirstStage(data.Corpus, model.ModelDirectory, cache).Retrieve(query, 100, null, default);
        Assert.True(second.IndexFromCache);
        Assert.Equal(ranking, second.Run.For("12"));
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

    private sealed class SynchronousProgress(Action<StageProgress> report) : IProgress<StageProgress>
    {
        public void Report(StageProgress value) => report(value);
    }
}
