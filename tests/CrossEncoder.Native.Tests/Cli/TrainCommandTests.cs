using CrossEncoder.Evaluation.Data;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary><c>crossencoder train</c>: a tiny end-to-end run whose output folder <c>rerank</c> loads, the refusal to replace a
/// model, resume without a checkpoint, and usage errors, each as one <c>error:</c> line with the project's exit codes.</summary>
public sealed class TrainCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "train-cli-" + Guid.NewGuid().ToString("N"));

    public TrainCommandTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, new StringReader(""), output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Four topics x four documents from the tiny vocabulary; a query's relevant documents contain its topic word.</summary>
    private string Collection()
    {
        string[] topics = ["wing", "heat", "plate", "blood"];
        var corpus = new List<BeirDocument>();
        var queries = new List<BeirQuery>();
        var qrels = new Qrels();
        for (int t = 0; t < topics.Length; t++)
        {
            queries.Add(new BeirQuery($"q{t}", $"what is the {topics[t]} ?"));
            for (int d = 0; d < 4; d++)
            {
                string word = d < 2 ? topics[t] : topics[(t + d) % topics.Length];
                corpus.Add(new BeirDocument($"d{t}{d}", "", $"the {word} of a flow in high speed"));
                if (d < 2) qrels.Add($"q{t}", $"d{t}{d}", 1);
            }
        }
        string directory = Path.Combine(_root, "toy");
        new BeirDataset(corpus, queries, qrels).Save(directory);
        return directory;
    }

    [Fact]
    public void ATinyRunWritesAFolderThatRerankLoadsAndAReplacementNeedsOverwrite()
    {
        using var tiny = new TinyBert(classifier: false, withPooler: false);
        string data = Collection(), output = Path.Combine(_root, "trained");
        string[] train = ["train", "--model", tiny.Directory, "--data", data, "--out", output, "--epochs", "2", "--batch-size", "4", "--negatives", "2",
            "--depth", "8", "--max-length", "24", "--lr", "3e-3", "--dev-fraction", "0.25", "--no-dropout"];
        var (code, stdout, stderr) = Run(train);
        Assert.True(code == 0, stderr);
        Assert.Contains("trained", stdout);
        Assert.Contains("best dev nDCG@10", stdout);
        Assert.Contains("step", stderr);                                            // plain progress lines when not on a terminal
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(output, "vocab.txt")));

        var (rerankCode, rerankOut, rerankErr) = Run("rerank", "--model", output, "--query", "what is the wing ?", "--json", "the wing of a flow", "the heat of a flow");
        Assert.True(rerankCode == 0, rerankErr);
        Assert.Contains("\"score\"", rerankOut);

        var (again, _, againErr) = Run(train);
        Assert.Equal(1, again);
        Assert.Contains("already holds a model", againErr);
        var (same, _, sameErr) = Run("train", "--model", tiny.Directory, "--data", data, "--out", tiny.Directory);
        Assert.Equal(1, same);
        Assert.Contains("is the model being trained", sameErr);
        var (resume, _, resumeErr) = Run("train", "--model", tiny.Directory, "--data", data, "--out", Path.Combine(_root, "empty"), "--resume");
        Assert.Equal(1, resume);
        Assert.Contains("Nothing to resume", resumeErr);
    }

    [Theory]
    [InlineData(new[] { "train", "--out", "x" }, "--data")]
    [InlineData(new[] { "train", "--data", "d", "--out", "x", "--lr", "fast" }, "--lr")]
    [InlineData(new[] { "train", "--data", "d", "--out", "x", "--lr", "0" }, "--lr")]
    [InlineData(new[] { "train", "--data", "d", "--out", "x", "--loss", "hinge" }, "--loss")]
    [InlineData(new[] { "train", "--data", "d", "--out", "x", "--batch-size", "0" }, "--batch-size")]
    [InlineData(new[] { "train", "--data", "d", "--out", "x", "--dev-fraction", "1.5" }, "--dev-fraction")]
    public void BadOptionsAreUsageErrorsNamingTheOption(string[] args, string option)
    {
        var (code, _, stderr) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error:", stderr);
        Assert.Contains(option, stderr);
    }

    [Fact]
    public void AMissingDataFolderIsNamed()
    {
        var (code, _, stderr) = Run("train", "--data", Path.Combine(_root, "nowhere"), "--out", Path.Combine(_root, "o"));
        Assert.Equal(1, code);
        Assert.Contains("nowhere", stderr);
    }
}
