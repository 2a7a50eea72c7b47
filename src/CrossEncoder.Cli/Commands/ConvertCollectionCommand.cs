using System.CommandLine;
using CrossEncoder.Evaluation.Data;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>convert-collection</c>: turns a classic test collection (Cranfield, CISI, MEDLINE, NPL) into BEIR layout.</summary>
internal static class ConvertCollectionCommand
{
    public static Command Create(CliContext context)
    {
        var input = CliOptions.Text("--input", "dir", "folder with the raw files (cran.all.1400, CISI.ALL, MED.ALL, or NPL's doc-text)", required: true);
        var output = CliOptions.Text("--out", "dir", "BEIR folder to write (corpus.jsonl, queries.jsonl, qrels/test.tsv)", required: true);
        var collectionOption = CliOptions.Text("--collection", "cranfield|cisi|medline|npl", "which collection; default: detected from the file names");
        var command = new Command("convert-collection", "Turn Cranfield, CISI, MEDLINE or NPL into BEIR layout.") { input, output, collectionOption };
        CliHelp.SetExamples(command, "crossencoder convert-collection --input ../shared/ir/cranfield --out data/cranfield");
        command.SetAction(parse => Run(context, parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(collectionOption)));
        return command;
    }

    private static int Run(CliContext context, string input, string output, string? name)
    {
        var stdout = context.Out;
        if (!Directory.Exists(input)) throw new CliException($"input folder '{input}' does not exist.");
        ClassicCollection collection;
        if (name is not null)
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
