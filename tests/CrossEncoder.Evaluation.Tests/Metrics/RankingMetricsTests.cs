using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Metrics;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Metrics;

/// <summary>
/// Each measure on hand-worked examples. The measures match trec_eval 9.x: nDCG@10 = ndcg_cut.10, MRR@10 = recip_rank on the
/// run cut at 10 (-M 10), Recall@100 = recall.100, MAP = map. TrecEvalAgreementTests checks them against trec_eval's own output.
/// </summary>
public sealed class RankingMetricsTests
{
    private const double Tolerance = 1e-12;

    private static ScoredDocument[] Ranked(params string[] ids) => ids.Select((id, i) => new ScoredDocument(id, ids.Length - i)).ToArray();

    private static Dictionary<string, int> Judged(params (string Id, int Grade)[] judgments) => judgments.ToDictionary(j => j.Id, j => j.Grade);

    [Fact]
    public void Binary_judgments_hand_worked()
    {
        // Relevant: a, b, c. Ranking: x a y b (relevant at ranks 2 and 4).
        var judgments = Judged(("a", 1), ("b", 1), ("c", 1));
        var ranking = Ranked("x", "a", "y", "b");
        // DCG = 1/log2(3) + 1/log2(5); IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4).
        double dcg = 1 / Math.Log2(3) + 1 / Math.Log2(5), idcg = 1 + 1 / Math.Log2(3) + 0.5;
        Assert.Equal(dcg / idcg, RankingMetrics.Ndcg(ranking, judgments, 10), Tolerance);
        Assert.Equal(0.4981893, RankingMetrics.Ndcg(ranking, judgments, 10), 1e-7);   // the same, as a number
        Assert.Equal(0.5, RankingMetrics.ReciprocalRank(ranking, judgments, 10), Tolerance);
        Assert.Equal(2.0 / 3, RankingMetrics.Recall(ranking, judgments, 100), Tolerance);
        Assert.Equal((1.0 / 2 + 2.0 / 4) / 3, RankingMetrics.AveragePrecision(ranking, judgments), Tolerance);   // c never retrieved: still in the denominator
    }

    [Fact]
    public void Graded_judgments_hand_worked()
    {
        // Grades a 3, b 2, c 1, d 0 (judged non-relevant). Ranking: c d a e.
        var judgments = Judged(("a", 3), ("b", 2), ("c", 1), ("d", 0));
        var ranking = Ranked("c", "d", "a", "e");
        // DCG = 1/log2(2) + 0 + 3/log2(4) + 0 = 2.5; IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4) = 4.761860; nDCG 0.525005.
        double idcg = 3 + 2 / Math.Log2(3) + 0.5;
        Assert.Equal(2.5 / idcg, RankingMetrics.Ndcg(ranking, judgments, 10), Tolerance);
        Assert.Equal(0.5250050, RankingMetrics.Ndcg(ranking, judgments, 10), 1e-7);
        // Grade 1 is relevant for the binary measures (trec_eval's default relevance level 1).
        Assert.Equal(1.0, RankingMetrics.ReciprocalRank(ranking, judgments, 10), Tolerance);
        Assert.Equal(2.0 / 3, RankingMetrics.Recall(ranking, judgments, 100), Tolerance);
        Assert.Equal((1.0 / 1 + 2.0 / 3) / 3, RankingMetrics.AveragePrecision(ranking, judgments), Tolerance);
    }

    [Fact]
    public void Ndcg_gain_is_the_grade_not_an_exponential()
    {
        // One document of grade 4 at rank 2, the ideal has it at rank 1: nDCG = (4/log2 3) / (4/log2 2) = 1/log2 3 whatever the grade,
        // but two documents of different grades tell linear gain (trec_eval) from 2^g - 1: ranking b(1) a(3) with a, b judged.
        var judgments = Judged(("a", 3), ("b", 1));
        double linear = (1 + 3 / Math.Log2(3)) / (3 + 1 / Math.Log2(3));
        Assert.Equal(linear, RankingMetrics.Ndcg(Ranked("b", "a"), judgments, 10), Tolerance);
        Assert.NotEqual((1 + 7 / Math.Log2(3)) / (7 + 1 / Math.Log2(3)), RankingMetrics.Ndcg(Ranked("b", "a"), judgments, 10), 6);
    }

    [Fact]
    public void Cutoffs_are_applied_at_10_and_100()
    {
        var judgments = Judged(("r", 2));
        var at11 = Ranked([.. Enumerable.Range(0, 10).Select(i => "n" + i), "r"]);
        Assert.Equal(0, RankingMetrics.Ndcg(at11, judgments, 10));
        Assert.Equal(0, RankingMetrics.ReciprocalRank(at11, judgments, 10));
        Assert.Equal(1, RankingMetrics.Recall(at11, judgments, 100));
        Assert.Equal(1.0 / 11, RankingMetrics.AveragePrecision(at11, judgments), Tolerance);

        var at101 = Ranked([.. Enumerable.Range(0, 100).Select(i => "n" + i), "r"]);
        Assert.Equal(0, RankingMetrics.Recall(at101, judgments, 100));
        Assert.Equal(1.0 / 101, RankingMetrics.AveragePrecision(at101, judgments), Tolerance);   // MAP has no cutoff

        var at10 = Ranked([.. Enumerable.Range(0, 9).Select(i => "n" + i), "r"]);
        Assert.Equal(0.1, RankingMetrics.ReciprocalRank(at10, judgments, 10), Tolerance);
        Assert.Equal(1 / Math.Log2(11), RankingMetrics.Ndcg(at10, judgments, 10), Tolerance);
    }

    [Fact]
    public void Ideal_ranking_uses_every_judged_relevant_document_even_unretrieved()
    {
        // 12 relevant documents of grade 1, the run retrieves only the first 10 in order: nDCG@10 = 1 (the ideal is cut at 10 too).
        var judgments = Enumerable.Range(0, 12).ToDictionary(i => "d" + i, _ => 1);
        Assert.Equal(1.0, RankingMetrics.Ndcg(Ranked([.. Enumerable.Range(0, 10).Select(i => "d" + i)]), judgments, 10), Tolerance);
        // A grade-3 document never retrieved lowers nDCG: the ideal puts it first.
        judgments["best"] = 3;
        double dcg = Enumerable.Range(0, 10).Sum(i => 1 / Math.Log2(i + 2));
        double idcg = 3 + Enumerable.Range(1, 9).Sum(i => 1 / Math.Log2(i + 2));
        Assert.Equal(dcg / idcg, RankingMetrics.Ndcg(Ranked([.. Enumerable.Range(0, 10).Select(i => "d" + i)]), judgments, 10), Tolerance);
    }

    [Fact]
    public void Ties_are_broken_by_document_id_descending_as_trec_eval_does()
    {
        // All scores equal: trec_eval orders by docno descending with strcmp, so "5" > "485" > "10" (byte order, not numeric).
        var judgments = Judged(("485", 1));
        var tied = new[] { new ScoredDocument("10", 1.0), new ScoredDocument("485", 1.0), new ScoredDocument("5", 1.0) };
        Assert.Equal(0.5, RankingMetrics.ReciprocalRank(tied, judgments, 10), Tolerance);
        Assert.Equal(0.5, RankingMetrics.AveragePrecision(tied, judgments), Tolerance);
        Assert.Equal(1 / Math.Log2(3), RankingMetrics.Ndcg(tied, judgments, 10), Tolerance);
        // The given order and the file's rank column do not matter, only the scores.
        Assert.Equal(0.5, RankingMetrics.ReciprocalRank(tied.Reverse(), judgments, 10), Tolerance);
        // A higher score wins over the tie-break.
        var notTied = new[] { new ScoredDocument("10", 1.0), new ScoredDocument("485", 1.5), new ScoredDocument("5", 1.0) };
        Assert.Equal(1.0, RankingMetrics.ReciprocalRank(notTied, judgments, 10), Tolerance);
    }

    [Fact]
    public void Unjudged_documents_count_as_non_relevant()
    {
        var judgments = Judged(("a", 2), ("j", 0));
        var unjudgedFirst = Ranked("u", "a");
        var judgedNonRelevantFirst = Ranked("j", "a");
        Assert.Equal(RankingMetrics.Evaluate(judgedNonRelevantFirst, judgments), RankingMetrics.Evaluate(unjudgedFirst, judgments));
        Assert.Equal(0.5, RankingMetrics.ReciprocalRank(unjudgedFirst, judgments, 10), Tolerance);
    }

    [Fact]
    public void Empty_run_scores_zero_on_every_measure()
    {
        var judgments = Judged(("a", 1));
        Assert.Equal(new QueryMetrics(0, 0, 0, 0), RankingMetrics.Evaluate([], judgments));
    }

    [Fact]
    public void A_query_without_relevant_documents_is_refused_and_left_out_of_averages()
    {
        Assert.Throws<ArgumentException>(() => RankingMetrics.Evaluate(Ranked("a"), Judged(("a", 0))));
        Assert.Throws<ArgumentException>(() => RankingMetrics.Ndcg(Ranked("a"), Judged(), 10));

        var qrels = new Qrels();
        qrels.Add("q1", "a", 1);
        qrels.Add("q2", "b", 0);             // judged, but nothing relevant
        var run = new TrecRun();
        run.Set("q1", Ranked("x", "a"));     // RR 1/2
        run.Set("q2", Ranked("b"));
        run.Set("q3", Ranked("c"));          // no judgments at all
        var evaluable = RunEvaluator.EvaluableQueries(["q1", "q2", "q3", "q4"], qrels);
        Assert.Equal(["q1"], evaluable);
        var metrics = RunEvaluator.Evaluate(run, qrels, evaluable);
        Assert.Equal(0.5, metrics.Mean.MrrAt10, Tolerance);
    }

    [Fact]
    public void A_judged_query_missing_from_the_run_counts_as_zero_like_trec_eval_minus_c()
    {
        var qrels = new Qrels();
        qrels.Add("q1", "a", 1);
        qrels.Add("q2", "b", 1);
        var run = new TrecRun();
        run.Set("q1", Ranked("a"));
        var metrics = RunEvaluator.Evaluate(run, qrels, ["q1", "q2"]);
        Assert.Equal(new QueryMetrics(0.5, 0.5, 0.5, 0.5), metrics.Mean);
        Assert.Equal(new QueryMetrics(0, 0, 0, 0), metrics.PerQuery[1]);
    }

    [Fact]
    public void A_document_ranked_twice_is_an_error()
    {
        var twice = new[] { new ScoredDocument("a", 2), new ScoredDocument("a", 1) };
        var e = Assert.Throws<ArgumentException>(() => RankingMetrics.Evaluate(twice, Judged(("a", 1))));
        Assert.Contains("a", e.Message);
    }
}
