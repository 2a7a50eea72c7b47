using System.Globalization;
using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Metrics;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Metrics;

/// <summary>Our measures against the real trec_eval's output on the same qrels and runs (Fixtures/trec_eval/README.md).</summary>
public sealed class TrecEvalAgreementTests
{
    private const double PrintedPrecision = 5e-5;   // trec_eval prints 4 decimals

    [Theory]
    [InlineData("bm25")]
    [InlineData("ties")]   // most scores tied: the order comes from trec_eval's docno-descending tie-break
    public void Per_query_and_mean_values_match_trec_eval(string run)
    {
        var qrels = ReadTrecQrels(Fixture.TrecEval("qrels.txt"));
        var trecRun = TrecRun.Read(Fixture.TrecEval(run + ".trec"));
        var expected = File.ReadLines(Fixture.TrecEval(run + ".trec_eval.txt"))
            .Select(l => l.Split('\t', StringSplitOptions.TrimEntries))
            .ToDictionary(f => (f[0], f[1]), f => double.Parse(f[2], CultureInfo.InvariantCulture));
        var queries = RunEvaluator.EvaluableQueries(qrels.QueryIds, qrels);
        Assert.Equal(3, queries.Count);
        var metrics = RunEvaluator.Evaluate(trecRun, qrels, queries);
        for (int i = 0; i < queries.Count; i++)
        {
            var m = metrics.PerQuery[i];
            Assert.Equal(expected[("ndcg_cut_10", queries[i])], m.NdcgAt10, PrintedPrecision);
            Assert.Equal(expected[("recip_rank", queries[i])], m.MrrAt10, PrintedPrecision);
            Assert.Equal(expected[("recall_100", queries[i])], m.RecallAt100, PrintedPrecision);
            Assert.Equal(expected[("map", queries[i])], m.Map, PrintedPrecision);
        }
        Assert.Equal(expected[("ndcg_cut_10", "all")], metrics.Mean.NdcgAt10, PrintedPrecision);
        Assert.Equal(expected[("recip_rank", "all")], metrics.Mean.MrrAt10, PrintedPrecision);
        Assert.Equal(expected[("recall_100", "all")], metrics.Mean.RecallAt100, PrintedPrecision);
        Assert.Equal(expected[("map", "all")], metrics.Mean.Map, PrintedPrecision);
    }

    [Fact]
    public void The_ties_run_differs_from_ascending_tie_breaking()
    {
        // Guard that the ties fixture can catch a wrong tie-break: query 12 with ids ascending on ties would give RR 1/5, not 1/4.
        var qrels = ReadTrecQrels(Fixture.TrecEval("qrels.txt"));
        var ranking = TrecRun.Read(Fixture.TrecEval("ties.trec")).For("12")
            .OrderByDescending(d => d.Score).ThenBy(d => d.DocumentId, StringComparer.Ordinal)
            .Select((d, i) => new ScoredDocument(d.DocumentId, -i)).ToList();   // freeze the ascending order into scores
        Assert.Equal(0.2, RankingMetrics.ReciprocalRank(ranking, qrels.For("12"), 10), 12);
    }

    private static Qrels ReadTrecQrels(string path)
    {
        var qrels = new Qrels();
        foreach (string line in File.ReadLines(path))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            qrels.Add(f[0], f[2], int.Parse(f[3], CultureInfo.InvariantCulture));
        }
        return qrels;
    }
}
