using System.Collections.Immutable;
using System.Text.Json;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Tests.Model.Toy;

/// <summary>
/// A test-only model family, to show that a family is a folder plus a weight-name map: nothing in Reranker, the server, the
/// CLI or eval knows it. The model: token embeddings, L residual GELU mixers (<c>h += GELU(h W^T + b)</c>, int8-quantizable),
/// the mean over the sequence's tokens, and a one-label score head. <c>config.json</c>: <c>model_type: "toy"</c>.
/// </summary>
internal sealed class ToyFamily : IModelFamily
{
    public static readonly ToyFamily Instance = new();

    public string Name => "toy";

    public IReadOnlyCollection<string> ModelTypes { get; } = ["toy"];

    public ITransformerModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities) => new ToyModel(folder, precision, capabilities);

    /// <summary>Registers the family with the loader (idempotent).</summary>
    public static void Register() => ModelLoader.Register(Instance);
}

internal sealed class ToyModel : ITransformerModel
{
    private readonly float[] _embeddings;   // [V, H]
    private readonly Linear[] _mixers;      // L x [H, H]
    private readonly Linear _score;         // [1, H]
    private readonly int _hidden;

    public ToyModel(ModelFolder folder, Precision precision, KernelCapabilities capabilities)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(folder.ConfigPath));
        int Int(string name) => json.RootElement.GetProperty(name).GetInt32();
        int vocab = Int("vocab_size"), layers = Int("num_layers"), maxLength = Int("max_positions");
        _hidden = Int("hidden_size");
        using var file = folder.OpenWeights();
        var weights = new WeightSource(file, new TensorNaming(ToyWeightNames.ModelPrefix, name => [name], _ => false), precision, capabilities);
        _embeddings = weights.TakeTable(ToyWeightNames.Embeddings, [vocab, _hidden]);
        _mixers = Enumerable.Range(0, layers).Select(i => Linear.Load(weights, ToyWeightNames.Mixer(i), _hidden, _hidden, quantizable: true)).ToArray();
        _score = Linear.Load(weights, ToyWeightNames.Score, _hidden, 1, quantizable: false, underModelPrefix: false);
        weights.ThrowIfIncomplete();
        QuantizableTensors = weights.Quantizable.ToArray();
        Description = new ModelDescription
        {
            Family = "toy", ModelType = folder.ModelType, Architectures = folder.Architectures, Kind = ModelKind.CrossEncoder, OutputSize = 1,
            MaxSequenceLength = maxLength, VocabularySize = vocab, HiddenSize = _hidden, Layers = layers, Precision = precision,
            ScoreTransform = folder.CrossEncoderTransform,
        };
    }

    public ModelDescription Description { get; }

    public IReadOnlyList<QuantizableTensor> QuantizableTensors { get; }

    public ModelWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength) =>
        new ToyWorkspace(PackedBatch.Create(maxTokens, maxSequences, maxSequenceLength, Description.MaxSequenceLength, Description.VocabularySize, 1), maxTokens, maxSequences, _hidden);

    public ReadOnlySpan<float> Forward(ModelWorkspace workspace, ActivationTap? tap = null, CancellationToken cancellationToken = default)
    {
        var w = workspace as ToyWorkspace ?? throw new ArgumentException("The workspace was created for another model.", nameof(workspace));
        var batch = w.Batch;
        int n = batch.TotalTokens, b = batch.Count, h = _hidden;
        Span<float> hidden = w.Hidden.AsSpan(0, n * h);                                  // [N, H]
        for (int t = 0; t < n; t++) _embeddings.AsSpan(batch.InputIds[t] * h, h).CopyTo(hidden.Slice(t * h, h));
        tap?.Invoke(ModelTaps.Embeddings, hidden, n, h);
        for (int i = 0; i < _mixers.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Span<float> mixed = w.Mixed.AsSpan(0, n * h);                              // [N, H] = GELU(hidden W^T + b)
            _mixers[i].ForwardGelu(hidden, mixed, n);
            for (int k = 0; k < n * h; k++) hidden[k] += mixed[k];                       // residual
            tap?.Invoke(ModelTaps.Layer(i), hidden, n, h);
        }
        Span<float> pooled = w.Pooled.AsSpan(0, b * h);                                  // [B, H] mean over each sequence
        for (int s = 0; s < b; s++)
        {
            var row = pooled.Slice(s * h, h);
            row.Clear();
            for (int t = batch.Starts[s]; t < batch.Starts[s + 1]; t++)
                for (int k = 0; k < h; k++) row[k] += hidden[t * h + k] / batch.LengthOf(s);
        }
        tap?.Invoke(ModelTaps.HeadHidden, pooled, b, h);
        Span<float> output = w.Output.AsSpan(0, b);                                      // [B, 1]
        _score.Forward(pooled, output, b);
        tap?.Invoke(ModelTaps.Output, output, b, 1);
        return output;
    }

    private sealed class ToyWorkspace(PackedBatch batch, int maxTokens, int maxSequences, int hidden) : ModelWorkspace(batch, 1)
    {
        public float[] Hidden { get; } = new float[maxTokens * hidden];
        public float[] Mixed { get; } = new float[maxTokens * hidden];
        public float[] Pooled { get; } = new float[maxSequences * hidden];
        public float[] Output { get; } = new float[maxSequences];
    }
}

/// <summary>Writes a random toy checkpoint with a real tokenizer (the committed Unigram tokenizer.json).</summary>
internal sealed class ToyFolder : IDisposable
{
    public const int Hidden = 8, Layers = 2, Vocab = 3002, MaxPositions = 128;

    public ToyFolder(int seed = 5)
    {
        Directory = Path.Combine(Path.GetTempPath(), "toy-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        var random = new Random(seed);
        float[] Rand(int count, float scale) => Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        Tensors["toy.embeddings.weight"] = ([Vocab, Hidden], Rand(Vocab * Hidden, 1f));
        for (int i = 0; i < Layers; i++)
        {
            Tensors[$"toy.layers.{i}.mixer.weight"] = ([Hidden, Hidden], Rand(Hidden * Hidden, 0.7f));
            Tensors[$"toy.layers.{i}.mixer.bias"] = ([Hidden], Rand(Hidden, 0.2f));
        }
        Tensors["score.weight"] = ([1, Hidden], Rand(Hidden, 1f));
        Tensors["score.bias"] = ([1], Rand(1, 0.2f));
        global::CrossEncoder.Native.SafeTensors.SafeTensorsWriter.WriteFloat32(Path.Combine(Directory, "model.safetensors"),
            Tensors.Select(t => new KeyValuePair<string, (long[], float[])>(t.Key, (t.Value.Shape, t.Value.Data))));
        File.WriteAllText(Path.Combine(Directory, "config.json"),
            $$"""{"model_type": "toy", "architectures": ["ToyForSequenceClassification"], "vocab_size": {{Vocab}}, "hidden_size": {{Hidden}}, "num_layers": {{Layers}}, "max_positions": {{MaxPositions}}}""");
        File.Copy(Tokenization.PipelineFixtures.UnigramTokenizerJson, Path.Combine(Directory, "tokenizer.json"));
        File.WriteAllText(Path.Combine(Directory, "tokenizer_config.json"), $$"""{"model_max_length": {{MaxPositions}}}""");
    }

    public string Directory { get; }

    public Dictionary<string, (long[] Shape, float[] Data)> Tensors { get; } = new(StringComparer.Ordinal);

    /// <summary>The toy's logit for one id sequence, in double precision, straight from the tensors (the reference).</summary>
    public double Logit(IReadOnlyList<int> ids)
    {
        var e = Tensors["toy.embeddings.weight"].Data;
        var h = ids.Select(id => Enumerable.Range(0, Hidden).Select(k => (double)e[id * Hidden + k]).ToArray()).ToArray();
        for (int i = 0; i < Layers; i++)
        {
            var w = Tensors[$"toy.layers.{i}.mixer.weight"].Data;
            var bias = Tensors[$"toy.layers.{i}.mixer.bias"].Data;
            foreach (var row in h)
            {
                var mixed = Enumerable.Range(0, Hidden).Select(o => bias[o] + Enumerable.Range(0, Hidden).Sum(k => (double)w[o * Hidden + k] * row[k])).ToArray();
                for (int o = 0; o < Hidden; o++) row[o] += 0.5 * mixed[o] * (1 + Erf(mixed[o] / Math.Sqrt(2)));
            }
        }
        var score = Tensors["score.weight"].Data;
        double logit = Tensors["score.bias"].Data[0];
        for (int k = 0; k < Hidden; k++) logit += score[k] * h.Average(row => row[k]);
        return logit;
    }

    private static double Erf(double x)
    {
        // Abramowitz-Stegun 7.1.26 is too coarse for 1e-5; integrate exp(-t^2) with Simpson's rule instead.
        int n = 2000;
        double a = 0, step = x / n, sum = 0;
        for (int i = 0; i <= n; i++)
        {
            double t = a + i * step, f = Math.Exp(-t * t);
            sum += (i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2) * f;
        }
        return 2 / Math.Sqrt(Math.PI) * sum * step / 3;
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
