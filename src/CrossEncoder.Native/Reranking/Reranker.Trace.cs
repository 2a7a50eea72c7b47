using System.Diagnostics;
using System.Numerics.Tensors;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

public sealed partial class Reranker
{
    /// <summary>
    /// Runs one (query, document) pair through the model exactly as <see cref="Rerank"/> encodes and scores it, and records
    /// every stage: the tokens, the embedding, each layer's attention probabilities, attention and feed-forward outputs and
    /// residual stream (shape, norms, time), the <paramref name="topTokens"/> keys the scoring position attends to most per
    /// layer, the head and the score. A bi-encoder's query and document are traced as two sequences, its score is their cosine.
    /// </summary>
    /// <param name="query">The query.</param>
    /// <param name="document">The document.</param>
    /// <param name="options">Maximum length, truncation, a decoder's instruction (as for <see cref="Rerank"/>).</param>
    /// <param name="topTokens">How many attended keys to keep per layer (1 to 64).</param>
    /// <param name="cancellationToken">Checked between layers.</param>
    /// <returns>The trace; its <see cref="ForwardTrace.Score"/> is the pair's <see cref="Rerank"/> score (to float rounding:
    /// the traced pass computes every row of the last layer and no cached prompt prefix).</returns>
    /// <exception cref="ArgumentNullException">query or document is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">topTokens or options.MaxLength is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public ForwardTrace Trace(string query, string document, RerankOptions? options = null, int topTokens = 5, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        if (topTokens is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(topTokens), topTokens, "topTokens must be between 1 and 64.");
        long start = Stopwatch.GetTimestamp();
        RerankInputs inputs = Encode(query, [document], options, cancellationToken);
        TimeSpan tokenizeTime = Stopwatch.GetElapsedTime(start);
        bool decoder = Model is IPrefixCachingModel;
        string[] roles = inputs.ByCosine ? ["query", "document"] : [Model is IPromptedReranker { Description.Prompt: not null } ? "prompt" : "pair"];
        var sequences = new SequenceTrace[inputs.Sequences.Count];
        var outputs = new float[inputs.Sequences.Count * OutputSize];
        for (int s = 0; s < sequences.Length; s++)
        {
            EncodedPair input = inputs.Sequences[s];
            var recorder = new TraceRecorder(input, Tokenizer, decoder ? input.Length - 1 : 0, Model.Description.Layers, topTokens);
            long begin = Stopwatch.GetTimestamp();
            recorder.Restart();
            float[] output = RunTapped(input, recorder.Tap, cancellationToken);
            output.CopyTo(outputs, s * OutputSize);
            sequences[s] = recorder.Finish(roles[s], decoder
                ? "the last token: a decoder reads its score (or its embedding) at the final position, which sees every token before it"
                : "the first token ([CLS]): a cross-encoder's head reads it; a bi-encoder pools all tokens, [CLS] is shown as one view",
                output, Stopwatch.GetElapsedTime(begin));
        }
        RerankResult result = Score(inputs, outputs)[0];
        string rule = inputs.ByCosine ? "cosine(query, document)" : Model.Description.ScoreTransform == ScoreTransform.Identity ? "logit" : "sigmoid(logit)";
        return new ForwardTrace
        {
            Model = Model.Description, Sequences = sequences, Score = result.Score, Logit = result.Logit, ScoreRule = rule,
            Truncation = result.Truncation, TokenizeTime = tokenizeTime,
        };
    }

    /// <summary>Turns one tapped pass's reports into a <see cref="SequenceTrace"/>: stage times are the gaps between reports,
    /// the recorder's own work excluded.</summary>
    private sealed class TraceRecorder(EncodedPair input, ITextPairTokenizer tokenizer, int focus, int layers, int topTokens)
    {
        private readonly Dictionary<string, TraceStage> _stages = new(StringComparer.Ordinal);
        private readonly List<TraceStage> _head = [];
        private readonly (AttendedToken[] Top, AttendedToken[] HeadTop, float[][] Focus)[] _attention = new (AttendedToken[], AttendedToken[], float[][])[layers];
        private readonly string[] _texts = Enumerable.Range(0, input.Length)
            .Select(i => input.Tokens is { } t && t.Length == input.Length ? t[i] : tokenizer.IdToToken(input.InputIds[i])).ToArray();
        private long _last;
        private bool _layersDone;

        public void Restart() => _last = Stopwatch.GetTimestamp();

        public void Tap(string name, ReadOnlySpan<float> values, int rows, int columns)
        {
            TimeSpan elapsed = Stopwatch.GetElapsedTime(_last);
            int t = input.Length;
            if (name.EndsWith(".attention.probabilities", StringComparison.Ordinal))
            {
                int layer = int.Parse(name.AsSpan(6, name.IndexOf('.', 6) - 6), System.Globalization.CultureInfo.InvariantCulture);
                int heads = rows / t;
                var mean = new float[t];
                var perHead = new float[heads][];
                var headTop = new AttendedToken[heads];
                for (int h = 0; h < heads; h++)
                {
                    ReadOnlySpan<float> row = values.Slice((h * t + focus) * t, t);   // head h, query = the focus position
                    perHead[h] = row.ToArray();
                    TensorPrimitives.Add(mean, row, mean);
                    int best = TensorPrimitives.IndexOfMax(row);
                    headTop[h] = new AttendedToken(best, _texts[best], row[best], h);
                }
                TensorPrimitives.Divide(mean, heads, mean);
                var top = Enumerable.Range(0, t).OrderByDescending(j => mean[j]).ThenBy(j => j).Take(topTokens)
                    .Select(j => new AttendedToken(j, _texts[j], mean[j], -1)).ToArray();
                _attention[layer] = (top, headTop, perHead);
                _stages[name] = Stage(name, values, rows, columns, TensorPrimitives.Norm(mean), mean, elapsed);
            }
            else
            {
                int focusRow = rows == t ? focus : 0;
                var stage = Stage(name, values, rows, columns, TensorPrimitives.Norm(values.Slice(focusRow * columns, columns)), values.Slice(focusRow * columns, columns), elapsed);
                if (_layersDone) _head.Add(stage);
                else _stages[name] = stage;
                if (name == ModelTaps.Layer(layers - 1)) _layersDone = true;
            }
            _last = Stopwatch.GetTimestamp();
        }

        private static TraceStage Stage(string name, ReadOnlySpan<float> values, int rows, int columns, double focusNorm, ReadOnlySpan<float> focusRow, TimeSpan elapsed)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++) sum += TensorPrimitives.Norm(values.Slice(r * columns, columns));
            return new TraceStage(name, rows, columns, rows == 0 ? 0 : sum / rows, focusNorm, focusRow[..Math.Min(8, focusRow.Length)].ToArray(), elapsed);
        }

        public SequenceTrace Finish(string role, string focusRule, float[] output, TimeSpan elapsed)
        {
            TraceStage Get(string name) => _stages.TryGetValue(name, out var stage) ? stage
                : throw new InvalidOperationException($"The model reported no '{name}' activation; a family must report every tap of ModelTaps.");
            var layerTraces = new LayerTrace[layers];
            for (int l = 0; l < layers; l++)
            {
                var (top, headTop, focusAttention) = _attention[l];
                layerTraces[l] = new LayerTrace
                {
                    Index = l, Heads = headTop?.Length ?? 0,
                    Probabilities = Get(ModelTaps.AttentionProbabilities(l)), Attention = Get(ModelTaps.AttentionOutput(l)),
                    AttentionResidual = Get(ModelTaps.AttentionResidual(l)), FeedForwardIntermediate = Get(ModelTaps.FeedForwardIntermediate(l)),
                    FeedForward = Get(ModelTaps.FeedForwardOutput(l)), Output = Get(ModelTaps.Layer(l)),
                    TopAttended = top, HeadTop = headTop!, FocusAttention = focusAttention!,
                };
            }
            return new SequenceTrace
            {
                Role = role,
                Tokens = [.. Enumerable.Range(0, input.Length).Select(i => new TracedToken(i, input.InputIds[i], input.TokenTypeIds[i], _texts[i]))],
                FocusPosition = focus, FocusRule = focusRule, Embeddings = Get(ModelTaps.Embeddings), Layers = layerTraces,
                Head = _head, Output = output, Elapsed = elapsed,
            };
        }
    }

    /// <summary>
    /// Runs one encoded sequence alone through the model with an activation <paramref name="tap"/> (every intermediate of
    /// <see cref="ModelTaps"/> is reported, and computed in full: no last-row shortcut, no prefix cache) in a pooled workspace,
    /// and returns its output row [OutputSize] (a cross-encoder's logit, a bi-encoder's embedding). What <see cref="Rerank"/>
    /// computes for the same input, up to the float rounding of the shortcuts it skips.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The sequence is longer than <see cref="ModelMaxLength"/>.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked between layers).</exception>
    internal float[] RunTapped(EncodedPair input, ActivationTap tap, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(tap);
        if (input.Length == 0 || input.Length > _modelMaxLength)
            throw new ArgumentOutOfRangeException(nameof(input), input.Length, $"A traced sequence has between 1 and the model's limit of {_modelMaxLength} tokens.");
        ModelWorkspace workspace = RentWorkspace(input.Length);
        try
        {
            workspace.Batch.Clear();
            workspace.Batch.Add(input);
            return Model.Forward(workspace, tap, cancellationToken)[..OutputSize].ToArray();   // [OutputSize]
        }
        finally
        {
            workspace.Batch.Clear();
            workspace.ReleaseTapScratch();
            if (_workspaces.Count < Environment.ProcessorCount) _workspaces.Add(workspace);
        }
    }
}
