using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CrossEncoder.Evaluation;
using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Metrics;
using CrossEncoder.Evaluation.Reporting;
using CrossEncoder.Evaluation.Retrieval;

namespace CrossEncoder.Cli.Commands;

/// <summary>
/// <c>eval</c>: first stage (BM25, dense or a run file) + reranker on a BEIR-layout collection; trec_eval measures before and
/// after, a paired randomization test, cost, and optionally JSON, TREC run files and a chart.
/// </summary>
internal static class EvalCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliOptions.Text("--data", "dir", "test collection in BEIR layout: corpus.jsonl, queries.jsonl, qrels/test.tsv", required: true);
        var firstStage = CliOptions.Text("--first-stage", "bm25|dense|run:<file>", "first stage: BM25 (Lucene.Net), dense (bi-encoder, cosine), or a TREC run file; default: bm25");
        var candidates = CliOptions.Int("--candidates", "first-stage candidates the reranker re-scores per query; 0 = first stage only", 0, 10_000, 100);
        var model = CliOptions.Model("reranker model folder, or a Hugging Face Hub id org/name[@revision] downloaded once into the huggingface_hub cache; " +
                                     "default: the offline all-MiniLM-L6-v2 (a bi-encoder: it reranks by cosine)");
        var denseModel = CliOptions.Text("--dense-model", "dir|org/name", "bi-encoder folder or Hub id for --first-stage dense; default: the reranker's model");
        var token = CliOptions.Token();
        var precision = CliOptions.Choice("--precision", "reranker precision; int8 is shown side by side with fp32", "fp32", "int8");
        var maxLength = CliOptions.Int("--max-length", "longest model input in tokens; default: the model's limit", 3, 1 << 20);
        var queries = CliOptions.Int("--queries", "evaluate only the first N queries that have relevant judgments", 1, int.MaxValue);
        var json = CliOptions.Json();
        var runOut = CliOptions.Text("--run-out", "prefix", "write <prefix>.<stage>.trec for each stage and <prefix>.qrels, for trec_eval");
        var chart = CliOptions.Text("--chart", "file.svg", "draw the per-query nDCG@10 change, sorted, as SVG");
        var k1 = CliOptions.Text("--k1", "x", "BM25 k1; default 0.9 (Anserini/Pyserini)");
        var b = CliOptions.Text("--b", "x", "BM25 b, 0 to 1; default 0.4 (Anserini/Pyserini)");
        var cache = CliOptions.Text("--cache", "dir", "where the BM25 index and document embeddings are kept; default: <data>/.cache");
        var longDocuments = CliOptions.LongDocuments();
        var command = new Command("eval", "First stage + reranker on a test collection: trec_eval measures before and after, significance, cost.")
        {
            data, firstStage, candidates, model, denseModel, token, precision, maxLength, queries, json, runOut, chart, k1, b, cache,
        };
        foreach (var option in longDocuments.All) command.Options.Add(option);
        CliHelp.SetExamples(command,
            "crossencoder eval --data data/cranfield --run-out runs/cranfield --chart cranfield.svg",
            "crossencoder eval --data data/cranfield --first-stage dense --candidates 0 --json",
            "crossencoder eval --data ../shared/ir/npl --max-length 128 --long chunk --overlap 16",
            "crossencoder eval --data data/scifact --first-stage dense --dense-model sentence-transformers/all-MiniLM-L6-v2 --model cross-encoder/ms-marco-MiniLM-L-6-v2");
        command.SetAction(parse => Run(context, longDocuments.Apply(parse, new Native.Reranking.RerankOptions()), parse.GetValue(data)!, parse.GetValue(firstStage) ?? "bm25", parse.GetValue(candidates), parse.GetValue(model),
            parse.GetValue(denseModel), parse.GetValue(token), parse.GetValue(precision)!, parse.GetValue(maxLength), parse.GetValue(queries), parse.GetValue(json), parse.GetValue(runOut),
            parse.GetValue(chart), parse.GetValue(k1), parse.GetValue(b), parse.GetValue(cache)));
        return command;
    }

    private static int Run(CliContext context, Native.Reranking.RerankOptions longDocuments, string dataDirectory, string firstStageName, int candidates, string? modelOption, string? denseModel,
        string? token, string precisionName, int? maxLength, int? queries, bool json, string? runOut, string? chartPath, string? k1, string? b, string? cacheOption)
    {
        var (stdout, stderr, cancellationToken) = (context.Out, context.Error, context.CancellationToken);
        var precisions = precisionName == "int8"
            ? new[] { RerankPrecision.Fp32, RerankPrecision.Int8 }   // int8 is always shown next to the fp32 reference
            : [RerankPrecision.Fp32];
        var bm25 = new Bm25Options { K1 = ParseFloat("--k1", k1) ?? 0.9f, B = ParseFloat("--b", b) ?? 0.4f };
        if (bm25.K1 < 0 || bm25.B is < 0 or > 1) throw new UsageException("--k1 must be >= 0 and --b between 0 and 1.");
        if (chartPath is not null && Path.GetExtension(chartPath).ToLowerInvariant() is not ".svg")
            throw new UsageException(Path.GetExtension(chartPath).Equals(".png", StringComparison.OrdinalIgnoreCase)
                ? $"--chart '{chartPath}': charts are SVG (the tool carries no native graphics library); write {Path.ChangeExtension(chartPath, ".svg")} and convert it if you need PNG (rsvg-convert chart.svg -o chart.png)."
                : $"--chart '{chartPath}' must end in .svg.");
        if (candidates == 0 && chartPath is not null) throw new UsageException("--chart draws the change made by reranking; it needs --candidates > 0.");
        if (!firstStageName.StartsWith("run:", StringComparison.Ordinal) && firstStageName is not ("bm25" or "dense"))
            throw new UsageException($"--first-stage must be bm25, dense or run:<file>, got '{firstStageName}'.");

        var data = BeirDataset.Load(dataDirectory);
        string cache = cacheOption ?? Path.Combine(dataDirectory, ".cache");
        // The reranker's model is needed to rerank, and as the dense model when --dense-model is not given; the default
        // model is prepared only then. A given --model is resolved (and checked) in any case.
        bool needsModel = candidates > 0 || (firstStageName == "dense" && denseModel is null);
        string model = modelOption is null && !needsModel ? "" : ResolveModel(modelOption, token, stderr, cancellationToken);
        string modelName = modelOption ?? model;   // as given: a Hub id stays an id in the output, not its cache path
        IFirstStage firstStage = firstStageName switch
        {
            "bm25" => new Bm25FirstStage(data.Corpus, cache, bm25),
            "dense" => new DenseFirstStage(data.Corpus, denseModel is not null ? ResolveModel(denseModel, token, stderr, cancellationToken) : model, cache, maxLength),
            _ => new RunFileFirstStage(firstStageName["run:".Length..]),
        };

        bool chunking = longDocuments.LongDocuments == Native.Reranking.LongDocumentMode.Chunk;
        if (chunking && candidates == 0) throw new UsageException("--long chunk reranks long documents; it needs --candidates > 0.");
        var options = new RerankEvaluationOptions
        {
            Candidates = candidates, MaxQueries = queries, MaxLength = maxLength, Precisions = precisions, Chunking = chunking ? longDocuments : null,
        };
        using var bar = new ProgressBar(stderr, enabled: !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error));
        RerankEvaluationReport report;
        try
        {
            report = RerankEvaluation.Run(data, firstStage, model, options, bar, cancellationToken);
        }
        catch (NotSupportedException e)
        {
            throw new CliException(e.Message);
        }
        bar.Finish();

        string label = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDirectory)));
        if (runOut is { } prefix) WriteRuns(prefix, report, data.Qrels, stderr);
        if (chartPath is { } chart)
        {
            var rerank = report.Reranked[0].Stage;
            DeltaChart.Save(chart, report.FirstStage.Metrics.PerQuery.Select(m => m.NdcgAt10).ToList(), rerank.Metrics.PerQuery.Select(m => m.NdcgAt10).ToList(),
                $"{label}: {report.FirstStage.Name} -> {rerank.Name} (top {candidates}), per-query nDCG@10 change");
            stderr.WriteLine($"chart: {chart}");
        }
        if (json) WriteJson(stdout, label, modelName, candidates, report);
        else WriteTable(stdout, label, modelName, candidates, bm25, report);
        return 0;
    }

    private static float? ParseFloat(string name, string? text)
    {
        if (text is null) return null;
        return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && float.IsFinite(value)
            ? value : throw new UsageException($"option {name} must be a number, got '{text}'.");
    }

    /// <summary>A model folder from <c>--model</c> / <c>--dense-model</c>: the default model when null, else a folder on disk, else a Hub
    /// id downloaded as rerank does (<see cref="HubModelOption"/>: --token, HF_TOKEN, HF_HUB_OFFLINE, the huggingface_hub cache).</summary>
    private static string ResolveModel(string? model, string? token, TextWriter notices, CancellationToken cancellationToken)
    {
        if (model is null) return DefaultModel.Ensure(notices);
        string folder = HubModelOption.Resolve(model, token, notices, cancellationToken);
        return Directory.Exists(folder) ? folder : throw new CliException($"model folder '{model}' does not exist.");
    }

    /// <summary>Writes &lt;prefix&gt;.&lt;stage&gt;.trec for each stage and &lt;prefix&gt;.qrels (TREC format) for trec_eval.</summary>
    private static void WriteRuns(string prefix, RerankEvaluationReport report, Qrels qrels, TextWriter stderr)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(prefix)) is { } folder) Directory.CreateDirectory(folder);
        var stages = new[] { report.FirstStage }.Concat(report.Reranked.Select(r => r.Stage));
        foreach (var stage in stages)
        {
            string path = $"{prefix}.{stage.Name.Replace(':', '-').Replace('/', '-')}.trec";
            stage.Run.Write(path, stage.Name.Replace(' ', '_'));
            stderr.WriteLine($"run: {path}");
        }
        qrels.WriteTrec(prefix + ".qrels", report.QueryIds);   // the evaluated queries only, so trec_eval averages over the same set
        stderr.WriteLine($"qrels: {prefix}.qrels  (check: trec_eval -c -m ndcg_cut.10 -m recall.100 -m map {prefix}.qrels {prefix}.<stage>.trec; MRR@10: trec_eval -c -M 10 -m recip_rank)");
    }

    private static void WriteTable(TextWriter stdout, string label, string model, int candidates, Bm25Options bm25, RerankEvaluationReport report)
    {
        var first = report.FirstStage;
        string firstName = first.Name == "bm25" ? $"bm25 (k1 {bm25.K1.ToString(CultureInfo.InvariantCulture)}, b {bm25.B.ToString(CultureInfo.InvariantCulture)})" : first.Name;
        stdout.WriteLine($"{label}: {report.QueryIds.Count} queries with relevant judgments; first stage {firstName}; " +
                         (candidates == 0 ? "no reranking" : $"reranker {Path.GetFileName(Path.TrimEndingDirectorySeparator(model))} on the top {candidates}"));
        stdout.WriteLine();
        var header = new List<string> { "measure", first.Name };
        foreach (var r in report.Reranked) header.AddRange([r.Stage.Name, "delta", "p"]);
        var rows = new List<string[]> { header.ToArray() };
        foreach (var (name, pick) in Measures)
        {
            var row = new List<string> { name, F(pick(first.Metrics.Mean)) };
            foreach (var r in report.Reranked)
                row.AddRange([F(pick(r.Stage.Metrics.Mean)), Signed(pick(r.Stage.Metrics.Mean) - pick(first.Metrics.Mean)), P(pick(r.PValues))]);
            rows.Add(row.ToArray());
        }
        WriteAligned(stdout, rows);
        stdout.WriteLine();
        foreach (var r in report.Reranked.Where(r => r.Chunked))
        {
            // Chunking against truncation at the same precision: the change and its own significance.
            var truncated = report.Reranked.First(t => !t.Chunked && t.Precision == r.Precision).Stage;
            var p = r.PValuesAgainstTruncation!.Value;
            stdout.WriteLine($"{r.Stage.Name} vs {truncated.Name}: " + string.Join(", ", Measures.Select(m =>
                $"{m.Name} {Signed(m.Pick(r.Stage.Metrics.Mean) - m.Pick(truncated.Metrics.Mean))} (p {P(m.Pick(p))})")));
        }
        if (report.Reranked.Any(r => r.Chunked)) stdout.WriteLine();
        bool anyChunks = report.Reranked.Any(r => r.Chunked);
        var cost = new List<string[]> { anyChunks ? ["stage", "seconds", "pairs", "tokens", "pairs/s", "tokens/s", "chunks", "chunks/s"] : ["stage", "seconds", "pairs", "tokens", "pairs/s", "tokens/s"] };
        var info = report.FirstStageInfo;
        string firstNote = first.Name == "bm25" || first.Name == "dense" ? $" (index {info.IndexSeconds:F1}s{(info.IndexFromCache ? ", cached" : "")}, search {info.SearchSeconds:F1}s)" : "";
        cost.Add([first.Name + firstNote, first.Seconds.ToString("F1", CultureInfo.InvariantCulture), "-", first.Tokens == 0 ? "-" : first.Tokens.ToString("N0", CultureInfo.InvariantCulture), "-", "-"]);
        foreach (var r in report.Reranked)
        {
            var s = r.Stage;
            string[] row = [s.Name, s.Seconds.ToString("F1", CultureInfo.InvariantCulture), s.Pairs.ToString("N0", CultureInfo.InvariantCulture), s.Tokens.ToString("N0", CultureInfo.InvariantCulture),
                s.PairsPerSecond.ToString("F1", CultureInfo.InvariantCulture), (s.Seconds > 0 ? s.Tokens / s.Seconds : 0).ToString("N0", CultureInfo.InvariantCulture)];
            if (anyChunks) row = [.. row, r.Chunked ? s.Chunks.ToString("N0", CultureInfo.InvariantCulture) : "-", r.Chunked ? s.ChunksPerSecond.ToString("F1", CultureInfo.InvariantCulture) : "-"];
            cost.Add(row);
        }
        WriteAligned(stdout, cost);
        var truncations = report.Reranked.Where(r => !r.Chunked).ToList();
        if (truncations.Count > 1)
        {
            // What the second precision (int8) gives up against the first (fp32) and the time it saves.
            var (reference, other) = (truncations[0].Stage, truncations[1].Stage);
            stdout.WriteLine($"{other.Name} vs {reference.Name}: nDCG@10 {Signed(other.Metrics.Mean.NdcgAt10 - reference.Metrics.Mean.NdcgAt10)}, " +
                             $"MAP {Signed(other.Metrics.Mean.Map - reference.Metrics.Mean.Map)}, rerank time x{(reference.Seconds > 0 ? other.Seconds / reference.Seconds : 0):F2}");
        }
        stdout.WriteLine($"total {report.Seconds:F1} s. p: two-sided paired randomization test ({RandomizationTest.DefaultPermutations:N0} permutations, seed {RandomizationTest.DefaultSeed}; exact when queries <= 13).");
    }

    private static readonly (string Name, Func<QueryMetrics, double> Pick)[] Measures =
    [
        ("nDCG@10", m => m.NdcgAt10), ("MRR@10", m => m.MrrAt10), ("Recall@100", m => m.RecallAt100), ("MAP", m => m.Map),
    ];

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
    private static string Signed(double v) => v.ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture);
    private static string P(double v) => v < 0.0001 ? "<0.0001" : v.ToString("F4", CultureInfo.InvariantCulture);

    private static void WriteAligned(TextWriter stdout, List<string[]> rows)
    {
        int columns = rows.Max(r => r.Length);
        var widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        foreach (var row in rows)
            stdout.WriteLine(string.Join("  ", row.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
    }

    private static void WriteJson(TextWriter stdout, string label, string model, int candidates, RerankEvaluationReport report)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            var fp32 = report.Reranked.Count > 0 ? report.Reranked[0] : null;
            json.WriteStartObject();
            json.WriteString("data", label);
            json.WriteNumber("queries", report.QueryIds.Count);
            json.WriteString("first_stage_name", report.FirstStage.Name);
            json.WriteString("model", model);
            json.WriteNumber("candidates", candidates);
            WriteMeasures(json, "first_stage", report.FirstStage.Metrics.Mean);
            if (fp32 is null)
            {
                json.WriteNull("reranked");
                json.WriteNull("p_value");
            }
            else
            {
                WriteMeasures(json, "reranked", fp32.Stage.Metrics.Mean);
                json.WriteNumber("p_value", fp32.PValues.NdcgAt10);
                WriteMeasures(json, "p_values", fp32.PValues);
            }
            json.WriteNumber("seconds", report.Seconds);
            json.WriteStartObject("cost");
            WriteCost(json, report.FirstStage.Name, report.FirstStage);
            foreach (var r in report.Reranked) WriteCost(json, r.Stage.Name, r.Stage);
            json.WriteEndObject();
            if (report.Reranked.Count > 1)
            {
                json.WriteStartArray("precisions");
                foreach (var r in report.Reranked)
                {
                    json.WriteStartObject();
                    json.WriteString("precision", r.Precision.ToString().ToLowerInvariant());
                    json.WriteString("long", r.Chunked ? "chunk" : "truncate");
                    if (r.PValuesAgainstTruncation is { } versus) WriteMeasures(json, "p_values_vs_truncate", versus);
                    WriteMeasures(json, "reranked", r.Stage.Metrics.Mean);
                    json.WriteNumber("p_value", r.PValues.NdcgAt10);
                    json.WriteNumber("seconds", r.Stage.Seconds);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteStartArray("per_query");
            for (int i = 0; i < report.QueryIds.Count; i++)
            {
                json.WriteStartObject();
                json.WriteString("query", report.QueryIds[i]);
                json.WriteNumber("first_stage_ndcg@10", report.FirstStage.Metrics.PerQuery[i].NdcgAt10);
                if (fp32 is not null) json.WriteNumber("reranked_ndcg@10", fp32.Stage.Metrics.PerQuery[i].NdcgAt10);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteMeasures(Utf8JsonWriter json, string name, QueryMetrics m)
    {
        json.WriteStartObject(name);
        json.WriteNumber("ndcg@10", m.NdcgAt10);
        json.WriteNumber("mrr@10", m.MrrAt10);
        json.WriteNumber("recall@100", m.RecallAt100);
        json.WriteNumber("map", m.Map);
        json.WriteEndObject();
    }

    private static void WriteCost(Utf8JsonWriter json, string name, StageReport stage)
    {
        json.WriteStartObject(name);
        json.WriteNumber("seconds", stage.Seconds);
        json.WriteNumber("pairs", stage.Pairs);
        json.WriteNumber("tokens", stage.Tokens);
        json.WriteNumber("pairs_per_second", stage.PairsPerSecond);
        if (stage.Chunks > 0)
        {
            json.WriteNumber("chunks", stage.Chunks);
            json.WriteNumber("chunks_per_second", stage.ChunksPerSecond);
        }
        json.WriteEndObject();
    }
}

/// <summary>A one-line progress bar on a terminal (stage, percent, ETA, tokens/s); silent when stderr is not a terminal.</summary>
internal sealed class ProgressBar(TextWriter output, bool enabled) : IProgress<StageProgress>, IDisposable
{
    private readonly System.Diagnostics.Stopwatch _stage = new();
    private string? _current;
    private long _lastDraw;
    private bool _drawn;

    public void Report(StageProgress value)
    {
        if (!enabled) return;
        if (value.Stage != _current) { _current = value.Stage; _stage.Restart(); _lastDraw = 0; }
        long now = _stage.ElapsedMilliseconds;
        if (value.Done < value.Total && now - _lastDraw < 250) return;
        _lastDraw = now;
        double fraction = value.Total == 0 ? 1 : (double)value.Done / value.Total;
        double seconds = _stage.Elapsed.TotalSeconds;
        string eta = fraction > 0 && fraction < 1 ? Duration(seconds / fraction - seconds) : "--";
        string rate = value.Tokens > 0 && seconds > 0 ? $"  {value.Tokens / seconds,7:N0} tok/s" : "";
        int width = 24, filled = (int)Math.Round(fraction * width);
        output.Write($"\r{value.Stage,-20} [{new string('#', filled)}{new string('-', width - filled)}] {fraction,4:P0} {value.Done}/{value.Total}  ETA {eta}{rate}   ");
        _drawn = true;
    }

    public void Finish()
    {
        if (_drawn) output.Write("\r" + new string(' ', 100) + "\r");
        _drawn = false;
    }

    public void Dispose() => Finish();

    private static string Duration(double seconds) =>
        seconds >= 3600 ? $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):D2}m" : seconds >= 60 ? $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s" : $"{seconds:F0}s";
}
