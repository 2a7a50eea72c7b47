using CrossEncoder.Evaluation.Data;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>convert-collection</c>: turns a classic test collection (Cranfield, CISI, MEDLINE, NPL) into BEIR layout.</summary>
internal static class ConvertCollectionCommand
{
    public const string Usage = "crossencoder convert-collection --input <dir> --out <dir> [--collection cranfield|cisi|medline|npl (detected from file names)]";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var cl = CommandLine.Parse(args, ["input", "out", "collection"], []);
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        string input = cl.Required("input"), output = cl.Required("out");
        if (!Directory.Exists(input)) throw new CliException($"input folder '{input}' does not exist.");
        ClassicCollection collection;
        if (cl.Value("collection") is { } name)
        {
            if (!Enum.TryParse(name, ignoreCase: true, out collection) || !Enum.IsDefined(collection))
                throw new UsageException($"--collection must be cranfield, cisi, medline or npl, got '{name}'.");
        }
        else
        {
            collection = ClassicCollections.Detect(input)
                ?? throw new CliException($"'{input}' holds none of the known collections (cran.all.1400, CISI.ALL, MED.ALL, or doc-text + rlv-ass); pass --collection.");
        }
        var data = ClassicCollections.Read(collection, input);
        data.Save(output);
        int judged = data.Queries.Count(q => data.Qrels.RelevantCount(q.Id) > 0);
        int relevant = data.Qrels.QueryIds.Sum(q => data.Qrels.RelevantCount(q));
        stdout.WriteLine($"{collection.ToString().ToLowerInvariant()}: {data.Corpus.Count} documents, {data.Queries.Count} queries ({judged} with relevant judgments), " +
                         $"{data.Qrels.Count} judgments ({relevant} relevant) -> {output}");
        return 0;
    }
}
