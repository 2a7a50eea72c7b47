using System.Text.Json;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Reranking;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary><c>rerank --long chunk</c> on the real all-MiniLM-L6-v2: the winning span in the table and the JSON, one-line
/// errors for bad long-document options.</summary>
[Collection("MiniLM")]
public class RerankLongDocumentCliTests(MiniLmFixture minilm)
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, new StringReader(""), output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Chunk_mode_ranks_the_long_answering_document_first_and_prints_its_span()
    {
        string query, document;
        int answerStart;
        string[] competitors;
        using (var reranker = Reranker.Load(minilm.ModelDirectory)) (query, document, answerStart, competitors) = ChunkingTests.LongDocument(reranker, 510);
        // Documents as arguments (a --docs file line could not hold the long one's paragraph breaks).
        string flat = document;
        string[] documents = ["--", .. competitors, document];
        {
            var (code, output, error) = Run(["rerank", "--model", minilm.ModelDirectory, "--query", query, "--long", "chunk", "--json", .. documents]);
            Assert.True(code == 0, error);
            var results = JsonDocument.Parse(output).RootElement.GetProperty("results");
            var best = results[0];
            Assert.Equal(competitors.Length, best.GetProperty("index").GetInt32());
            var chunk = best.GetProperty("chunk");
            Assert.True(best.GetProperty("chunks").GetInt32() >= 2);
            int start = chunk.GetProperty("start").GetInt32(), end = chunk.GetProperty("end").GetInt32();
            Assert.Equal(flat[start..end], chunk.GetProperty("text").GetString());
            Assert.Equal((answerStart, flat.Length), (start, end));   // the answer's region
            Assert.Equal(best.GetProperty("score").GetSingle(), chunk.GetProperty("score").GetSingle());

            var truncated = Run(["rerank", "--model", minilm.ModelDirectory, "--query", query, "--json", .. documents]);
            Assert.NotEqual(competitors.Length, JsonDocument.Parse(truncated.Out).RootElement.GetProperty("results")[0].GetProperty("index").GetInt32());
            Assert.DoesNotContain("\"chunk\"", truncated.Out);

            var table = Run(["rerank", "--model", minilm.ModelDirectory, "--query", query, "--long", "chunk", "--aggregate", "max", .. documents]);
            Assert.True(table.Code == 0, table.Err);
            string first = table.Out.Split('\n')[1];
            Assert.Matches(@"^\s+1\s+\S+\s+" + competitors.Length + @"\s+chunk \d+/\d+ \[\d+\.\.\d+\)", first);
        }
    }

    [Theory]
    [InlineData("--long must be truncate or chunk, got 'split'", "--long", "split")]
    [InlineData("--window needs --long chunk", "--window", "100")]
    [InlineData("--aggregate needs --long chunk", "--aggregate", "max")]
    [InlineData("--aggregate must be max, mean, first or topk:K (K from 1 to 4096), got 'median'", "--long", "chunk", "--aggregate", "median")]
    [InlineData("--aggregate must be max, mean, first or topk:K (K from 1 to 4096), got 'topk:0'", "--long", "chunk", "--aggregate", "topk:0")]
    [InlineData("--aggregate must be max, mean, first or topk:K (K from 1 to 4096), got 'topk:'", "--long", "chunk", "--aggregate", "topk:")]
    [InlineData("--overlap 50 must be smaller than --window 50", "--long", "chunk", "--window", "50", "--overlap", "50")]
    [InlineData("--window must be an integer from 1", "--long", "chunk", "--window", "0")]
    [InlineData("--overlap must be an integer from 0", "--long", "chunk", "--overlap", "-1")]
    public void Bad_long_document_options_get_one_error_line_and_exit_code_2(string expected, params string[] options)
    {
        var (code, output, error) = Run(["rerank", "--model", minilm.ModelDirectory, "--query", "q", .. options, "doc"]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: ", error);
        Assert.Contains(expected, error);
    }
}
