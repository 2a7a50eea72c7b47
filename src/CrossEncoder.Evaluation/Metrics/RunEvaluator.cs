using CrossEncoder.Evaluation.Data;

namespace CrossEncoder.Evaluation.Metrics;

/// <summary>The measures of a run: per query (in the order of <see cref="QueryIds"/>) and their means.</summary>
public sealed record RunMetrics(IReadOnlyList<string> QueryIds, IReadOnlyList<QueryMetrics> PerQuery, QueryMetrics Mean);

/// <summary>
/// Evaluates runs over a set of queries. Which queries count: the ones given that have at least one relevant judgment
/// (grade &gt; 0). A counted query the run has no results for scores 0 on every measure (as <c>trec_eval -c</c>). Queries without
/// relevant judgments are left out: their measures are undefined (trec_eval without -c skips queries absent from the qrels,
/// but averages in as 0 a query whose judgments are all non-relevant; the collections here have no such query).
/// </summary>
public static class RunEvaluator
{
    /// <summary>The queries of <paramref name="candidates"/> that have a relevant judgment, in the given order.</summary>
    public static IReadOnlyList<string> EvaluableQueries(IEnumerable<string> candidates, Qrels qrels) =>
        candidates.Where(q => qrels.RelevantCount(q) > 0).ToList();

    /// <summary>Measures <paramref name="run"/> on <paramref name="queryIds"/> (each must have a relevant judgment).</summary>
    public static RunMetrics Evaluate(TrecRun run, Qrels qrels, IReadOnlyList<string> queryIds)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(qrels);
        var perQuery = queryIds.Select(q => RankingMetrics.Evaluate(run.For(q), qrels.For(q))).ToList();
        return new RunMetrics(queryIds, perQuery, QueryMetrics.Mean(perQuery));
    }
}
