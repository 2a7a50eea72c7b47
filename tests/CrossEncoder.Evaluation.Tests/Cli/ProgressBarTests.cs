using CrossEncoder.Cli.Commands;
using CrossEncoder.Evaluation.Retrieval;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Cli;

public sealed class ProgressBarTests
{
    [Fact]
    public void On_a_terminal_it_draws_stage_percent_eta_and_token_rate_on_one_line()
    {
        var output = new StringWriter();
        var bar = new ProgressBar(output, enabled: true);
        bar.Report(new StageProgress("rerank-fp32", 0, 100, 0));
        Thread.Sleep(300);   // redraws are throttled to 4 a second
        bar.Report(new StageProgress("rerank-fp32", 50, 100, 5000));
        string text = output.ToString();
        Assert.StartsWith("\r", text);
        Assert.DoesNotContain("\n", text);
        Assert.Contains("rerank-fp32", text);
        Assert.Contains("50/100", text);
        Assert.Contains("ETA ", text);
        Assert.Contains("tok/s", text);
        Assert.Contains("[############------------]", text);
        bar.Finish();
        Assert.EndsWith("\r", output.ToString());   // the line is cleared before the table
    }

    [Fact]
    public void When_piped_it_writes_nothing()
    {
        var output = new StringWriter();
        using (var bar = new ProgressBar(output, enabled: false))
            bar.Report(new StageProgress("bm25 index", 10, 10, 0));
        Assert.Equal("", output.ToString());
    }
}
