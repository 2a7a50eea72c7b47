using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CrossEncoder.Server;

/// <summary>
/// The rerank server: Kestrel and minimal APIs over <see cref="CrossEncoder.Native.Reranking.Reranker"/>, answering TEI
/// (<c>/rerank</c>, <c>/embed</c>, <c>/info</c>, <c>/health</c>, <c>/metrics</c>) and its own <c>/explain</c>, Cohere v2 (<c>/v2/rerank</c>) and Jina /
/// Cohere v1 (<c>/v1/rerank</c>) request shapes from one engine, with the demo page at <c>/</c> and the OpenAPI document at
/// <c>/openapi/v1.json</c>. Used by <c>crossencoder serve</c> and by the tests.
/// </summary>
public static class RerankServer
{
    /// <summary>Loads the model(s) and builds the app (not started). Dispose the app to release the model.</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public static WebApplication Build(ServerOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production, Args = [] });
        builder.Logging.ClearProviders();
        if (logging is not null) logging(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            // Kestrel answers a request line or headers over its limits itself, with an empty body, before any middleware runs;
            // it is given room above the limits GuardAsync enforces, so such a request gets the route's error body (414 / 431).
            kestrel.Limits.MaxRequestLineSize = KestrelSlack * MaxRequestLine;
            kestrel.Limits.MaxRequestHeadersTotalSize = KestrelSlack * MaxRequestHeaders;
            kestrel.AddServerHeader = false;
            var address = options.Host switch
            {
                "localhost" => IPAddress.Loopback,
                "*" or "0.0.0.0" => IPAddress.Any,
                _ => IPAddress.TryParse(options.Host, out var parsed) ? parsed : throw new ArgumentException($"--host '{options.Host}' is not an IP address (or localhost)."),
            };
            kestrel.Listen(address, options.Port);
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        });
        builder.Services.AddOpenApi();

        var metrics = new ServerMetrics();
        var primary = new RerankService(options.ModelDirectory, options.ModelName ?? ModelNameOf(options.ModelDirectory), options, metrics);
        var compare = options.CompareModelDirectory is { } other ? new RerankService(other, ModelNameOf(other), options, metrics) : null;

        var app = builder.Build();
        // Drain: Kestrel waits for in-flight requests on Ctrl-C / SIGTERM; then the schedulers finish and release the model.
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            primary.DisposeAsync().AsTask().GetAwaiter().GetResult();
            compare?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
        byte[]? keyHash = options.ApiKey is null ? null : KeyHash(options.ApiKey);
        app.Use((context, next) => GuardAsync(context, next, metrics, keyHash));

        var api = new Routes(primary, compare, options);
        app.MapGet("/", Routes.DemoPage).ExcludeFromDescription();
        app.MapGet("/health", () => (primary.SelfCheckProblem ?? compare?.SelfCheckProblem) is { } problem
                ? ErrorBodies.Write(ErrorShape.Tei, 503, "backend", problem) : Results.Ok())
            .WithSummary("200 when the model is loaded, scored its start-up self-check and the server takes requests; 503 when it cannot produce a finite score.");
        app.MapGet("/info", api.Info).Produces<ServerInfo>();
        app.MapGet("/metrics", () => Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8")).WithSummary("Prometheus text format.");
        app.MapPost("/rerank", Handler(c => api.TeiRerankAsync(c, primary))).Accepts<TeiRerankRequest>("application/json")
            .Produces<TeiRank[]>().Produces<TeiError>(413).Produces<TeiError>(422).Produces<TeiError>(429).WithSummary("TEI rerank.");
        app.MapPost("/embed", Handler(api.EmbedAsync)).Accepts<TeiEmbedRequest>("application/json").Produces<float[][]>().Produces<TeiError>(424)
            .WithSummary("TEI embed (bi-encoder models).");
        app.MapPost("/v2/rerank", Handler(api.CohereV2RerankAsync)).Accepts<CohereV2RerankRequest>("application/json").Produces<CohereV2RerankResponse>()
            .WithSummary("Cohere v2 rerank.");
        app.MapPost("/v1/rerank", Handler(api.JinaRerankAsync)).Accepts<JinaRerankRequest>("application/json").Produces<JinaRerankResponse>()
            .WithSummary("Jina rerank (also Cohere v1 clients).");
        app.MapPost("/explain", Handler(api.ExplainAsync)).Accepts<ExplainRequest>("application/json").Produces<ExplainResponse>()
            .Produces<TeiError>(413).Produces<TeiError>(422).Produces<TeiError>(429)
            .WithSummary("Why one pair got its score: the score drop when each document word, sentence or query word is removed (occlusion, one batched pass).");
        if (compare is not null)
            app.MapPost("/compare/rerank", Handler(c => api.TeiRerankAsync(c, compare))).Accepts<TeiRerankRequest>("application/json")
                .Produces<TeiRank[]>().WithSummary("TEI rerank with the --compare-model (the demo page's second column).");
        app.MapOpenApi();
        return app;
    }

    /// <summary>The address the started app listens on, e.g. <c>http://127.0.0.1:8080</c> (the real port when 0 was asked).</summary>
    public static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>A route handler (not a RequestDelegate), so the returned IResult is written.</summary>
    private static Delegate Handler(Func<HttpContext, Task<IResult>> handler) => handler;

    private static string ModelNameOf(string directory) => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));

    /// <summary>Kestrel's default limits, enforced by <see cref="GuardAsync"/> with the route's error body: a request line
    /// (method, target, version) of 8 KiB, headers of 32 KiB.</summary>
    private const int MaxRequestLine = 8 * 1024, MaxRequestHeaders = 32 * 1024;

    /// <summary>How far above those limits Kestrel itself lets a request through to GuardAsync (beyond, it answers with an
    /// empty body, which no middleware can change).</summary>
    private const int KestrelSlack = 4;

    /// <summary>414 / 431 when the request line or the headers pass Kestrel's default limits; null otherwise.</summary>
    private static (int Status, string Message)? OverLimits(HttpRequest request)
    {
        long line = request.Method.Length + request.Path.ToUriComponent().Length + (request.QueryString.Value?.Length ?? 0);
        if (line + request.Protocol.Length + 2 > MaxRequestLine) return (414, "request URI too long");
        long headers = 0;
        foreach (var (name, values) in request.Headers)
            foreach (string? value in values) headers += name.Length + (value?.Length ?? 0) + 4;   // "name: value\r\n"
        return headers > MaxRequestHeaders ? (431, "request headers too large") : null;
    }

    private static readonly HashSet<string> PublicPaths = ["/", "/health", "/metrics", "/openapi/v1.json"];

    /// <summary>Outermost middleware: API key, metrics by route and status, and the one place errors become responses, in the
    /// route family's error shape and never with a stack trace: thrown errors, and the framework's own bodiless 4xx answers
    /// (404 no route, 405 wrong method, 415, 400 ...) get the same body as a route's errors.</summary>
    private static async Task GuardAsync(HttpContext context, RequestDelegate next, ServerMetrics metrics, byte[]? keyHash)
    {
        long started = Stopwatch.GetTimestamp();
        string path = context.Request.Path.Value ?? "/";
        var shape = path.StartsWith("/v2/", StringComparison.Ordinal) ? ErrorShape.Cohere : path.StartsWith("/v1/", StringComparison.Ordinal) ? ErrorShape.Jina : ErrorShape.Tei;
        try
        {
            if (OverLimits(context.Request) is { } over)
                await ErrorBodies.Write(shape, over.Status, "validation", over.Message).ExecuteAsync(context);
            else if (keyHash is not null && !PublicPaths.Contains(path) && !Authorized(context.Request.Headers.Authorization.ToString(), keyHash))
                await ErrorBodies.Write(shape, 401, "unauthorized", "missing or wrong API key (send Authorization: Bearer <key>)").ExecuteAsync(context);
            else
            {
                await next(context);
                var response = context.Response;
                if (!response.HasStarted && response.StatusCode >= 400 && response.ContentLength is null && response.ContentType is null)
                    await ErrorBodies.Write(shape, response.StatusCode, "validation", FrameworkMessage(context)).ExecuteAsync(context);
            }
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            var (status, type, message) = ex switch
            {
                ApiError api => (api.Status, api.ErrorType, api.Message),
                OverloadedException overloaded => (429, "overloaded", overloaded.Message),
                BadHttpRequestException { StatusCode: 413 } => (413, "validation", "request body too large"),
                BadHttpRequestException bad => (bad.StatusCode, "validation", "bad request"),
                OperationCanceledException when context.RequestAborted.IsCancellationRequested => (499, "cancelled", "client closed the request"),
                // The model computed NaN or infinity (weights that overflow): TEI's backend error, with the stage it names.
                ModelComputationException model => (500, "backend", model.Message),
                _ => (500, "backend", "internal error"),
            };
            if (status != 499) await ErrorBodies.Write(shape, status, type, message).ExecuteAsync(context);
            else context.Response.StatusCode = 499;
        }
        finally
        {
            string route = KnownRoutes.Contains(path) ? path : "other";
            metrics.Request(route, context.Response.StatusCode, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>SHA-256 of the key: comparing hashes of equal length with a fixed-time comparison leaks neither the key's
    /// bytes nor its length through timing.</summary>
    private static byte[] KeyHash(string key) => System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key));

    /// <summary>True for <c>Authorization: Bearer &lt;key&gt;</c>; the scheme is case-insensitive (RFC 9110 section 11.1), the key is
    /// compared in fixed time.</summary>
    private static bool Authorized(string header, byte[] keyHash)
    {
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return false;
        byte[] given = KeyHash(header[Scheme.Length..].TrimStart(' '));
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(given, keyHash);
    }

    /// <summary>The message of a status the framework set without a body (routing, method and content-type checks).</summary>
    private static string FrameworkMessage(HttpContext context) => context.Response.StatusCode switch
    {
        404 => $"no route {context.Request.Method} {context.Request.Path}",
        405 => $"method {context.Request.Method} is not allowed on {context.Request.Path}",
        415 => "unsupported content type: send application/json",
        400 => "bad request",
        414 => "request URI too long",
        431 => "request headers too large",
        int status => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase.ToLowerInvariant() : $"status {status}",
    };

    private static readonly HashSet<string> KnownRoutes = ["/", "/health", "/info", "/metrics", "/rerank", "/embed", "/v1/rerank", "/v2/rerank", "/compare/rerank", "/explain", "/openapi/v1.json"];

    private sealed class Routes(RerankService primary, RerankService? compare, ServerOptions options)
    {
        private const bool AutoTruncate = true;
        private static readonly string Version = typeof(RerankServer).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

        public static async Task DemoPage(HttpContext context)
        {
            await using var page = typeof(RerankServer).Assembly.GetManifestResourceStream("wwwroot/index.html")!;
            context.Response.ContentType = "text/html; charset=utf-8";
            await page.CopyToAsync(context.Response.Body, context.RequestAborted);
        }

        public IResult Info() => Results.Json(new ServerInfo(primary.Name, primary.KindName,
            primary.Reranker.Kind == ModelKind.CrossEncoder ? "reranker" : "embedding", primary.Reranker.Description.Precision == Precision.Int8 ? "int8" : "float32", primary.Reranker.ModelMaxLength,
            options.MaxBatchTokens, options.MaxClientBatchSize, options.MaxConcurrentRequests, options.MaxRequestBodyBytes, options.ForwardPassesInFlight,
            AutoTruncate, compare?.Name, compare?.KindName, Version, primary.Reranker.Description.ScoreTransform.ToString().ToLowerInvariant(),
            primary.Reranker.Description.ScoringRule, primary.Reranker.Description.Prompt,
            options.LongDocumentDefaults.LongDocuments == LongDocumentMode.Chunk ? "chunk" : "truncate",
            options.LongDocumentDefaults.LongDocuments == LongDocumentMode.Chunk
                ? ChunkAggregationText.Format(options.LongDocumentDefaults.ChunkAggregation, options.LongDocumentDefaults.ChunkTopK) : null));

        // TEI: https://huggingface.github.io/text-embeddings-inference/ (router/src/http/server.rs `rerank`, types.rs RerankRequest/Rank).
        public async Task<IResult> TeiRerankAsync(HttpContext context, RerankService service)
        {
            var body = await Json.ReadBodyAsync(context.Request, context.RequestAborted);
            string query = Json.RequiredString(body, "query");
            var texts = Json.StringArray(body, "texts");
            bool truncate = Json.OptionalBool(body, "truncate") ?? AutoTruncate;
            bool raw = Json.OptionalBool(body, "raw_scores") ?? false, returnText = Json.OptionalBool(body, "return_text") ?? false;
            string direction = Json.OptionalString(body, "truncation_direction") ?? "right";
            if (!direction.Equals("right", StringComparison.OrdinalIgnoreCase))
                throw direction.Equals("left", StringComparison.OrdinalIgnoreCase)
                    ? ApiError.Validation("`truncation_direction` left is not supported by this server; use right")
                    : ApiError.Validation($"`truncation_direction` must be left or right, got '{direction}'");
            CheckBatch(query, texts.Count, "texts");
            var outcome = await service.RerankAsync(query, texts, truncate, null, Json.OptionalString(body, "instruction"), LongDocuments(body), context.RequestAborted);
            WriteTimingHeaders(context, outcome);
            var ranks = Sorted(outcome.Results, null)
                .Select(r => new TeiRank(r.Index, raw ? r.Logit : r.Score, returnText ? texts[r.Index] : null, ChunksOf(r), ChunkOf(r, texts))).ToArray();
            return Results.Json(ranks);
        }

        // Cohere v2: https://docs.cohere.com/reference/rerank
        public async Task<IResult> CohereV2RerankAsync(HttpContext context)
        {
            var body = await Json.ReadBodyAsync(context.Request, context.RequestAborted);
            Json.OptionalString(body, "model");
            string query = Json.RequiredString(body, "query");
            var documents = Json.StringArray(body, "documents");
            int? topN = Json.OptionalPositiveInt(body, "top_n"), maxTokens = Json.OptionalPositiveInt(body, "max_tokens_per_doc");
            CheckBatch(query, documents.Count, "documents");
            var outcome = await primary.RerankAsync(query, documents, truncate: true, maxTokens, Json.OptionalString(body, "instruction"), LongDocuments(body), context.RequestAborted);
            WriteTimingHeaders(context, outcome);
            var results = Sorted(outcome.Results, topN).Select(r => new CohereResult(r.Index, r.Score, null, ChunksOf(r), ChunkOf(r, documents))).ToArray();
            return Results.Json(new CohereV2RerankResponse(Guid.NewGuid().ToString(), results, Meta("2", documents.Count)));
        }

        // Jina: https://jina.ai/reranker/ (https://api.jina.ai/redoc); Cohere v1: https://docs.cohere.com/v1/reference/rerank
        public async Task<IResult> JinaRerankAsync(HttpContext context)
        {
            var body = await Json.ReadBodyAsync(context.Request, context.RequestAborted);
            string model = Json.OptionalString(body, "model") ?? primary.Name;
            string query = Json.RequiredString(body, "query");
            var documents = Json.StringArray(body, "documents", allowTextObjects: true);
            int? topN = Json.OptionalPositiveInt(body, "top_n");
            bool returnDocuments = Json.OptionalBool(body, "return_documents") ?? true;
            CheckBatch(query, documents.Count, "documents");
            var outcome = await primary.RerankAsync(query, documents, truncate: true, null, Json.OptionalString(body, "instruction"), LongDocuments(body), context.RequestAborted);
            WriteTimingHeaders(context, outcome);
            var results = Sorted(outcome.Results, topN)
                .Select(r => new CohereResult(r.Index, r.Score, returnDocuments ? new DocumentText(documents[r.Index]) : null, ChunksOf(r), ChunkOf(r, documents))).ToArray();
            return Results.Json(new JinaRerankResponse(Guid.NewGuid().ToString(), model, new JinaUsage(outcome.Tokens), results, Meta("1", documents.Count)));
        }

        // TEI /embed: inputs is a string or an array of strings; the answer is one vector per input.
        public async Task<IResult> EmbedAsync(HttpContext context)
        {
            if (primary.Reranker.Kind != ModelKind.BiEncoder)
                throw new ApiError(424, "backend", "model is not an embedding model (this server was started with a cross-encoder)");
            var body = await Json.ReadBodyAsync(context.Request, context.RequestAborted);
            List<string> inputs = body.TryGetProperty("inputs", out var value) && value.ValueKind == JsonValueKind.String
                ? [value.GetString()!] : Json.StringArray(body, "inputs");
            bool truncate = Json.OptionalBool(body, "truncate") ?? AutoTruncate, normalize = Json.OptionalBool(body, "normalize") ?? true;
            if (inputs.Count == 0) throw ApiError.Validation("`inputs` cannot be empty");
            if (inputs.Count > options.MaxClientBatchSize)
                throw new ApiError(413, "validation", $"batch size {inputs.Count} > maximum allowed batch size {options.MaxClientBatchSize}");
            var (vectors, outcome) = await primary.EmbedAsync(inputs, truncate, normalize, context.RequestAborted);
            WriteTimingHeaders(context, outcome);
            return Results.Json(vectors);
        }

        // Occlusion attributions of one pair (this server's own route, TEI error shape).
        public async Task<IResult> ExplainAsync(HttpContext context)
        {
            var body = await Json.ReadBodyAsync(context.Request, context.RequestAborted);
            string query = Json.RequiredString(body, "query");
            string? document = Json.OptionalString(body, "document"), text = Json.OptionalString(body, "text");
            if (document is not null && text is not null) throw ApiError.Validation("give the document as `document` or `text`, not both");
            document ??= text ?? throw ApiError.Validation("missing field `document` (or `text`)");
            if (query.Length == 0) throw ApiError.Validation("`query` cannot be empty");
            if (string.IsNullOrWhiteSpace(document)) throw ApiError.Validation("`document` cannot be empty");
            bool truncate = Json.OptionalBool(body, "truncate") ?? AutoTruncate;
            int? maxLength = Json.OptionalPositiveInt(body, "max_length");
            if (maxLength is < 3 || maxLength > primary.Reranker.ModelMaxLength)
                throw ApiError.Validation($"`max_length` must be from 3 to the model's limit of {primary.Reranker.ModelMaxLength} tokens, got {maxLength}");
            var (explanation, outcome) = await primary.ExplainAsync(query, document, truncate, maxLength, Json.OptionalString(body, "instruction"),
                Json.OptionalBool(body, "sentences") ?? true, Json.OptionalBool(body, "query_words") ?? true, context.RequestAborted);
            WriteTimingHeaders(context, outcome);
            static ExplainSpan[] Spans(IReadOnlyList<CrossEncoder.Native.Reranking.AttributedSpan> spans) =>
                [.. spans.Select(s => new ExplainSpan(s.Text, s.Start, s.Length, s.Attribution, s.LogitAttribution, s.BeyondTruncation))];
            var cut = explanation.Truncation;
            return Results.Json(new ExplainResponse(explanation.Score, explanation.Logit, explanation.BaselineScore, cut.Truncated, cut.QueryTokensRemoved,
                cut.DocumentTokensRemoved, Spans(explanation.DocumentWords), Spans(explanation.DocumentSentences), Spans(explanation.QueryWords),
                explanation.SequencesScored, explanation.TokensScored));
        }

        /// <summary>The request's long-document fields over the server's defaults (<see cref="ServerOptions.LongDocumentDefaults"/>):
        /// <c>long_documents</c> truncate | chunk, <c>chunk_window</c>, <c>chunk_overlap</c>, <c>chunk_aggregation</c>.</summary>
        private RerankOptions LongDocuments(JsonElement body)
        {
            var defaults = options.LongDocumentDefaults;
            string? mode = Json.OptionalString(body, "long_documents");
            bool chunk = mode switch
            {
                null => defaults.LongDocuments == LongDocumentMode.Chunk,
                "truncate" => false,
                "chunk" => true,
                _ => throw ApiError.Validation($"`long_documents` must be truncate or chunk, got '{mode}'"),
            };
            int? window = Json.OptionalPositiveInt(body, "chunk_window"), overlap = Json.OptionalNonNegativeInt(body, "chunk_overlap");
            string? aggregate = Json.OptionalString(body, "chunk_aggregation");
            if (!chunk)
            {
                string? stray = window is not null ? "chunk_window" : overlap is not null ? "chunk_overlap" : aggregate is not null ? "chunk_aggregation" : null;
                if (stray is not null) throw ApiError.Validation($"`{stray}` needs \"long_documents\": \"chunk\"");
                return defaults with { LongDocuments = LongDocumentMode.Truncate };
            }
            if (window is { } w && overlap is { } o && o >= w) throw ApiError.Validation($"`chunk_overlap` {o} must be smaller than `chunk_window` {w}");
            var (aggregation, topK) = (defaults.ChunkAggregation, defaults.ChunkTopK);
            if (aggregate is not null && !ChunkAggregationText.TryParse(aggregate, out aggregation, out topK))
                throw ApiError.Validation($"`chunk_aggregation` must be max, mean, first or topk:K (K from 1 to {ChunkAggregationText.MaxTopK}), got '{aggregate}'");
            return defaults with
            {
                LongDocuments = LongDocumentMode.Chunk, ChunkWindow = window ?? defaults.ChunkWindow, ChunkOverlap = overlap ?? defaults.ChunkOverlap,
                ChunkAggregation = aggregation, ChunkTopK = topK,
            };
        }

        private static int? ChunksOf(RerankResult result) => result.Chunk is null ? null : result.ChunkCount;

        private static ChunkInfo? ChunkOf(RerankResult result, IReadOnlyList<string> documents) => result.Chunk is { } c
            ? new ChunkInfo(c.Ordinal, c.Start, c.End, c.Score, c.Logit, documents[result.Index][c.Start..c.End]) : null;

        private void CheckBatch(string query, int count, string field)
        {
            if (query.Length == 0) throw ApiError.Validation("`query` cannot be empty");
            if (count == 0) throw ApiError.Validation($"`{field}` cannot be empty");
            if (count > options.MaxClientBatchSize)
                throw new ApiError(413, "validation", $"batch size {count} > maximum allowed batch size {options.MaxClientBatchSize}");
        }

        private static IEnumerable<RerankResult> Sorted(RerankResult[] results, int? topN)
        {
            var sorted = results.OrderByDescending(r => r.Score).ThenBy(r => r.Index);
            return topN is { } n ? sorted.Take(n) : sorted;
        }

        private static CohereMeta Meta(string version, int documents) => new(new CohereApiVersion(version), new CohereBilledUnits((documents + 99) / 100));

        /// <summary>TEI's timing headers, in milliseconds (router/src/lib.rs ResponseMetadata).</summary>
        private static void WriteTimingHeaders(HttpContext context, RerankOutcome outcome)
        {
            var headers = context.Response.Headers;
            string total = Ms(Stopwatch.GetElapsedTime(outcome.StartedAt));
            headers["x-compute-type"] = "cpu";
            headers["x-compute-time"] = total;
            headers["x-total-time"] = total;
            headers["x-compute-characters"] = outcome.Characters.ToString(CultureInfo.InvariantCulture);
            headers["x-compute-tokens"] = outcome.Tokens.ToString(CultureInfo.InvariantCulture);
            headers["x-tokenization-time"] = Ms(outcome.Tokenization);
            headers["x-queue-time"] = Ms(outcome.Queue);
            headers["x-inference-time"] = Ms(outcome.Inference);
        }

        private static string Ms(TimeSpan time) => ((long)time.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
    }
}
