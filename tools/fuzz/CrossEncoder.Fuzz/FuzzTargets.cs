// The fuzz targets, shared by the afl-fuzz harness (tools/fuzz/CrossEncoder.Fuzz, through SharpFuzz) and the in-suite replay
// (tests/CrossEncoder.Native.Tests/Hardening/FuzzCorpusReplayTests.cs links this file, so the suite needs no SharpFuzz).
//
// Each target feeds the input bytes to one of the library's readers of untrusted files (the parsers a downloaded model
// folder, the Hub or an HTTP client reaches), then uses what it returned the way the library would (reads every tensor,
// encodes a short text). The one contract checked: a reader fails only with the typed exception it documents
// (SafeTensorsFormatException, ModelFormatException, TokenizerFormatException, HubException; the server's ApiError, which
// becomes a 4xx). Anything else — IndexOutOfRange, InvalidOperation, NullReference, OutOfMemory, a hang — escapes Run and
// is a finding.

using System.Text;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.ModernBert;
using CrossEncoder.Native.Model.Qwen;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Server;
using Microsoft.AspNetCore.Http;

namespace CrossEncoder.Fuzz;

/// <summary>A defect the fuzzers found: the target, the exception's type name, the throwing method
/// (<see cref="FuzzTargets.ThrowSite"/>; null = anywhere) and the start of its message (null = any).</summary>
internal sealed record KnownFinding(string Target, string Exception, string? Site, string? MessageStart, string Description);

/// <summary>The fuzz targets by name; one instance owns a scratch folder the file-based readers are pointed at.</summary>
internal sealed class FuzzTargets : IDisposable
{
    /// <summary>Every target, in the order the README lists them.</summary>
    public static readonly IReadOnlyList<string> Names =
        ["safetensors", "config", "tokenizer-json", "vocab", "sentencepiece", "hub-json", "server-request"];

    /// <summary>Texts every loaded tokenizer encodes: ASCII, accents, CJK, an astral character, whitespace runs and the
    /// special-token spellings of the three tokenizer families.</summary>
    private static readonly string[] Texts =
        ["Hello, world! what is a cross-encoder?", "Ünïcödé cafe\u0301 \ufb01 你好 \ud83d\ude00  tabs\tand\nlines ", "[CLS] <s> </s> <|im_start|>yes<mask>"];

    private readonly string _scratch;
    private readonly bool _ownsScratch;

    /// <summary>Creates the targets over <paramref name="scratch"/> (a fresh temporary folder when null, deleted on dispose).</summary>
    public FuzzTargets(string? scratch = null)
    {
        _ownsScratch = scratch is null;
        _scratch = scratch ?? Path.Combine(Path.GetTempPath(), $"crossencoder-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_scratch);
    }

    /// <summary>True for the typed exceptions a target's readers document; anything else is a finding.</summary>
    public static bool IsExpected(string target, Exception e) => target switch
    {
        "safetensors" => e is SafeTensorsFormatException,
        "config" => e is ModelFormatException,
        "tokenizer-json" or "vocab" or "sentencepiece" => e is TokenizerFormatException,
        "hub-json" => e is HubException or SafeTensorsFormatException,
        "server-request" => e is ApiError,
        _ => throw new ArgumentException($"unknown fuzz target '{target}'; the targets are {string.Join(", ", Names)}.", nameof(target)),
    };

    /// <summary>
    /// The defects found so far and not fixed yet (tools/fuzz/README.md lists them with inputs). The in-suite replay tolerates
    /// exactly these and checks each still reproduces from a file of tools/fuzz/crashes/; the afl harness ignores them unless
    /// run with <c>--all</c>, so afl looks past them. Remove an entry when its defect is fixed.
    /// </summary>
    public static readonly KnownFinding[] KnownFindings =
    [
        // Empty: the ten findings of the first afl and mutation runs (issue 20) are fixed; their inputs stay in crashes/ and
        // hangs/ as regression cases that the replay runs like the corpus.
    ];

    /// <summary>The known finding <paramref name="e"/> is an instance of, or null when it is new.</summary>
    public static KnownFinding? Known(string target, Exception e)
    {
        string? site = ThrowSite(e);
        foreach (var k in KnownFindings)
            if (k.Target == target && k.Exception == e.GetType().Name && (k.Site is null || k.Site == site) && (k.MessageStart is null || e.Message.StartsWith(k.MessageStart, StringComparison.Ordinal)))
                return k;
        return null;
    }

    /// <summary>Where in the library an exception was thrown: <c>Type.Method</c> of the innermost CrossEncoder.Native or
    /// CrossEncoder.Server frame (a lambda or iterator named after the method that holds it), or null when none.</summary>
    public static string? ThrowSite(Exception e)
    {
        foreach (var frame in new System.Diagnostics.StackTrace(e).GetFrames())
        {
            var method = frame.GetMethod();
            Type? type = method?.DeclaringType;
            if (method is null || type is null) continue;
            string name = method.Name;
            while (type.DeclaringType is not null && type.Name.StartsWith('<'))
            {
                if (name is "MoveNext" or "Invoke" || !name.StartsWith('<')) name = type.Name;   // an iterator or async state machine
                type = type.DeclaringType;
            }
            if (name.StartsWith('<') && name.IndexOf('>') is > 1 and var close) name = name[1..close];
            string ns = type.Namespace ?? "";
            if ((ns.StartsWith("CrossEncoder.Native", StringComparison.Ordinal) && !ns.StartsWith("CrossEncoder.Native.Tests", StringComparison.Ordinal))
                || ns.StartsWith("CrossEncoder.Server", StringComparison.Ordinal))
                return $"{type.Name}.{name}";
        }
        return null;
    }

    /// <summary>Runs <paramref name="input"/> through <paramref name="target"/>; returns normally when every reader either
    /// accepted it or refused it with its typed exception, and lets any other exception escape.</summary>
    public void Run(string target, byte[] input)
    {
        _ = IsExpected(target, new Exception());   // validates the name
        Action<byte[], Action<Action>> body = target switch
        {
            "safetensors" => SafeTensors,
            "config" => Config,
            "tokenizer-json" => TokenizerJson,
            "vocab" => Vocab,
            "sentencepiece" => SentencePiece,
            "hub-json" => HubJson,
            _ => ServerRequest,
        };
        // Each step is one reader: a typed refusal ends that step only, so one input exercises every reader of the target.
        body(input, step =>
        {
            try { step(); }
            catch (Exception e) when (IsExpected(target, e)) { }
        });
    }

    private string Folder(string name)
    {
        string folder = Path.Combine(_scratch, name);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static string Write(string folder, string file, byte[] bytes)
    {
        string path = Path.Combine(folder, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // safetensors: open (header validation), then read every tensor as the loaders do.
    private void SafeTensors(byte[] input, Action<Action> step)
    {
        string path = Write(Folder("safetensors"), "model.safetensors", input);
        step(() =>
        {
            using var file = SafeTensorsFile.Open(path);
            foreach (var (name, info) in file.Tensors)
            {
                _ = file.GetBytes(name).Length;
                if (info.DType is SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F64 && info.ByteLength <= 1 << 24)
                    _ = file.ReadFloat32(name);
            }
            _ = file.Metadata.Count;
        });
        step(() =>
        {
            using var checkpoint = SafeTensorsCheckpoint.OpenFolder(Path.GetDirectoryName(path)!);
            _ = checkpoint.Tensors.Count;
        });
    }

    // config.json: the folder header (model_type, architectures, sentence-transformers fields), the family choice and each
    // family's config reader; then the same bytes as config_sentence_transformers.json beside a valid config.json.
    private void Config(byte[] input, Action<Action> step)
    {
        string folder = Folder("config");
        string config = Write(folder, "config.json", input);
        step(() => ModelLoader.FamilyFor(ModelFolder.Open(folder)));
        step(() => BertConfig.Load(config));
        step(() => BertConfig.Parse(Encoding.UTF8.GetString(input)));
        step(() => ModernBertConfig.Load(config));
        step(() => QwenConfig.Load(config, "qwen3"));
        step(() => QwenConfig.Load(config, "qwen2"));
        string withSentenceTransformers = Folder("config-st");
        Write(withSentenceTransformers, "config.json", """{"model_type": "bert", "architectures": ["BertForSequenceClassification"]}"""u8.ToArray());
        Write(withSentenceTransformers, ModelFolder.SentenceTransformersConfigFile, input);
        step(() => _ = ModelFolder.Open(withSentenceTransformers).QueryPrompt);
    }

    // tokenizer.json: the folder loader (BertTokenizer for BERT WordPiece, PipelineTokenizer otherwise) and the pipeline
    // reader directly, each tokenizer then encoding the fixed texts and a slice of the input.
    private void TokenizerJson(byte[] input, Action<Action> step)
    {
        string folder = Folder("tokenizer-json");
        string path = Write(folder, "tokenizer.json", input);
        step(() => Exercise(TokenizerLoader.FromModelFolder(folder), input));
        step(() => Exercise(PipelineTokenizer.FromTokenizerJson(path), input));
    }

    // vocab.txt: BERT's WordPiece vocabulary, lower-cased and cased.
    private void Vocab(byte[] input, Action<Action> step)
    {
        string path = Write(Folder("vocab"), "vocab.txt", input);
        step(() => Exercise(BertTokenizer.FromVocabFile(path), input));
        step(() => Exercise(BertTokenizer.FromVocabFile(path, new BertTokenizerOptions { LowerCase = false, ModelMaxLength = 16 }), input));
    }

    // SentencePiece .model (protobuf ModelProto), with its own ids and with fairseq's (XLM-RoBERTa).
    private void SentencePiece(byte[] input, Action<Action> step)
    {
        string path = Write(Folder("sentencepiece"), "sentencepiece.bpe.model", input);
        step(() => Exercise(PipelineTokenizer.FromSentencePieceModel(path), input));
        step(() => Exercise(PipelineTokenizer.FromSentencePieceModel(path, SentencePieceIds.Fairseq), input));
    }

    // (No static field calls into the library: under afl, instrumented code must not run before SharpFuzz's loop starts.)
    private static HubModelId HubId => HubModelId.TryParse("org/model", out var id) ? id : throw new InvalidOperationException();
    private static readonly Uri RevisionUri = new("https://huggingface.co/api/models/org/model/revision/main");

    // The Hub's JSON: the revision reply (sha + siblings) and the file selection over it; then the same bytes as the
    // snapshot's modules.json and model.safetensors.index.json, whose entries name further downloads.
    private void HubJson(byte[] input, Action<Action> step)
    {
        var repoFiles = new HashSet<string>(StringComparer.Ordinal)
        {
            "config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "modules.json",
            "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "model-00001-of-00002.safetensors",
        };
        step(() =>
        {
            var (_, files) = HubDownloader.ParseRevision(input, RevisionUri, HubId);
            step(() => ModelFiles.Select(files, HubId));
            repoFiles.UnionWith(files);
        });
        string modules = Folder("hub-modules");
        Write(modules, "modules.json", input);
        step(() => ModelFiles.Dependents(modules, repoFiles, HubId));
        string index = Folder("hub-index");
        Write(index, SafeTensorsIndex.FileName, input);
        step(() => ModelFiles.Dependents(index, repoFiles, HubId));
        step(() => SafeTensorsIndex.Parse(Path.Combine(index, SafeTensorsIndex.FileName), input));
    }

    // The server's request bodies: the JSON reader every route shares, then each route's fields as the route reads them.
    private static void ServerRequest(byte[] input, Action<Action> step)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(input, writable: false);
        context.Request.ContentType = "application/json";
        System.Text.Json.JsonElement body = default;
        bool parsed = false;
        step(() => { body = Json.ReadBodyAsync(context.Request, CancellationToken.None).GetAwaiter().GetResult(); parsed = true; });
        if (!parsed) return;
        // TEI /rerank
        step(() =>
        {
            Json.RequiredString(body, "query");
            Json.StringArray(body, "texts");
            Json.OptionalBool(body, "truncate"); Json.OptionalBool(body, "raw_scores"); Json.OptionalBool(body, "return_text");
            Json.OptionalString(body, "truncation_direction"); Json.OptionalString(body, "instruction");
        });
        // Cohere v2 /v2/rerank
        step(() =>
        {
            Json.OptionalString(body, "model");
            Json.RequiredString(body, "query");
            Json.StringArray(body, "documents");
            Json.OptionalPositiveInt(body, "top_n"); Json.OptionalPositiveInt(body, "max_tokens_per_doc");
        });
        // Jina / Cohere v1 /v1/rerank: documents may be {"text": ...}
        step(() =>
        {
            Json.RequiredString(body, "query");
            Json.StringArray(body, "documents", allowTextObjects: true);
            Json.OptionalPositiveInt(body, "top_n"); Json.OptionalBool(body, "return_documents");
        });
        // TEI /embed: inputs is a string or an array of strings
        step(() =>
        {
            if (!(body.TryGetProperty("inputs", out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String)) Json.StringArray(body, "inputs");
            Json.OptionalBool(body, "normalize");
        });
        // /explain
        step(() =>
        {
            Json.RequiredString(body, "query");
            Json.OptionalString(body, "document"); Json.OptionalString(body, "text");
            Json.OptionalPositiveInt(body, "max_length"); Json.OptionalBool(body, "sentences"); Json.OptionalBool(body, "query_words");
        });
        // The long-document fields of every rerank route (RerankServer's LongDocuments).
        step(() =>
        {
            Json.OptionalString(body, "long_documents");
            Json.OptionalPositiveInt(body, "chunk_window"); Json.OptionalNonNegativeInt(body, "chunk_overlap");
            if (Json.OptionalString(body, "chunk_aggregation") is { } aggregate) ChunkAggregationText.TryParse(aggregate, out _, out _);
        });
    }

    /// <summary>Uses a loaded tokenizer as the reranker does: ids, offsets, pairs and singles within its length, token strings.</summary>
    private static void Exercise(ITextPairTokenizer tokenizer, byte[] input)
    {
        string fromInput = Encoding.UTF8.GetString(input, 0, Math.Min(input.Length, 256));
        int maxLength = Math.Min(tokenizer.ModelMaxLength, 24);
        string[] texts = [.. Texts, fromInput];
        foreach (string text in texts)
        {
            int[] ids = tokenizer.EncodeToIds(text);
            foreach (int id in ids) _ = tokenizer.IdToToken(id);
            if (maxLength >= 3) _ = tokenizer.EncodePair(Texts[0], text, maxLength);
            if (maxLength >= 2) _ = tokenizer.EncodeSingle(text, maxLength);
        }
        _ = tokenizer.TryGetTokenId("[CLS]", out _);
        // Offsets last: a known finding (SentencePiece) throws here, and everything above has run by then.
        foreach (string text in texts)
        {
            var (ids, offsets) = tokenizer.EncodeToIdsWithOffsets(text);
            if (ids.Length != offsets.Length) throw new InvalidOperationException($"EncodeToIdsWithOffsets gave {ids.Length} ids but {offsets.Length} offsets.");
            if (!ids.AsSpan().SequenceEqual(tokenizer.EncodeToIds(text))) throw new InvalidOperationException("EncodeToIdsWithOffsets and EncodeToIds disagree on the ids.");
        }
    }

    /// <summary>Deletes the scratch folder when this instance created it.</summary>
    public void Dispose()
    {
        if (_ownsScratch && Directory.Exists(_scratch))
            try { Directory.Delete(_scratch, recursive: true); } catch (IOException) { }
    }
}
