using System.Diagnostics;
using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Metrics;
using CrossEncoder.Evaluation.Retrieval;
using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Evaluation;

/// <summary>Numeric precision of the reranker's matrix products.</summary>
public enum RerankPrecision
{
    /// <summary>32-bit floats (the reference).</summary>
    Fp32,
    /// <summary>8-bit integer weights and activations (issue 6).</summary>
    Int8,
}

/// <summary>Settings of one <see cref="RerankEvaluation"/>.</summary>
public sealed record RerankEvaluationOptions
{
    /// <summary>How many first-stage candidates of each query the reranker re-scores. Default 100; 0 = first stage only.</summary>
    public int Candidates { get; init; } = 100;

    /// <summary>Evaluate only the first N evaluable queries (file order); null = all.</summary>
    public int? MaxQueries { get; init; }

    /// <summary>Longest reranker input in tokens; null = the model's limit.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Precisions to rerank with, each reported side by side. Default fp32 only.</summary>
    public IReadOnlyList<RerankPrecision> Precisions { get; init; } = [RerankPrecision.Fp32];

    /// <summary>Chunk-mode settings (<see cref="LongDocumentMode.Chunk"/> with its window, overlap and aggregation): when set,
    /// every precision also reranks with long documents chunked, reported next to truncation with the p-values of the
    /// change. <see cref="MaxLength"/> applies to both. Null (the default): truncation only.</summary>
    public RerankOptions? Chunking { get; init; }

    /// <summary>Random sign assignments of the randomization test.</summary>
    public int Permutations { get; init; } = RandomizationTest.DefaultPermutations;

    /// <summary>Seed of the randomization test.</summary>
    public int Seed { get; init; } = RandomizationTest.DefaultSeed;
}

/// <summary>One ranking stage: its run, measures and cost.</summary>
/// <param name="Name">bm25, dense, run:&lt;file&gt;, or rerank-fp32 / rerank-int8.</param>
/// <param name="Run">Its ranking of every evaluated query.</param>
/// <param name="Metrics">Per-query and mean measures.</param>
/// <param name="Seconds">Wall time of the stage (for a first stage: index or embeddings plus search).</param>
/// <param name="Pairs">(query, document) pairs a model scored (0 for BM25 and run files).</param>
/// <param name="Tokens">Tokens the model read.</param>
public sealed record StageReport(string Name, TrecRun Run, RunMetrics Metrics, double Seconds, long Pairs, long Tokens)
{
    /// <summary>Pairs per second (0 when no pairs were scored).</summary>
    public double PairsPerSecond => Pairs == 0 || Seconds <= 0 ? 0 : Pairs / Seconds;

    /// <summary>Chunk mode: document chunks the model scored (each a sequence); 0 otherwise.</summary>
    public long Chunks { get; init; }

    /// <summary>Chunks per second (0 outside chunk mode).</summary>
    public double ChunksPerSecond => Chunks == 0 || Seconds <= 0 ? 0 : Chunks / Seconds;
}

/// <summary>A reranked stage compared with the first stage.</summary>
/// <param name="Precision">The reranker's precision.</param>
/// <param name="Stage">The reranked run.</param>
/// <param name="PValues">Two-sided paired randomization test p-value of the change in each measure.</param>
public sealed record RerankReport(RerankPrecision Precision, StageReport Stage, QueryMetrics PValues)
{
    /// <summary>True for the chunk-mode stage (<see cref="RerankEvaluationOptions.Chunking"/>).</summary>
    public bool Chunked { get; init; }

    /// <summary>Chunk mode: the p-values of the change from the same precision's truncation stage; null otherwise.</summary>
    public QueryMetrics? PValuesAgainstTruncation { get; init; }
}

/// <summary>The result of <see cref="RerankEvaluation.Run"/>.</summary>
/// <param name="QueryIds">The evaluated queries.</param>
/// <param name="FirstStage">The first stage.</param>
/// <param name="FirstStageInfo">How the first stage got its index (time, from cache).</param>
/// <param name="Reranked">One entry per precision (truncation), each followed by its chunk-mode entry when chunking is on.</param>
/// <param name="Seconds">Total wall time.</param>
public sealed record RerankEvaluationReport(IReadOnlyList<string> QueryIds, StageReport FirstStage, FirstStageResult FirstStageInfo,
    IReadOnlyList<RerankReport> Reranked, double Seconds);

/// <summary>
/// Measures what a reranker adds to a first stage on a test collection: retrieves candidates, re-scores the top
/// <see cref="RerankEvaluationOptions.Candidates"/> of each query with the reranker (documents as <c>title + " " + text</c>),
/// and reports trec_eval measures before and after, per-query changes, a paired randomization test and the cost.
/// </summary>
public static class RerankEvaluation
{
    /// <summary>First-stage depth: the candidates, and at least 100 so that Recall@100 and MAP see the same list depth.</summary>
    public static int Depth(int candidates) => Math.Max(candidates, 100);

    /// <summary>The queries evaluated: those with a relevant judgment, in file order, the first <paramref name="maxQueries"/>.</summary>
    public static IReadOnlyList<BeirQuery> SelectQueries(BeirDataset data, int? maxQueries)
    {
        var evaluable = data.Queries.Where(q => data.Qrels.RelevantCount(q.Id) > 0);
        return (maxQueries is { } n ? evaluable.Take(n) : evaluable).ToList();
    }

    /// <summary>Runs the first stage and the reranker(s) and measures both.</summary>
    /// <param name="data">The collection.</param>
    /// <param name="firstStage">BM25, dense, or a run file.</param>
    /// <param name="modelDirectory">The reranker's model folder (cross-encoder, or bi-encoder scored by cosine), or a Hub id
    /// <c>org/name[@revision]</c> as <see cref="Reranker.Load"/> takes it.</param>
    /// <param name="options">Candidates, queries, precisions.</param>
    /// <param name="progress">Receives progress of each long step.</param>
    /// <param name="cancellationToken">Stops between queries and batches.</param>
    /// <exception cref="ArgumentException">No query has a relevant judgment, or an option is out of range.</exception>
    /// <exception cref="NotSupportedException">A requested precision is not available in this build.</exception>
    public static RerankEvaluationReport Run(BeirDataset data, IFirstStage firstStage, string modelDirectory, RerankEvaluationOptions? options = null,
        IProgress<StageProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(firstStage);
        ArgumentNullException.ThrowIfNull(modelDirectory);
        options ??= new RerankEvaluationOptions();
        if (options.Candidates < 0) throw new ArgumentException($"candidates must be 0 (first stage only) or positive, got {options.Candidates}.");
        if (options.MaxQueries is <= 0) throw new ArgumentException($"the number of queries must be positive, got {options.MaxQueries}.");
        var total = Stopwatch.StartNew();
        var queries = SelectQueries(data, options.MaxQueries);
        if (queries.Count == 0) throw new ArgumentException("no query has a relevant document in the qrels: nothing to evaluate.");
        var queryIds = queries.Select(q => q.Id).ToList();
        var documents = data.Corpus.ToDictionary(d => d.Id, StringComparer.Ordinal);

        var retrieved = firstStage.Retrieve(queries, Depth(options.Candidates), progress, cancellationToken);
        var first = new StageReport(firstStage.Name, retrieved.Run, RunEvaluator.Evaluate(retrieved.Run, data.Qrels, queryIds),
            retrieved.IndexSeconds + retrieved.SearchSeconds, 0, retrieved.Tokens);

        var reranked = new List<RerankReport>();
        foreach (var precision in options.Candidates == 0 ? [] : options.Precisions.Distinct())
        {
            using var reranker = LoadReranker(modelDirectory, precision);
            string name = "rerank-" + precision.ToString().ToLowerInvariant();
            var stage = Rerank(reranker, name, queries, retrieved.Run, documents, options, new RerankOptions { MaxLength = options.MaxLength }, progress, cancellationToken);
            var metrics = RunEvaluator.Evaluate(stage.Run, data.Qrels, queryIds);
            stage = stage with { Metrics = metrics };
            reranked.Add(new RerankReport(precision, stage, PValues(first.Metrics, metrics, options)));
            if (options.Chunking is { } chunking)
            {
                var chunkOptions = chunking with { LongDocuments = LongDocumentMode.Chunk, MaxLength = options.MaxLength };
                var chunked = Rerank(reranker, name + "-chunk", queries, retrieved.Run, documents, options, chunkOptions, progress, cancellationToken);
                var chunkedMetrics = RunEvaluator.Evaluate(chunked.Run, data.Qrels, queryIds);
                chunked = chunked with { Metrics = chunkedMetrics };
                reranked.Add(new RerankReport(precision, chunked, PValues(first.Metrics, chunkedMetrics, options))
                {
                    Chunked = true, PValuesAgainstTruncation = PValues(metrics, chunkedMetrics, options),
                });
            }
        }
        return new RerankEvaluationReport(queryIds, first, retrieved, reranked, total.Elapsed.TotalSeconds);
    }

    /// <summary>Loads the reranker at a precision: the one place precision meets the library (<see cref="RerankerOptions.Precision"/>,
    /// whose enum is the only type this project names from the library's Model namespace).</summary>
    public static Reranker LoadReranker(string modelDirectory, RerankPrecision precision) => precision switch
    {
        RerankPrecision.Fp32 => Reranker.Load(modelDirectory, new RerankerOptions { Precision = CrossEncoder.Native.Model.Precision.Fp32 }),
        RerankPrecision.Int8 => Reranker.Load(modelDirectory, new RerankerOptions { Precision = CrossEncoder.Native.Model.Precision.Int8 }),
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
    };

    /// <summary>One reranked stage: per query, <see cref="Reranker.Encode"/> (truncated or chunked), <see cref="Reranker.Forward"/>,
    /// <see cref="Reranker.Score"/>; the tokens and chunks counted from the encoded inputs.</summary>
    private static StageReport Rerank(Reranker reranker, string name, IReadOnlyList<BeirQuery> queries, TrecRun firstStage,
        Dictionary<string, BeirDocument> documents, RerankEvaluationOptions options, RerankOptions rerankOptions, IProgress<StageProgress>? progress,
        CancellationToken cancellationToken)
    {
        long totalPairs = queries.Sum(q => (long)Math.Min(options.Candidates, firstStage.For(q.Id).Count));
        var run = new TrecRun();
        long pairs = 0, tokens = 0, chunks = 0;
        var clock = Stopwatch.StartNew();
        foreach (var query in queries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ranking = firstStage.For(query.Id);
            var candidates = ranking.Take(options.Candidates).ToList();
            var texts = candidates.Select(c => documents.TryGetValue(c.DocumentId, out var d) ? d.FullText
                : throw new FormatException($"the first stage returned document '{c.DocumentId}' for query {query.Id}, which is not in the corpus.")).ToList();
            var inputs = reranker.Encode(query.Text, texts, rerankOptions, cancellationToken);
            var outputs = new float[inputs.Sequences.Count * reranker.OutputSize];
            reranker.Forward(inputs.Sequences, outputs, cancellationToken);
            var results = reranker.Score(inputs, outputs);
            var rescored = results.Select(r => new ScoredDocument(candidates[r.Index].DocumentId, r.Score)).ToList();
            // Documents below the candidates keep their first-stage order, under every reranked one.
            double floor = rescored.Count == 0 ? 0 : rescored.Min(r => r.Score);
            rescored.AddRange(ranking.Skip(candidates.Count).Select((d, i) => new ScoredDocument(d.DocumentId, floor - 1 - i)));
            run.Set(query.Id, rescored);
            pairs += candidates.Count;
            tokens += inputs.TokenCount;   // pairs for a cross-encoder; the query once plus each document (or chunk) for a bi-encoder
            chunks += inputs.ChunkSequenceCount;
            progress?.Report(new StageProgress(name, pairs, totalPairs, tokens));
        }
        return new StageReport(name, run, null!, clock.Elapsed.TotalSeconds, pairs, tokens) { Chunks = chunks };
    }

    private static QueryMetrics PValues(RunMetrics before, RunMetrics after, RerankEvaluationOptions options)
    {
        double P(Func<QueryMetrics, double> measure) => RandomizationTest.PValue(
            before.PerQuery.Select(measure).ToList(), after.PerQuery.Select(measure).ToList(), options.Permutations, options.Seed);
        return new QueryMetrics(P(m => m.NdcgAt10), P(m => m.MrrAt10), P(m => m.RecallAt100), P(m => m.Map));
    }
}
