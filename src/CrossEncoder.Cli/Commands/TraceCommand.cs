using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>trace</c>: one forward pass of one (query, document) pair, stage by stage (the guided tour, docs/tour.md,
/// follows its output). All the work is <see cref="Reranker.Trace"/>; this file only prints it.</summary>
internal static class TraceCommand
{
    public static Command Create(CliContext context)
    {
        var query = CliOptions.Text("--query", "text", "the query", required: true);
        var doc = CliOptions.Text("--doc", "text", "the document", required: true);
        var model = CliOptions.Model();
        var token = CliOptions.Token();
        var maxLength = CliOptions.Int("--max-length", "tokens per (query, document) pair, longer pairs are truncated; default: the model's limit", 3, 1 << 20);
        var top = CliOptions.Int("--top", "attended tokens to show per layer", 1, 64, 3);
        var json = CliOptions.Json();
        var precision = CliOptions.Precision();
        var instruction = CliOptions.Instruction();
        var prompt = CliOptions.Prompt();
        var command = new Command("trace", "Show each stage of one forward pass: tokens, embedding, every layer's attention and feed-forward (shapes, norms, time, attended tokens), head and score.")
            { query, doc, model, token, maxLength, top, json, precision, instruction, prompt };
        CliHelp.SetExamples(command,
            "crossencoder trace --query \"how do wings produce lift\" --doc \"Lift is the upward force on a wing.\"",
            "crossencoder trace --query \"what is lift\" --doc \"Lift holds aircraft up.\" --model weights/ms-marco-MiniLM-L-6-v2 --json");
        command.SetAction(parse => Run(context, parse.GetValue(query)!, parse.GetValue(doc)!, parse.GetValue(model), parse.GetValue(token), parse.GetValue(maxLength),
            parse.GetValue(top), parse.GetValue(json), CliOptions.ParsePrecision(parse.GetValue(precision)!), parse.GetValue(instruction), parse.GetValue(prompt)));
        return command;
    }

    private static int Run(CliContext context, string query, string document, string? model, string? token, int? maxLength, int top, bool json,
        Precision precision, string? instruction, string? prompt)
    {
        string modelDirectory = model is not null ? HubModelOption.Resolve(model, token, context.Error, context.CancellationToken) : DefaultModel.Ensure(context.Error);
        using var reranker = Reranker.Load(modelDirectory, new RerankerOptions { Precision = precision, Prompt = prompt, Log = line => context.Error.WriteLine($"note: {line}") });
        if (maxLength > reranker.ModelMaxLength) throw new UsageException($"--max-length {maxLength} exceeds the model's limit of {reranker.ModelMaxLength} tokens.");
        var options = new RerankOptions { MaxLength = maxLength, Instruction = instruction };
        reranker.Trace(query, document, options, top, context.CancellationToken);   // a first pass compiles the code: times are of the second
        var trace = reranker.Trace(query, document, options, top, context.CancellationToken);
        string label = model ?? $"{DefaultModel.Name}, the offline default";
        if (json) WriteJson(context.Out, label, trace);
        else WriteText(context.Out, label, trace, top);
        return 0;
    }

    private static string Kind(ModelDescription d) => d.Kind == ModelKind.CrossEncoder ? "cross-encoder" : "bi-encoder";

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("F3", CultureInfo.InvariantCulture);

    private static string Shape(TraceStage s, int tokens, int heads) =>
        s.Name.EndsWith(".attention.probabilities", StringComparison.Ordinal) ? $"[{heads}x{tokens}, {s.Columns}]" : $"[{s.Rows}, {s.Columns}]";

    /// <summary>A token as printed: control and format characters as spaces, so hostile input cannot move the cursor.</summary>
    private static string Safe(string text) => RerankCommand.Preview(text, 24);

    private static void WriteText(TextWriter o, string model, ForwardTrace trace, int top)
    {
        var d = trace.Model;
        o.WriteLine($"model:   {model} ({d.Family}, {Kind(d)}, {d.Layers} layers, H {d.HiddenSize}, {d.Precision.ToString().ToLowerInvariant()})");
        o.WriteLine($"score:   {trace.Score.ToString("F6", CultureInfo.InvariantCulture)} = {trace.ScoreRule}" +
                    (trace.ScoreRule == "sigmoid(logit)" ? $", logit {trace.Logit.ToString("F6", CultureInfo.InvariantCulture)}" : ""));
        o.WriteLine($"tokenize: {Ms(trace.TokenizeTime)} ms" + (trace.Truncation.Truncated
            ? $"; truncated: {trace.Truncation.QueryTokensRemoved} query and {trace.Truncation.DocumentTokensRemoved} document tokens removed" : ""));
        for (int s = 0; s < trace.Sequences.Count; s++)
        {
            var seq = trace.Sequences[s];
            int t = seq.Tokens.Count, heads = seq.Layers.Count > 0 ? seq.Layers[0].Heads : 0;
            string focus = Safe(seq.Tokens[seq.FocusPosition].Text);
            o.WriteLine();
            o.WriteLine($"== sequence {s + 1} of {trace.Sequences.Count}: {seq.Role}, {t} tokens; focus: position {seq.FocusPosition} {focus}, {seq.FocusRule}");
            o.WriteLine($"{"pos",5}  {"id",7}  type  token");
            foreach (var tok in seq.Tokens) o.WriteLine($"{tok.Position,5}  {tok.Id,7}  {tok.TypeId,4}  {Safe(tok.Text)}");
            o.WriteLine();
            o.WriteLine($"{"stage",-34}  {"shape",-14}  {"mean |row|",10}  {"|focus row|",11}  {"time",12}");
            void Row(TraceStage stage, string label) =>
                o.WriteLine($"{label,-34}  {Shape(stage, t, heads),-14}  {stage.MeanNorm.ToString("F4", CultureInfo.InvariantCulture),10}  " +
                            $"{stage.FocusNorm.ToString("F4", CultureInfo.InvariantCulture),11}  {Ms(stage.Elapsed),9} ms");
            Row(seq.Embeddings, seq.Embeddings.Name);
            foreach (var layer in seq.Layers)
            {
                Row(layer.Probabilities, layer.Probabilities.Name);
                Row(layer.Attention, layer.Attention.Name);
                Row(layer.AttentionResidual, layer.AttentionResidual.Name);
                Row(layer.FeedForwardIntermediate, layer.FeedForwardIntermediate.Name);
                Row(layer.FeedForward, layer.FeedForward.Name);
                Row(layer.Output, layer.Output.Name);
                string attended = string.Join("  ", layer.TopAttended.Take(top).Select(a => $"{Safe(a.Text)}@{a.Position} {a.Weight.ToString("F3", CultureInfo.InvariantCulture)}"));
                o.WriteLine($"  {focus} attends to: {attended}   (layer {layer.Index}: {Ms(layer.Elapsed)} ms)");
            }
            foreach (var stage in seq.Head) Row(stage, stage.Name);
            string output = seq.Output.Count == 1 ? $"logit {seq.Output[0].ToString("F6", CultureInfo.InvariantCulture)}"
                : $"embedding [{string.Join(", ", seq.Output.Take(4).Select(v => v.ToString("F4", CultureInfo.InvariantCulture)))}, ...] ({seq.Output.Count} values)";
            o.WriteLine($"output: {output}; forward pass {Ms(seq.Elapsed)} ms (a second, tapped pass: every stage recorded)");
        }
    }

    private static void WriteJson(TextWriter stdout, string model, ForwardTrace trace)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            var d = trace.Model;
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteString("family", d.Family);
            json.WriteString("kind", Kind(d));
            json.WriteNumber("layers", d.Layers);
            json.WriteNumber("hidden_size", d.HiddenSize);
            json.WriteString("precision", d.Precision.ToString().ToLowerInvariant());
            json.WriteNumber("score", trace.Score);
            json.WriteNumber("logit", trace.Logit);
            json.WriteString("score_rule", trace.ScoreRule);
            json.WriteBoolean("truncated", trace.Truncation.Truncated);
            json.WriteNumber("tokenize_ms", trace.TokenizeTime.TotalMilliseconds);
            json.WriteStartArray("sequences");
            foreach (var seq in trace.Sequences)
            {
                json.WriteStartObject();
                json.WriteString("role", seq.Role);
                json.WriteNumber("focus_position", seq.FocusPosition);
                json.WriteStartArray("tokens");
                foreach (var tok in seq.Tokens)
                {
                    json.WriteStartObject();
                    json.WriteNumber("position", tok.Position);
                    json.WriteNumber("id", tok.Id);
                    json.WriteNumber("type_id", tok.TypeId);
                    json.WriteString("text", tok.Text);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WritePropertyName("embeddings");
                Stage(json, seq.Embeddings);
                json.WriteStartArray("layers");
                foreach (var layer in seq.Layers)
                {
                    json.WriteStartObject();
                    json.WriteNumber("index", layer.Index);
                    json.WriteNumber("heads", layer.Heads);
                    json.WriteNumber("ms", layer.Elapsed.TotalMilliseconds);
                    json.WriteStartArray("stages");
                    foreach (var stage in new[] { layer.Probabilities, layer.Attention, layer.AttentionResidual, layer.FeedForwardIntermediate, layer.FeedForward, layer.Output })
                        Stage(json, stage);
                    json.WriteEndArray();
                    json.WriteStartArray("top_attended");
                    foreach (var a in layer.TopAttended) Attended(json, a);
                    json.WriteEndArray();
                    json.WriteStartArray("head_top");
                    foreach (var a in layer.HeadTop) Attended(json, a);
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteStartArray("head");
                foreach (var stage in seq.Head) Stage(json, stage);
                json.WriteEndArray();
                json.WriteStartArray("output");
                foreach (float v in seq.Output) json.WriteNumberValue(v);
                json.WriteEndArray();
                json.WriteNumber("ms", seq.Elapsed.TotalMilliseconds);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void Stage(Utf8JsonWriter json, TraceStage stage)
    {
        json.WriteStartObject();
        json.WriteString("name", stage.Name);
        json.WriteStartArray("shape");
        json.WriteNumberValue(stage.Rows);
        json.WriteNumberValue(stage.Columns);
        json.WriteEndArray();
        json.WriteNumber("mean_norm", stage.MeanNorm);
        json.WriteNumber("focus_norm", stage.FocusNorm);
        json.WriteNumber("ms", stage.Elapsed.TotalMilliseconds);
        json.WriteEndObject();
    }

    private static void Attended(Utf8JsonWriter json, AttendedToken a)
    {
        json.WriteStartObject();
        json.WriteNumber("position", a.Position);
        json.WriteString("text", a.Text);
        json.WriteNumber("weight", a.Weight);
        if (a.Head >= 0) json.WriteNumber("head", a.Head);
        json.WriteEndObject();
    }
}
