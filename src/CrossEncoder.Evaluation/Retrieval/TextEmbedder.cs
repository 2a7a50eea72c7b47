using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Evaluation.Retrieval;

/// <summary>
/// Sentence embeddings from a bi-encoder model folder through this project's engine (BertModel + BertTokenizer), in batches
/// bounded by a token budget, longest first. A small internal helper until the library has a public Embed API (issue 10);
/// it does what Reranker does for its bi-encoder path, but keeps the document vectors so they can be cached.
/// </summary>
internal sealed class TextEmbedder
{
    private const int MaxBatchTokens = 8192, MaxBatchSequences = 128;
    private readonly BertWorkspace _workspace;

    public TextEmbedder(string modelDirectory, int? maxLength)
    {
        Model = BertModel.Load(modelDirectory);
        if (Model.Kind != ModelKind.BiEncoder)
            throw new FormatException($"'{modelDirectory}' is a cross-encoder (it scores pairs); dense retrieval needs a bi-encoder that embeds texts (e.g. all-MiniLM-L6-v2).");
        Tokenizer = BertTokenizer.FromModelFolder(modelDirectory);
        int limit = Math.Min(Model.Config.MaxPositionEmbeddings, Tokenizer.ModelMaxLength);
        MaxLength = maxLength ?? limit;
        if (MaxLength < 2 || MaxLength > limit) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"the maximum length must be between 2 and the model's limit {limit}.");
        _workspace = Model.CreateWorkspace(Math.Max(MaxBatchTokens, limit), MaxBatchSequences);
    }

    public BertModel Model { get; }
    public BertTokenizer Tokenizer { get; }
    public int MaxLength { get; }

    /// <summary>Width of one embedding (H).</summary>
    public int Dimension => Model.OutputSize;

    /// <summary>Embeds each text; returns [n, H] row-major. <paramref name="progress"/> receives (texts done, tokens done).</summary>
    public float[] Embed(IReadOnlyList<string> texts, Action<int, long>? progress, CancellationToken cancellationToken)
    {
        var inputs = new EncodedPair[texts.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            if ((i & 63) == 0) cancellationToken.ThrowIfCancellationRequested();
            inputs[i] = Tokenizer.EncodeSingle(texts[i], MaxLength);
        }
        int h = Dimension;
        var output = new float[(long)inputs.Length * h > int.MaxValue ? throw new InvalidOperationException("too many texts for one array") : inputs.Length * h];   // [n, H]
        int[] order = Enumerable.Range(0, inputs.Length).ToArray();
        Array.Sort(order, (x, y) => inputs[y].Length != inputs[x].Length ? inputs[y].Length.CompareTo(inputs[x].Length) : x.CompareTo(y));
        int next = 0;
        long tokens = 0;
        while (next < order.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = _workspace.Batch;
            batch.Clear();
            int first = next;
            while (next < order.Length && batch.CanAdd(inputs[order[next]].Length))
            {
                batch.Add(inputs[order[next]].InputIds, inputs[order[next]].TokenTypeIds);
                tokens += inputs[order[next]].Length;
                next++;
            }
            ReadOnlySpan<float> rows = Model.Forward(_workspace, tap: null, cancellationToken);   // [b, H]
            for (int j = first; j < next; j++)
                rows.Slice((j - first) * h, h).CopyTo(output.AsSpan(order[j] * h, h));
            progress?.Invoke(next, tokens);
        }
        return output;
    }

    /// <summary>Tokens (specials included) of one text as the model reads it.</summary>
    public int CountTokens(string text) => Tokenizer.EncodeSingle(text, MaxLength).Length;
}
