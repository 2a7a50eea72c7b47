using System.Globalization;
using System.Text;

namespace CrossEncoder.Evaluation.Data;

/// <summary>A retrieved document and its score.</summary>
public readonly record struct ScoredDocument(string DocumentId, double Score);

/// <summary>
/// A ranked result list per query, as in a TREC run file (<c>qid Q0 docno rank score tag</c>). Each query's list is kept in
/// trec_eval's order: score descending, ties broken by document id descending (byte order), which is what trec_eval does
/// whatever the file's rank column says.
/// </summary>
public sealed class TrecRun
{
    private readonly Dictionary<string, ScoredDocument[]> _rankings = new(StringComparer.Ordinal);

    /// <summary>The query ids with a result list, in insertion order.</summary>
    public IReadOnlyList<string> QueryIds => _order;
    private readonly List<string> _order = [];

    /// <summary>Sets the result list of a query (sorted into trec_eval order here).</summary>
    /// <exception cref="ArgumentException">A document appears twice, or a score is NaN.</exception>
    public void Set(string queryId, IEnumerable<ScoredDocument> documents)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        var list = documents.ToArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in list)
        {
            if (!seen.Add(d.DocumentId)) throw new ArgumentException($"query {queryId}: document {d.DocumentId} is ranked twice.", nameof(documents));
            if (double.IsNaN(d.Score)) throw new ArgumentException($"query {queryId}: document {d.DocumentId} has a NaN score.", nameof(documents));
        }
        Array.Sort(list, TrecOrder);
        if (!_rankings.ContainsKey(queryId)) _order.Add(queryId);
        _rankings[queryId] = list;
    }

    /// <summary>The ranking of one query in trec_eval order (empty when the run has none for it).</summary>
    public IReadOnlyList<ScoredDocument> For(string queryId) => _rankings.TryGetValue(queryId, out var list) ? list : [];

    /// <summary>trec_eval's comparison (form_res_rels.c, comp_sim_docno): score descending, then document id descending.</summary>
    public static int TrecOrder(ScoredDocument x, ScoredDocument y) =>
        x.Score > y.Score ? -1 : x.Score < y.Score ? 1 : string.CompareOrdinal(y.DocumentId, x.DocumentId);

    /// <summary>Reads a TREC run file: whitespace-separated <c>qid Q0 docno rank score [tag]</c>. Errors name the line.</summary>
    public static TrecRun Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"run file '{path}' not found.", path);
        var lists = new Dictionary<string, List<ScoredDocument>>(StringComparer.Ordinal);
        var order = new List<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{Path.GetFileName(path)} line {lineNumber}";
            string[] f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length is < 5 or > 6) throw new FormatException($"{where}: expected 'qid Q0 docno rank score tag', got {f.Length} fields.");
            if (!double.TryParse(f[4], NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || !double.IsFinite(score))
                throw new FormatException($"{where}: score '{f[4]}' is not a finite number.");
            if (!lists.TryGetValue(f[0], out var list)) { lists[f[0]] = list = []; order.Add(f[0]); }
            list.Add(new ScoredDocument(f[2], score));
        }
        var run = new TrecRun();
        foreach (string q in order)
        {
            try { run.Set(q, lists[q]); }
            catch (ArgumentException e) { throw new FormatException($"{Path.GetFileName(path)}: {e.Message.Split(" (Parameter")[0]}"); }
        }
        return run;
    }

    /// <summary>Writes the run in TREC format with ranks 1.. in trec_eval order and scores that round-trip exactly.</summary>
    public void Write(string path, string tag)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false)) { NewLine = "\n" };
        foreach (string q in _order)
        {
            var list = _rankings[q];
            for (int i = 0; i < list.Length; i++)
                writer.WriteLine($"{q} Q0 {list[i].DocumentId} {i + 1} {list[i].Score.ToString("R", CultureInfo.InvariantCulture)} {tag}");
        }
    }
}
