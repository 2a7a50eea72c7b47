using System.Text.Json.Serialization;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Tools.Verification;

/// <summary>The accuracy gate's figures: how closely int8 ranks like fp32 on the same real (query, document) pairs.</summary>
public sealed record Int8GateReport(
    [property: JsonPropertyName("queries")] int Queries,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonPropertyName("spearman_mean")] double SpearmanMean,
    [property: JsonPropertyName("spearman_min")] double SpearmanMin,
    [property: JsonPropertyName("top10_overlap")] double Top10Overlap,
    [property: JsonPropertyName("max_abs_score_diff")] double MaxAbsScoreDiff,
    [property: JsonPropertyName("min_cosine")] double MinCosine,
    [property: JsonPropertyName("ndcg10_fp32")] double? Ndcg10Fp32,
    [property: JsonPropertyName("ndcg10_int8")] double? Ndcg10Int8)
{
    /// <summary>Gate: mean Spearman &gt;= 0.995, top-10 overlap &gt;= 0.95, nDCG@10 drop &lt;= 0.005, min cosine &gt;= 0.99.</summary>
    [JsonPropertyName("pass")]
    public bool Pass => SpearmanMean >= Int8Gate.MinSpearmanMean && Top10Overlap >= Int8Gate.MinTop10Overlap && MinCosine >= Int8Gate.MinCosine
        && (Ndcg10Fp32 is not { } a || Ndcg10Int8 is not { } b || a - b <= Int8Gate.MaxNdcgDrop);
}

/// <summary>
/// Compares an int8 model with its fp32 original on reranking sets: per query the Spearman correlation of the two score lists
/// and the overlap of their top 10, the largest score difference, the smallest cosine between the two models' output vectors
/// (sentence embeddings for a bi-encoder, the pooled [CLS] vector for a cross-encoder), and nDCG@10 of both where judged.
/// Scores: the logit for a cross-encoder; cosine(query embedding, document embedding) for a bi-encoder.
/// </summary>
public static class Int8Gate
{
    public const double MinSpearmanMean = 0.995;
    public const double MinTop10Overlap = 0.95;
    public const double MaxNdcgDrop = 0.005;
    public const double MinCosine = 0.99;

    /// <summary>Runs both models over every query's candidates (documents cut to <paramref name="maxLength"/> tokens).</summary>
    public static Int8GateReport Run(BertModel fp32, BertModel int8, ITextPairTokenizer tokenizer, IReadOnlyList<RankingQuery> queries, int maxLength = 256, CancellationToken cancellationToken = default)
    {
        if (queries.Count == 0) throw new ArgumentException("No queries to compare.", nameof(queries));
        var a = Score(fp32, tokenizer, queries, maxLength, cancellationToken);
        var b = Score(int8, tokenizer, queries, maxLength, cancellationToken);
        double minCos = 1;
        for (int i = 0; i < a.Vectors.Count; i++) minCos = Math.Min(minCos, Cosine(a.Vectors[i], b.Vectors[i]));
        return Compare(queries, a.Scores, b.Scores, minCos);
    }

    /// <summary>The ranking figures of two score lists per query (shared with the ORT int8 comparison).</summary>
    public static Int8GateReport Compare(IReadOnlyList<RankingQuery> queries, IReadOnlyList<double[]> reference, IReadOnlyList<double[]> candidate, double minCosine)
    {
        double spearmanSum = 0, spearmanMin = 1, overlapSum = 0, maxDiff = 0, ndcgA = 0, ndcgB = 0;
        int judged = 0;
        for (int q = 0; q < queries.Count; q++)
        {
            double[] x = reference[q], y = candidate[q];
            double rho = Spearman(x, y);
            spearmanSum += rho;
            spearmanMin = Math.Min(spearmanMin, rho);
            int k = Math.Min(10, x.Length);
            overlapSum += (double)Top(x, k).Intersect(Top(y, k)).Count() / k;
            for (int i = 0; i < x.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(x[i] - y[i]));
            if (queries[q].Gains.Any(g => g > 0))
            {
                judged++;
                ndcgA += Ndcg10(x, queries[q].Gains);
                ndcgB += Ndcg10(y, queries[q].Gains);
            }
        }
        int n = queries.Count;
        return new Int8GateReport(n, queries.Sum(q => q.Documents.Count), spearmanSum / n, spearmanMin, overlapSum / n, maxDiff, minCosine,
            judged > 0 ? ndcgA / judged : null, judged > 0 ? ndcgB / judged : null);
    }

    private static (List<double[]> Scores, List<float[]> Vectors) Score(BertModel model, ITextPairTokenizer tokenizer, IReadOnlyList<RankingQuery> queries, int maxLength, CancellationToken cancellationToken)
    {
        maxLength = Math.Min(maxLength, model.Config.MaxPositionEmbeddings);
        var scores = new List<double[]>();
        var vectors = new List<float[]>();
        foreach (var query in queries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (model.Kind == ModelKind.CrossEncoder)
            {
                var encoded = query.Documents.Select(d => tokenizer.EncodePair(query.Query, d, maxLength)).ToList();
                var (outputs, pooled) = Run(model, encoded);
                scores.Add(outputs.Select(o => (double)o[0]).ToArray());
                vectors.AddRange(pooled);
            }
            else
            {
                var encoded = new List<EncodedPair> { tokenizer.EncodeSingle(query.Query, maxLength) };
                encoded.AddRange(query.Documents.Select(d => tokenizer.EncodeSingle(d, maxLength)));
                var (outputs, _) = Run(model, encoded);
                scores.Add(outputs.Skip(1).Select(o => Cosine(outputs[0], o)).ToArray());
                vectors.AddRange(outputs);
            }
        }
        return (scores, vectors);
    }

    /// <summary>Forward passes in batches of 16; returns each sequence's output row and (if the model has one) its pooler row.</summary>
    private static (List<float[]> Outputs, List<float[]> Pooled) Run(BertModel model, IReadOnlyList<EncodedPair> encoded)
    {
        var outputs = new List<float[]>();
        var pooled = new List<float[]>();
        int h = model.Config.HiddenSize;
        for (int first = 0; first < encoded.Count; first += 16)
        {
            var members = encoded.Skip(first).Take(16).ToList();
            var workspace = model.CreateWorkspace(members.Sum(e => e.Length), members.Count);
            foreach (var e in members) workspace.Batch.Add(e.InputIds, e.TokenTypeIds);
            float[]? pool = null;
            var output = model.Forward(workspace, (name, values, _, _) => { if (name == "pooler") pool = values.ToArray(); });
            for (int s = 0; s < members.Count; s++)
            {
                outputs.Add(output.Slice(s * model.OutputSize, model.OutputSize).ToArray());
                if (pool is not null) pooled.Add(pool.AsSpan(s * h, h).ToArray());
            }
        }
        return (outputs, pooled);
    }

    /// <summary>Indices of the k highest scores (ties by index).</summary>
    private static IEnumerable<int> Top(double[] s, int k) => Enumerable.Range(0, s.Length).OrderByDescending(i => s[i]).ThenBy(i => i).Take(k);

    /// <summary>Spearman's rho: Pearson correlation of the ranks (ties get their average rank). 1 when both lists are constant.</summary>
    public static double Spearman(double[] x, double[] y)
    {
        double[] rx = Ranks(x), ry = Ranks(y);
        double mx = rx.Average(), my = ry.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) * (rx[i] - mx); syy += (ry[i] - my) * (ry[i] - my); }
        return sxx == 0 || syy == 0 ? (sxx == syy ? 1 : 0) : sxy / Math.Sqrt(sxx * syy);
    }

    private static double[] Ranks(double[] v)
    {
        int[] order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        var ranks = new double[v.Length];
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && v[order[j + 1]] == v[order[i]]) j++;
            for (int t = i; t <= j; t++) ranks[order[t]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        return ranks;
    }

    /// <summary>nDCG@10 of the ranking by <paramref name="scores"/> with graded gains (2^g - 1 over log2(rank + 1)).</summary>
    public static double Ndcg10(double[] scores, IReadOnlyList<int> gains)
    {
        static double Dcg(IEnumerable<int> g) => g.Take(10).Select((x, i) => (Math.Pow(2, x) - 1) / Math.Log2(i + 2)).Sum();
        double ideal = Dcg(gains.OrderByDescending(g => g));
        return ideal == 0 ? 0 : Dcg(Top(scores, scores.Length).Select(i => gains[i])) / ideal;
    }

    private static double Cosine(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return aa == 0 && bb == 0 ? 1 : ab / Math.Sqrt(aa * bb);
    }
}
