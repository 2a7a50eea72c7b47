using System.Globalization;
using System.Text;

namespace CrossEncoder.Evaluation.Data;

/// <summary>
/// Relevance judgments: for each query id, the judged document ids and their relevance grade (0 = judged non-relevant,
/// 1, 2, ... = increasingly relevant). A document missing from a query's judgments is unjudged and counts as non-relevant.
/// </summary>
public sealed class Qrels
{
    private readonly Dictionary<string, Dictionary<string, int>> _judgments = new(StringComparer.Ordinal);

    /// <summary>Query ids with at least one judgment, in first-seen order.</summary>
    public IReadOnlyList<string> QueryIds => _order;
    private readonly List<string> _order = [];

    /// <summary>Number of (query, document) judgments.</summary>
    public int Count { get; private set; }

    /// <summary>Adds one judgment. A negative grade is rejected: convert it first (e.g. Cranfield's -1 to 0).</summary>
    /// <exception cref="ArgumentException">The grade is negative or the pair is already judged differently.</exception>
    public void Add(string queryId, string documentId, int relevance)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        ArgumentNullException.ThrowIfNull(documentId);
        if (relevance < 0) throw new ArgumentException($"query {queryId}, document {documentId}: relevance {relevance} is negative.", nameof(relevance));
        if (!_judgments.TryGetValue(queryId, out var judged))
        {
            _judgments[queryId] = judged = new Dictionary<string, int>(StringComparer.Ordinal);
            _order.Add(queryId);
        }
        if (judged.TryGetValue(documentId, out int existing))
        {
            if (existing != relevance)
                throw new ArgumentException($"query {queryId}, document {documentId} is judged twice ({existing} and {relevance}).", nameof(documentId));
            return;
        }
        judged[documentId] = relevance;
        Count++;
    }

    /// <summary>The judgments of one query (empty when it has none).</summary>
    public IReadOnlyDictionary<string, int> For(string queryId) =>
        _judgments.TryGetValue(queryId, out var judged) ? judged : EmptyJudgments;

    private static readonly Dictionary<string, int> EmptyJudgments = new(StringComparer.Ordinal);

    /// <summary>Number of documents judged relevant (grade &gt; 0) for the query.</summary>
    public int RelevantCount(string queryId) => For(queryId).Values.Count(g => g > 0);

    /// <summary>Reads BEIR's <c>qrels/*.tsv</c>: an optional header <c>query-id corpus-id score</c>, then tab-separated lines.</summary>
    public static Qrels ReadBeirTsv(string path)
    {
        var qrels = new Qrels();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string[] fields = line.TrimEnd('\r').Split('\t');
            if (lineNumber == 1 && fields.Length == 3 && !int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out _)) continue;   // header
            string where = $"{Path.GetFileName(path)} line {lineNumber}";
            if (fields.Length != 3) throw new FormatException($"{where}: expected 'query-id<TAB>corpus-id<TAB>score', got {fields.Length} fields.");
            if (!int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out int grade))
                throw new FormatException($"{where}: score '{fields[2]}' is not an integer.");
            try { qrels.Add(fields[0], fields[1], grade); }
            catch (ArgumentException e) { throw new FormatException($"{where}: {e.Message.Split(" (Parameter")[0]}"); }
        }
        return qrels;
    }

    /// <summary>Writes BEIR's tab-separated qrels with its header.</summary>
    public void WriteBeirTsv(string path)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false)) { NewLine = "\n" };
        writer.WriteLine("query-id\tcorpus-id\tscore");
        foreach (string q in _order)
            foreach (var (doc, grade) in _judgments[q])
                writer.WriteLine($"{q}\t{doc}\t{grade.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Writes TREC's qrels format <c>qid 0 docno rel</c> that trec_eval reads, for <paramref name="queryIds"/> (all when null).</summary>
    public void WriteTrec(string path, IEnumerable<string>? queryIds = null)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false)) { NewLine = "\n" };
        foreach (string q in queryIds?.Where(_judgments.ContainsKey) ?? _order)
            foreach (var (doc, grade) in _judgments[q])
                writer.WriteLine($"{q} 0 {doc} {grade.ToString(CultureInfo.InvariantCulture)}");
    }
}
