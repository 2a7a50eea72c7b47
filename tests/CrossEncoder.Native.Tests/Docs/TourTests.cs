using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace CrossEncoder.Native.Tests.Docs;

/// <summary>
/// docs/tour.md stays true: every file it links exists and every method or type it names in a link's text appears in that
/// file; every line of its figures is a line <c>crossencoder trace</c> prints today on the offline default model (numbers to
/// the printed precision, times aside), so a change in the model code, the trace or the tokenizer shows up as a stale tour.
/// </summary>
[Collection("MiniLM")]
public sealed partial class TourTests(MiniLmFixture minilm)
{
    private static readonly string Root = FindRoot();
    private static readonly string TourPath = Path.Combine(Root, "docs", "tour.md");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return dir.FullName;
        throw new InvalidOperationException("The repository root (CrossEncoder.Native.sln) is not above the test's folder.");
    }

    [GeneratedRegex(@"\[(?<text>[^\]]+)\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^`(?<name>[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)(\(\))?`$")]
    private static partial Regex CodeName();

    /// <summary>The broken links of a markdown text whose relative links start from <paramref name="folder"/>: a missing
    /// file, or a name in backticks (<c>Type.Method</c>) of which a part does not appear as a word in the linked file.</summary>
    internal static List<string> BrokenLinks(string markdown, string folder, out int checkedLinks)
    {
        var problems = new List<string>();
        checkedLinks = 0;
        foreach (Match link in Link().Matches(markdown))
        {
            string target = link.Groups["target"].Value, text = link.Groups["text"].Value;
            if (target.StartsWith("http", StringComparison.Ordinal) || target.StartsWith('#') || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
            checkedLinks++;
            string path = Path.GetFullPath(Path.Combine(folder, target.Split('#')[0]));
            if (Directory.Exists(path)) continue;
            if (!File.Exists(path)) { problems.Add($"{text} -> {target}: no such file"); continue; }
            if (CodeName().Match(text) is { Success: true } code)
            {
                string source = File.ReadAllText(path);
                foreach (string part in code.Groups["name"].Value.Split('.'))
                    if (!Regex.IsMatch(source, $@"\b{Regex.Escape(part)}\b")) problems.Add($"{text} -> {target}: '{part}' does not appear in the file");
            }
        }
        return problems;
    }

    [Fact]
    public void EveryLinkedFileExistsAndHoldsTheNamedMethod()
    {
        var problems = BrokenLinks(File.ReadAllText(TourPath), Path.GetDirectoryName(TourPath)!, out int links);
        Assert.Empty(problems);
        Assert.True(links >= 40, $"only {links} links checked");
    }

    [Fact]
    public void TheLinkCheckCatchesAMissingFileAndAMissingMethod()
    {
        string docs = Path.Combine(Root, "docs");
        string markdown = "[`Attention.MultiHeadBatch`](../src/CrossEncoder.Native/Kernels/Attention.cs) " +
                          "[`Attention.NoSuchMethod`](../src/CrossEncoder.Native/Kernels/Attention.cs) " +
                          "[the kernel](../src/CrossEncoder.Native/Kernels/NoSuchFile.cs) [site](https://example.org)";
        var problems = BrokenLinks(markdown, docs, out int links);
        Assert.Equal(3, links);
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("'NoSuchMethod' does not appear"));
        Assert.Contains(problems, p => p.Contains("NoSuchFile.cs: no such file"));
    }

    /// <summary>The figures between <c>&lt;!-- trace:NAME --&gt;</c> markers: name and lines of its fenced block.</summary>
    private static List<(string Name, string[] Lines)> Figures(string markdown) =>
        [.. Regex.Matches(markdown, @"<!-- trace:(?<name>[a-z0-9-]+) -->\s*```text\n(?<body>.*?)\n```\s*<!-- /trace:\k<name> -->", RegexOptions.Singleline)
            .Select(m => (m.Groups["name"].Value, m.Groups["body"].Value.Split('\n')))];

    private static string[] Trace(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(["trace", .. args], new StringReader(""), output, error);
        Assert.True(code == 0, error.ToString());
        return output.ToString().TrimEnd('\n').Split('\n');
    }

    /// <summary>Same words, and numbers equal to the printed precision (a different CPU path may move a last digit); every
    /// "x ms" time matches any time.</summary>
    private static bool SameLine(string figure, string fresh)
    {
        static string[] Fields(string line) => Regex.Replace(line, @"\d+\.\d+ ms", "<time> ms").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string[] a = Fields(figure), b = Fields(fresh);
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] == b[i]) continue;
            string x = a[i].TrimEnd(','), y = b[i].TrimEnd(',');
            if (!double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out double u) ||
                !double.TryParse(y, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || Math.Abs(u - v) > 1e-3 + 1e-4 * Math.Abs(u))
                return false;
        }
        return true;
    }

    [Fact]
    public void TheFiguresAreWhatTracePrintsOnTheDefaultModel()
    {
        Assert.True(Directory.Exists(minilm.ModelDirectory));   // the default model, prepared where the CLI looks for it
        var figures = Figures(File.ReadAllText(TourPath));
        Assert.Contains(figures, f => f.Name == "full");
        Assert.True(figures.Count >= 8, $"{figures.Count} figures");
        var command = Regex.Match(figures.Single(f => f.Name == "header").Lines[0], "^\\$ crossencoder trace --query \"(?<q>[^\"]+)\" --doc \"(?<d>[^\"]+)\"$");
        Assert.True(command.Success, "the header figure starts with the command that made it");
        // The tour is of the base model: a weights folder holding only it (a developer's may also hold a trained cross-encoder,
        // which the CLI would prefer).
        string weights = Path.Combine(Path.GetTempPath(), "tour-weights-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(weights);
        Directory.CreateSymbolicLink(Path.Combine(weights, "all-MiniLM-L6-v2"), minilm.ModelDirectory);
        string? previous = Environment.GetEnvironmentVariable("CROSSENCODER_WEIGHTS");
        Environment.SetEnvironmentVariable("CROSSENCODER_WEIGHTS", weights);
        string[] fp32, int8;
        try
        {
            fp32 = Trace("--query", command.Groups["q"].Value, "--doc", command.Groups["d"].Value);
            int8 = Trace("--query", command.Groups["q"].Value, "--doc", command.Groups["d"].Value, "--precision", "int8");
        }
        finally
        {
            Environment.SetEnvironmentVariable("CROSSENCODER_WEIGHTS", previous);
            Directory.Delete(weights, recursive: true);
        }
        foreach (var (name, lines) in figures)
        {
            string[] fresh = name.StartsWith("int8", StringComparison.Ordinal) ? int8 : fp32;
            int next = 0;
            foreach (string line in lines.Where(l => !l.StartsWith("$ crossencoder", StringComparison.Ordinal)))
            {
                int at = Array.FindIndex(fresh, next, candidate => SameLine(line, candidate));
                Assert.True(at >= 0, $"figure '{name}': trace no longer prints (in this order) \"{line}\"; run tools/tour/regenerate.sh");
                next = at + 1;
            }
        }
    }

    [Fact]
    public void TheFigureCheckNoticesAStaleNumberButNotATime()
    {
        const string line = "layer.0.ffn.output                  [20, 384]          15.2044     194.1537      0.317 ms";
        Assert.True(SameLine(line, line.Replace("0.317 ms", "12.5 ms")));
        Assert.True(SameLine(line, line.Replace("194.1537", "194.1538")));
        Assert.False(SameLine(line, line.Replace("194.1537", "194.3537")));
        Assert.False(SameLine(line, line.Replace("[20,", "[21,")));
    }
}
