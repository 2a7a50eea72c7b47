using CrossEncoder.Cli;
using CrossEncoder.Cli.Commands;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>The int8 gate reads what the command line says: --data, or the bundled sample. It used to look for
/// ../shared/ir and an absolute machine path on its own, so the same command measured different data on different machines.</summary>
public class GateDataTests
{
    [Fact]
    public void WithoutDataTheGateUsesTheBundledSampleWhateverIsOnTheMachine()
    {
        var (queries, source) = GateData.Load(null, 25);
        Assert.StartsWith("bundled IR sample", source);
        Assert.Equal(16, queries.Count);
    }

    [Fact]
    public void AMissingDataFolderIsAnErrorAndTheProbeHeadNeedsData()
    {
        string missing = Path.Combine(Path.GetTempPath(), "no-such-ir-" + Guid.NewGuid().ToString("N"));
        Assert.Contains("does not exist", Assert.Throws<CliException>(() => GateData.Load(missing, 25)).Message);
        Assert.Contains("--probe-head needs held-out queries", Assert.Throws<CliException>(() => GateData.LoadHeldOut(null, 25)).Message);
    }
}
