using System.Text.Json;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>tokenize</c>: shows exactly what the model reads for a (query, document) pair.</summary>
internal static class TokenizeCommand
{
    public const string Usage = "crossencoder tokenize --query <text> [--doc <text>] [--model <dir>] [--max-length N] [--truncation longest_first|only_second] [--json]";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var cl = CommandLine.Parse(args, ["model", "query", "doc", "max-length", "truncation"], ["json"]);
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        string query = cl.Required("query");
        string? document = cl.Value("doc");
        var strategy = cl.Value("truncation") switch
        {
            null or "longest_first" => TruncationStrategy.LongestFirst,
            "only_second" => TruncationStrategy.OnlySecond,
            var other => throw new UsageException($"--truncation must be longest_first or only_second, got '{other}'."),
        };
        string modelDirectory = cl.Value("model") ?? DefaultModel.Ensure(stderr);
        if (!Directory.Exists(modelDirectory)) throw new CliException($"model folder '{modelDirectory}' does not exist.");
        var tokenizer = TokenizerLoader.FromModelFolder(modelDirectory);   // BERT, XLM-R (tokenizer.json or sentencepiece.bpe.model), ELECTRA
        int maxLength = cl.Int("max-length", 1, 1 << 20) ?? tokenizer.ModelMaxLength;
        EncodedPair encoded = document is null ? tokenizer.EncodeSingle(query, maxLength) : tokenizer.EncodePair(query, document, maxLength, strategy);

        if (cl.Flag("json"))
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
