using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using CrossEncoder.Evaluation.Data;

namespace CrossEncoder.Evaluation.Retrieval;

/// <summary>
/// Dense retrieval with a bi-encoder run by this project's engine: every document (<c>title + " " + text</c>) is embedded once
/// and the vectors are cached in <c>&lt;cache&gt;/dense-&lt;model key&gt;-&lt;corpus key&gt;-L&lt;max length&gt;.f32</c>; each query is
/// embedded and compared with all documents by cosine similarity (exact search, no approximate index).
/// </summary>
public sealed class DenseFirstStage : IFirstStage
{
    private const uint Magic = 0x31424D45;   // "EMB1"
    private readonly IReadOnlyList<BeirDocument> _corpus;
    private readonly string _modelDirectory;
    private readonly string _cacheDirectory;
    private readonly int? _maxLength;

    /// <summary>Prepares dense retrieval with the bi-encoder in <paramref name="modelDirectory"/>.</summary>
    /// <param name="corpus">The documents.</param>
    /// <param name="modelDirectory">A bi-encoder model folder (e.g. all-MiniLM-L6-v2).</param>
    /// <param name="cacheDirectory">Where document embeddings are kept between runs.</param>
    /// <param name="maxLength">Longest input in tokens; null = the model's limit.</param>
    public DenseFirstStage(IReadOnlyList<BeirDocument> corpus, string modelDirectory, string cacheDirectory, int? maxLength = null)
    {
        _corpus = corpus ?? throw new ArgumentNullException(nameof(corpus));
        _modelDirectory = modelDirectory ?? throw new ArgumentNullException(nameof(modelDirectory));
        _cacheDirectory = cacheDirectory ?? throw new ArgumentNullException(nameof(cacheDirectory));
        _maxLength = maxLength;
    }

    /// <inheritdoc/>
    public string Name => "dense";

    /// <inheritdoc/>
    public FirstStageResult Retrieve(IReadOnlyList<BeirQuery> queries, int depth, IProgress<StageProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        var clock = Stopwatch.StartNew();
        var embedder = new TextEmbedder(_modelDirectory, _maxLength);
        int h = embedder.Dimension;
        string cachePath = Path.Combine(_cacheDirectory, $"dense-{ContentKey.OfModel(_modelDirectory)}-{ContentKey.Of(_corpus)}-L{embedder.MaxLength}.f32");
        long tokens = 0;
        float[]? documents = TryReadCache(cachePath, _corpus.Count, h);
        bool cached = documents is not null;
        if (documents is null)
        {
            var texts = _corpus.Select(d => d.FullText).ToArray();
            documents = embedder.Embed(texts, (done, t) => progress?.Report(new StageProgress("dense: embed corpus", done, texts.Length, t)), cancellationToken);   // [D, H]
            tokens = texts.Sum(t => (long)embedder.CountTokens(t));
            WriteCache(cachePath, documents, _corpus.Count, h);
        }
        for (int i = 0; i < _corpus.Count; i++) Normalize(documents.AsSpan(i * h, h));
        double indexSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        var queryTexts = queries.Select(q => q.Text).ToArray();
        float[] queryVectors = embedder.Embed(queryTexts, null, cancellationToken);   // [Q, H]
        tokens += queryTexts.Sum(t => (long)embedder.CountTokens(t));
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
