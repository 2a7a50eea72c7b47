using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Retrieval;

namespace CrossEncoder.Training;

/// <summary>One query of the training data with its judged positives and BM25's ranking (ids are prefixed with the
/// collection's name, <c>cranfield/12</c>, so several collections never collide).</summary>
/// <param name="Id">The prefixed query id.</param>
/// <param name="Text">The query text.</param>
/// <param name="Positives">Documents judged relevant (grade above 0).</param>
/// <param name="Ranking">BM25's top documents for the query, best first: the negatives are mined from it and the dev
/// evaluation reranks it.</param>
public sealed record TrainingQuery(string Id, string Text, IReadOnlyList<string> Positives, IReadOnlyList<string> Ranking);

/// <summary>
/// Training data from one or more collections in BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv): every query
/// with relevance judgments, BM25's top <see cref="TrainingOptions.CandidateDepth"/> for it (Lucene.Net, the first stage of
/// <c>eval</c>), and a train/dev split by query.
/// </summary>
public sealed class TrainingData
{
    private TrainingData(IReadOnlyList<TrainingQuery> train, IReadOnlyList<TrainingQuery> dev, IReadOnlyDictionary<string, string> documents, Qrels qrels, IReadOnlyList<string> collections)
    {
        Train = train;
        Dev = dev;
        Documents = documents;
        Qrels = qrels;
        Collections = collections;
    }

    /// <summary>The training queries.</summary>
    public IReadOnlyList<TrainingQuery> Train { get; }

    /// <summary>The held-out dev queries (empty when the dev fraction is 0).</summary>
    public IReadOnlyList<TrainingQuery> Dev { get; }

    /// <summary>Document text (title and text) by prefixed id.</summary>
    public IReadOnlyDictionary<string, string> Documents { get; }

    /// <summary>Every judgment, under prefixed ids.</summary>
    public Qrels Qrels { get; }

    /// <summary>The collections' names, as used in the prefixes.</summary>
    public IReadOnlyList<string> Collections { get; }

    /// <summary>Loads the collections, runs BM25 over each and splits the queries (seeded by <see cref="TrainingOptions.Seed"/>).</summary>
    /// <exception cref="DirectoryNotFoundException">A folder does not exist.</exception>
    /// <exception cref="InvalidDataException">A collection has no judged query, or two collections share a name.</exception>
    public static TrainingData Load(IReadOnlyList<string> directories, TrainingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directories);
        ArgumentNullException.ThrowIfNull(options);
        if (directories.Count == 0) throw new ArgumentException("Give at least one collection.", nameof(directories));
        var queries = new List<TrainingQuery>();
        var documents = new Dictionary<string, string>(StringComparer.Ordinal);
        var qrels = new Qrels();
        var names = new List<string>();
        foreach (string directory in directories)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
            if (names.Contains(name, StringComparer.Ordinal))
                throw new InvalidDataException($"Two collections are named '{name}' ({directory}); their ids would collide: give them different folder names.");
            names.Add(name);
            var dataset = BeirDataset.Load(directory);
            foreach (var document in dataset.Corpus) documents[name + "/" + document.Id] = document.FullText;
            var judged = dataset.Queries.Where(q => dataset.Qrels.RelevantCount(q.Id) > 0).ToList();
            if (judged.Count == 0) throw new InvalidDataException($"{directory}: no query has a relevant judgment; nothing to train on.");
            var bm25 = new Bm25FirstStage(dataset.Corpus, options.CacheDirectory ?? Path.Combine(directory, ".cache"));
            var run = bm25.Retrieve(judged, options.CandidateDepth, progress: null, cancellationToken).Run;
            foreach (var query in judged)
            {
                var judgments = dataset.Qrels.For(query.Id);
                foreach (var (document, grade) in judgments) qrels.Add(name + "/" + query.Id, name + "/" + document, grade);
                queries.Add(new TrainingQuery(name + "/" + query.Id, query.Text,
                    judgments.Where(j => j.Value > 0).Select(j => name + "/" + j.Key).Order(StringComparer.Ordinal).ToArray(),
                    run.For(query.Id).Select(d => name + "/" + d.DocumentId).ToArray()));
            }
        }
        // Split by query: a seeded shuffle, the first DevFraction of it held out (at least one query when the fraction is above 0).
        var shuffled = queries.ToArray();
        new Random(options.Seed).Shuffle(shuffled);
        int devCount = options.DevFraction <= 0 || shuffled.Length < 2 ? 0 : Math.Clamp((int)Math.Round(options.DevFraction * shuffled.Length), 1, shuffled.Length - 1);
        var dev = shuffled.Take(devCount).OrderBy(q => q.Id, StringComparer.Ordinal).ToArray();
        var train = shuffled.Skip(devCount).OrderBy(q => q.Id, StringComparer.Ordinal).ToArray();
        return new TrainingData(train, dev, documents, qrels, names);
    }

    private readonly Dictionary<string, string[]> _collectionDocuments = new(StringComparer.Ordinal);

    /// <summary><paramref name="count"/> documents of the query's collection drawn at random (with <paramref name="random"/>)
    /// among those not judged relevant to it.</summary>
    public IReadOnlyList<string> RandomNegatives(TrainingQuery query, int count, Random random)
    {
        if (count == 0) return [];
        string collection = query.Id[..(query.Id.IndexOf('/') + 1)];
        if (!_collectionDocuments.TryGetValue(collection, out var documents))
            _collectionDocuments[collection] = documents = [.. Documents.Keys.Where(d => d.StartsWith(collection, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        var judged = Qrels.For(query.Id);
        var drawn = new List<string>(count);
        for (int attempt = 0; drawn.Count < count && attempt < 100 * count; attempt++)
        {
            string d = documents[random.Next(documents.Length)];
            if (!(judged.TryGetValue(d, out int grade) && grade > 0)) drawn.Add(d);
        }
        return drawn;
    }

    /// <summary>BM25's top-ranked documents for <paramref name="query"/> that are not judged relevant, best first: the hard negatives.</summary>
    public IReadOnlyList<string> HardNegatives(TrainingQuery query)
    {
        var judged = Qrels.For(query.Id);
        return query.Ranking.Where(d => !(judged.TryGetValue(d, out int grade) && grade > 0)).ToArray();
    }
}
