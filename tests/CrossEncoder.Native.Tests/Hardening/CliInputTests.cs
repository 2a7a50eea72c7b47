using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Hardening;

/// <summary>
/// Issue 20's CLI findings as regression tests: inputs are capped (a document line, a whole --docs input), and outputs never
/// replace an existing model without --overwrite; each refusal is one <c>error:</c> line with exit code 1.
/// </summary>
public sealed class CliInputTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("hardening-cli-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static (int Code, string Out, string Err) Run(TextReader stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, stdin, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void ADocumentLineBeyondTheCapIsAnErrorNotAnOutOfMemory()
    {
        using var tiny = new TinyBert(classifier: true);
        string docs = Path.Combine(_root, "one-line.txt");
        File.WriteAllText(docs, "short document\n" + new string('x', CrossEncoder.Cli.BoundedInput.MaxLineChars + 1));   // no newline at all in the big line
        var (code, _, error) = Run(new StringReader(""), "rerank", "--model", tiny.Directory, "--query", "q", "--docs", docs);
        Assert.Equal(1, code);
        Assert.StartsWith("error:", error);
        Assert.Contains("line 2 is longer than 4 Mi characters", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void StdinBeyondTheTotalCapIsAnError()
    {
        var lines = CrossEncoder.Cli.BoundedInput.ReadLines(new StringReader(string.Concat(Enumerable.Repeat("abc def\n", 1000))), "--docs -", maxLineChars: 100, maxTotalChars: 4000);
        var error = Assert.Throws<CrossEncoder.Cli.CliException>(() => lines.ToList());
        Assert.Contains("--docs - holds more than", error.Message);
    }

    [Theory]
    [InlineData("a\nb\r\nc\rd", new[] { "a", "b", "c", "d" })]
    [InlineData("a\n\nb\n", new[] { "a", "", "b" })]
    [InlineData("", new string[0])]
    public void BoundedLinesSplitAsReadLineDoes(string text, string[] expected)
    {
        var reader = new StringReader(text);
        var readLine = new List<string>();
        while (reader.ReadLine() is { } line) readLine.Add(line);
        Assert.Equal(expected, readLine);                                                            // the reference behaviour
        Assert.Equal(readLine, CrossEncoder.Cli.BoundedInput.ReadLines(new StringReader(text), "test").ToList());
    }

    [Fact]
    public void QuantizeRefusesToReplaceAnExistingModelWithoutOverwrite()
    {
        using var tiny = new TinyBert(classifier: true);
        using var other = new TinyBert(classifier: true, seed: 11);
        byte[] original = File.ReadAllBytes(Path.Combine(other.Directory, "model.safetensors"));
        var (code, _, error) = Run(new StringReader(""), "quantize", "--model", tiny.Directory, "--out", other.Directory);
        Assert.Equal(1, code);
        Assert.Contains("already holds a model", error);
        Assert.Contains("--overwrite", error);
        Assert.Equal(original, File.ReadAllBytes(Path.Combine(other.Directory, "model.safetensors")));   // untouched (it was replaced, exit 0, before)

        string link = Path.Combine(_root, "link-to-model");
        Directory.CreateSymbolicLink(link, tiny.Directory);
        var (linkCode, _, linkError) = Run(new StringReader(""), "quantize", "--model", tiny.Directory, "--out", link, "--overwrite");
        Assert.Equal(2, linkCode);
        Assert.Contains("--out must differ from --model", linkError);

        var (replaced, _, replacedError) = Run(new StringReader(""), "quantize", "--model", tiny.Directory, "--out", other.Directory, "--overwrite");
        Assert.True(replaced is 0 or 1, replacedError);   // 1 is the gate's verdict on random weights
        Assert.NotEqual(original, File.ReadAllBytes(Path.Combine(other.Directory, "model.safetensors")));
    }

    [Fact]
    public void QuantizeLeavesTrainsCheckpointBehind()
    {
        using var tiny = new TinyBert(classifier: true);
        string checkpoint = Path.Combine(tiny.Directory, "checkpoint");   // what `crossencoder train` keeps beside the model
        Directory.CreateDirectory(checkpoint);
        File.WriteAllText(Path.Combine(checkpoint, "trainer_state.json"), "{}");
        File.WriteAllBytes(Path.Combine(checkpoint, "optimizer.safetensors"), new byte[1 << 20]);
        string output = Path.Combine(_root, "int8");
        var (code, stdout, error) = Run(new StringReader(""), "quantize", "--model", tiny.Directory, "--out", output);
        Assert.True(code is 0 or 1, error);
        Assert.False(Directory.Exists(Path.Combine(output, "checkpoint")));   // it was copied, 3x the model, before
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
        long modelBytes = Directory.EnumerateFiles(tiny.Directory, "*", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(checkpoint + Path.DirectorySeparatorChar, StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "quantization.json")));
        Assert.Equal(modelBytes, report.RootElement.GetProperty("fp32_bytes").GetInt64());   // the size ratio is of the model alone
    }
}
