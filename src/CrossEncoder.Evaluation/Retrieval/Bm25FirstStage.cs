using System.Diagnostics;
using CrossEncoder.Evaluation.Data;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.En;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Search.Similarities;
using Lucene.Net.Store;
using Lucene.Net.Util;
using LuceneDirectory = Lucene.Net.Store.Directory;

namespace CrossEncoder.Evaluation.Retrieval;

/// <summary>BM25 parameters.</summary>
public sealed record Bm25Options
{
    /// <summary>Term-frequency saturation. Default 0.9, as Anserini/Pyserini's BM25 baselines (Lucene's own default is 1.2).</summary>
    public float K1 { get; init; } = 0.9f;

    /// <summary>Length normalisation, 0 (none) .. 1 (full). Default 0.4, as Anserini/Pyserini (Lucene's own default is 0.75).</summary>
    public float B { get; init; } = 0.4f;
}

/// <summary>
/// BM25 with Lucene.Net 4.8: one field holding <c>title + " " + text</c>, analysed with Lucene's EnglishAnalyzer (standard
/// tokenizer, English possessive removal, lower-casing, English stop words, Porter stemming). The index is built once per
/// corpus content in <c>&lt;cache&gt;/bm25-&lt;corpus key&gt;</c> and reused; k1 and b act at search time, so one index serves
/// every setting. Queries are bags of words: each distinct analysed term is a SHOULD clause boosted by its count, as
/// Anserini's bag-of-words query generator does.
/// </summary>
public sealed class Bm25FirstStage : IFirstStage
{
    private const LuceneVersion Version = LuceneVersion.LUCENE_48;
    private const string IdField = "id", ContentsField = "contents";
    private readonly IReadOnlyList<BeirDocument> _corpus;
    private readonly string _cacheDirectory;
    private readonly Bm25Options _options;

    /// <summary>Prepares BM25 over <paramref name="corpus"/>, keeping its index under <paramref name="cacheDirectory"/>.</summary>
    public Bm25FirstStage(IReadOnlyList<BeirDocument> corpus, string cacheDirectory, Bm25Options? options = null)
    {
        _corpus = corpus ?? throw new ArgumentNullException(nameof(corpus));
        _cacheDirectory = cacheDirectory ?? throw new ArgumentNullException(nameof(cacheDirectory));
        _options = options ?? new Bm25Options();
        if (!(_options.K1 >= 0) || !(_options.B is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(options), "BM25 needs k1 >= 0 and 0 <= b <= 1.");
    }

    /// <inheritdoc/>
    public string Name => "bm25";

    /// <summary>The index folder for this corpus.</summary>
    public string IndexDirectory => Path.Combine(_cacheDirectory, "bm25-" + ContentKey.Of(_corpus));

    /// <inheritdoc/>
    public FirstStageResult Retrieve(IReadOnlyList<BeirQuery> queries, int depth, IProgress<StageProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        var clock = Stopwatch.StartNew();
        bool cached = EnsureIndex(progress, cancellationToken);
        double indexSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        using var analyzer = new EnglishAnalyzer(Version);
        using LuceneDirectory directory = FSDirectory.Open(IndexDirectory);
        using var reader = DirectoryReader.Open(directory);
        var searcher = new IndexSearcher(reader) { Similarity = new BM25Similarity(_options.K1, _options.B) };
        var ids = new string[reader.MaxDoc];
        for (int i = 0; i < ids.Length; i++) ids[i] = reader.Document(i).Get(IdField);
        BooleanQuery.MaxClauseCount = int.MaxValue;   // CISI's queries are whole abstracts
        var run = new TrecRun();
        for (int qi = 0; qi < queries.Count; qi++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var query = BagOfWords(analyzer, queries[qi].Text);
            var hits = query.Clauses.Count == 0 ? [] : searcher.Search(query, Math.Min(depth, Math.Max(1, reader.MaxDoc))).ScoreDocs;
            run.Set(queries[qi].Id, hits.Select(h => new ScoredDocument(ids[h.Doc], h.Score)));
            progress?.Report(new StageProgress("bm25 search", qi + 1, queries.Count, 0));
        }
        return new FirstStageResult(run, indexSeconds, cached, clock.Elapsed.TotalSeconds, 0);
    }

    /// <summary>Analysed query terms with their counts as boosts.</summary>
    internal static BooleanQuery BagOfWords(Analyzer analyzer, string text)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        using (var stream = analyzer.GetTokenStream(ContentsField, text))
        {
            var term = stream.AddAttribute<ICharTermAttribute>();
            stream.Reset();
            while (stream.IncrementToken()) counts[term.ToString()] = counts.GetValueOrDefault(term.ToString()) + 1;
            stream.End();
        }
        var query = new BooleanQuery();
        foreach (var (word, count) in counts)
            query.Add(new TermQuery(new Term(ContentsField, word)) { Boost = count }, Occur.SHOULD);
        return query;
    }

    /// <summary>Builds the index unless a complete one exists; returns true when it was already there. Built in a temporary
    /// folder and moved into place, so an interrupted build never leaves a half index that looks complete.</summary>
    private bool EnsureIndex(IProgress<StageProgress>? progress, CancellationToken cancellationToken)
    {
        string target = IndexDirectory;
        if (File.Exists(Path.Combine(target, "complete"))) return true;
        System.IO.Directory.CreateDirectory(_cacheDirectory);
        string building = target + ".building-" + Environment.ProcessId;
        if (System.IO.Directory.Exists(building)) System.IO.Directory.Delete(building, true);
        try
        {
            Build(building, progress, cancellationToken);
        }
        catch
        {
            if (System.IO.Directory.Exists(building)) System.IO.Directory.Delete(building, true);   // no half index left behind
            throw;
        }
        File.WriteAllText(Path.Combine(building, "complete"), $"{_corpus.Count} documents\n");
        if (System.IO.Directory.Exists(target)) System.IO.Directory.Delete(target, true);
        System.IO.Directory.Move(building, target);
        return false;
    }

    private void Build(string building, IProgress<StageProgress>? progress, CancellationToken cancellationToken)
    {
        using (var analyzer = new EnglishAnalyzer(Version))
        using (LuceneDirectory directory = FSDirectory.Open(building))
        using (var writer = new IndexWriter(directory, new IndexWriterConfig(Version, analyzer)
               { OpenMode = OpenMode.CREATE, Similarity = new BM25Similarity(_options.K1, _options.B) }))
        {
            for (int i = 0; i < _corpus.Count; i++)
            {
                if ((i & 255) == 0) cancellationToken.ThrowIfCancellationRequested();
                var d = _corpus[i];
                writer.AddDocument(new Document
                {
                    new StringField(IdField, d.Id, Field.Store.YES),
                    new TextField(ContentsField, d.FullText, Field.Store.NO),
                });
                if ((i & 1023) == 0 || i == _corpus.Count - 1) progress?.Report(new StageProgress("bm25 index", i + 1, _corpus.Count, 0));
            }
            writer.ForceMerge(1);   // one segment: Lucene's internal doc ids follow corpus order
            writer.Commit();
        }
    }
}
