using CrossEncoder.Evaluation.Data;

namespace CrossEncoder.Evaluation.Metrics;

/// <summary>The four measures of one query (or their means over queries).</summary>
/// <param name="NdcgAt10">nDCG@10: trec_eval <c>ndcg_cut.10</c>.</param>
/// <param name="MrrAt10">MRR@10: trec_eval <c>recip_rank</c> on the top 10 (<c>trec_eval -M 10 -m recip_rank</c>).</param>
/// <param name="RecallAt100">Recall@100: trec_eval <c>recall.100</c>.</param>
/// <param name="Map">Average precision over the whole ranking: trec_eval <c>map</c>.</param>
public readonly record struct QueryMetrics(double NdcgAt10, double MrrAt10, double RecallAt100, double Map)
{
    /// <summary>The mean of each measure over <paramref name="queries"/> (all zero when there are none).</summary>
    public static QueryMetrics Mean(IReadOnlyCollection<QueryMetrics> queries) => queries.Count == 0 ? default : new(
        queries.Average(q => q.NdcgAt10), queries.Average(q => q.MrrAt10), queries.Average(q => q.RecallAt100), queries.Average(q => q.Map));
}

/// <summary>
/// Ranking measures exactly as trec_eval 9.x computes them (usnistgov/trec_eval: m_ndcg_cut.c, m_recip_rank.c, m_recall.c,
/// m_map.c). Conventions shared by all of them:
/// <list type="bullet">
/// <item>the ranking is put in trec_eval order first (<see cref="TrecRun.TrecOrder"/>: score descending, ties by document id
/// descending), whatever order the caller gave;</item>
/// <item>a document is relevant when its grade is at least 1; unjudged documents count as non-relevant (grade 0);</item>
/// <item>nDCG's gain is the grade itself, discounted by log2(rank + 1); the ideal ranking uses every judged relevant document
/// of the query, retrieved or not.</item>
/// </list>
/// A query without relevant documents has no meaningful value for any measure; <see cref="Evaluate"/> refuses it, and
/// <see cref="RunEvaluator"/> leaves such queries out of the averages (trec_eval would average them in as 0).
/// </summary>
public static class RankingMetrics
{
    /// <summary>All four measures of one query.</summary>
    /// <exception cref="ArgumentException">The query has no relevant judgment, or a document is ranked twice.</exception>
    public static QueryMetrics Evaluate(IEnumerable<ScoredDocument> ranking, IReadOnlyDictionary<string, int> judgments)
    {
        var ordered = Ordered(ranking);
        return new QueryMetrics(Ndcg(ordered, judgments, 10), ReciprocalRank(ordered, judgments, 10), Recall(ordered, judgments, 100), AveragePrecision(ordered, judgments));
    }

    /// <summary>nDCG@k = DCG@k / IDCG@k, DCG@k = sum over ranks r &lt;= k of grade(r) / log2(r + 1); IDCG@k the same over the
    /// judged grades sorted descending. trec_eval <c>ndcg_cut.k</c>.</summary>
    public static double Ndcg(IEnumerable<ScoredDocument> ranking, IReadOnlyDictionary<string, int> judgments, int k)
    {
        var ordered = Ordered(ranking);
        int[] ideal = judgments.Values.Where(g => g > 0).OrderDescending().ToArray();
        RequireRelevant(ideal.Length);
        double dcg = 0, idcg = 0;
        for (int i = 0; i < Math.Min(k, ordered.Length); i++)
            if (Grade(judgments, ordered[i]) is var gain and > 0) dcg += gain / Math.Log2(i + 2);   // rank i + 1
        for (int i = 0; i < Math.Min(k, ideal.Length); i++)
            idcg += ideal[i] / Math.Log2(i + 2);
        return dcg / idcg;
    }

    /// <summary>1 / rank of the first relevant document within the top k, 0 when none. trec_eval <c>recip_rank</c> on a run cut at k.</summary>
    public static double ReciprocalRank(IEnumerable<ScoredDocument> ranking, IReadOnlyDictionary<string, int> judgments, int k)
    {
        var ordered = Ordered(ranking);
        RequireRelevant(judgments.Values.Count(g => g > 0));
        for (int i = 0; i < Math.Min(k, ordered.Length); i++)
            if (Grade(judgments, ordered[i]) > 0) return 1.0 / (i + 1);
        return 0;
    }

    /// <summary>Relevant documents in the top k / all relevant documents. trec_eval <c>recall.k</c>.</summary>
    public static double Recall(IEnumerable<ScoredDocument> ranking, IReadOnlyDictionary<string, int> judgments, int k)
    {
        var ordered = Ordered(ranking);
        int relevant = judgments.Values.Count(g => g > 0);
        RequireRelevant(relevant);
        int found = 0;
        for (int i = 0; i < Math.Min(k, ordered.Length); i++)
            if (Grade(judgments, ordered[i]) > 0) found++;
        return (double)found / relevant;
    }

    /// <summary>Average precision: the sum of precision@r over the ranks r of relevant retrieved documents, divided by the
    /// number of relevant documents (retrieved or not). trec_eval <c>map</c> for one query.</summary>
    public static double AveragePrecision(IEnumerable<ScoredDocument> ranking, IReadOnlyDictionary<string, int> judgments)
    {
        var ordered = Ordered(ranking);
        int relevant = judgments.Values.Count(g => g > 0);
        RequireRelevant(relevant);
        double sum = 0;
        int found = 0;
        for (int i = 0; i < ordered.Length; i++)
            if (Grade(judgments, ordered[i]) > 0) sum += (double)++found / (i + 1);
        return sum / relevant;
    }

    private static int Grade(IReadOnlyDictionary<string, int> judgments, ScoredDocument document) =>
        judgments.TryGetValue(document.DocumentId, out int grade) ? grade : 0;

    private static void RequireRelevant(int relevant)
    {
        if (relevant == 0) throw new ArgumentException("The query has no relevant document in the qrels; its measures are undefined.");
    }

    private static ScoredDocument[] Ordered(IEnumerable<ScoredDocument> ranking)
    {
        ArgumentNullException.ThrowIfNull(ranking);
        var ordered = ranking.ToArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in ordered)
            if (!seen.Add(d.DocumentId)) throw new ArgumentException($"Document {d.DocumentId} is ranked twice.");
        Array.Sort(ordered, TrecRun.TrecOrder);
        return ordered;
    }
}
