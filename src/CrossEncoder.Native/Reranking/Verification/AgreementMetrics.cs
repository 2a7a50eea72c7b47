namespace CrossEncoder.Native.Reranking.Verification;

/// <summary>
/// The one set of measures the precision gate uses to say how closely two models (int8 and fp32) rank alike: Spearman's
/// rho of two score lists, the overlap of their top k, the cosine of two vectors, and nDCG@10 as trec_eval defines it.
/// </summary>
internal static class AgreementMetrics
{
    /// <summary>Spearman's rho: the Pearson correlation of the ranks (ties get their average rank). Two constant lists agree
    /// perfectly (1); a constant list against a varying one has no correlation (0).</summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count) throw new ArgumentException($"The lists differ in length ({x.Count} and {y.Count}).", nameof(y));
        double[] rx = Ranks(x), ry = Ranks(y);
        double mx = rx.Average(), my = ry.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < rx.Length; i++) { sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) * (rx[i] - mx); syy += (ry[i] - my) * (ry[i] - my); }
        return sxx == 0 || syy == 0 ? (sxx == syy ? 1 : 0) : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>|top-k of x ∩ top-k of y| / k, k = min(<paramref name="k"/>, length); ties broken by index.</summary>
    public static double TopOverlap(IReadOnlyList<double> x, IReadOnlyList<double> y, int k)
    {
        k = Math.Min(k, x.Count);
        return k == 0 ? 1 : (double)Top(x, k).Intersect(Top(y, k)).Count() / k;
    }

    /// <summary>cos(a, b) in double precision; 1 when both are zero vectors.</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return aa == 0 && bb == 0 ? 1 : ab / Math.Sqrt(aa * bb);
    }

    /// <summary>
    /// nDCG@10 as trec_eval's <c>ndcg_cut.10</c>: linear gains (the judgment grade itself) discounted by log2(rank + 1), over
    /// the ideal ordering of the same judgments; here the judgments are those of the candidate list. 0 when nothing is judged
    /// relevant. (Not the 2^g - 1 "exponential gain" variant: with graded judgments the two differ.)
    /// </summary>
    public static double NdcgAt10(IReadOnlyList<double> scores, IReadOnlyList<int> gains)
    {
        static double Dcg(IEnumerable<int> g) => g.Take(10).Select((x, i) => Math.Max(x, 0) / Math.Log2(i + 2)).Sum();
        double ideal = Dcg(gains.OrderByDescending(g => g));
        return ideal == 0 ? 0 : Dcg(Top(scores, scores.Count).Select(i => gains[i])) / ideal;
    }

    /// <summary>Indices of the k highest scores (ties by index).</summary>
    private static IEnumerable<int> Top(IReadOnlyList<double> s, int k) => Enumerable.Range(0, s.Count).OrderByDescending(i => s[i]).ThenBy(i => i).Take(k);

    private static double[] Ranks(IReadOnlyList<double> v)
    {
        int[] order = Enumerable.Range(0, v.Count).OrderBy(i => v[i]).ToArray();
        var ranks = new double[v.Count];
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && v[order[j + 1]] == v[order[i]]) j++;
            for (int t = i; t <= j; t++) ranks[order[t]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        return ranks;
    }
}
