using System.Text.Json;
using System.Text.RegularExpressions;
using CrossEncoder.Native.Reranking.Verification;

namespace CrossEncoder.Conversion.Verification;

/// <summary>
/// Reranking sets from the classic IR test collections: Cranfield (cran.all.1400, cran.qry, cranqrel) and MEDLINE (MED.ALL,
/// MED.QRY, MED.REL), SMART format (<c>.I id</c>, <c>.W</c> text), under a root given on the command line; or the committed IR sample.
/// Each query's candidates are its judged relevant documents (up to half the list) filled with the best unjudged documents by
/// a tf-idf term match, so the list looks like a first-stage result: mostly plausible, partly relevant.
/// </summary>
public static partial class IrCollections
{
    /// <summary>Reads Cranfield and MEDLINE under <paramref name="root"/> and builds <paramref name="queriesPerCollection"/> queries
    /// of <paramref name="candidates"/> documents from each (queries in file order, after the first <paramref name="skip"/>
    /// usable ones of each collection: a held-out set, e.g. to train a probe head on queries the gate does not use).</summary>
    public static IReadOnlyList<RankingQuery> Load(string root, int queriesPerCollection = 25, int candidates = 20, int skip = 0)
    {
        var result = new List<RankingQuery>();
        string cran = Path.Combine(root, "cranfield"), med = Path.Combine(root, "medline");
        if (!Directory.Exists(cran) || !Directory.Exists(med))
            throw new DirectoryNotFoundException($"'{root}' does not hold the IR collections (expected cranfield/ and medline/).");
        // Cranfield: queries are numbered 1..225 in file order in cranqrel (their .I ids skip numbers); grades 1 (complete
        // answer) .. 4 (minimal interest), -1 none: gain = 5 - grade.
        var cranDocs = ReadSmart(Path.Combine(cran, "cran.all.1400"));
        var cranQueries = ReadSmart(Path.Combine(cran, "cran.qry")).Values.ToList();
        var cranJudged = new Dictionary<int, Dictionary<int, int>>();
        foreach (string line in File.ReadLines(Path.Combine(cran, "cranqrel")))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 3) continue;
            int q = int.Parse(f[0]), d = int.Parse(f[1]), grade = int.Parse(f[2]);
            if (grade is >= 1 and <= 4) (cranJudged.TryGetValue(q, out var m) ? m : cranJudged[q] = [])[d] = 5 - grade;
        }
        result.AddRange(Build(cranDocs, cranQueries.Select((text, i) => (text, cranJudged.GetValueOrDefault(i + 1) ?? [])), queriesPerCollection, candidates, skip));
        // MEDLINE: MED.REL lines are "query 0 doc 1".
        var medDocs = ReadSmart(Path.Combine(med, "MED.ALL"));
        var medQueries = ReadSmart(Path.Combine(med, "MED.QRY"));
        var medJudged = new Dictionary<int, Dictionary<int, int>>();
        foreach (string line in File.ReadLines(Path.Combine(med, "MED.REL")))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 4) continue;
            (medJudged.TryGetValue(int.Parse(f[0]), out var m) ? m : medJudged[int.Parse(f[0])] = [])[int.Parse(f[2])] = 1;
        }
        result.AddRange(Build(medDocs, medQueries.Select(q => (q.Value, medJudged.GetValueOrDefault(q.Key) ?? [])), queriesPerCollection, candidates, skip));
        return result;
    }

    /// <summary>The committed IR sample (16 queries, 64 judged documents): each query against <paramref name="candidates"/> of
    /// the sample's documents, its own judged ones first, then the others by tf-idf match (after the first <paramref name="skip"/> queries).</summary>
    public static IReadOnlyList<RankingQuery> FromSample(int queries = 16, int candidates = 64, int skip = 0)
    {
        using var stream = typeof(IrCollections).Assembly.GetManifestResourceStream("ir-sample.jsonl")
            ?? throw new InvalidOperationException("The bundled IR sample is missing from the tools assembly.");
        using var reader = new StreamReader(stream);
        var docs = new Dictionary<int, string>();
        var queryText = new List<string>();
        var judged = new List<Dictionary<int, int>>();
        while (reader.ReadLine() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var json = JsonDocument.Parse(line);
            var r = json.RootElement;
            string query = r.GetProperty("query").GetString()!;
            int doc = docs.Count;
            docs[doc] = r.GetProperty("doc").GetString()!;
            int qi = queryText.IndexOf(query);
            if (qi < 0) { queryText.Add(query); judged.Add([]); qi = queryText.Count - 1; }
            if (r.TryGetProperty("relevant", out var rel) && (rel.ValueKind == JsonValueKind.True || rel.ValueKind == JsonValueKind.Number && rel.GetInt32() > 0))
                judged[qi][doc] = 1;
        }
        return Build(docs, queryText.Select((q, i) => (q, judged[i])), queries, candidates, skip);
    }

    private static List<RankingQuery> Build(Dictionary<int, string> docs, IEnumerable<(string Text, Dictionary<int, int> Judged)> queries, int count, int candidates, int skip)
    {
        var index = new TfIdf(docs);
        var result = new List<RankingQuery>();
        int usable = 0;
        foreach (var (text, judged) in queries)
        {
            if (result.Count == count) break;
            var relevant = judged.Where(j => docs.ContainsKey(j.Key)).OrderByDescending(j => j.Value).ThenBy(j => j.Key).Take(candidates / 2).ToList();
            if (relevant.Count == 0) continue;
            if (usable++ < skip) continue;
            var picked = relevant.Select(j => j.Key).ToHashSet();
            var list = relevant.Select(j => (Doc: j.Key, Gain: j.Value)).ToList();
            foreach (int d in index.Rank(text))
            {
                if (list.Count == candidates) break;
                if (picked.Add(d)) list.Add((d, judged.GetValueOrDefault(d)));
            }
            result.Add(new RankingQuery(text, list.Select(x => docs[x.Doc]).ToList(), list.Select(x => x.Gain).ToList()));
        }
        return result;
    }

    /// <summary>SMART format: records start with <c>.I id</c>; the text is every field after <c>.T</c>/<c>.W</c> (title and abstract).</summary>
    private static Dictionary<int, string> ReadSmart(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"'{path}' not found.", path);
        var records = new Dictionary<int, string>();
        int id = -1;
        bool text = false;
        var current = new System.Text.StringBuilder();
        void Flush() { if (id >= 0) records[id] = Regex.Replace(current.ToString(), @"\s+", " ").Trim(); current.Clear(); }
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith(".I ", StringComparison.Ordinal)) { Flush(); id = int.Parse(line[3..].Trim()); text = false; continue; }
            if (line.Length >= 2 && line[0] == '.' && char.IsUpper(line[1]) && line.Trim().Length == 2) { text = line[1] is 'W' or 'T'; continue; }
            if (text) current.Append(line).Append(' ');
        }
        Flush();
        return records;
    }

    private sealed partial class TfIdf
    {
        private readonly List<(int Doc, Dictionary<string, int> Terms)> _docs = [];
        private readonly Dictionary<string, double> _idf = new(StringComparer.Ordinal);

        public TfIdf(Dictionary<int, string> docs)
        {
            foreach (var (id, text) in docs.OrderBy(d => d.Key)) _docs.Add((id, Terms(text).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count())));
            foreach (var d in _docs) foreach (string t in d.Terms.Keys) _idf[t] = _idf.GetValueOrDefault(t) + 1;
            foreach (string t in _idf.Keys.ToList()) _idf[t] = Math.Log(_docs.Count / _idf[t]);
        }

        public IEnumerable<int> Rank(string query)
        {
            var q = Terms(query).Distinct().ToList();
            return _docs.Select(d => (d.Doc, Score: q.Sum(t => d.Terms.TryGetValue(t, out int tf) ? (1 + Math.Log(tf)) * _idf[t] : 0)))
                .OrderByDescending(x => x.Score).ThenBy(x => x.Doc).Select(x => x.Doc);
        }

        private static IEnumerable<string> Terms(string text) => Word().Matches(text.ToLowerInvariant()).Select(m => m.Value).Where(w => w.Length > 2);

        [GeneratedRegex("[a-z0-9]+")]
        private static partial Regex Word();
    }
}
