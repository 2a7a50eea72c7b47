using System.Globalization;
using System.Text;

namespace CrossEncoder.Evaluation.Data;

/// <summary>The four classic test collections whose raw files <see cref="ClassicCollections"/> reads.</summary>
public enum ClassicCollection
{
    /// <summary>Cranfield 1400 (aeronautics): cran.all.1400, cran.qry, cranqrel.</summary>
    Cranfield,
    /// <summary>CISI (information science): CISI.ALL, CISI.QRY, CISI.REL.</summary>
    Cisi,
    /// <summary>MEDLINE (MED, medicine): MED.ALL, MED.QRY, MED.REL.</summary>
    Medline,
    /// <summary>NPL / Vaswani (electronics, physics): doc-text, query-text, rlv-ass.</summary>
    Npl,
}

/// <summary>
/// Reads the SMART-era collections (as re-distributed by the Glasgow IR group) into <see cref="BeirDataset"/>. Each reader
/// documents the quirks of its files. Text is kept as written, with line breaks and runs of spaces folded to one space.
/// </summary>
public static class ClassicCollections
{
    /// <summary>Which collection a folder holds, from its file names; null when none matches.</summary>
    public static ClassicCollection? Detect(string directory)
    {
        bool Has(string name) => File.Exists(Path.Combine(directory, name));
        if (Has("cran.all.1400")) return ClassicCollection.Cranfield;
        if (Has("CISI.ALL")) return ClassicCollection.Cisi;
        if (Has("MED.ALL")) return ClassicCollection.Medline;
        if (Has("doc-text") && Has("rlv-ass")) return ClassicCollection.Npl;
        return null;
    }

    /// <summary>Reads the collection in <paramref name="directory"/>.</summary>
    /// <exception cref="FileNotFoundException">A file of the collection is missing.</exception>
    /// <exception cref="FormatException">A file does not have the expected layout (the message names file and line).</exception>
    public static BeirDataset Read(ClassicCollection collection, string directory) => collection switch
    {
        ClassicCollection.Cranfield => ReadCranfield(directory),
        ClassicCollection.Cisi => ReadCisi(directory),
        ClassicCollection.Medline => ReadMedline(directory),
        ClassicCollection.Npl => ReadNpl(directory),
        _ => throw new ArgumentOutOfRangeException(nameof(collection)),
    };

    /// <summary>
    /// Cranfield. Documents: <c>.I n</c>, <c>.T</c> title, <c>.A</c> authors, <c>.B</c> bibliography, <c>.W</c> abstract (which
    /// begins by repeating the title; kept as written). Queries: <c>.I</c> numbers run 001..365 with gaps, but cranqrel numbers
    /// queries 1..225 by their position in cran.qry, so query ids here are positions. cranqrel lines are
    /// <c>qid docid grade</c>, grade 1 (complete answer) .. 4 (minimum interest), and -1 on one line per query ("no interest"):
    /// gains are 5 - grade (4 .. 1) and -1 becomes 0 (judged non-relevant).
    /// </summary>
    public static BeirDataset ReadCranfield(string directory)
    {
        var corpus = ReadSmart(Require(directory, "cran.all.1400"))
            .Select(r => new BeirDocument(r.Id, r.Field('T'), r.Field('W'))).ToList();
        var queries = ReadSmart(Require(directory, "cran.qry"))
            .Select((r, position) => new BeirQuery((position + 1).ToString(CultureInfo.InvariantCulture), r.Field('W'))).ToList();
        var qrels = new Qrels();
        foreach (var (fields, where) in ReadFields(Require(directory, "cranqrel")))
        {
            if (fields.Length != 3) throw new FormatException($"{where}: expected 'qid docid grade'.");
            int grade = ParseInt(fields[2], where);
            if (grade is not (-1 or 1 or 2 or 3 or 4)) throw new FormatException($"{where}: grade {grade} is not one of -1, 1..4.");
            qrels.Add(fields[0], fields[1], grade == -1 ? 0 : 5 - grade);
        }
        return new BeirDataset(corpus, queries, qrels);
    }

    /// <summary>
    /// CISI. Documents: <c>.I .T .A .W .X</c> (<c>.X</c> = citation links, ignored). Queries: <c>.I</c> + <c>.W</c>; some also carry
    /// <c>.T .A .B</c> (they are abstracts used as queries); the query text is <c>.W</c>. CISI.REL lines are
    /// <c>qid docid 0 0.000000</c>, all relevant (grade 1). 36 of the 112 queries have no judgments (they are not evaluated).
    /// </summary>
    public static BeirDataset ReadCisi(string directory)
    {
        var corpus = ReadSmart(Require(directory, "CISI.ALL")).Select(r => new BeirDocument(r.Id, r.Field('T'), r.Field('W'))).ToList();
        var queries = ReadSmart(Require(directory, "CISI.QRY")).Select(r => new BeirQuery(r.Id, r.Field('W'))).ToList();
        var qrels = new Qrels();
        foreach (var (fields, where) in ReadFields(Require(directory, "CISI.REL")))
        {
            if (fields.Length != 4) throw new FormatException($"{where}: expected 'qid docid 0 0.000000'.");
            qrels.Add(fields[0], fields[1], 1);
        }
        return new BeirDataset(corpus, queries, qrels);
    }

    /// <summary>MEDLINE. Documents and queries: <c>.I</c> + <c>.W</c> (no titles). MED.REL is TREC qrels <c>qid 0 docid 1</c>.</summary>
    public static BeirDataset ReadMedline(string directory)
    {
        var corpus = ReadSmart(Require(directory, "MED.ALL")).Select(r => new BeirDocument(r.Id, "", r.Field('W'))).ToList();
        var queries = ReadSmart(Require(directory, "MED.QRY")).Select(r => new BeirQuery(r.Id, r.Field('W'))).ToList();
        var qrels = new Qrels();
        foreach (var (fields, where) in ReadFields(Require(directory, "MED.REL")))
        {
            if (fields.Length != 4) throw new FormatException($"{where}: expected 'qid 0 docid relevance'.");
            qrels.Add(fields[0], fields[2], ParseInt(fields[3], where));
        }
        return new BeirDataset(corpus, queries, qrels);
    }

    /// <summary>
    /// NPL (Vaswani). Records are separated by a line holding only <c>/</c> (possibly indented); a record's first line is its
    /// id. doc-text: id, then the text (lower-cased, punctuation and digits stripped; no separate title). query-text: id, then
    /// the query (upper-case). rlv-ass: id of the query, then the ids of its relevant documents (grade 1).
    /// </summary>
    public static BeirDataset ReadNpl(string directory)
    {
        var corpus = ReadSlashRecords(Require(directory, "doc-text")).Select(r => new BeirDocument(r.Id, "", r.Body)).ToList();
        var queries = ReadSlashRecords(Require(directory, "query-text")).Select(r => new BeirQuery(r.Id, r.Body)).ToList();
        var qrels = new Qrels();
        foreach (var (id, body) in ReadSlashRecords(Require(directory, "rlv-ass")))
            foreach (string doc in body.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                qrels.Add(id, doc, 1);
        return new BeirDataset(corpus, queries, qrels);
    }

    private static string Require(string directory, string name)
    {
        string path = Path.Combine(directory, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"'{path}' not found.", path);
    }

    private static int ParseInt(string text, string where) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value
        : throw new FormatException($"{where}: '{text}' is not an integer.");

    /// <summary>Whitespace-separated fields of each non-blank line, with "file line n" for errors.</summary>
    private static IEnumerable<(string[] Fields, string Where)> ReadFields(string path)
    {
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.Latin1))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            yield return (line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), $"{Path.GetFileName(path)} line {lineNumber}");
        }
    }

    /// <summary>A SMART record: its <c>.I</c> id and its fields by tag letter.</summary>
    private sealed record SmartRecord(string Id, Dictionary<char, string> Fields)
    {
        public string Field(char tag) => Fields.GetValueOrDefault(tag, "");
    }

    /// <summary>
    /// SMART tagged text: a record starts with a line <c>.I id</c>; a line holding only <c>.X</c> (X a capital letter) starts
    /// field X; the lines that follow are its content. Line ends may be CRLF or LF. The files are ASCII (read as Latin-1 so
    /// a stray byte cannot fail the read).
    /// </summary>
    private static List<SmartRecord> ReadSmart(string path)
    {
        var records = new List<SmartRecord>();
        string? id = null;
        char field = '\0';
        var fields = new Dictionary<char, StringBuilder>();
        int lineNumber = 0;

        void Finish()
        {
            if (id is null) return;
            records.Add(new SmartRecord(id, fields.ToDictionary(f => f.Key, f => Fold(f.Value.ToString()))));
            fields = new Dictionary<char, StringBuilder>();
        }

        foreach (string raw in File.ReadLines(path, Encoding.Latin1))
        {
            lineNumber++;
            string line = raw.TrimEnd();
            if (line.StartsWith(".I ", StringComparison.Ordinal) || line == ".I")
            {
                Finish();
                id = line.Length > 3 ? line[3..].Trim() : throw new FormatException($"{Path.GetFileName(path)} line {lineNumber}: '.I' without an id.");
                if (int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out int numeric)) id = numeric.ToString(CultureInfo.InvariantCulture);   // "001" -> "1"
                field = '\0';
            }
            else if (line.Length == 2 && line[0] == '.' && char.IsAsciiLetterUpper(line[1]))
            {
                if (id is null) throw new FormatException($"{Path.GetFileName(path)} line {lineNumber}: field '{line}' before the first '.I'.");
                field = line[1];
                if (!fields.ContainsKey(field)) fields[field] = new StringBuilder();
            }
            else if (field != '\0')
            {
                fields[field].Append(line).Append(' ');
            }
            else if (line.Length > 0)
            {
                throw new FormatException($"{Path.GetFileName(path)} line {lineNumber}: text outside any field.");
            }
        }
        Finish();
        return records;
    }

    /// <summary>NPL's layout: records end with a line holding only "/" (possibly indented; the last record of rlv-ass has
    /// none); the first line is the id.</summary>
    private static List<(string Id, string Body)> ReadSlashRecords(string path)
    {
        var records = new List<(string, string)>();
        var lines = new List<string>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path, Encoding.Latin1))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line == "/")
            {
                if (lines.Count == 0) throw new FormatException($"{Path.GetFileName(path)} line {lineNumber}: empty record.");
                records.Add((lines[0], Fold(string.Join(' ', lines.Skip(1)))));
                lines.Clear();
            }
            else if (line.Length > 0 || lines.Count > 0)
            {
                if (lines.Count == 0 && !line.All(char.IsAsciiDigit))
                    throw new FormatException($"{Path.GetFileName(path)} line {lineNumber}: a record must start with its numeric id, got '{line}'.");
                lines.Add(line);
            }
        }
        if (lines.Count > 0) records.Add((lines[0], Fold(string.Join(' ', lines.Skip(1)))));   // rlv-ass ends without a closing "/"
        return records;
    }

    /// <summary>Folds line breaks and runs of white space to single spaces.</summary>
    private static string Fold(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
