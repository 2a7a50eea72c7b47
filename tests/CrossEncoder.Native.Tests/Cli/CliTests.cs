using System.Text.Json;
using CrossEncoder.Native.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>The crossencoder command, run in-process on the converted all-MiniLM-L6-v2 folder: outputs and one-line errors.</summary>
[Collection("MiniLM")]
public class CliTests(MiniLmFixture minilm)
{
    private const string Query = "how do wings produce lift";
    private static readonly string[] Passages =
    [
        "The stock market fell sharply on Monday after the announcement.",
        "An airfoil deflects the oncoming air downward, and the reaction pushes the wing upward: that force is lift.",
        "Bananas are rich in potassium and easy to digest.",
    ];

    private static (int Code, string Out, string Err) RunWithInput(string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = args is ["verify" or "bench", ..] ? CrossEncoder.Cli.OnnxCli.Run(args, new StringReader(stdin), output, error) : CrossEncoder.Cli.Cli.Run(args, new StringReader(stdin), output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => RunWithInput("", args);

    [Fact]
    public void RerankRanksTheAnsweringPassageFirstInATable()
    {
        var (code, output, error) = Run(["rerank", "--model", minilm.ModelDirectory, "--query", Query, .. Passages]);
        Assert.True(code == 0, error);
        string[] lines = output.TrimEnd().Split('\n');
        Assert.Equal(4, lines.Length);   // header + 3 rows
        Assert.Matches(@"^\s+1\s+0\.\d{4}\s+1\s+An airfoil deflects the oncoming air downward, and the reaction pushes the wing…$", lines[1]);
    }

    [Fact]
    public void RerankInInt8RunsIntegerProductsThatRankLikeFp32()
    {
        static double[] Scores(string json) => JsonDocument.Parse(json).RootElement.GetProperty("results").EnumerateArray()
            .OrderBy(r => r.GetProperty("index").GetInt32()).Select(r => r.GetProperty("score").GetDouble()).ToArray();
        var fp32 = Run(["rerank", "--model", minilm.ModelDirectory, "--query", Query, "--json", .. Passages]);
        var int8 = Run(["rerank", "--model", minilm.ModelDirectory, "--query", Query, "--json", "--precision", "int8", .. Passages]);
        Assert.True(int8.Code == 0, int8.Err);
        double[] a = Scores(fp32.Out), b = Scores(int8.Out);
        Assert.Equal(a.Select((v, i) => i).OrderByDescending(i => a[i]), b.Select((v, i) => i).OrderByDescending(i => b[i]));
        Assert.All(a.Zip(b), p => Assert.True(Math.Abs(p.First - p.Second) < 0.02, $"fp32 {p.First} int8 {p.Second}"));
        Assert.Contains(a.Zip(b), p => p.First != p.Second);   // the int8 path really ran
    }

    [Fact]
    public void AQuantizedFolderInFp32SaysHowToRunItInInt8()
    {
        string directory = Path.Combine(Path.GetTempPath(), "ce-cli-int8-" + Guid.NewGuid().ToString("N"));
        try
        {
            ModelQuantization.WriteQuantizedFolder(minilm.ModelDirectory, directory);
            File.WriteAllText(Path.Combine(directory, "quantization.json"), "{}");
            var fp32 = Run(["rerank", "--model", directory, "--query", Query, .. Passages]);
            var int8 = Run(["rerank", "--model", directory, "--query", Query, "--precision", "int8", .. Passages]);
            Assert.Equal(0, fp32.Code);
            Assert.Contains("holds int8 weights", fp32.Err);
            Assert.Contains("--precision int8", fp32.Err);
            Assert.Equal(0, int8.Code);
            Assert.DoesNotContain("holds int8 weights", int8.Err);
            Assert.Contains("An airfoil", int8.Out.Split('\n')[1]);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void RerankJsonFromAFileOrStdinEqualsTheCommandLineDocuments()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, string.Join("\n", Passages) + "\n\n");
            var fromArgs = Run(["rerank", "--model", minilm.ModelDirectory, "--query", Query, "--json", .. Passages]);
            var fromFile = Run("rerank", "--model", minilm.ModelDirectory, "--query", Query, "--json", "--docs", file);
            var fromStdin = RunWithInput(string.Join("\r\n", Passages), "rerank", "--model", minilm.ModelDirectory, "--query", Query, "--json", "--docs", "-", "--top", "2");
            Assert.Equal(0, fromArgs.Code);
            Assert.Equal(fromArgs.Out, fromFile.Out);
            using var all = JsonDocument.Parse(fromArgs.Out);
            using var top = JsonDocument.Parse(fromStdin.Out);
            var results = all.RootElement.GetProperty("results").EnumerateArray().ToArray();
            Assert.Equal("bi-encoder", all.RootElement.GetProperty("kind").GetString());
            Assert.Equal("cosine", all.RootElement.GetProperty("score_transform").GetString());
            Assert.Equal([1, 2, 3], results.Select(r => r.GetProperty("rank").GetInt32()));
            Assert.Equal(1, results[0].GetProperty("index").GetInt32());
            Assert.Equal(Passages[1], results[0].GetProperty("document").GetString());
            Assert.True(results[0].GetProperty("score").GetDouble() > results[1].GetProperty("score").GetDouble());
            Assert.False(results[0].GetProperty("truncated").GetBoolean());
            Assert.Equal(results.Take(2).Select(r => r.GetProperty("index").GetInt32()),
                top.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(2, "no documents", "rerank", "--query", "q")]
    [InlineData(2, "--precision must be fp32, int8 or auto, got 'int4'", "rerank", "--query", "q", "--precision", "int4", "doc")]
    [InlineData(2, "option --query is required", "rerank", "doc")]
    [InlineData(2, "unknown option '--topk'", "rerank", "--query", "q", "--topk", "3", "doc")]
    [InlineData(2, "--top must be an integer from 1", "rerank", "--query", "q", "--top", "0", "doc")]
    [InlineData(2, "--top must be an integer from 1", "rerank", "--query", "q", "--top", "ten", "doc")]
    [InlineData(2, "option --query needs a value", "rerank", "--query")]
    [InlineData(2, "unknown command 'rank'", "rank")]
    [InlineData(1, "documents file 'no-such-file.txt' not found", "rerank", "--query", "q", "--docs", "no-such-file.txt")]
    [InlineData(1, "Model folder 'no-such-model' does not exist", "rerank", "--model", "no-such-model", "--query", "q", "doc")]
    [InlineData(1, "ONNX file 'missing.onnx' not found", "convert", "--onnx", "missing.onnx", "--vocab", "v.txt", "--out", "o")]
    [InlineData(2, "--truncation must be longest_first or only_second", "tokenize", "--model", ".", "--query", "q", "--truncation", "middle")]
    public void BadInvocationsGetAOneLineErrorAndTheRightExitCode(int expectedCode, string expectedMessage, params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(expectedCode, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: ", error);
        Assert.Contains(expectedMessage, error);
        Assert.Equal(expectedCode == 2 && !error.Contains("unknown command") ? 2 : 1, error.TrimEnd().Split('\n').Length);   // usage follows usage errors
    }

    [Fact]
    public void TerminalControlCharactersInDocumentsAreNotPrinted()
    {
        string hostile = "\u001b[2J\u001b]0;owned\u0007 wing\tlift\r\nflow\u200b";
        var (code, output, error) = Run("rerank", "--model", minilm.ModelDirectory, "--query", "lift", hostile);
        Assert.True(code == 0, error);
        string row = output.TrimEnd().Split('\n')[1];
        Assert.DoesNotContain(row, c => char.IsControl(c) || c == '\u200b');
        Assert.EndsWith("[2J ]0;owned wing lift flow", row);

        // An exception message spanning lines (ArgumentException adds the parameter) is still one line of error.
        (code, output, error) = Run("tokenize", "--model", minilm.ModelDirectory, "--query", "q", "--doc", "d", "--max-length", "2");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: maxLength must be at least 3", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void AnInvalidModelFolderIsReportedByFileAndProblem()
    {
        string directory = Directory.CreateTempSubdirectory("bad-model").FullName;
        try
        {
            File.Copy(Path.Combine(minilm.ModelDirectory, "vocab.txt"), Path.Combine(directory, "vocab.txt"));
            File.WriteAllText(Path.Combine(directory, "config.json"), "{\"hidden_size\": 384");
            var (code, _, error) = Run("rerank", "--model", directory, "--query", "q", "doc");
            Assert.Equal(1, code);
            Assert.Contains("config.json", error);
            Assert.Contains("not valid JSON", error);
            File.Copy(Path.Combine(minilm.ModelDirectory, "config.json"), Path.Combine(directory, "config.json"), overwrite: true);
            File.WriteAllBytes(Path.Combine(directory, "model.safetensors"), [1, 2, 3]);
            (code, _, error) = Run("rerank", "--model", directory, "--query", "q", "doc");
            Assert.Equal(1, code);
            Assert.Contains("model.safetensors", error);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void TokenizeJsonEqualsTheHuggingFaceReferenceIds()
    {
        // Reference ids for this pair come from @huggingface/transformers (Fixtures/tokenization/minilm-reference.json, "simple-pair").
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenization", "minilm-reference.json")));
        var pair = reference.RootElement.GetProperty("pairs").EnumerateArray().First(p => p.GetProperty("name").GetString() == "simple-pair");
        var (code, output, error) = Run("tokenize", "--model", minilm.ModelDirectory, "--query", pair.GetProperty("query").GetString()!,
            "--doc", pair.GetProperty("document").GetString()!, "--json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()).ToArray();
        Assert.Equal(Ints(pair, "inputIds"), Ints(json.RootElement, "input_ids"));
        Assert.Equal(Ints(pair, "tokenTypeIds"), Ints(json.RootElement, "token_type_ids"));
        Assert.Equal(pair.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()), json.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.False(json.RootElement.GetProperty("truncated").GetBoolean());

        // Truncated: 7 query + 11 document pieces into 12 - 3 = 9 slots; Rust LongestFirst keeps 4 of the query and 5 of the document.
        (code, output, _) = Run("tokenize", "--model", minilm.ModelDirectory, "--query", pair.GetProperty("query").GetString()!,
            "--doc", pair.GetProperty("document").GetString()!, "--max-length", "12", "--json");
        Assert.Equal(0, code);
        using var cut = JsonDocument.Parse(output);
        int[] q = Ints(pair, "queryIds"), d = Ints(pair, "documentIds");
        Assert.Equal([101, .. q[..4], 102, .. d[..5], 102], Ints(cut.RootElement, "input_ids"));
        Assert.True(cut.RootElement.GetProperty("truncated").GetBoolean());
        Assert.Equal(3, cut.RootElement.GetProperty("query_tokens_removed").GetInt32());
        Assert.Equal(6, cut.RootElement.GetProperty("document_tokens_removed").GetInt32());
    }

    [Fact]
    public void VerifyPrintsPerOutputDifferencesAndPasses()
    {
        string pairs = Path.GetTempFileName();
        try
        {
            File.WriteAllText(pairs, "# query<TAB>document[<TAB>max_length]\nwhat is lift\tLift is the force that holds an aircraft in the air.\n" +
                                     "boundary layer\tThe boundary layer is the thin layer of fluid near a surface.\t16\n");
            var (code, output, error) = Run("verify", "--model", minilm.ModelDirectory, "--onnx", minilm.OnnxPath, "--pairs", pairs, "--json");
            Assert.True(code == 0, error + output);
            using var json = JsonDocument.Parse(output);
            Assert.True(json.RootElement.GetProperty("pass").GetBoolean());
            Assert.Equal(["model", "onnx", "kind", "pairs", "min_tokens", "max_tokens", "outputs", "pass"], json.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.All(json.RootElement.GetProperty("outputs").EnumerateArray(), o =>
                Assert.Equal(["name", "max_abs_diff", "mean_abs_diff", "tolerance", "values", "pass"], o.EnumerateObject().Select(p => p.Name)));
            Assert.Equal(2, json.RootElement.GetProperty("pairs").GetInt32());
            Assert.Equal(16, json.RootElement.GetProperty("min_tokens").GetInt32());   // the second pair, cut to 16
            Assert.Equal(18, json.RootElement.GetProperty("max_tokens").GetInt32());   // [CLS] 3 [SEP] 12 [SEP]
            var outputs = json.RootElement.GetProperty("outputs").EnumerateArray().ToArray();
            Assert.Contains(outputs, o => o.GetProperty("name").GetString() == "last_hidden_state" && o.GetProperty("max_abs_diff").GetDouble() <= 1e-4);
            Assert.Contains(outputs, o => o.GetProperty("name").GetString() == "pooler_output" && o.GetProperty("max_abs_diff").GetDouble() <= 1e-5);
            Assert.All(outputs, o => Assert.True(o.TryGetProperty("mean_abs_diff", out _)));

            File.WriteAllText(pairs, "only one field\n");
            (code, _, error) = Run("verify", "--model", minilm.ModelDirectory, "--onnx", minilm.OnnxPath, "--pairs", pairs);
            Assert.Equal(1, code);
            Assert.Contains(":1: expected 'query<TAB>document", error);
        }
        finally
        {
            File.Delete(pairs);
        }
    }

    [Fact]
    public void WithoutModelATrainedCrossEncoderInTheWeightsFolderIsPreferred()
    {
        string weights = Path.Combine(Path.GetTempPath(), "weights-trained-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(weights);
        Directory.CreateSymbolicLink(Path.Combine(weights, "all-MiniLM-L6-v2-cross-encoder"), minilm.ModelDirectory);
        string? previous = Environment.GetEnvironmentVariable("CROSSENCODER_WEIGHTS");
        Environment.SetEnvironmentVariable("CROSSENCODER_WEIGHTS", weights);
        try
        {
            var (code, output, error) = Run(["rerank", "--query", Query, .. Passages]);
            Assert.True(code == 0, error);
            Assert.Contains("using all-MiniLM-L6-v2-cross-encoder", error);
            Assert.False(Directory.Exists(Path.Combine(weights, "all-MiniLM-L6-v2")));   // the base model was not prepared
            var (explicitCode, explicitOutput, _) = Run(["rerank", "--model", minilm.ModelDirectory, "--query", Query, .. Passages]);
            Assert.Equal(0, explicitCode);
            Assert.Equal(explicitOutput, output);
        }
        finally
        {
            Environment.SetEnvironmentVariable("CROSSENCODER_WEIGHTS", previous);
            Directory.Delete(weights, recursive: true);
        }
    }

    [Fact]
    public void WithoutModelTheDefaultFolderIsUsedWithANotice()
    {
        // A weights folder holding only the base model (the repository's own may also hold a trained cross-encoder).
        string weights = Path.Combine(Path.GetTempPath(), "weights-base-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(weights);
        Directory.CreateSymbolicLink(Path.Combine(weights, "all-MiniLM-L6-v2"), minilm.ModelDirectory);
        string? previous = Environment.GetEnvironmentVariable("CROSSENCODER_WEIGHTS");
        Environment.SetEnvironmentVariable("CROSSENCODER_WEIGHTS", weights);
        try
        {
            var (code, output, error) = Run(["rerank", "--query", Query, .. Passages]);
            Assert.True(code == 0, error);
            Assert.Contains("bi-encoder", error);
            Assert.Equal(2, output.TrimEnd().Split('\n').Length - 2);   // 3 rows after the header
        }
        finally
        {
            Environment.SetEnvironmentVariable("CROSSENCODER_WEIGHTS", previous);
            Directory.Delete(weights, recursive: true);
        }
    }
}
