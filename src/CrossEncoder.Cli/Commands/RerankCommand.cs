using System.CommandLine;
using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>rerank</c>: the main job. Scores documents against a query and prints them best first.</summary>
internal static class RerankCommand
{
    public static Command Create(CliContext context)
    {
        var query = CliOptions.Text("--query", "text", "the query to rank the documents against", required: true);
        var docs = CliOptions.Text("--docs", "file|-", "a text file with one document per line (blank lines skipped), or - for standard input");
        var model = CliOptions.Model();
        var token = CliOptions.Token();
        var top = CliOptions.Int("--top", "print only the N best documents", 1, int.MaxValue);
        var maxLength = CliOptions.Int("--max-length", "tokens per (query, document) pair, longer pairs are truncated; default: the model's limit", 3, 1 << 20);
        var json = CliOptions.Json();
        var precision = CliOptions.Precision();
        var instruction = CliOptions.Instruction();
        var prompt = CliOptions.Prompt();
        var longDocuments = CliOptions.LongDocuments();
        var documents = new Argument<string[]>("documents") { Description = "documents to rank, after those from --docs (use -- before documents that start with '-')", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("rerank", "Rank documents against a query, best first (the main job).") { query, docs, model, token, top, maxLength, json, precision, instruction, prompt, documents };
        foreach (var option in longDocuments.All) command.Options.Add(option);
        CliHelp.SetExamples(command,
            "crossencoder rerank --query \"how do wings produce lift\" \"Lift is an upward force.\" \"Bananas are yellow.\"",
            "crossencoder rerank --query \"what is lift\" --docs passages.txt --top 5 --model weights/ms-marco-MiniLM-L-6-v2",
            "grep -h lift notes/*.txt | crossencoder rerank --query \"what is lift\" --docs - --json",
            "crossencoder rerank --query \"what is lift\" --docs long-reports.txt --long chunk --overlap 32 --aggregate topk:2");
        command.SetAction(parse => Run(context, longDocuments.Apply(parse, new RerankOptions()), parse.GetValue(query)!, parse.GetValue(docs), parse.GetValue(documents) ?? [], parse.GetValue(model), parse.GetValue(token),
            parse.GetValue(top), parse.GetValue(maxLength), parse.GetValue(json), CliOptions.ParsePrecision(parse.GetValue(precision)!),
            parse.GetValue(instruction), parse.GetValue(prompt)));
        return command;
    }

    private static int Run(CliContext context, RerankOptions longDocuments, string query, string? docs, string[] arguments, string? model, string? token, int? top, int? maxLength, bool json,
        Precision precision, string? instruction, string? prompt)
    {
        var documents = new List<string>();
        if (docs is not null) documents.AddRange(ReadDocuments(docs, context.In));
        documents.AddRange(arguments);
        if (documents.Count == 0) throw new UsageException("no documents: pass --docs <file>, --docs - (stdin), or documents as arguments.");

        string modelDirectory = model is not null ? HubModelOption.Resolve(model, token, context.Error, context.CancellationToken) : DefaultModel.Ensure(context.Error);
        using var reranker = Reranker.Load(modelDirectory, new RerankerOptions { Precision = precision, Prompt = prompt, Log = line => context.Error.WriteLine($"note: {line}") });
        if (maxLength > reranker.ModelMaxLength) throw new UsageException($"--max-length {maxLength} exceeds the model's limit of {reranker.ModelMaxLength} tokens.");
        var results = reranker.Rerank(query, documents, top, longDocuments with { MaxLength = maxLength, Instruction = instruction }, context.CancellationToken);

        if (json) WriteJson(context.Out, model ?? modelDirectory, reranker.Kind, reranker.Description, query, documents, results);
        else WriteTable(context.Out, reranker.Kind, documents, results);
        return 0;
    }

    private static IEnumerable<string> ReadDocuments(string source, TextReader stdin)
    {
        if (source == "-") return NonBlank(BoundedInput.ReadLines(stdin, "--docs - (stdin)"));
        if (Directory.Exists(source)) throw new CliException($"--docs '{source}' is a folder; give a text file with one document per line.");
        if (!File.Exists(source)) throw new CliException($"documents file '{source}' not found.");
        using var file = new StreamReader(source, detectEncodingFromByteOrderMarks: true);
        return NonBlank(BoundedInput.ReadLines(file, $"--docs '{source}'"));
    }

    /// <summary>One document per line; blank lines (e.g. a trailing newline) are not documents.</summary>
    private static List<string> NonBlank(IEnumerable<string> lines) => lines.Where(line => !string.IsNullOrWhiteSpace(line)).ToList();

    private static void WriteTable(TextWriter stdout, ModelKind kind, IReadOnlyList<string> documents, IReadOnlyList<RerankResult> results)
    {
        stdout.WriteLine($"{"rank",4}  {(kind == ModelKind.CrossEncoder ? "score" : "cosine"),7}  {"index",5}  document");
        for (int r = 0; r < results.Count; r++)
        {
            var hit = results[r];
            string flag = hit.Truncation.Truncated ? " [truncated]" : "";
            if (hit.Chunk is { } chunk && hit.ChunkCount > 1)
            {
                // Chunk mode: the winning chunk's span and text instead of the document's beginning.
                stdout.WriteLine($"{r + 1,4}  {hit.Score,7:F4}  {hit.Index,5}  chunk {chunk.Ordinal + 1}/{hit.ChunkCount} [{chunk.Start}..{chunk.End})  {Preview(documents[hit.Index][chunk.Start..chunk.End], 60)}{flag}");
                continue;
            }
            stdout.WriteLine($"{r + 1,4}  {hit.Score,7:F4}  {hit.Index,5}  {Preview(documents[hit.Index], 80)}{flag}");
        }
    }

    private static void WriteJson(TextWriter stdout, string model, ModelKind kind, ModelDescription description, string query, IReadOnlyList<string> documents, IReadOnlyList<RerankResult> results)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteString("kind", kind == ModelKind.CrossEncoder ? "cross-encoder" : "bi-encoder");
            json.WriteString("score_transform", description.ScoreTransform.ToString().ToLowerInvariant());   // how "score" comes from "logit"
            if (description.ScoringRule is { } rule) json.WriteString("scoring_rule", rule);                // a decoder: which logits "logit" is
            json.WriteString("query", query);
            json.WriteStartArray("results");
            for (int r = 0; r < results.Count; r++)
            {
                var hit = results[r];
                json.WriteStartObject();
                json.WriteNumber("rank", r + 1);
                json.WriteNumber("index", hit.Index);
                json.WriteNumber("score", hit.Score);
                json.WriteNumber("logit", hit.Logit);
                json.WriteBoolean("truncated", hit.Truncation.Truncated);
                json.WriteNumber("query_tokens_removed", hit.Truncation.QueryTokensRemoved);
                json.WriteNumber("document_tokens_removed", hit.Truncation.DocumentTokensRemoved);
                if (hit.Chunk is { } chunk)   // --long chunk: the winning chunk (character span in the document)
                {
                    json.WriteNumber("chunks", hit.ChunkCount);
                    json.WriteStartObject("chunk");
                    json.WriteNumber("ordinal", chunk.Ordinal);
                    json.WriteNumber("start", chunk.Start);
                    json.WriteNumber("end", chunk.End);
                    json.WriteNumber("score", chunk.Score);
                    json.WriteNumber("logit", chunk.Logit);
                    json.WriteString("text", documents[hit.Index][chunk.Start..chunk.End]);
                    json.WriteEndObject();
                }
                json.WriteString("document", documents[hit.Index]);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <summary>The first <paramref name="width"/> characters on one line: control and format characters (tabs, newlines,
    /// terminal escape sequences from hostile input) are shown as spaces.</summary>
    internal static string Preview(string text, int width)
    {
        var safe = string.Create(text.Length, text, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
                span[i] = char.IsControl(source[i]) || char.GetUnicodeCategory(source[i]) == System.Globalization.UnicodeCategory.Format ? ' ' : source[i];
        });
        var flat = string.Join(' ', safe.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var info = new System.Globalization.StringInfo(flat);
        return info.LengthInTextElements <= width ? flat : info.SubstringByTextElements(0, width - 1) + "…";
    }
}
