using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>Hostile checkpoints on the command line (issue 20): a weight under an integer dtype, a NaN weight, or weights
/// whose arithmetic overflows are one <c>error:</c> line naming the tensor or stage and exit 1, in rerank and quantize;
/// never a stack trace (exit 134) or a NaN score with exit 0.</summary>
public sealed class HostileModelCliTests : IDisposable
{
    private readonly TinyBert _bert = new(classifier: true);
    private readonly List<string> _folders = [];

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, new StringReader(""), output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static void AssertOneErrorLine(int code, string error, string expected)
    {
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void RerankAndQuantizeOfAnIntegerWeightAreOneErrorLine()
    {
        string folder = Track(HostileCheckpoints.WithDType(_bert.Directory, "encoder.layer.0.output.dense.weight", SafeTensorDType.U16));
        var (code, _, error) = Run("rerank", "--model", folder, "--query", "lift", "wing");
        AssertOneErrorLine(code, error, "tensor 'encoder.layer.0.output.dense.weight': dtype U16 is not a floating-point type");
        string output = Track(Path.Combine(Path.GetTempPath(), "ce-q-" + Guid.NewGuid().ToString("N")));
        (code, _, error) = Run("quantize", "--model", folder, "--out", output);
        AssertOneErrorLine(code, error, "dtype U16");
        (code, _, error) = Run("serve", "--model", folder, "--port", "0");   // fails while loading, before it listens
        AssertOneErrorLine(code, error, "tensor 'encoder.layer.0.output.dense.weight': dtype U16");
    }

    [Fact]
    public void RerankOfANaNWeightIsOneErrorLineNamingTheTensor()
    {
        string folder = Track(HostileCheckpoints.WithValue(_bert.Directory, "encoder.layer.1.attention.self.key.weight", 7, float.NaN, SafeTensorDType.BF16));
        var (code, output, error) = Run("rerank", "--model", folder, "--query", "lift", "wing");
        AssertOneErrorLine(code, error, "tensor 'encoder.layer.1.attention.self.key.weight' holds NaN at [0, 7]");
        Assert.Equal("", output);
    }

    [Fact]
    public void RerankOfOverflowingWeightsIsOneErrorLineNamingTheStageNotANaNScore()
    {
        string folder = Track(HostileCheckpoints.WithAll(_bert.Directory, "encoder.layer.0.attention.output.dense.weight", 3e38f));
        var (code, output, error) = Run("rerank", "--model", folder, "--query", "lift", "--json", "wing", "tail");
        AssertOneErrorLine(code, error, "'layer.0.attention.out'");
        Assert.DoesNotContain("NaN", output);
    }

    private string Track(string folder) { _folders.Add(folder); return folder; }

    public void Dispose()
    {
        _bert.Dispose();
        foreach (string folder in _folders)
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }
}
