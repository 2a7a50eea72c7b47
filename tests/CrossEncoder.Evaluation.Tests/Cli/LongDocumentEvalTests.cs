using System.Text.Json;
using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Retrieval;
using CrossEncoder.Native.Reranking;
using Xunit;
using CliEntry = CrossEncoder.Cli.Cli;

namespace CrossEncoder.Evaluation.Tests.Cli;

/// <summary><c>eval --long chunk</c> and <see cref="RerankEvaluationOptions.Chunking"/>: the chunk-mode stage next to
/// truncation on the committed Cranfield fixture with the real all-MiniLM-L6-v2.</summary>
[Collection("EvalModel")]
public sealed class LongDocumentEvalTests(EvalModelFixture model)
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliEntry.Run(args, TextReader.Null, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private RerankEvaluationReport Evaluate(int? maxLength)
    {
        var data = BeirDataset.Load(Fixture.Beir);
        var bm25 = new Bm25FirstStage(data.Corpus, Fixture.TemporaryDirectory(), new Bm25Options());
        return RerankEvaluation.Run(data, bm25, model.ModelDirectory, new RerankEvaluationOptions
        {
            Candidates = 8, MaxLength = maxLength, Chunking = new RerankOptions { LongDocuments = LongDocumentMode.Chunk },
        });
    }

    [Fact]
    public void Documents_that_fit_score_exactly_as_truncated_and_longer_ones_get_more_chunks()
    {
        // A document of at most 510 tokens ([CLS] text [SEP] in 512) is one chunk: the same score as truncation.
        var report = Evaluate(maxLength: null);
        Assert.Equal(2, report.Reranked.Count);
        var (truncated, chunked) = (report.Reranked[0], report.Reranked[1]);
        Assert.False(truncated.Chunked);
        Assert.True(chunked.Chunked);
        Assert.Equal("rerank-fp32-chunk", chunked.Stage.Name);
        var data = BeirDataset.Load(Fixture.Beir);
        var text = data.Corpus.ToDictionary(d => d.Id, d => d.FullText);
        using var reranker = Reranker.Load(model.ModelDirectory);
        int fitting = 0, longer = 0;
        foreach (string query in report.QueryIds)
        {
            var before = truncated.Stage.Run.For(query).Take(8).ToDictionary(d => d.DocumentId, d => d.Score);
            foreach (var document in chunked.Stage.Run.For(query).Take(8))
            {
                if (reranker.Tokenizer.EncodeToIds(text[document.DocumentId]).Length <= 510) { Assert.Equal(before[document.DocumentId], document.Score, 6); fitting++; }
                else longer++;
            }
        }
        Assert.True(fitting > 0 && chunked.Stage.Chunks >= chunked.Stage.Pairs + longer, $"{fitting} fitting, {longer} longer, {chunked.Stage.Chunks} chunks");
    }

    [Fact]
    public void With_a_short_maximum_length_long_abstracts_are_scored_by_several_chunks()
    {
        var report = Evaluate(maxLength: 64);
        var (truncated, chunked) = (report.Reranked[0], report.Reranked[1]);
        Assert.Equal(truncated.Stage.Pairs, chunked.Stage.Pairs);
        Assert.True(chunked.Stage.Chunks > chunked.Stage.Pairs, $"{chunked.Stage.Chunks} chunks for {chunked.Stage.Pairs} documents");
        Assert.True(chunked.Stage.Tokens > truncated.Stage.Tokens);
        Assert.InRange(chunked.PValuesAgainstTruncation!.Value.NdcgAt10, 0, 1);
        Assert.Null(truncated.PValuesAgainstTruncation);
    }

    [Fact]
    public void The_table_and_json_show_chunking_next_to_truncation_and_bad_options_are_refused()
    {
        string dir = Fixture.TemporaryDirectory();
        var (code, output, error) = Run("eval", "--data", Fixture.Beir, "--model", model.ModelDirectory, "--candidates", "4", "--max-length", "64",
            "--long", "chunk", "--overlap", "8", "--aggregate", "topk:2", "--cache", dir);
        Assert.True(code == 0, error);
        Assert.Contains("rerank-fp32-chunk vs rerank-fp32: nDCG@10", output);
        Assert.Contains("chunks/s", output);

        (code, output, error) = Run("eval", "--data", Fixture.Beir, "--model", model.ModelDirectory, "--candidates", "4", "--max-length", "64",
            "--long", "chunk", "--json", "--cache", dir);
        Assert.True(code == 0, error);
        var root = JsonDocument.Parse(output).RootElement;
        var cost = root.GetProperty("cost").GetProperty("rerank-fp32-chunk");
        Assert.True(cost.GetProperty("chunks").GetInt64() > cost.GetProperty("pairs").GetInt64());
        var stages = root.GetProperty("precisions").EnumerateArray().ToList();
        Assert.Equal(["truncate", "chunk"], stages.Select(s => s.GetProperty("long").GetString()));
        Assert.InRange(stages[1].GetProperty("p_values_vs_truncate").GetProperty("ndcg@10").GetDouble(), 0, 1);

        (code, _, error) = Run("eval", "--data", Fixture.Beir, "--candidates", "0", "--long", "chunk");
        Assert.Equal(2, code);
        Assert.Contains("--long chunk reranks long documents; it needs --candidates > 0", error);
        (code, _, error) = Run("eval", "--data", Fixture.Beir, "--overlap", "4");
        Assert.Equal(2, code);
        Assert.Contains("--overlap needs --long chunk", error);
    }
}
