using System.Text.Json;
using CrossEncoder.Native.Reranking;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary><c>crossencoder explain</c> in-process on the real all-MiniLM-L6-v2 folder: the marked text, the JSON spans, errors.</summary>
[Collection("MiniLM")]
public sealed class ExplainCommandTests(MiniLmFixture minilm)
{
    private const string Query = "how do wings produce lift";
    private const string Document = "Bananas are yellow. An airfoil deflects the oncoming air downward, and the reaction pushes the wing upward: that force is lift. Café 東京 🛫!";

    private static (int Code, string Out, string Err) Run(string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, new StringReader(stdin), output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void PipedOutputMarksTheTopWordsWithPlainMarkersAndNoEscapes()
    {
        var (code, output, error) = Run("", "explain", "--model", minilm.ModelDirectory, "--query", Query, "--doc", Document, "--top", "3");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("\u001b", output);
        Assert.StartsWith("cosine 0.", output);
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        var explanation = reranker.Explain(Query, Document);
        var top = explanation.DocumentWords.Where(w => w.Attribution is not null).OrderByDescending(w => Math.Abs(w.Attribution!.Value)).Take(3).ToList();
        foreach (var word in top) Assert.Contains((word.Attribution > 0 ? "[+" : "[-") + word.Text + "]", output);
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(output, @"\[[+-][^\]]+\]").Count);
        // Removing the markers gives the document back exactly.
        string marked = output.Split('\n')[2];
        Assert.Equal(Document, System.Text.RegularExpressions.Regex.Replace(marked, @"\[[+-]([^\]]+)\]", "$1"));
        Assert.Contains($"{explanation.SequencesScored} sequences ({explanation.TokensScored} tokens) scored in one batched call", output);
    }

    [Fact]
    public void JsonGivesEveryWordItsExactSpanAndTheLibrarysAttribution()
    {
        var (code, output, error) = Run(Document, "explain", "--model", minilm.ModelDirectory, "--query", Query, "--doc", "-", "--json", "--top", "4");
        Assert.True(code == 0, error);
        var root = JsonDocument.Parse(output).RootElement;
        Assert.Equal(Document, root.GetProperty("document").GetString());
        Assert.Equal("bi-encoder", root.GetProperty("kind").GetString());
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        var explanation = reranker.Explain(Query, Document);
        Assert.Equal(explanation.Score, root.GetProperty("score").GetSingle());
        var words = root.GetProperty("words").EnumerateArray().ToList();
        Assert.Equal(explanation.DocumentWords.Count, words.Count);
        for (int i = 0; i < words.Count; i++)
        {
            int start = words[i].GetProperty("start").GetInt32(), length = words[i].GetProperty("length").GetInt32();
            Assert.Equal(Document.Substring(start, length), words[i].GetProperty("text").GetString());
            Assert.Equal(explanation.DocumentWords[i].Attribution!.Value, words[i].GetProperty("attribution").GetSingle());
        }
        Assert.Contains(words, w => w.GetProperty("text").GetString() == "🛫");
        Assert.Equal(3, root.GetProperty("sentences").GetArrayLength());
        Assert.Equal(5, root.GetProperty("query_words").GetArrayLength());
        int[] top = [.. root.GetProperty("top").EnumerateArray().Select(t => t.GetInt32())];
        Assert.Equal(4, top.Length);
        for (int i = 1; i < top.Length; i++)
            Assert.True(Math.Abs(words[top[i - 1]].GetProperty("attribution").GetDouble()) >= Math.Abs(words[top[i]].GetProperty("attribution").GetDouble()));
    }

    [Fact]
    public void AttentionIsReportedAsDataBesideTheAttributions()
    {
        var (code, output, error) = Run("", "explain", "--model", minilm.ModelDirectory, "--query", Query, "--doc", Document, "--json", "--attention");
        Assert.True(code == 0, error);
        var attention = JsonDocument.Parse(output).RootElement.GetProperty("attention");
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        var expected = reranker.Explain(Query, Document, new ExplainOptions { Attention = true }).Attention!;
        Assert.Equal((6, 12, 0), (attention.GetProperty("layers").GetInt32(), attention.GetProperty("heads").GetInt32(), attention.GetProperty("scoring_position").GetInt32()));
        var tokens = attention.GetProperty("tokens").EnumerateArray().ToArray();
        Assert.Equal(expected.Tokens.Select(t => t.Text), tokens.Select(t => t.GetProperty("text").GetString()));
        Assert.Equal("special", tokens[0].GetProperty("source").GetString());
        var weights = attention.GetProperty("weights");
        for (int l = 0; l < 6; l++)
            for (int h = 0; h < 12; h++)
                for (int j = 0; j < tokens.Length; j++)
                    Assert.Equal(expected.Weight(l, h, j), weights[l][h][j].GetSingle(), 1e-5f);

        (code, output, error) = Run("", "explain", "--model", minilm.ModelDirectory, "--query", Query, "--doc", Document, "--attention");
        Assert.True(code == 0, error);
        Assert.Contains("attention of [CLS] in the last layer (mean of 12 heads; where it looked, not why the score is what it is):", output);
    }

    [Theory]
    [InlineData(2, "--doc is empty", "--doc", "")]
    [InlineData(2, "--doc is empty", "--doc", "  \t ")]
    [InlineData(1, "has no words", "--doc", "... ?!")]
    [InlineData(2, "exceeds the model's limit", "--doc", "lift", "--max-length", "100000")]
    [InlineData(2, "option --top must be an integer from 1", "--doc", "lift", "--top", "0")]
    [InlineData(2, "--doc", "--query", "q")]
    public void BadInputIsOneErrorLine(int expectedCode, string message, params string[] args)
    {
        string[] full = ["explain", "--model", minilm.ModelDirectory, .. args];
        if (!args.Contains("--query")) full = [.. full, "--query", Query];
        var (code, output, error) = Run("", full);
        Assert.Equal(expectedCode, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: ", error);
        Assert.Contains(message, error.Split('\n')[0]);
    }

    [Fact]
    public void AnEmptyStandardInputIsAUsageError()
    {
        var (code, _, error) = Run("\n", "explain", "--model", minilm.ModelDirectory, "--query", Query, "--doc", "-");
        Assert.Equal(2, code);
        Assert.Contains("standard input is empty", error);
    }
}
