using System.CommandLine;
using System.Text.Json;
using System.Text.RegularExpressions;
using CrossEncoder.Cli;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>
/// The System.CommandLine layer: help for every command, examples that parse, exit codes (2 usage, 1 failure, 130
/// cancelled), tab completion, and the JSON shapes scripts depend on, pinned field by field.
/// </summary>
[Collection("MiniLM")]
public class CommandLineTests(MiniLmFixture minilm)
{
    private static (int Code, string Out, string Err) Run(string[] args, CancellationToken cancellationToken = default)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = args is ["verify" or "bench" or "quantize-onnx", ..]   // the companion tool crossencoder-onnx
            ? OnnxCli.Run(args, new StringReader(""), output, error, cancellationToken)
            : CrossEncoder.Cli.Cli.Run(args, new StringReader(""), output, error, cancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    private static RootCommand Root() => CrossEncoder.Cli.Cli.CreateRoot(new CliContext(TextReader.Null, TextWriter.Null, TextWriter.Null, default));

    private static RootCommand CompanionRoot() => OnnxCli.CreateRoot(new CliContext(TextReader.Null, TextWriter.Null, TextWriter.Null, default));

    private static RootCommand RootFor(string command) => Root().Subcommands.Any(c => c.Name == command) ? Root() : CompanionRoot();

    public static TheoryData<string> CommandNames() => [.. Root().Subcommands.Concat(CompanionRoot().Subcommands).Select(c => c.Name)];

    [Fact]
    public void RootHelpListsEveryCommandAndNoArgumentsIsAUsageError()
    {
        var (code, output, error) = Run(["--help"]);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Equal(["rerank", "tokenize", "convert", "completion"], Root().Subcommands.Take(4).Select(c => c.Name));
        Assert.Equal(["verify", "bench", "quantize-onnx"], CompanionRoot().Subcommands.Select(c => c.Name));
        foreach (var command in Root().Subcommands) Assert.Matches($@"(?m)^  {command.Name}\b.*\S", output);
        Assert.Contains("Examples:", output);

        (code, var bare, error) = Run([]);
        Assert.Equal(2, code);
        Assert.Equal(output, bare);
        Assert.Equal(output, Run(["help"]).Out);
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("bench")]
    [InlineData("quantize-onnx")]
    public void TheMainToolPointsToTheCompanionForOnnxRuntimeCommands(string command)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run([command, "--json"], TextReader.Null, output, error);
        Assert.Equal(2, code);
        Assert.Equal("", output.ToString());
        Assert.Contains($"crossencoder-onnx {command}", error.ToString());
        Assert.Single(error.ToString().TrimEnd().Split('\n'));
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void EveryCommandHasHelpWithEachOptionAndExamplesThatParse(string name)
    {
        var (code, output, error) = Run([name, "--help"]);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        if (RootFor(name) == Root()) Assert.Equal(output, Run(["help", name]).Out);
        var command = RootFor(name).Subcommands.Single(c => c.Name == name);
        Assert.False(string.IsNullOrWhiteSpace(command.Description));
        foreach (var option in command.Options)
        {
            Assert.Contains(option.Name, output);
            Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{name} {option.Name} has no description");
        }

        // Every example is a command line that parses without error (the part after the tool's name up to a pipe, ')' or comment).
        var examples = Regex.Matches(output[output.IndexOf("Examples:", StringComparison.Ordinal)..], @"(?m)^  (.+)$").Select(m => m.Groups[1].Value).ToArray();
        Assert.NotEmpty(examples);
        foreach (string example in examples)
        {
            var tool = Regex.Match(example, @"crossencoder(-onnx)? ");
            Assert.True(tool.Success, example);
            Assert.Equal(((ToolRootCommand)RootFor(name)).ToolName + " ", tool.Value);   // the tool that has the command
            string[] words = ShellWords(example[(tool.Index + tool.Length)..]);
            var parse = RootFor(name).Parse(words, new ParserConfiguration { ResponseFileTokenReplacer = null });
            Assert.True(CliHelp.FirstError(parse) is null, $"{example}: {CliHelp.FirstError(parse)}");
            Assert.Equal(name, parse.CommandResult.Command.Name);
        }
    }

    /// <summary>Splits like a POSIX shell for the simple examples in help: double quotes group, and a pipe, ')' or '#' ends the command.</summary>
    private static string[] ShellWords(string line)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        bool quoted = false, inWord = false;
        foreach (char c in line)
        {
            if (c == '"') { quoted = !quoted; inWord = true; continue; }
            if (!quoted && c is '|' or ')' or '#') break;
            if (!quoted && c == ' ')
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
                continue;
            }
            word.Append(c);
            inWord = true;
        }
        if (inWord) words.Add(word.ToString());
        return [.. words];
    }

    [Theory]
    [InlineData("option --max-length must be an integer from 3 to 1048576, got '2'", "rerank", "--query", "q", "--max-length", "2", "d")]
    [InlineData("option --tokens must be an integer from 3 to 4096, got '5000'", "bench", "--tokens", "5000")]
    [InlineData("option --batch must be an integer from 1 to 1024, got '-1'", "verify", "--batch", "-1")]
    [InlineData("option --query is given more than once", "rerank", "--query", "a", "--query", "b", "d")]
    [InlineData("unknown option '-x' (known: --query, --docs, --model, --token, --top, --max-length, --json, --precision, --instruction, --prompt, --long, --window, --overlap, --aggregate)", "rerank", "--query", "q", "-x", "d")]
    [InlineData("unexpected argument 'extra'", "tokenize", "--query", "q", "extra")]
    [InlineData("option --onnx is required", "convert", "--vocab", "v.txt", "--out", "o")]
    [InlineData("missing <shell>", "completion")]
    [InlineData("option --out is required", "quantize-onnx", "--onnx", "model.onnx")]
    [InlineData("shell must be bash, zsh or pwsh, got 'fish'", "completion", "fish")]
    public void UsageErrorsNameTheOptionAndShowTheUsageLine(string message, params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        string[] lines = error.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal($"error: {message}.", lines[0].TrimEnd());
        Assert.Matches($"^usage: crossencoder(-onnx)? {args[0]} ", lines[1]);
    }

    [Fact]
    public void QuantizeOnnxNamesAMissingOrBrokenInputInOneLine()
    {
        string directory = Directory.CreateTempSubdirectory("crossencoder-quantize-onnx-cli-").FullName;
        try
        {
            var (code, output, error) = Run(["quantize-onnx", "--onnx", Path.Combine(directory, "missing.onnx"), "--out", Path.Combine(directory, "out.onnx")]);
            Assert.Equal((1, ""), (code, output));
            Assert.Equal($"error: ONNX file '{Path.Combine(directory, "missing.onnx")}' not found.", error.TrimEnd());

            string text = Path.Combine(directory, "notes.onnx");
            File.WriteAllText(text, "this is not a model\n");
            (code, output, error) = Run(["quantize-onnx", "--onnx", text, "--out", Path.Combine(directory, "out.onnx")]);
            Assert.Equal((1, ""), (code, output));
            Assert.Single(error.TrimEnd().Split('\n'));
            Assert.Contains("notes.onnx", error);
            Assert.False(File.Exists(Path.Combine(directory, "out.onnx")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void DocumentsAfterDoubleDashMayStartWithADashAndAtSignsAreNotResponseFiles()
    {
        var (code, output, error) = Run(["rerank", "--model", minilm.ModelDirectory, "--query", "q", "--json", "--", "-5 degrees", "@home"]);
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(["-5 degrees", "@home"], json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("document").GetString()).Order());
    }

    [Fact]
    public void ACancelledRunExitsWith130AndOneLine()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var (code, output, error) = Run(["rerank", "--model", minilm.ModelDirectory, "--query", "q", "a", "b"], cancelled.Token);
        Assert.Equal(130, code);
        Assert.Equal("", output);
        Assert.Equal("error: cancelled.", error.TrimEnd());
    }

    [Theory]
    [InlineData("rerank --qu", "--query")]
    [InlineData("crossencoder tok", "tokenize")]
    [InlineData("tokenize --truncation ", "longest_first\nonly_second")]
    [InlineData("completion z", "zsh")]
    public void TabCompletionGoesThroughTheSuggestDirective(string line, string expected)
    {
        var (code, output, _) = Run([$"[suggest:{line.Length}]", line]);
        Assert.Equal(0, code);
        Assert.Equal(expected, output.TrimEnd().Replace("\r", ""));
    }

    [Theory]
    [InlineData("bash", "COMP_LINE")]
    [InlineData("zsh", "compdef")]
    [InlineData("pwsh", "Register-ArgumentCompleter")]
    public void CompletionScriptsCallTheSuggestDirective(string shell, string marker)
    {
        var (code, output, _) = Run(["completion", shell]);
        Assert.Equal(0, code);
        Assert.Contains("crossencoder \"[suggest:", output);
        Assert.Contains(marker, output);
    }

    [Fact]
    public void RerankJsonKeepsItsFieldsOrderAndIndentation()
    {
        string[] documents = ["Bananas are yellow.", "Lift pushes the wing up."];
        var (code, output, error) = Run(["rerank", "--model", minilm.ModelDirectory, "--query", "what is lift", "--json", .. documents]);
        Assert.True(code == 0, error);
        string number = @"-?\d+(\.\d+)?(E[-+]?\d+)?";
        string Result(int rank, int index) =>
            "    {\n" +
            $"      \"rank\": {rank},\n" +
            $"      \"index\": {index},\n" +
            $"      \"score\": {number},\n" +
            $"      \"logit\": {number},\n" +
            "      \"truncated\": false,\n" +
            "      \"query_tokens_removed\": 0,\n" +
            "      \"document_tokens_removed\": 0,\n" +
            $"      \"document\": \"{Regex.Escape(documents[index])}\"\n" +
            "    }";
        string pattern = "^\\{\n" +
            $"  \"model\": \"{Regex.Escape(JsonEncodedText.Encode(minilm.ModelDirectory).ToString())}\",\n" +
            "  \"kind\": \"bi-encoder\",\n" +
            "  \"score_transform\": \"cosine\",\n" +
            "  \"query\": \"what is lift\",\n" +
            "  \"results\": \\[\n" +
            Result(1, 1) + ",\n" + Result(2, 0) + "\n" +
            "  \\]\n" +
            "\\}\n$";
        Assert.Matches(pattern, output.Replace("\r", ""));
    }

    [Fact]
    public void TokenizeJsonIsOneCompactLineWithTheHuggingFaceIds()
    {
        // Reference ids and pieces from @huggingface/transformers (Fixtures/tokenization/minilm-reference.json, "simple-pair").
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenization", "minilm-reference.json")));
        var pair = reference.RootElement.GetProperty("pairs").EnumerateArray().First(p => p.GetProperty("name").GetString() == "simple-pair");
        string Ints(string name) => string.Join(',', pair.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()));
        string tokens = string.Join(',', pair.GetProperty("tokens").EnumerateArray().Select(t => JsonSerializer.Serialize(t.GetString())));
        string expected = $"{{\"input_ids\":[{Ints("inputIds")}],\"token_type_ids\":[{Ints("tokenTypeIds")}],\"tokens\":[{tokens}]," +
                          "\"truncated\":false,\"query_tokens_removed\":0,\"document_tokens_removed\":0}\n";
        var (code, output, error) = Run(["tokenize", "--model", minilm.ModelDirectory, "--query", pair.GetProperty("query").GetString()!,
            "--doc", pair.GetProperty("document").GetString()!, "--json"]);
        Assert.True(code == 0, error);
        Assert.Equal(expected, output.Replace("\r", ""));
    }

    [Fact]
    public void BenchJsonKeepsItsFields()
    {
        // Fields other tools read; new fields may be added after these.
        var (code, output, error) = Run(["bench", "--model", minilm.ModelDirectory, "--tokens", "8", "--pairs", "1", "--seconds", "1", "--threads", "1", "--json"]);
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(minilm.ModelDirectory, root.GetProperty("model").GetString());
        Assert.Equal(8, root.GetProperty("tokens").GetInt32());
        Assert.Equal(1, root.GetProperty("pairs").GetInt32());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.Equal(JsonValueKind.String, root.GetProperty("machine").ValueKind);
        Assert.True(root.GetProperty("crossencoder_native_pairs_per_second").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("onnxruntime_pairs_per_second").ValueKind);   // --model without --onnx
        Assert.Equal(JsonValueKind.Null, root.GetProperty("ratio_vs_onnxruntime").ValueKind);
    }
}
