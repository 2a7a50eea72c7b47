using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace CrossEncoder.Native.Tests.Architecture;

/// <summary>
/// The dependency rules of docs/ARCHITECTURE.md, checked on the source tree: kernels know no model, model code picks no ISA
/// and holds no SIMD, weight names live in each family's names file, nothing outside Model/ reaches into a family, and the
/// shipping CLI references nothing under tools/.
/// </summary>
public partial class LayeringTests
{
    private static readonly string Root = FindRoot();
    private static readonly string Library = Path.Combine(Root, "src", "CrossEncoder.Native");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return dir.FullName;
        throw new InvalidOperationException("The repository root (CrossEncoder.Native.sln) is not above the test's folder.");
    }

    private static IEnumerable<(string Path, string Text)> Sources(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(p => (Path.GetRelativePath(Root, p), File.ReadAllText(p)));

    [Fact]
    public void KernelsKnowNoModelTokenizerOrReranker()
    {
        var offenders = Sources(Path.Combine(Library, "Kernels"))
            .Where(s => Regex.IsMatch(s.Text, @"CrossEncoder\.Native\.(Model|Tokenization|Reranking|Hub)\b")).Select(s => s.Path).ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void ModelCodeHasNoSimdNoThreadsAndPicksNoIsa()
    {
        var offenders = Sources(Path.Combine(Library, "Model"))
            .Where(s => Regex.IsMatch(s.Text, @"System\.Runtime\.Intrinsics|Vector(128|256|512)?<|\bParallel\.|new Thread\(|KernelParallelism|\.IsSupported\b|KernelIsas\.Best|GemmInt8\.Best"))
            .Select(s => s.Path).ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void HuggingFaceTensorNamesLiveInEachFamilysNamesFile()
    {
        // A string literal naming a module path ("encoder.layer", "attention.self", "embeddings.", ...) outside *WeightNames.cs.
        var pattern = new Regex("\"[^\"]*(encoder\\.layer|attention\\.self|attention\\.output|intermediate\\.dense|(?<!tie_)word_embeddings|LayerNorm\\.|classifier\\.|pooler\\.dense)[^\"]*\"");
        var offenders = Sources(Path.Combine(Library, "Model"))
            .Where(s => !s.Path.EndsWith("WeightNames.cs", StringComparison.Ordinal))
            .SelectMany(s => StripComments(s.Text).Split('\n').Where(l => pattern.IsMatch(l)).Select(l => $"{s.Path}: {l.Trim()}")).ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void NothingOutsideModelReachesIntoAFamily()
    {
        string[] folders = [Path.Combine(Library, "Reranking"), Path.Combine(Library, "Hub"), Path.Combine(Library, "Tokenization"),
            Path.Combine(Root, "src", "CrossEncoder.Server"), Path.Combine(Root, "src", "CrossEncoder.Cli"), Path.Combine(Root, "src", "CrossEncoder.Evaluation"),
            Path.Combine(Root, "src", "CrossEncoder.Native.Extensions")];
        var offenders = folders.SelectMany(Sources).Where(s => Regex.IsMatch(s.Text, @"Model\.Bert\b|\bBert(Model|Config|Workspace)\b|\bEncoderFamily\b"))
            .Select(s => s.Path).ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void FamiliesDoNotUseEachOther()
    {
        foreach (string family in Directory.EnumerateDirectories(Path.Combine(Library, "Model")).Select(d => Path.GetFileName(d)).Where(f => f != "Common"))
        {
            var others = Directory.EnumerateDirectories(Path.Combine(Library, "Model")).Select(Path.GetFileName).Where(f => f != family && f != "Common").ToList();
            var offenders = Sources(Path.Combine(Library, "Model", family))
                .Where(s => others.Any(o => s.Text.Contains($"CrossEncoder.Native.Model.{o}", StringComparison.Ordinal))).Select(s => s.Path).ToList();
            Assert.Empty(offenders);
        }
    }

    [Fact]
    public void TheShippingProjectsReferenceNothingUnderTools()
    {
        foreach (string project in Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.csproj", SearchOption.AllDirectories)
                     .Where(p => !p.Contains("CrossEncoder.Cli.Onnx", StringComparison.Ordinal)))   // the ONNX companion is the tools' front end
        {
            var references = XDocument.Load(project).Descendants("ProjectReference").Select(e => (string)e.Attribute("Include")!).ToList();
            Assert.DoesNotContain(references, r => r.Replace('\\', '/').Contains("/tools/", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void TheLibraryDependsOnTwoPackagesOnly()
    {
        var packages = XDocument.Load(Path.Combine(Library, "CrossEncoder.Native.csproj")).Descendants("PackageReference").Select(e => (string)e.Attribute("Include")!).Order().ToList();
        Assert.Equal(["Microsoft.ML.Tokenizers", "System.Numerics.Tensors"], packages);
    }

    private static string StripComments(string text) => CommentPattern().Replace(text, "");

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentPattern();
}
