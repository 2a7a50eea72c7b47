using System.CommandLine;
using CrossEncoder.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>serve</c>: the HTTP rerank server (TEI, Cohere and Jina shapes) and the demo page, until Ctrl+C / SIGTERM.</summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var model = CliOptions.Model();
        var compare = CliOptions.Text("--compare-model", "dir|org/name", "a second model the demo page ranks with side by side (e.g. a bi-encoder next to a cross-encoder)");
        var token = CliOptions.Token();
        var host = CliOptions.Text("--host", "address", "interface to bind (default 127.0.0.1: this machine only; 0.0.0.0 for every interface)");
        var port = CliOptions.Int("--port", "TCP port", 0, 65535, 8080);
        var apiKey = CliOptions.Text("--api-key", "key", "require Authorization: Bearer <key> on the API routes (401 otherwise; the scheme is case-insensitive); /, /health, /metrics and /openapi/v1.json stay public");
        var maxBatchTokens = CliOptions.Int("--max-batch-tokens", "tokens in one forward pass, shared by concurrent requests", 16, 1 << 20, 8192);
        var maxClientBatch = CliOptions.Int("--max-client-batch-size", "most documents in one request (413 past it)", 1, 1 << 20, 256);
        var maxConcurrent = CliOptions.Int("--max-concurrent-requests", "most requests queued or running (429 past it)", 1, 1 << 20, 512);
        var precision = CliOptions.Precision();
        var instruction = CliOptions.Instruction();
        var prompt = CliOptions.Prompt();
        var longDocuments = CliOptions.LongDocuments();
        var command = new Command("serve", "Serve /rerank (TEI), /v2/rerank (Cohere), /v1/rerank (Jina), /embed, /info, /metrics and the demo page at /.")
            { model, compare, token, host, port, apiKey, maxBatchTokens, maxClientBatch, maxConcurrent, precision, instruction, prompt };
        foreach (var option in longDocuments.All) command.Options.Add(option);   // the defaults of requests that send no long_documents
        CliHelp.SetExamples(command,
            "crossencoder serve",
            "crossencoder serve --model cross-encoder/ms-marco-MiniLM-L-6-v2 --compare-model weights/all-MiniLM-L6-v2 --port 8080",
            "crossencoder serve --host 0.0.0.0 --api-key secret --max-batch-tokens 16384",
            "crossencoder serve --long chunk --overlap 32");
        command.SetAction(parse => Run(context, parse.GetValue(model), parse.GetValue(compare), parse.GetValue(token), parse.GetValue(host) ?? "127.0.0.1",
            parse.GetValue(port), parse.GetValue(apiKey), parse.GetValue(maxBatchTokens), parse.GetValue(maxClientBatch), parse.GetValue(maxConcurrent),
            CliOptions.ParsePrecision(parse.GetValue(precision)!), parse.GetValue(instruction), parse.GetValue(prompt),
            longDocuments.Apply(parse, new Native.Reranking.RerankOptions())));
        return command;
    }

    private static int Run(CliContext context, string? model, string? compare, string? hubToken, string host, int port, string? apiKey,
        int maxBatchTokens, int maxClientBatch, int maxConcurrent, Native.Model.Precision precision, string? instruction, string? prompt,
        Native.Reranking.RerankOptions longDocuments)
    {
        string modelDirectory = model is not null ? HubModelOption.Resolve(model, hubToken, context.Error, context.CancellationToken) : DefaultModel.Ensure(context.Error);
        if (!Directory.Exists(modelDirectory)) throw new CliException($"model folder '{modelDirectory}' does not exist.");
        string? compareDirectory = compare is null ? null : HubModelOption.Resolve(compare, hubToken, context.Error, context.CancellationToken);
        if (compareDirectory is not null && !Directory.Exists(compareDirectory)) throw new CliException($"compare model folder '{compareDirectory}' does not exist.");

        var app = RerankServer.Build(new ServerOptions
        {
            ModelDirectory = modelDirectory, ModelName = model, CompareModelDirectory = compareDirectory, Host = host, Port = port, ApiKey = apiKey,
            MaxBatchTokens = maxBatchTokens, MaxClientBatchSize = maxClientBatch, MaxConcurrentRequests = maxConcurrent,
            Precision = precision, Prompt = prompt, Instruction = instruction, LongDocumentDefaults = longDocuments, Log = line => context.Error.WriteLine($"note: {line}"),
        });
        try
        {
            app.StartAsync(context.CancellationToken).GetAwaiter().GetResult();
            context.Out.WriteLine($"listening on {RerankServer.Address(app)} (demo page at /, API: /rerank /v2/rerank /v1/rerank /embed /info /metrics); Ctrl+C stops");
            context.Out.Flush();
            // Returns on Ctrl+C (the CLI's token) or SIGTERM (the host's console lifetime); stopping drains in-flight requests.
            app.WaitForShutdownAsync(context.CancellationToken).GetAwaiter().GetResult();
            context.Out.WriteLine("stopped.");
            return 0;
        }
        finally
        {
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
