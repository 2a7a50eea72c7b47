using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using CrossEncoder.Evaluation.Data;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Evaluation.Retrieval;

/// <summary>
/// Dense retrieval with any bi-encoder the library loads (<see cref="Reranker.Load"/> then <see cref="Reranker.Embed(IReadOnlyList{string}, Span{float}, int?, CancellationToken)"/>):
/// every document (<c>title + " " + text</c>) is embedded once and the vectors are cached in
/// <c>&lt;cache&gt;/dense-&lt;model key&gt;-&lt;corpus key&gt;-L&lt;max length&gt;.f32</c>; each query is embedded and compared with all
/// documents by cosine similarity (exact search, no approximate index).
/// </summary>
public sealed class DenseFirstStage : IFirstStage
{
    private const uint Magic = 0x31424D45;   // "EMB1"
    private const int EmbedChunk = 256;      // texts per Embed call: progress is reported between calls
    private readonly IReadOnlyList<BeirDocument> _corpus;
    private readonly string _model;
    private readonly string _cacheDirectory;
    private readonly int? _maxLength;
    private readonly RerankerOptions? _modelOptions;

    /// <summary>Prepares dense retrieval with the bi-encoder <paramref name="model"/>.</summary>
    /// <param name="corpus">The documents.</param>
    /// <param name="model">A bi-encoder model folder (e.g. all-MiniLM-L6-v2, or an XLM-RoBERTa one with only a tokenizer.json), or a
    /// Hub id <c>org/name[@revision]</c>, downloaded once into the huggingface_hub cache; a folder that exists wins.</param>
    /// <param name="cacheDirectory">Where document embeddings are kept between runs.</param>
    /// <param name="maxLength">Longest input in tokens; null = the model's limit.</param>
    /// <param name="modelOptions">How the model is loaded (<see cref="RerankerOptions.Hub"/> for a Hub id, batch sizes); null = defaults.</param>
    public DenseFirstStage(IReadOnlyList<BeirDocument> corpus, string model, string cacheDirectory, int? maxLength = null, RerankerOptions? modelOptions = null)
    {
        _corpus = corpus ?? throw new ArgumentNullException(nameof(corpus));
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _cacheDirectory = cacheDirectory ?? throw new ArgumentNullException(nameof(cacheDirectory));
        _maxLength = maxLength;
        _modelOptions = modelOptions;
    }

    /// <inheritdoc/>
    public string Name => "dense";

    /// <inheritdoc/>
    /// <exception cref="FormatException">The model is a cross-encoder (it has no sentence embedding), or a file is malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The maximum length is below 2 or above the model's limit.</exception>
    public FirstStageResult Retrieve(IReadOnlyList<BeirQuery> queries, int depth, IProgress<StageProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        var clock = Stopwatch.StartNew();
        // A Hub id is resolved to its snapshot folder here, not inside Reranker.Load, so the cache key reads the model's files.
        string folder = Directory.Exists(_model) || !HubModelId.TryParse(_model, out var id)
            ? _model
            : HubDownloader.DownloadModelAsync(id, _modelOptions?.Hub, cancellationToken).GetAwaiter().GetResult();
        using var encoder = Reranker.Load(folder, _modelOptions, cancellationToken);
        int h = encoder.EmbeddingSize;   // 0 for a cross-encoder
        if (h == 0)
            throw new FormatException($"'{_model}' is a cross-encoder (it scores pairs); dense retrieval needs a bi-encoder that embeds texts (e.g. all-MiniLM-L6-v2).");
        int maxLength = _maxLength ?? encoder.ModelMaxLength;
        if (maxLength < 2 || maxLength > encoder.ModelMaxLength)
            throw new ArgumentOutOfRangeException("maxLength", maxLength, $"the maximum length must be between 2 and the model's limit {encoder.ModelMaxLength}.");
        string cachePath = Path.Combine(_cacheDirectory, $"dense-{ContentKey.OfModel(folder)}-{ContentKey.Of(_corpus)}-L{maxLength}.f32");
        long tokens = 0;
        float[]? documents = TryReadCache(cachePath, _corpus.Count, h);   // [D, H]
        bool cached = documents is not null;
        if (documents is null)
        {
            var texts = _corpus.Select(d => d.FullText).ToArray();
            documents = new float[Rows(texts.Length, h)];
            tokens = Embed(encoder, texts, documents, maxLength, "dense: embed corpus", progress, cancellationToken);
            WriteCache(cachePath, documents, _corpus.Count, h);
        }
        for (int i = 0; i < _corpus.Count; i++) Normalize(documents.AsSpan(i * h, h));
        double indexSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        var queryTexts = queries.Select(q => q.Text).ToArray();
        var queryVectors = new float[Rows(queryTexts.Length, h)];                     // [Q, H]
        tokens += Embed(encoder, queryTexts, queryVectors, maxLength, stage: null, progress: null, cancellationToken);
        var run = new TrecRun();
        var scores = new float[_corpus.Count];                                         // [D]
        for (int qi = 0; qi < queries.Count; qi++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var q = queryVectors.AsSpan(qi * h, h);
            Normalize(q);
            for (int d = 0; d < scores.Length; d++) scores[d] = TensorPrimitives.Dot(q, documents.AsSpan(d * h, h));   // cosine
            var top = Enumerable.Range(0, scores.Length)
                .Select(d => new ScoredDocument(_corpus[d].Id, scores[d]))
                .Order(Comparer<ScoredDocument>.Create(TrecRun.TrecOrder)).Take(depth);
            run.Set(queries[qi].Id, top);
            progress?.Report(new StageProgress("dense search", qi + 1, queries.Count, 0));
        }
        return new FirstStageResult(run, indexSeconds, cached, clock.Elapsed.TotalSeconds, tokens);
    }

    /// <summary>
    /// Embeds <paramref name="texts"/> into the rows of <paramref name="destination"/> [n, H], <see cref="EmbedChunk"/> texts per
    /// <see cref="Reranker.Embed(IReadOnlyList{string}, Span{float}, int?, CancellationToken)"/> call, reporting after each;
    /// returns the tokens the model read (specials included, after truncation).
    /// </summary>
    private static long Embed(Reranker encoder, string[] texts, float[] destination, int maxLength, string? stage, IProgress<StageProgress>? progress,
        CancellationToken cancellationToken)
    {
        int h = encoder.EmbeddingSize;
        long tokens = 0;
        for (int start = 0; start < texts.Length; start += EmbedChunk)
        {
            var chunk = new ArraySegment<string>(texts, start, Math.Min(EmbedChunk, texts.Length - start));
            encoder.Embed(chunk, destination.AsSpan(start * h, chunk.Count * h), maxLength, cancellationToken);
            foreach (string text in chunk) tokens += encoder.Tokenizer.EncodeSingle(text, maxLength).Length;
            if (stage is not null) progress?.Report(new StageProgress(stage, start + chunk.Count, texts.Length, tokens));
        }
        return tokens;
    }

    /// <summary>The length of an [n, H] block, refused when it would not fit one array.</summary>
    private static int Rows(int n, int h) =>
        (long)n * h <= Array.MaxLength ? n * h : throw new InvalidOperationException($"{n} embeddings of {h} floats do not fit one array.");

    private static void Normalize(Span<float> vector)
    {
        float norm = TensorPrimitives.Norm(vector);
        if (norm > 0) TensorPrimitives.Divide(vector, norm, vector);
    }

    /// <summary>Cache layout: uint32 magic "EMB1", int32 count, int32 dimension, then count x dimension float32, little-endian.</summary>
    private static float[]? TryReadCache(string path, int count, int dimension)
    {
        if (!File.Exists(path)) return null;
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length != 12 + (long)count * dimension * 4) return null;
        var header = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(0, 12));
        if ((uint)header[0] != Magic || header[1] != count || header[2] != dimension) return null;
        return MemoryMarshal.Cast<byte, float>(bytes.AsSpan(12)).ToArray();
    }

    private void WriteCache(string path, float[] vectors, int count, int dimension)
    {
        Directory.CreateDirectory(_cacheDirectory);
        string temporary = path + ".tmp-" + Environment.ProcessId;
        using (var stream = File.Create(temporary))
        {
            stream.Write(MemoryMarshal.AsBytes<int>([(int)Magic, count, dimension]));
            stream.Write(MemoryMarshal.AsBytes(vectors.AsSpan()));
        }
        File.Move(temporary, path, overwrite: true);
    }
}
