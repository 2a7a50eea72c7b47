using System.CommandLine;
using System.Globalization;

namespace CrossEncoder.Cli;

/// <summary>
/// The option kinds the commands share, so every command names, validates and documents them the same way. Validation
/// happens while parsing: a bad value is a usage error (exit 2) whose message names the option and the accepted range.
/// </summary>
internal static class CliOptions
{
    /// <summary><c>--model &lt;dir&gt;</c>: a model folder; without it the offline default model is used.</summary>
    public static Option<string?> Model(string description = "model folder (config.json, model.safetensors or its shards + index, tokenizer), or a Hugging Face Hub id org/name[@revision] downloaded once into the huggingface_hub cache; default: the offline all-MiniLM-L6-v2") =>
        new("--model") { Description = description, HelpName = "dir|org/name" };

    /// <summary><c>--token &lt;token&gt;</c>: a Hugging Face access token for gated or private Hub models (else HF_TOKEN).</summary>
    public static Option<string?> Token() =>
        new("--token") { Description = "Hugging Face access token for gated or private models; default: HF_TOKEN or $HF_HOME/token", HelpName = "token" };

    /// <summary><c>--json</c>: machine-readable output with stable field names.</summary>
    public static Option<bool> Json() => new("--json") { Description = "print JSON (stable field names) instead of a table" };

    /// <summary>A flag (no value).</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>A text option; <paramref name="required"/> ones are checked before any other validation.</summary>
    public static Option<string?> Text(string name, string helpName, string description, bool required = false) =>
        new(name) { Description = description, HelpName = helpName, Required = required };

    /// <summary>An optional integer in [<paramref name="min"/>, <paramref name="max"/>]; null when not given.</summary>
    public static Option<int?> Int(string name, string description, int min, int max) =>
        new(name) { Description = description + Range(min, max), HelpName = "N", CustomParser = result => ParseInt(result, name, min, max) };

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>] with a default shown in the help.</summary>
    public static Option<int> Int(string name, string description, int min, int max, int defaultValue) =>
        new(name)
        {
            Description = description + Range(min, max), HelpName = "N",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => ParseInt(result, name, min, max) ?? defaultValue,
        };

    /// <summary><c>--instruction &lt;text&gt;</c>: the task instruction of an instruction-following decoder reranker.</summary>
    public static Option<string?> Instruction() => Text("--instruction", "text",
        "task instruction of a decoder reranker (Qwen3-Reranker's <Instruct>, default \"Given a web search query, retrieve relevant passages that answer the query\"; mxbai-rerank-v2's optional instruction); encoders ignore it");

    /// <summary><c>--prompt qwen3-reranker|mxbai-rerank-v2</c>: a decoder reranker's prompt when its folder name does not say.</summary>
    public static Option<string?> Prompt()
    {
        string[] names = [.. Native.Reranking.RerankerOptions.PromptNames];
        var option = new Option<string?>("--prompt")
        {
            Description = "prompt template of a decoder reranker; default: recognised from the model's name (Qwen3-Reranker-*, mxbai-rerank-*)",
            HelpName = string.Join('|', names),
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (names.Contains(text, StringComparer.Ordinal)) return text;
                result.AddError($"--prompt must be {Or(names)}, got '{text}'.");
                return null;
            },
        };
        option.CompletionSources.Add(names);
        return option;
    }

    /// <summary><c>--long truncate|chunk</c> with <c>--window</c>, <c>--overlap</c>, <c>--aggregate</c>: how documents longer than
    /// the maximum length are scored (rerank, eval).</summary>
    public sealed record LongDocumentOptions(Option<string> Mode, Option<int?> Window, Option<int?> Overlap, Option<string?> Aggregate)
    {
        /// <summary>The four options, to add to a command.</summary>
        public IEnumerable<Option> All => [Mode, Window, Overlap, Aggregate];

        /// <summary>The options' values applied to <paramref name="options"/>; one usage error for any bad combination.</summary>
        public Native.Reranking.RerankOptions Apply(System.CommandLine.ParseResult parse, Native.Reranking.RerankOptions options)
        {
            bool chunk = parse.GetValue(Mode) == "chunk";
            int? window = parse.GetValue(Window), overlap = parse.GetValue(Overlap);
            string? aggregate = parse.GetValue(Aggregate);
            if (!chunk && (window is not null || overlap is not null || aggregate is not null))
                throw new UsageException($"{(window is not null ? "--window" : overlap is not null ? "--overlap" : "--aggregate")} needs --long chunk.");
            if (!chunk) return options;
            if (window is { } w && overlap is { } o && o >= w)
                throw new UsageException($"--overlap {o} must be smaller than --window {w}.");
            var (aggregation, topK) = ParseAggregate(aggregate ?? "max");
            return options with
            {
                LongDocuments = Native.Reranking.LongDocumentMode.Chunk, ChunkWindow = window, ChunkOverlap = overlap ?? 0,
                ChunkAggregation = aggregation, ChunkTopK = topK,
            };
        }

        /// <summary>max | mean | first | topk:K.</summary>
        public static (Native.Reranking.ChunkAggregation Aggregation, int TopK) ParseAggregate(string text)
        {
            if (Native.Reranking.ChunkAggregationText.TryParse(text, out var aggregation, out int topK)) return (aggregation, topK);
            throw new UsageException($"--aggregate must be max, mean, first or topk:K (K from 1 to 4096), got '{text}'.");
        }
    }

    /// <summary>The long-document options (see <see cref="LongDocumentOptions"/>).</summary>
    public static LongDocumentOptions LongDocuments() => new(
        Choice("--long", "documents longer than the maximum length: truncate (score the beginning) or chunk (score every chunk, keep the best per --aggregate, print its span)", "truncate", "chunk"),
        Int("--window", "with --long chunk: document tokens per chunk; default: what fits beside the query", 1, 1 << 20),
        Int("--overlap", "with --long chunk: tokens a chunk repeats from the previous one; default 0", 0, 1 << 20),
        Text("--aggregate", "max|mean|first|topk:K", "with --long chunk: a document's score from its chunks' (default max)"));

    /// <summary><c>--precision fp32|int8|auto</c> of the commands that load a model to run it.</summary>
    public static Option<string> Precision() => Choice("--precision",
        "arithmetic of the linear layers: fp32; int8 (quantized at load, or read from a folder written by quantize); auto (int8 when a quick check against fp32 on built-in real text passes, else fp32, saying why)",
        "fp32", "int8", "auto");

    /// <summary>The <see cref="Native.Model.Precision"/> a <see cref="Precision()"/> word names.</summary>
    public static Native.Model.Precision ParsePrecision(string word) => word switch
    {
        "int8" => Native.Model.Precision.Int8,
        "auto" => Native.Model.Precision.Auto,
        _ => Native.Model.Precision.Fp32,
    };

    /// <summary>One of a fixed set of words (suggested by tab completion); the first is the default.</summary>
    public static Option<string> Choice(string name, string description, params string[] choices)
    {
        var option = new Option<string>(name)
        {
            Description = description, HelpName = string.Join('|', choices),
            DefaultValueFactory = _ => choices[0],
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (choices.Contains(text, StringComparer.Ordinal)) return text;
                result.AddError($"{name} must be {Or(choices)}, got '{text}'.");
                return choices[0];
            },
        };
        option.CompletionSources.Add(choices);
        return option;
    }

    private static int? ParseInt(System.CommandLine.Parsing.ArgumentResult result, string name, int min, int max)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max) return value;
        result.AddError($"option {name} must be an integer from {min} to {max}, got '{text}'.");
        return null;
    }

    private static string Range(int min, int max) => max == int.MaxValue ? $" (at least {min})" : $" ({min} to {max})";

    private static string Or(string[] words) => words.Length == 1 ? words[0] : string.Join(", ", words[..^1]) + " or " + words[^1];
}
