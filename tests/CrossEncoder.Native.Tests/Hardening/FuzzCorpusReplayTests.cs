using CrossEncoder.Fuzz;
using Xunit;

namespace CrossEncoder.Native.Tests.Hardening;

/// <summary>
/// The fuzz targets (tools/fuzz/CrossEncoder.Fuzz/FuzzTargets.cs, compiled into this project) without afl: every committed
/// seed and crash replayed, and a fixed-seed mutation run over the seeds. The contract is the fuzzer's: a reader of an
/// untrusted file fails only with its documented typed exception (SafeTensorsFormatException, ModelFormatException,
/// TokenizerFormatException, HubException, the server's ApiError); any other exception is a defect.
/// </summary>
/// <remarks>
/// <see cref="FuzzTargets.KnownFindings"/> lists the defects found so far and not fixed yet (tools/fuzz/README.md, "Findings"):
/// the replay and mutation tests tolerate exactly those, and <see cref="Every_known_finding_still_reproduces"/> fails once one
/// is fixed, so its entry is removed and the contract then covers it too.
/// </remarks>
public sealed class FuzzCorpusReplayTests : IDisposable
{
    /// <summary>Mutated inputs per target: enough to reach the readers' error paths, few enough for the whole class to run in
    /// seconds. FUZZ_MUTATIONS=N runs more (a longer search, same seeds).</summary>
    private static readonly int MutationsPerTarget = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_MUTATIONS"), out int n) && n > 0 ? n : 300;

    private static readonly string FuzzFolder = Path.Combine(FindRoot(), "tools", "fuzz");
    private readonly FuzzTargets _targets = new();

    public static TheoryData<string> Targets() => [.. FuzzTargets.Names];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_seed_and_recorded_crash_is_refused_only_with_the_typed_exception(string target)
    {
        var files = Files("corpus", target).Concat(Files("crashes", target)).Concat(Files("hangs", target)).ToList();   // hangs: regexes now time out
        Assert.NotEmpty(Files("corpus", target));
        var findings = files.Select(f => Replay(target, File.ReadAllBytes(f), Path.GetRelativePath(FuzzFolder, f))).OfType<string>().ToList();
        Assert.True(findings.Count == 0, $"{findings.Count} of {files.Count} inputs of '{target}' threw an untyped exception:\n{string.Join("\n", findings)}");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Fixed_seed_mutations_of_the_seeds_are_refused_only_with_the_typed_exception(string target)
    {
        byte[][] seeds = [.. Files("corpus", target).Select(File.ReadAllBytes)];
        var random = new Random(20_261_206 + FuzzTargets.Names.ToList().IndexOf(target));
        var findings = new List<string>();
        for (int i = 0; i < MutationsPerTarget; i++)
        {
            var (input, how) = Mutate(seeds, random);
            if (Replay(target, input, $"mutation {i} ({how})") is { } finding)
                findings.Add($"{finding}\n    input (base64): {Convert.ToBase64String(input)}");
        }
        Assert.True(findings.Count == 0,
            $"{findings.Count} of {MutationsPerTarget} mutations of '{target}' threw an untyped exception:\n{string.Join("\n", findings.Take(8))}");
    }

    [Fact]
    public void The_mutator_is_deterministic_and_changes_its_input()
    {
        byte[][] seeds = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11]];
        var a = Enumerable.Range(0, 50).Select(_ => Mutate(seeds, new Random(7)).Input).ToList();
        Assert.All(a, m => Assert.Equal(a[0], m));
        var random = new Random(7);
        int changed = Enumerable.Range(0, 200).Count(_ => Mutate(seeds, random) is var (m, _) && !seeds.Any(s => s.AsSpan().SequenceEqual(m)));
        Assert.True(changed > 150, $"only {changed} of 200 mutations differ from the seeds");
    }

    [Fact]
    public void No_finding_is_tolerated_and_the_recorded_crashes_stay_as_regression_cases()
    {
        // The replay skips exactly the entries of FuzzTargets.KnownFindings; on main that list must stay empty, so a new
        // finding is fixed (its reproducer in crashes/ then replays like the corpus) rather than tolerated.
        Assert.True(FuzzTargets.KnownFindings.Length == 0,
            "open fuzz findings are tolerated by the replay: " + string.Join("; ", FuzzTargets.KnownFindings.Select(k => k.Description)));
        foreach (string target in new[] { "config", "hub-json", "tokenizer-json" })   // the targets the first runs found defects in
            Assert.NotEmpty(Files("crashes", target));
        Assert.NotEmpty(Files("hangs", "tokenizer-json"));
    }

    /// <summary>One input through one target: null when it was accepted or refused with the typed exception (or hit a known
    /// finding), else a line naming the input, the exception and the library frame that threw it.</summary>
    private string? Replay(string target, byte[] input, string name)
    {
        try
        {
            _targets.Run(target, input);
            return null;
        }
        catch (Exception e)
        {
            string? site = FuzzTargets.ThrowSite(e);
            if (FuzzTargets.Known(target, e) is not null) return null;
            string? frame = e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("CrossEncoder.Native.") || l.Contains("CrossEncoder.Server."));
            return $"  {name}: {e.GetType().Name} in {site}: {e.Message.Split('\n')[0]}\n    {frame}";
        }
    }

    /// <summary>AFL's havoc in miniature: bit flips, interesting bytes, insertions, deletions, truncation, chunk duplication and
    /// splicing of two seeds, one to four of them stacked.</summary>
    internal static (byte[] Input, string How) Mutate(byte[][] seeds, Random random)
    {
        var data = new List<byte>(seeds[random.Next(seeds.Length)]);
        int steps = 1 + random.Next(4);
        var how = new List<string>();
        byte[] interesting = [0, 1, 0x7F, 0x80, 0xFF, (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)',', (byte)':', (byte)'-', (byte)'9', (byte)'\\', (byte)'e'];
        for (int s = 0; s < steps; s++)
        {
            int at = data.Count == 0 ? 0 : random.Next(data.Count);
            switch (random.Next(8))
            {
                case 0 when data.Count > 0:
                    data[at] ^= (byte)(1 << random.Next(8)); how.Add($"flip@{at}"); break;
                case 1 when data.Count > 0:
                    data[at] = interesting[random.Next(interesting.Length)]; how.Add($"set@{at}"); break;
                case 2:
                    data.Insert(at, random.Next(2) == 0 ? interesting[random.Next(interesting.Length)] : (byte)random.Next(256)); how.Add($"insert@{at}"); break;
                case 3 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + random.Next(8))); how.Add($"delete@{at}"); break;
                case 4:
                    data.RemoveRange(at, data.Count - at); how.Add($"truncate@{at}"); break;
                case 5 when data.Count > 0:
                    int length = Math.Min(data.Count - at, 1 + random.Next(32));
                    data.InsertRange(random.Next(data.Count + 1), data.GetRange(at, length)); how.Add($"duplicate@{at}+{length}"); break;
                case 6:
                    byte[] other = seeds[random.Next(seeds.Length)];
                    int from = other.Length == 0 ? 0 : random.Next(other.Length);
                    data.RemoveRange(at, data.Count - at);
                    data.AddRange(other.AsSpan(from).ToArray()); how.Add($"splice@{at}<-{from}"); break;
                case 7 when data.Count >= 8:
                    // A little-endian integer field (the safetensors length, a protobuf varint) set to an edge value.
                    ulong value = random.Next(5) switch { 0 => 0, 1 => ulong.MaxValue, 2 => (ulong)int.MaxValue + 1, 3 => (ulong)data.Count, _ => (ulong)random.Next(1 << 20) };
                    int width = random.Next(2) == 0 ? 8 : 4, start = Math.Min(at, data.Count - width);
                    for (int b = 0; b < width; b++) data[start + b] = (byte)(value >> (8 * b));
                    how.Add($"int{width * 8}@{start}={value}"); break;
                default:
                    data.Add((byte)random.Next(256)); how.Add("append"); break;
            }
        }
        return ([.. data], string.Join(",", how));
    }

    private static IEnumerable<string> Files(string kind, string target)
    {
        string folder = Path.Combine(FuzzFolder, kind, target);
        return Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal) : [];
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return dir.FullName;
        throw new InvalidOperationException("The repository root (CrossEncoder.Native.sln) is not above the test's folder.");
    }

    public void Dispose() => _targets.Dispose();
}
