using System.CommandLine;
using System.Text.Json;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>tokenize</c>: shows exactly what the model reads for a (query, document) pair.</summary>
internal static class TokenizeCommand
{
    public static Command Create(CliContext context)
    {
        var query = CliOptions.Text("--query", "text", "the query, or the single text to encode", required: true);
        var doc = CliOptions.Text("--doc", "text", "the document; without it the query is encoded alone");
        var model = CliOptions.Model();
        var token = CliOptions.Token();
        var maxLength = CliOptions.Int("--max-length", "tokens in total; default: the model's limit", 2, 1 << 20);   // [CLS] [SEP] at least
        var truncation = CliOptions.Choice("--truncation", "which side loses tokens when the pair is too long (Hugging Face's strategies)", "longest_first", "only_second");
        var json = CliOptions.Json();
        var command = new Command("tokenize", "Show the token ids, type ids and word pieces the model reads.") { query, doc, model, token, maxLength, truncation, json };
        CliHelp.SetExamples(command,
            "crossencoder tokenize --query \"what is lift\" --doc \"Lift is the force that holds an aircraft up.\"",
            "crossencoder tokenize --query \"what is lift\" --doc \"a long passage ...\" --max-length 16 --truncation only_second --json");
        command.SetAction(parse => Run(context, parse.GetValue(query)!, parse.GetValue(doc), parse.GetValue(model), parse.GetValue(token), parse.GetValue(maxLength),
            parse.GetValue(truncation) == "only_second" ? TruncationStrategy.OnlySecond : TruncationStrategy.LongestFirst, parse.GetValue(json)));
        return command;
    }

    private static int Run(CliContext context, string query, string? document, string? model, string? hubToken, int? maxLengthOption, TruncationStrategy strategy, bool asJson)
    {
        var stdout = context.Out;
        string modelDirectory = model is not null ? HubModelOption.Resolve(model, hubToken, context.Error, context.CancellationToken) : DefaultModel.Ensure(context.Error);
        if (!Directory.Exists(modelDirectory)) throw new CliException($"model folder '{modelDirectory}' does not exist.");
        var tokenizer = TokenizerLoader.FromModelFolder(modelDirectory);   // BERT, XLM-R (tokenizer.json or sentencepiece.bpe.model), ELECTRA
        int maxLength = maxLengthOption ?? tokenizer.ModelMaxLength;
        EncodedPair encoded = document is null ? tokenizer.EncodeSingle(query, maxLength) : tokenizer.EncodePair(query, document, maxLength, strategy);

        if (asJson)
        {
            using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream))
            {
                json.WriteStartObject();
                Write(json, "input_ids", encoded.InputIds);
                Write(json, "token_type_ids", encoded.TokenTypeIds);
                json.WriteStartArray("tokens");
                foreach (string token in encoded.Tokens) json.WriteStringValue(token);
                json.WriteEndArray();
                json.WriteBoolean("truncated", encoded.Truncation.Truncated);
                json.WriteNumber("query_tokens_removed", encoded.Truncation.QueryTokensRemoved);
                json.WriteNumber("document_tokens_removed", encoded.Truncation.DocumentTokensRemoved);
                json.WriteEndObject();
            }
            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        }
        else
        {
            stdout.WriteLine($"{"pos",4}  {"id",6}  type  token");
            for (int i = 0; i < encoded.Length; i++)
                stdout.WriteLine($"{i,4}  {encoded.InputIds[i],6}  {encoded.TokenTypeIds[i],4}  {encoded.Tokens[i]}");
            stdout.WriteLine(encoded.Truncation.Truncated
                ? $"truncated: {encoded.Truncation.QueryTokensRemoved} query and {encoded.Truncation.DocumentTokensRemoved} document tokens removed"
                : "not truncated");
        }
        return 0;
    }

    private static void Write(Utf8JsonWriter json, string name, int[] values)
    {
        json.WriteStartArray(name);
        foreach (int value in values) json.WriteNumberValue(value);
        json.WriteEndArray();
    }
}
