using System.Text;
using System.Text.Json;

namespace CrossEncoder.Evaluation.Data;

/// <summary>One corpus document in BEIR layout.</summary>
/// <param name="Id">The document id (<c>_id</c>), as written in qrels and run files.</param>
/// <param name="Title">The title, possibly empty.</param>
/// <param name="Text">The body text.</param>
public sealed record BeirDocument(string Id, string Title, string Text)
{
    /// <summary>What a model reads: <c>title + " " + text</c> as BEIR does (just the text when there is no title).</summary>
    public string FullText => Title.Length == 0 ? Text : Text.Length == 0 ? Title : Title + " " + Text;
}

/// <summary>One query in BEIR layout.</summary>
public sealed record BeirQuery(string Id, string Text);

/// <summary>
/// A test collection in BEIR layout: <c>corpus.jsonl</c> (one JSON object per line: <c>_id</c>, <c>title</c>, <c>text</c>),
/// <c>queries.jsonl</c> (<c>_id</c>, <c>text</c>) and <c>qrels/test.tsv</c> (header <c>query-id corpus-id score</c>, tab separated,
/// score = graded relevance, 0 = judged non-relevant).
/// </summary>
public sealed class BeirDataset
{
    /// <summary>Creates a dataset from its parts (ids must be unique; qrels may name documents or queries that are missing).</summary>
    public BeirDataset(IReadOnlyList<BeirDocument> corpus, IReadOnlyList<BeirQuery> queries, Qrels qrels)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(qrels);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in corpus)
            if (!seen.Add(d.Id)) throw new FormatException($"corpus: document id '{d.Id}' appears twice.");
        seen.Clear();
        foreach (var q in queries)
            if (!seen.Add(q.Id)) throw new FormatException($"queries: query id '{q.Id}' appears twice.");
        Corpus = corpus;
        Queries = queries;
        Qrels = qrels;
    }

    /// <summary>The documents, in file order.</summary>
    public IReadOnlyList<BeirDocument> Corpus { get; }

    /// <summary>The queries, in file order.</summary>
    public IReadOnlyList<BeirQuery> Queries { get; }

    /// <summary>The relevance judgments.</summary>
    public Qrels Qrels { get; }

    /// <summary>Reads a BEIR folder. Errors name the file and line.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">corpus.jsonl, queries.jsonl or qrels/test.tsv is missing.</exception>
    /// <exception cref="FormatException">A line is malformed.</exception>
    public static BeirDataset Load(string directory, string split = "test")
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Data folder '{directory}' does not exist.");
        string corpusPath = RequireFile(Path.Combine(directory, "corpus.jsonl"));
        string queriesPath = RequireFile(Path.Combine(directory, "queries.jsonl"));
        string qrelsPath = RequireFile(Path.Combine(directory, "qrels", split + ".tsv"));
        var corpus = ReadJsonLines(corpusPath, (root, where) =>
            new BeirDocument(RequiredString(root, "_id", where), OptionalString(root, "title", where), OptionalString(root, "text", where)));
        var queries = ReadJsonLines(queriesPath, (root, where) =>
            new BeirQuery(RequiredString(root, "_id", where), RequiredString(root, "text", where)));
        return new BeirDataset(corpus, queries, Qrels.ReadBeirTsv(qrelsPath));
    }

    /// <summary>Writes the dataset as a BEIR folder (created if needed), UTF-8 without BOM, LF line ends.</summary>
    public void Save(string directory, string split = "test")
    {
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(Path.Combine(directory, "qrels"));
        var jsonOptions = new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        WriteJsonLines(Path.Combine(directory, "corpus.jsonl"), Corpus, jsonOptions, (json, d) =>
        {
            json.WriteString("_id", d.Id);
            json.WriteString("title", d.Title);
            json.WriteString("text", d.Text);
        });
        WriteJsonLines(Path.Combine(directory, "queries.jsonl"), Queries, jsonOptions, (json, q) =>
        {
            json.WriteString("_id", q.Id);
            json.WriteString("text", q.Text);
        });
        Qrels.WriteBeirTsv(Path.Combine(directory, "qrels", split + ".tsv"));
    }

    private static string RequireFile(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"'{path}' not found (a BEIR folder has corpus.jsonl, queries.jsonl and qrels/test.tsv).", path);

    private static List<T> ReadJsonLines<T>(string path, Func<JsonElement, string, T> read)
    {
        var items = new List<T>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{Path.GetFileName(path)} line {lineNumber}";
            JsonDocument document;
            try { document = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new FormatException($"{where}: not a JSON object ({e.Message})"); }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object) throw new FormatException($"{where}: not a JSON object.");
                items.Add(read(document.RootElement, where));
            }
        }
        return items;
    }

    private static string RequiredString(JsonElement root, string name, string where)
    {
        if (!root.TryGetProperty(name, out var value)) throw new FormatException($"{where}: missing \"{name}\".");
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number => value.GetRawText(),   // some BEIR sets write numeric ids
            _ => throw new FormatException($"{where}: \"{name}\" must be a string."),
        };
    }

    private static string OptionalString(JsonElement root, string name, string where) =>
        !root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? ""
        : value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new FormatException($"{where}: \"{name}\" must be a string.");

    private static void WriteJsonLines<T>(string path, IEnumerable<T> items, JsonWriterOptions options, Action<Utf8JsonWriter, T> write)
    {
        using var stream = File.Create(path);
        foreach (var item in items)
        {
            using (var json = new Utf8JsonWriter(stream, options))
            {
                json.WriteStartObject();
                write(json, item);
                json.WriteEndObject();
            }
            stream.WriteByte((byte)'\n');
        }
    }
}
