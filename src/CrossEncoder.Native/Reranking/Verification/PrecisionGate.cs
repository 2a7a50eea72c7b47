using System.Text.Json.Serialization;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking.Verification;

/// <summary>One query with the candidate documents a first-stage retriever would hand a reranker, and their judgments.</summary>
/// <param name="Query">The query text.</param>
/// <param name="Documents">Candidate documents.</param>
/// <param name="Gains">Graded relevance per candidate (0 = not judged relevant); all zero when the source has no judgments.</param>
public sealed record RankingQuery(string Query, IReadOnlyList<string> Documents, IReadOnlyList<int> Gains);

/// <summary>The gate's figures: how closely a candidate model (int8) ranks like its reference (fp32) on the same pairs.</summary>
/// <param name="Queries">Queries compared.</param>
/// <param name="Pairs">(query, document) pairs scored by each model.</param>
/// <param name="SpearmanMean">Mean over queries of Spearman's rho between the two score lists.</param>
/// <param name="SpearmanMin">The worst query's rho.</param>
/// <param name="Top10Overlap">Mean over queries of the overlap of the two top-10 lists.</param>
/// <param name="MaxAbsScoreDiff">Largest |reference - candidate| raw score (logit or cosine).</param>
/// <param name="MinCosine">Smallest cosine between the two models' <c>head.hidden</c> vectors (the pooled [CLS] or the
/// head's dense output of a cross-encoder, the sentence embedding of a bi-encoder); 1 when not measured.</param>
/// <param name="Ndcg10Reference">nDCG@10 (trec_eval <c>ndcg_cut.10</c>, linear gains) of the reference over judged queries.</param>
/// <param name="Ndcg10Candidate">The same for the candidate.</param>
public sealed record PrecisionGateReport(
    [property: JsonPropertyName("queries")] int Queries,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonPropertyName("spearman_mean")] double SpearmanMean,
    [property: JsonPropertyName("spearman_min")] double SpearmanMin,
    [property: JsonPropertyName("top10_overlap")] double Top10Overlap,
    [property: JsonPropertyName("max_abs_score_diff")] double MaxAbsScoreDiff,
    [property: JsonPropertyName("min_cosine")] double MinCosine,
    [property: JsonPropertyName("ndcg10_fp32")] double? Ndcg10Reference,
    [property: JsonPropertyName("ndcg10_int8")] double? Ndcg10Candidate)
{
    /// <summary>Mean Spearman &gt;= <see cref="PrecisionGate.MinSpearmanMean"/>, top-10 overlap &gt;=
    /// <see cref="PrecisionGate.MinTop10Overlap"/>, min cosine &gt;= <see cref="PrecisionGate.MinCosine"/>, nDCG@10 drop &lt;=
    /// <see cref="PrecisionGate.MaxNdcgDrop"/>.</summary>
    [JsonPropertyName("pass")]
    public bool Pass => SpearmanMean >= PrecisionGate.MinSpearmanMean && Top10Overlap >= PrecisionGate.MinTop10Overlap && MinCosine >= PrecisionGate.MinCosine
        && (Ndcg10Reference is not { } a || Ndcg10Candidate is not { } b || a - b <= PrecisionGate.MaxNdcgDrop);
}

/// <summary>
/// The int8 accuracy gate, the library's one check that int8 ranks like fp32. It runs both models over reranking sets and
/// compares, with <see cref="AgreementMetrics"/>: per query the Spearman correlation of the two score lists and the overlap
/// of their top 10, the largest score difference, the smallest cosine between the two models' <c>head.hidden</c> vectors,
/// and nDCG@10 where judged. Scores: the raw logit of a cross-encoder; cosine(query, document) of a bi-encoder.
/// <para><see cref="Precision.Auto"/> runs the same comparison on 16 built-in real pairs (Cranfield, MEDLINE, CISI), as
/// one list, with a looser Spearman bound (<see cref="QuickMinSpearman"/>): a quick guard at load, not the gate.</para>
/// </summary>
public static class PrecisionGate
{
    /// <summary>The gate's bound on the mean per-query Spearman rho.</summary>
    public const double MinSpearmanMean = 0.995;
    /// <summary>The gate's bound on the mean top-10 overlap.</summary>
    public const double MinTop10Overlap = 0.95;
    /// <summary>The gate's bound on the drop of nDCG@10 (trec_eval).</summary>
    public const double MaxNdcgDrop = 0.005;
    /// <summary>The bound on the smallest cosine of the head.hidden vectors (the gate's and the quick check's).</summary>
    public const double MinCosine = 0.99;
    /// <summary>The quick check's bound on Spearman's rho over its 16 pairs.</summary>
    public const double QuickMinSpearman = 0.98;

    /// <summary>Candidate pairs per forward pass.</summary>
    private const int BatchSequences = 16;

    /// <summary>
    /// Gates the model folder <paramref name="candidateDirectory"/> run in int8 against <paramref name="referenceDirectory"/>
    /// run in fp32 (the same folder for "does int8 at load hold up", or a folder written by <c>quantize</c> against its
    /// source), on every query's candidates cut to <paramref name="maxLength"/> tokens (and the model's limit).
    /// </summary>
    /// <exception cref="ArgumentException">No queries.</exception>
    /// <exception cref="FormatException">A folder does not load (the message names the file).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static PrecisionGateReport Run(string referenceDirectory, string candidateDirectory, IReadOnlyList<RankingQuery> queries, int maxLength = 256,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(referenceDirectory);
        ArgumentNullException.ThrowIfNull(candidateDirectory);
        var tokenizer = TokenizerLoader.FromModelFolder(referenceDirectory);
        var (reference, _) = ModelLoader.Load(referenceDirectory, Precision.Fp32);
        var (candidate, _) = ModelLoader.Load(candidateDirectory, Precision.Int8);
        return Run(reference, candidate, tokenizer, queries, maxLength, cancellationToken);
    }

    /// <summary>The gate on two loaded models that share <paramref name="tokenizer"/>.</summary>
    internal static PrecisionGateReport Run(ITransformerModel reference, ITransformerModel candidate, ITextPairTokenizer tokenizer, IReadOnlyList<RankingQuery> queries,
        int maxLength = 256, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queries);
        if (queries.Count == 0) throw new ArgumentException("No queries to compare.", nameof(queries));
        if (reference.Description.Kind != candidate.Description.Kind) throw new ArgumentException("The two models are of different kinds (cross-encoder and bi-encoder).", nameof(candidate));
        var a = Score(reference, tokenizer, queries, maxLength, cancellationToken);
        var b = Score(candidate, tokenizer, queries, maxLength, cancellationToken);
        return Compare(queries, a.Scores, b.Scores, MinVectorCosine(a.Vectors, b.Vectors));
    }

    /// <summary>The ranking figures of two score lists per query (also used to measure ONNX Runtime's own int8 the same way).</summary>
    /// <exception cref="ArgumentException">The lists do not hold one score per candidate of every query.</exception>
    public static PrecisionGateReport Compare(IReadOnlyList<RankingQuery> queries, IReadOnlyList<double[]> reference, IReadOnlyList<double[]> candidate, double minCosine)
    {
        ArgumentNullException.ThrowIfNull(queries);
        if (reference.Count != queries.Count || candidate.Count != queries.Count)
            throw new ArgumentException($"Expected one score list per query ({queries.Count}); got {reference.Count} and {candidate.Count}.");
        double spearmanSum = 0, spearmanMin = 1, overlapSum = 0, maxDiff = 0, ndcgA = 0, ndcgB = 0;
        int judged = 0;
        for (int q = 0; q < queries.Count; q++)
        {
            double[] x = reference[q], y = candidate[q];
            if (x.Length != queries[q].Documents.Count || y.Length != x.Length)
                throw new ArgumentException($"Query {q} has {queries[q].Documents.Count} candidates; the score lists hold {x.Length} and {y.Length}.");
            double rho = AgreementMetrics.Spearman(x, y);
            spearmanSum += rho;
            spearmanMin = Math.Min(spearmanMin, rho);
            overlapSum += AgreementMetrics.TopOverlap(x, y, 10);
            for (int i = 0; i < x.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(x[i] - y[i]));
            if (queries[q].Gains.Any(g => g > 0))
            {
                judged++;
                ndcgA += AgreementMetrics.NdcgAt10(x, queries[q].Gains);
                ndcgB += AgreementMetrics.NdcgAt10(y, queries[q].Gains);
            }
        }
        int n = queries.Count;
        return new PrecisionGateReport(n, queries.Sum(q => q.Documents.Count), spearmanSum / n, spearmanMin, overlapSum / n, maxDiff, minCosine,
            judged > 0 ? ndcgA / judged : null, judged > 0 ? ndcgB / judged : null);
    }

    /// <summary>The quick check behind <see cref="Precision.Auto"/>: the 16 built-in pairs, scored by both models (each pair
    /// on its own: a cross-encoder reads the pair, a bi-encoder compares the two embeddings), compared as one list.</summary>
    internal static QuickCheckResult QuickCheck(ITransformerModel reference, ITransformerModel candidate, ITextPairTokenizer tokenizer)
    {
        var pairs = BuiltInSample().Select(p => new RankingQuery(p.Query, [p.Document], [0])).ToList();
        var a = Score(reference, tokenizer, pairs, 128, CancellationToken.None);
        var b = Score(candidate, tokenizer, pairs, 128, CancellationToken.None);
        double spearman = AgreementMetrics.Spearman(a.Scores.Select(s => s[0]).ToArray(), b.Scores.Select(s => s[0]).ToArray());
        return new QuickCheckResult(MinVectorCosine(a.Vectors, b.Vectors), spearman);
    }

    /// <summary>The quick check's two figures and verdict.</summary>
    internal readonly record struct QuickCheckResult(double MinCosine, double Spearman)
    {
        public bool Pass => MinCosine >= PrecisionGate.MinCosine && Spearman >= QuickMinSpearman;

        public string Describe() => FormattableString.Invariant($"min cosine {MinCosine:F4}, need {PrecisionGate.MinCosine}; score Spearman {Spearman:F4}, need {QuickMinSpearman}");
    }

    private static double MinVectorCosine(List<float[]> a, List<float[]> b)
    {
        if (a.Count != b.Count) throw new InvalidOperationException($"The models reported {a.Count} and {b.Count} head.hidden vectors.");
        double min = 1;
        for (int i = 0; i < a.Count; i++) min = Math.Min(min, AgreementMetrics.Cosine(a[i], b[i]));
        return min;
    }

    /// <summary>Per query, the raw score of each candidate; and every sequence's head.hidden vector, in order.</summary>
    private static (List<double[]> Scores, List<float[]> Vectors) Score(ITransformerModel model, ITextPairTokenizer tokenizer, IReadOnlyList<RankingQuery> queries,
        int maxLength, CancellationToken cancellationToken)
    {
        var description = model.Description;
        maxLength = Math.Min(maxLength, Math.Min(description.MaxSequenceLength, tokenizer.ModelMaxLength));
        var scores = new List<double[]>();
        var vectors = new List<float[]>();
        foreach (var query in queries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (model is IPromptedReranker { Description.Prompt: not null } prompted)
            {
                // A decoder reranker: its prompt template around each pair, as Reranker.Encode builds it.
                var prompt = prompted.Prompt;
                var pieces = prompt.Tokenize(tokenizer);
                int[] queryPart = tokenizer.EncodeToIds(prompt.QueryPart(prompt.DefaultInstruction, query.Query));
                int length = Math.Max(maxLength, pieces.Length + queryPart.Length + 16);   // the template is never cut
                var encoded = query.Documents.Select(d => prompt.Encode(tokenizer, pieces, queryPart, d, Math.Min(length, description.MaxSequenceLength))).ToList();
                var (outputs, hidden) = Run(model, encoded, cancellationToken);
                scores.Add(outputs.Select(o => (double)o[0]).ToArray());
                vectors.AddRange(hidden);
            }
            else if (description.Kind == ModelKind.CrossEncoder)
            {
                int[] queryIds = tokenizer.EncodeToIds(query.Query);
                var encoded = query.Documents.Select(d => tokenizer.EncodePair(queryIds, tokenizer.EncodeToIds(d), maxLength, TruncationStrategy.LongestFirst)).ToList();
                var (outputs, hidden) = Run(model, encoded, cancellationToken);
                scores.Add(outputs.Select(o => (double)o[0]).ToArray());
                vectors.AddRange(hidden);
            }
            else
            {
                var encoded = new List<EncodedPair> { tokenizer.EncodeSingle(query.Query, maxLength) };
                encoded.AddRange(query.Documents.Select(d => tokenizer.EncodeSingle(d, maxLength)));
                var (outputs, hidden) = Run(model, encoded, cancellationToken);
                scores.Add(outputs.Skip(1).Select(o => AgreementMetrics.Cosine(outputs[0], o)).ToArray());
                vectors.AddRange(hidden);
            }
        }
        return (scores, vectors);
    }

    /// <summary>Forward passes of <see cref="BatchSequences"/> sequences; each sequence's output row and head.hidden row.</summary>
    private static (List<float[]> Outputs, List<float[]> Hidden) Run(ITransformerModel model, IReadOnlyList<EncodedPair> encoded, CancellationToken cancellationToken)
    {
        var outputs = new List<float[]>();
        var hidden = new List<float[]>();
        int width = model.Description.OutputSize;
        for (int first = 0; first < encoded.Count; first += BatchSequences)
        {
            var members = encoded.Skip(first).Take(BatchSequences).ToList();
            var workspace = model.CreateWorkspace(members.Sum(e => e.Length), members.Count, members.Max(e => e.Length));
            foreach (var e in members) workspace.Batch.Add(e);
            float[]? head = null;
            int headWidth = 0;
            var output = model.Forward(workspace, (name, values, _, columns) =>
            {
                if (name != ModelTaps.HeadHidden) return;
                head = values.ToArray();
                headWidth = columns;
            }, cancellationToken);
            if (head is null) throw new InvalidOperationException($"The model did not report '{ModelTaps.HeadHidden}'; every family must.");
            for (int s = 0; s < members.Count; s++)
            {
                outputs.Add(output.Slice(s * width, width).ToArray());
                hidden.Add(head.AsSpan(s * headWidth, headWidth).ToArray());
            }
        }
        return (outputs, hidden);
    }

    /// <summary>The 16 built-in real (query, document) pairs (embedded resource).</summary>
    private static List<(string Query, string Document)> BuiltInSample()
    {
        using var stream = typeof(PrecisionGate).Assembly.GetManifestResourceStream("auto-precision-sample.tsv")
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
}
