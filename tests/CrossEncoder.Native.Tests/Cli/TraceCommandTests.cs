using System.Text.Json;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tests.Model.Qwen;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary><c>crossencoder trace</c>: prints the library's trace (the score <c>rerank</c> prints for the pair, every layer's
/// stages, the attended tokens), as a table or JSON, and turns bad input into one <c>error:</c> line.</summary>
public sealed class TraceCommandTests
{
    private const string Query = "what is the lift of a wing";
    private const string Document = "wing lift and heat in high speed flow";

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, new StringReader(""), output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void TheJsonScoreIsWhatRerankPrintsAndEveryLayerIsThere()
    {
        using var tiny = new TinyBert(classifier: true);
        var (code, output, error) = Run("trace", "--model", tiny.Directory, "--query", Query, "--doc", Document, "--json");
        Assert.True(code == 0, error);
        var root = JsonDocument.Parse(output).RootElement;
        var (rerankCode, rerankOutput, rerankError) = Run("rerank", "--model", tiny.Directory, "--query", Query, Document, "--json");
        Assert.True(rerankCode == 0, rerankError);
        var hit = JsonDocument.Parse(rerankOutput).RootElement.GetProperty("results")[0];
        Assert.Equal(hit.GetProperty("score").GetSingle(), root.GetProperty("score").GetSingle(), 1e-5);
        Assert.Equal(hit.GetProperty("logit").GetSingle(), root.GetProperty("logit").GetSingle(), 1e-5);
        Assert.Equal("sigmoid(logit)", root.GetProperty("score_rule").GetString());

        var sequence = root.GetProperty("sequences")[0];
        int tokens = sequence.GetProperty("tokens").GetArrayLength();
        var layers = sequence.GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(TinyBert.Layers, layers.Length);
        foreach (var layer in layers)
        {
            var stages = layer.GetProperty("stages").EnumerateArray().Select(s => (s.GetProperty("name").GetString(), s.GetProperty("shape")[0].GetInt32(), s.GetProperty("shape")[1].GetInt32())).ToArray();
            int l = layer.GetProperty("index").GetInt32();
            Assert.Equal([
                ($"layer.{l}.attention.probabilities", TinyBert.Heads * tokens, tokens),
                ($"layer.{l}.attention.out", tokens, TinyBert.Hidden),
                ($"layer.{l}.attention.residual", tokens, TinyBert.Hidden),
                ($"layer.{l}.ffn.intermediate", tokens, TinyBert.Intermediate),
                ($"layer.{l}.ffn.output", tokens, TinyBert.Hidden),
                ($"layer.{l}", tokens, TinyBert.Hidden)], stages);
            Assert.Equal(3, layer.GetProperty("top_attended").GetArrayLength());
            Assert.Equal(TinyBert.Heads, layer.GetProperty("head_top").GetArrayLength());
        }
        Assert.Equal("output", sequence.GetProperty("head").EnumerateArray().Last().GetProperty("name").GetString());
    }

    [Fact]
    public void TheTableShowsTokensStagesAttendedTokensAndTheScore()
    {
        using var tiny = new TinyBert(classifier: true);
        var (code, output, error) = Run("trace", "--model", tiny.Directory, "--query", Query, "--doc", Document, "--top", "2");
        Assert.True(code == 0, error);
        using var reranker = Reranker.Load(tiny.Directory);
        float score = reranker.Rerank(Query, [Document])[0].Score;
        string scoreLine = output.Split('\n').Single(line => line.StartsWith("score:", StringComparison.Ordinal));
        Assert.Equal(score, float.Parse(scoreLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture), 1e-5);
        Assert.EndsWith("= sigmoid(logit), logit " + scoreLine.Split("logit ")[^1], scoreLine);
        Assert.Contains("[CLS] attends to: ", output);
        foreach (string stage in new[] { "embeddings", "layer.1.attention.probabilities", "layer.1.ffn.intermediate", "layer.1 ", "pooler", "head.hidden", "output " })
            Assert.Contains(stage, output);
        var cls = output.Split('\n').First(line => line.Contains("[CLS] attends to:"));
        Assert.Equal(2, cls.Split("attends to:")[1].Split("(layer")[0].Split('@').Length - 1);   // --top 2: two tokens
    }

    [Fact]
    public void ADecoderRerankerIsTracedFromItsLastToken()
    {
        var (code, output, error) = Run("trace", "--model", QwenFolders.Qwen3RerankerWithTokenizer, "--query", Query, "--doc", Document, "--json");
        Assert.True(code == 0, error);
        var root = JsonDocument.Parse(output).RootElement;
        var sequence = root.GetProperty("sequences")[0];
        Assert.Equal("prompt", sequence.GetProperty("role").GetString());
        Assert.Equal(sequence.GetProperty("tokens").GetArrayLength() - 1, sequence.GetProperty("focus_position").GetInt32());
        using var reranker = Reranker.Load(QwenFolders.Qwen3RerankerWithTokenizer);
        Assert.Equal(reranker.Rerank(Query, [Document])[0].Score, root.GetProperty("score").GetSingle(), 1e-5);
    }

    [Theory]
    [InlineData(new[] { "trace", "--query", "q" }, 2, "--doc")]
    [InlineData(new[] { "trace", "--doc", "d" }, 2, "--query")]
    [InlineData(new[] { "trace", "--query", "q", "--doc", "d", "--top", "0" }, 2, "--top")]
    [InlineData(new[] { "trace", "--query", "q", "--doc", "d", "--model", "/nonexistent/model-folder" }, 1, "nonexistent")]
    public void BadInputGetsOneErrorLine(string[] args, int expectedCode, string named)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(expectedCode, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.DoesNotContain(lines, line => line.Contains("   at "));   // no stack trace
    }

    [Fact]
    public void AMaximumLengthBeyondTheModelsLimitIsAUsageError()
    {
        using var tiny = new TinyBert(classifier: true);
        var (code, _, error) = Run("trace", "--model", tiny.Directory, "--query", Query, "--doc", Document, "--max-length", "100000");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --max-length 100000 exceeds the model's limit", error);
    }
}
