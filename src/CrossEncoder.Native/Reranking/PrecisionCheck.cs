using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>
/// Resolves <see cref="Precision.Auto"/>: loads the model in fp32 and in int8, runs both on 16 built-in real (query, document)
/// pairs (Cranfield, MEDLINE, CISI), and keeps int8 only when its output vectors stay within cosine 0.99 of fp32's (the pooled
/// [CLS] vector of a cross-encoder, the embedding of a bi-encoder) and its scores order the 16 pairs like fp32's (Spearman
/// &gt;= 0.98). A quick guard against a model that int8 breaks, not a replacement for <c>verify --precision int8</c>.
/// </summary>
internal static class PrecisionCheck
{
    public const double MinCosine = 0.99;
    public const double MinSpearman = 0.98;

    public static (BertModel Model, string? Note) LoadModel(string directory, Precision precision, ITextPairTokenizer tokenizer)
    {
        if (precision != Precision.Auto) return (BertModel.Load(directory, precision), null);
        var fp32 = BertModel.Load(directory, Precision.Fp32);
        var int8 = BertModel.Load(directory, Precision.Int8);
        var (cosine, spearman) = Compare(fp32, int8, tokenizer);
        if (cosine >= MinCosine && spearman >= MinSpearman) return (int8, null);
        return (fp32, $"Precision.Auto: int8 failed the quick accuracy check on '{directory}' (min cosine {cosine:F4}, need {MinCosine}; " +
            $"score Spearman {spearman:F4}, need {MinSpearman}); using fp32.");
    }

    /// <summary>Min cosine of the output vectors and Spearman of the scores, int8 against fp32, on the built-in pairs.</summary>
    internal static (double MinCosine, double Spearman) Compare(BertModel fp32, BertModel int8, ITextPairTokenizer tokenizer)
    {
        var encoded = new List<EncodedPair>();
        foreach (var (query, document) in Sample())
        {
            if (fp32.Kind == ModelKind.CrossEncoder) encoded.Add(tokenizer.EncodePair(query, document, 128));
            else { encoded.Add(tokenizer.EncodeSingle(query, 128)); encoded.Add(tokenizer.EncodeSingle(document, 128)); }
        }
        var (outA, vecA) = Run(fp32, encoded);
        var (outB, vecB) = Run(int8, encoded);
        double minCosine = 1;
        for (int i = 0; i < vecA.Length; i++) minCosine = Math.Min(minCosine, Cosine(vecA[i], vecB[i]));
        double[] scoresA = Scores(fp32, outA), scoresB = Scores(int8, outB);
        return (minCosine, Spearman(scoresA, scoresB));
    }

    private static double[] Scores(BertModel model, float[][] outputs) => model.Kind == ModelKind.CrossEncoder
        ? outputs.Select(o => (double)o[0]).ToArray()
        : Enumerable.Range(0, outputs.Length / 2).Select(i => Cosine(outputs[2 * i], outputs[2 * i + 1])).ToArray();

    private static (float[][] Outputs, float[][] Vectors) Run(BertModel model, List<EncodedPair> encoded)
    {
        var workspace = model.CreateWorkspace(encoded.Sum(e => e.Length), encoded.Count);
        foreach (var e in encoded) workspace.Batch.Add(e.InputIds, e.TokenTypeIds);
        float[]? pooled = null;
        float[] output = model.Forward(workspace, (name, values, _, _) => { if (name == "pooler") pooled = values.ToArray(); }).ToArray();
        int w = model.OutputSize, h = model.Config.HiddenSize;
        var outputs = Enumerable.Range(0, encoded.Count).Select(i => output.AsSpan(i * w, w).ToArray()).ToArray();
        var vectors = model.Kind == ModelKind.CrossEncoder && pooled is not null
            ? Enumerable.Range(0, encoded.Count).Select(i => pooled.AsSpan(i * h, h).ToArray()).ToArray()
            : outputs;
        return (outputs, vectors);
    }

    private static IEnumerable<(string Query, string Document)> Sample()
    {
        using var stream = typeof(PrecisionCheck).Assembly.GetManifestResourceStream("auto-precision-sample.tsv")
            ?? throw new InvalidOperationException("The built-in precision sample is missing from the assembly.");
        using var reader = new StreamReader(stream);
        var pairs = new List<(string, string)>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int tab = line.IndexOf('\t');
            pairs.Add((line[..tab], line[(tab + 1)..]));
        }
        return pairs;
    }

    private static double Cosine(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return aa == 0 && bb == 0 ? 1 : ab / Math.Sqrt(aa * bb);
    }

    private static double Spearman(double[] x, double[] y)
    {
        double[] rx = Ranks(x), ry = Ranks(y);
        double mx = rx.Average(), my = ry.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) * (rx[i] - mx); syy += (ry[i] - my) * (ry[i] - my); }
        return sxx == 0 || syy == 0 ? 0 : sxy / Math.Sqrt(sxx * syy);
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
}
