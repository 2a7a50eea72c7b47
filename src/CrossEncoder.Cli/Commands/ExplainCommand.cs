using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>explain</c>: why one (query, document) pair got its score. Every word and sentence is removed in turn and the
/// pair scored again (all variants in one batched call); the text is printed with the most influential words marked.</summary>
internal static class ExplainCommand
{
    public static Command Create(CliContext context)
    {
        var query = CliOptions.Text("--query", "text", "the query", required: true);
        var doc = CliOptions.Text("--doc", "text|-", "the document to explain, or - to read it from standard input", required: true);
        var model = CliOptions.Model();
        var token = CliOptions.Token();
        var top = CliOptions.Int("--top", "mark (and list) the N most influential words", 1, int.MaxValue, 10);
        var maxLength = CliOptions.Int("--max-length", "tokens of the pair, longer pairs are truncated (words past the cut get no attribution); default: the model's limit", 3, 1 << 20);
        var json = CliOptions.Json();
        var precision = CliOptions.Precision();
        var instruction = CliOptions.Instruction();
        var prompt = CliOptions.Prompt();
        var attention = CliOptions.Flag("--attention", "also report the scoring token's attention ([CLS], or a decoder's last token) per layer and head: where the heads looked, not an explanation");
        var command = new Command("explain", "Explain one score: how much it drops when each word or sentence of the document (or query) is removed.")
            { query, doc, model, token, top, maxLength, json, precision, instruction, prompt, attention };
        CliHelp.SetExamples(command,
            "crossencoder explain --query \"how do wings produce lift\" --doc \"An airfoil deflects air downward. The reaction pushes the wing up.\"",
            "cat passage.txt | crossencoder explain --query \"what is lift\" --doc - --top 5 --json");
        command.SetAction(parse => Run(context, parse.GetValue(query)!, parse.GetValue(doc)!, parse.GetValue(model), parse.GetValue(token), parse.GetValue(top),
            parse.GetValue(maxLength), parse.GetValue(json), CliOptions.ParsePrecision(parse.GetValue(precision)!), parse.GetValue(instruction), parse.GetValue(prompt),
            parse.GetValue(attention)));
        return command;
    }

    private static int Run(CliContext context, string query, string doc, string? model, string? token, int top, int? maxLength, bool json,
        Precision precision, string? instruction, string? prompt, bool attention)
    {
        string document = doc == "-" ? BoundedInput.ReadAll(context.In, "--doc - (stdin)").TrimEnd('\r', '\n') : doc;
        if (string.IsNullOrWhiteSpace(document)) throw new UsageException(doc == "-" ? "the document read from standard input is empty: nothing to explain." : "--doc is empty: give the document text to explain.");
        string modelDirectory = model is not null ? HubModelOption.Resolve(model, token, context.Error, context.CancellationToken) : DefaultModel.Ensure(context.Error);
        using var reranker = Reranker.Load(modelDirectory, new RerankerOptions { Precision = precision, Prompt = prompt, Log = line => context.Error.WriteLine($"note: {line}") });
        if (maxLength > reranker.ModelMaxLength) throw new UsageException($"--max-length {maxLength} exceeds the model's limit of {reranker.ModelMaxLength} tokens.");
        long started = Stopwatch.GetTimestamp();
        var explanation = reranker.Explain(query, document, new ExplainOptions { MaxLength = maxLength, Instruction = instruction, Attention = attention }, context.CancellationToken);
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (json) WriteJson(context.Out, model ?? modelDirectory, reranker, explanation, top, seconds);
        else WriteText(context.Out, reranker.Kind, explanation, top, seconds, UseColor(context.Out));
        return 0;
    }

    /// <summary>The words with the largest |attribution|, most influential first (ties: text order).</summary>
    internal static int[] TopWords(Explanation explanation, int top) =>
        [.. Enumerable.Range(0, explanation.DocumentWords.Count).Where(i => explanation.DocumentWords[i].Attribution is not null)
            .OrderByDescending(i => Math.Abs(explanation.DocumentWords[i].Attribution!.Value)).ThenBy(i => i).Take(top)];

    private static void WriteText(TextWriter stdout, ModelKind kind, Explanation e, int top, double seconds, bool color)
    {
        var inv = CultureInfo.InvariantCulture;
        int seen = e.DocumentWords.Count(w => !w.BeyondTruncation);
        stdout.WriteLine(string.Create(inv, $"{(kind == ModelKind.CrossEncoder ? "score" : "cosine")} {e.Score:F4} (logit {e.Logit:F4}); {e.DocumentWords.Count} words, {e.DocumentSentences.Count} sentences, {e.QueryWords.Count} query words"));
        if (e.Truncation.Truncated)
            stdout.WriteLine(string.Create(inv, $"truncated: the model reads {seen} of {e.DocumentWords.Count} words; drops are measured from {e.BaselineScore:F4}, the score of the text it reads"));
        stdout.WriteLine();

        // The document with the top words marked: green/red on a colour terminal, else [+word] / [-word].
        int[] marked = TopWords(e, top);
        var byStart = marked.ToDictionary(i => e.DocumentWords[i].Start, i => e.DocumentWords[i]);
        var text = new StringBuilder();
        int position = 0;
        foreach (var word in byStart.Values.OrderBy(w => w.Start))
        {
            text.Append(Safe(e.Document[position..word.Start]));
            bool raises = word.Attribution > 0;
            text.Append(color ? (raises ? "\u001b[1;42;30m" : "\u001b[1;41;37m") + Safe(word.Text) + "\u001b[0m" : (raises ? "[+" : "[-") + Safe(word.Text) + "]");
            position = word.Start + word.Length;
        }
        text.Append(Safe(e.Document[position..]));
        stdout.WriteLine(text.ToString());
        stdout.WriteLine();

        stdout.WriteLine($"most influential words ({(color ? "green" : "[+]")} raise the score, {(color ? "red" : "[-]")} lower it):");
        foreach (int i in marked)
        {
            var w = e.DocumentWords[i];
            stdout.WriteLine(string.Create(inv, $"  {w.Attribution,8:+0.0000;-0.0000}  {RerankCommand.Preview(w.Text, 40)}  (chars {w.Start}+{w.Length})"));
        }
        if (e.DocumentSentences.Count > 1)
        {
            stdout.WriteLine("sentences:");
            foreach (var s in e.DocumentSentences)
                stdout.WriteLine(s.Attribution is { } a ? string.Create(inv, $"  {a,8:+0.0000;-0.0000}  {RerankCommand.Preview(s.Text, 90)}") : $"  {"-",8}  {RerankCommand.Preview(s.Text, 90)}  (past the truncation point)");
        }
        if (e.QueryWords.Count > 0)
            stdout.WriteLine("query words: " + string.Join("  ", e.QueryWords.Select(w => w.Attribution is { } a ? string.Create(inv, $"{Safe(w.Text)} {a:+0.0000;-0.0000}") : $"{Safe(w.Text)} -")));
        if (e.Attention is { } att)
        {
            // The last layer's row, averaged over heads: the tokens the scoring token looked at most.
            var mean = new double[att.Tokens.Count];
            for (int h = 0; h < att.Heads; h++)
                for (int j = 0; j < mean.Length; j++) mean[j] += att.Weight(att.Layers - 1, h, j) / att.Heads;
            var most = Enumerable.Range(0, mean.Length).OrderByDescending(j => mean[j]).Take(top);
            stdout.WriteLine($"attention of {Safe(att.Tokens[att.ScoringPosition].Text)} in the last layer (mean of {att.Heads} heads; where it looked, not why the score is what it is):");
            stdout.WriteLine("  " + string.Join("  ", most.Select(j => string.Create(inv, $"{Safe(att.Tokens[j].Text)} {mean[j]:F3}"))));
        }
        int unread = e.DocumentWords.Count - seen;
        if (unread > 0) stdout.WriteLine($"{unread} words past the truncation point get no attribution (the model never read them).");
        stdout.WriteLine(string.Create(inv, $"{e.SequencesScored} sequences ({e.TokensScored} tokens) scored in one batched call in {seconds:F2} s ({e.SequencesScored / Math.Max(seconds, 1e-9):F0} sequences/s)"));
    }

    private static void WriteJson(TextWriter stdout, string model, Reranker reranker, Explanation e, int top, double seconds)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteString("kind", reranker.Kind == ModelKind.CrossEncoder ? "cross-encoder" : "bi-encoder");
            json.WriteString("score_transform", reranker.Description.ScoreTransform.ToString().ToLowerInvariant());
            json.WriteString("query", e.Query);
            json.WriteString("document", e.Document);
            json.WriteNumber("score", e.Score);
            json.WriteNumber("logit", e.Logit);
            json.WriteNumber("baseline_score", e.BaselineScore);
            json.WriteBoolean("truncated", e.Truncation.Truncated);
            json.WriteNumber("query_tokens_removed", e.Truncation.QueryTokensRemoved);
            json.WriteNumber("document_tokens_removed", e.Truncation.DocumentTokensRemoved);
            json.WriteString("offsets", "utf-16");   // start/length count UTF-16 code units (JavaScript and .NET string indices)
            WriteSpans(json, "words", e.DocumentWords);
            WriteSpans(json, "sentences", e.DocumentSentences);
            WriteSpans(json, "query_words", e.QueryWords);
            json.WriteStartArray("top");   // indices into "words", most influential first
            foreach (int i in TopWords(e, top)) json.WriteNumberValue(i);
            json.WriteEndArray();
            if (e.Attention is { } attention) WriteAttention(json, attention);
            json.WriteNumber("sequences_scored", e.SequencesScored);
            json.WriteNumber("tokens_scored", e.TokensScored);
            json.WriteNumber("seconds", Math.Round(seconds, 4));
            json.WriteEndObject();
        }
        stdout.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <summary>"attention": {layers, heads, scoring_position, tokens: [{text, source, start?, length?}], weights: [L][nH][T]}.</summary>
    private static void WriteAttention(Utf8JsonWriter json, ScoringAttention attention)
    {
        json.WriteStartObject("attention");
        json.WriteString("note", "the scoring token's attention rows: where each head looked, not an explanation of the score");
        json.WriteNumber("layers", attention.Layers);
        json.WriteNumber("heads", attention.Heads);
        json.WriteNumber("scoring_position", attention.ScoringPosition);
        json.WriteStartArray("tokens");
        foreach (var token in attention.Tokens)
        {
            json.WriteStartObject();
            json.WriteString("text", token.Text);
            json.WriteString("source", token.Source.ToString().ToLowerInvariant());
            if (token.Start is { } start) { json.WriteNumber("start", start); json.WriteNumber("length", token.Length!.Value); }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("weights");
        for (int l = 0; l < attention.Layers; l++)
        {
            json.WriteStartArray();
            for (int h = 0; h < attention.Heads; h++)
            {
                json.WriteStartArray();
                foreach (float w in attention.Row(l, h)) json.WriteNumberValue(MathF.Round(w, 5));
                json.WriteEndArray();
            }
            json.WriteEndArray();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteSpans(Utf8JsonWriter json, string name, IReadOnlyList<AttributedSpan> spans)
    {
        json.WriteStartArray(name);
        foreach (var span in spans)
        {
            json.WriteStartObject();
            json.WriteString("text", span.Text);
            json.WriteNumber("start", span.Start);
            json.WriteNumber("length", span.Length);
            if (span.Attribution is { } a) json.WriteNumber("attribution", a); else json.WriteNull("attribution");
            if (span.LogitAttribution is { } l) json.WriteNumber("logit_attribution", l); else json.WriteNull("logit_attribution");
            json.WriteBoolean("beyond_truncation", span.BeyondTruncation);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>Text for a terminal: control and format characters other than line breaks (escape sequences from hostile
    /// input) become spaces.</summary>
    private static string Safe(string text) => string.Create(text.Length, text, static (span, source) =>
    {
        for (int i = 0; i < source.Length; i++)
        {
            char c = source[i];
            span[i] = c != '\n' && (char.IsControl(c) || char.GetUnicodeCategory(c) == UnicodeCategory.Format && c != '\u200d') ? ' ' : c;
        }
    });

    /// <summary>Colour only on the real, interactive standard output, and never when NO_COLOR is set or TERM=dumb.</summary>
    private static bool UseColor(TextWriter writer) =>
        ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) && Environment.GetEnvironmentVariable("TERM") != "dumb";
}
