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
/// <remarks>Packs the projects the test run already built (<c>--no-build</c>), so it costs pack + install + one run (~40 s).</remarks>
public class ToolInstallTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

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

            Dotnet(repository, null, "pack", "src/CrossEncoder.Native", "-c", Configuration, "--no-build", "-o", feed);
            Dotnet(repository, null, "pack", "src/CrossEncoder.Cli", "-c", Configuration, "--no-build", "-o", feed);

            // The library package depends on exactly its two packages.
            string library = Directory.GetFiles(feed, "CrossEncoder.Native.*.nupkg").Single(f => !f.EndsWith(".snupkg", StringComparison.Ordinal));
            using (var zip = ZipFile.OpenRead(library))
            {
                using var nuspec = zip.GetEntry("CrossEncoder.Native.nuspec")!.Open();
                var dependencies = XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).Order();
                Assert.Equal(["Microsoft.ML.Tokenizers", "System.Numerics.Tensors"], dependencies);
                Assert.NotNull(zip.GetEntry("README.md"));
                Assert.NotNull(zip.GetEntry("lib/net10.0/CrossEncoder.Native.xml"));
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
