using System.Numerics.Tensors;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Training;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// BERT as <c>BertForSequenceClassification</c> for training: the same forward pass as <see cref="BertModel"/> (post-LN
/// layers, erf GELU, pooler tanh on [CLS], a linear classifier), computed in fp32 with owned, mutable parameters, keeping
/// what the backward pass needs, plus the backward pass itself. A checkpoint without a classification head (a
/// sentence-transformers bi-encoder such as all-MiniLM-L6-v2) gets a new pooler (when it has none) and classifier, initialised
/// as Hugging Face's <c>_init_weights</c> does (normal(0, initializer_range), zero bias), from a seed.
/// Dropout, when a seed is given, follows <c>modeling_bert.py</c>: after the embeddings, on the attention probabilities,
/// after each dense output before its residual, and on the pooled output before the classifier.
/// </summary>
internal sealed partial class BertTrainingModel : ITrainableModel
{
    private readonly KernelCapabilities _caps;
    private readonly List<TrainableParameter> _parameters = [];
    private readonly TrainableParameter _word, _position, _type, _embeddingGamma, _embeddingBeta;
    private readonly Layer[] _layers;
    private readonly TrainableParameter _poolerWeight, _poolerBias, _classifierWeight, _classifierBias;

    /// <summary>One encoder layer's parameters (HF names), plus the fused Q | K | V copy the forward multiplies by.</summary>
    private sealed class Layer
    {
        public required TrainableParameter Query, QueryBias, Key, KeyBias, Value, ValueBias;
        public required TrainableParameter AttentionOutput, AttentionOutputBias, AttentionGamma, AttentionBeta;
        public required TrainableParameter Intermediate, IntermediateBias, Output, OutputBias, OutputGamma, OutputBeta;
        public required float[] FusedQueryKeyValue;       // [3H, H] rows: query | key | value (refreshed every forward)
        public required float[] FusedQueryKeyValueBias;   // [3H]
    }

    private BertTrainingModel(BertConfig config, WeightSource weights, int headSeed, KernelCapabilities caps)
    {
        Config = config;
        _caps = caps;
        int h = config.HiddenSize, i = config.IntermediateSize;
        string prefix = BertWeightNames.ModelPrefix;
        TrainableParameter Take(string name, long[] shape, bool decays)
        {
            var value = weights.Take(name, shape);
            var parameter = new TrainableParameter(prefix + name, shape, value, new float[value.Length], decays);
            _parameters.Add(parameter);
            return parameter;
        }
        TrainableParameter Linear(string module, int outputs, int inputs, out TrainableParameter bias)
        {
            var weight = Take(TensorNaming.Weight(module), [outputs, inputs], decays: true);
            bias = Take(TensorNaming.Bias(module), [outputs], decays: false);
            return weight;
        }
        TrainableParameter Norm(string module, out TrainableParameter beta)
        {
            var gamma = Take(TensorNaming.Weight(module), [h], decays: false);
            beta = Take(TensorNaming.Bias(module), [h], decays: false);
            return gamma;
        }

        _word = Take(BertWeightNames.Embeddings.Word, [config.VocabSize, h], decays: true);
        _position = Take(BertWeightNames.Embeddings.Position, [config.MaxPositionEmbeddings, h], decays: true);
        _type = Take(BertWeightNames.Embeddings.TokenType, [config.TypeVocabSize, h], decays: true);
        _embeddingGamma = Norm(BertWeightNames.Embeddings.LayerNorm, out _embeddingBeta);
        _layers = new Layer[config.NumHiddenLayers];
        for (int l = 0; l < _layers.Length; l++)
        {
            var names = new BertWeightNames.Layer(l);
            _layers[l] = new Layer
            {
                Query = Linear(names.Query, h, h, out var queryBias), QueryBias = queryBias,
                Key = Linear(names.Key, h, h, out var keyBias), KeyBias = keyBias,
                Value = Linear(names.Value, h, h, out var valueBias), ValueBias = valueBias,
                AttentionOutput = Linear(names.AttentionOutput, h, h, out var attentionOutputBias), AttentionOutputBias = attentionOutputBias,
                AttentionGamma = Norm(names.AttentionLayerNorm, out var attentionBeta), AttentionBeta = attentionBeta,
                Intermediate = Linear(names.Intermediate, i, h, out var intermediateBias), IntermediateBias = intermediateBias,
                Output = Linear(names.Output, h, i, out var outputBias), OutputBias = outputBias,
                OutputGamma = Norm(names.OutputLayerNorm, out var outputBeta), OutputBeta = outputBeta,
                FusedQueryKeyValue = new float[3 * h * h],
                FusedQueryKeyValueBias = new float[3 * h],
            };
        }

        // The head: taken from a BertForSequenceClassification checkpoint, created for any other (a bi-encoder, a bare BertModel).
        var random = new Random(headSeed);
        TrainableParameter Create(string name, long[] shape, bool normal, bool decays)
        {
            var value = new float[shape.Aggregate(1L, (a, b) => a * b)];
            if (normal)
                for (int k = 0; k < value.Length; k++)
                    value[k] = (float)(config.InitializerRange * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            var parameter = new TrainableParameter(name, shape, value, new float[value.Length], decays);
            _parameters.Add(parameter);
            return parameter;
        }
        if (weights.Has(TensorNaming.Weight(BertWeightNames.Pooler)))
            _poolerWeight = Linear(BertWeightNames.Pooler, h, h, out _poolerBias);
        else
        {
            _poolerWeight = Create(prefix + TensorNaming.Weight(BertWeightNames.Pooler), [h, h], normal: true, decays: true);
            _poolerBias = Create(prefix + TensorNaming.Bias(BertWeightNames.Pooler), [h], normal: false, decays: false);
        }
        bool hasClassifier = config.IsSequenceClassifier && weights.Has(TensorNaming.Weight(BertWeightNames.Classifier), underModelPrefix: false);
        OutputSize = hasClassifier ? config.NumLabels : 1;
        if (hasClassifier)
        {
            var value = weights.Take(TensorNaming.Weight(BertWeightNames.Classifier), [OutputSize, h], underModelPrefix: false);
            _classifierWeight = new TrainableParameter(TensorNaming.Weight(BertWeightNames.Classifier), [OutputSize, h], value, new float[value.Length], true);
            var bias = weights.Take(TensorNaming.Bias(BertWeightNames.Classifier), [OutputSize], underModelPrefix: false);
            _classifierBias = new TrainableParameter(TensorNaming.Bias(BertWeightNames.Classifier), [OutputSize], bias, new float[bias.Length], false);
            _parameters.Add(_classifierWeight);
            _parameters.Add(_classifierBias);
        }
        else
        {
            _classifierWeight = Create(TensorNaming.Weight(BertWeightNames.Classifier), [1, h], normal: true, decays: true);
            _classifierBias = Create(TensorNaming.Bias(BertWeightNames.Classifier), [1], normal: false, decays: false);
        }
        weights.ThrowIfIncomplete();
    }

    /// <summary>The architecture, from config.json.</summary>
    public BertConfig Config { get; }

    /// <inheritdoc/>
    public IReadOnlyList<TrainableParameter> Parameters => _parameters;

    /// <inheritdoc/>
    public int OutputSize { get; }

    /// <summary>Loads a BERT folder (config.json + model.safetensors, fp32/F16/BF16 weights) for training. <paramref name="headSeed"/>
    /// seeds the new pooler and classifier of a checkpoint that has none.</summary>
    /// <exception cref="ModelFormatException">A file is missing or malformed, or the model is not BERT (RoBERTa and ELECTRA
    /// checkpoints are not trainable here yet).</exception>
    public static BertTrainingModel Load(string directory, int headSeed = 0, KernelCapabilities? capabilities = null)
    {
        var folder = ModelFolder.Open(directory);
        var config = BertConfig.Load(folder.ConfigPath);
        if (config.Family != EncoderFamily.Bert)
            throw new ModelFormatException(folder.ConfigPath, $"model_type '{config.ModelType}' cannot be trained here yet; training supports BERT checkpoints (model_type bert).");
        if (config.EmbeddingSize != config.HiddenSize)
            throw new ModelFormatException(folder.ConfigPath, $"embedding_size {config.EmbeddingSize} differs from hidden_size {config.HiddenSize}; training supports BERT without an embedding projection.");
        using var file = folder.OpenWeights();
        var caps = capabilities ?? KernelCapabilities.Default;
        var weights = new WeightSource(file, BertWeightNames.NamingOf(config.Family), Precision.Fp32, caps);
        // A sentence-transformers head (modules.json) is replaced by the classifier; nothing else in model.safetensors is left.
        return new BertTrainingModel(config, weights, headSeed, caps);
    }

    /// <inheritdoc/>
    public TrainingWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength)
    {
        if (maxTokens <= 0) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token budget must be positive.");
        if (maxSequences <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequences), maxSequences, "The sequence capacity must be positive.");
        if (maxSequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequenceLength), maxSequenceLength, "The sequence length must be positive.");
        return new BertTrainingWorkspace(Config, OutputSize, maxTokens, maxSequences, maxSequenceLength);
    }

    /// <inheritdoc/>
    public void ZeroGradients()
    {
        foreach (var parameter in _parameters) Array.Clear(parameter.Gradient);
    }

    /// <summary>Writes every parameter, under its Hugging Face name, as F32 safetensors (what BertModel.Load reads back).</summary>
    public void SaveWeights(string path) =>
        SafeTensorsWriter.WriteFloat32(path, _parameters.Select(p => new KeyValuePair<string, (long[], float[])>(p.Name, (p.Shape, p.Value))),
            new Dictionary<string, string> { ["format"] = "pt" });

    private static BertTrainingWorkspace Own(TrainingWorkspace workspace) =>
        workspace as BertTrainingWorkspace ?? throw new ArgumentException("The workspace was created for another model.", nameof(workspace));

    /// <summary>Dropout sites: (seed, site, layer). Site numbers are fixed so a mask depends only on the seed and its place.</summary>
    private static ulong DropoutKey(int seed, int site, int layer = 0) => Dropout.Key(seed, site, layer);

    private const int EmbeddingsSite = 1, AttentionProbabilitiesSite = 2, AttentionOutputSite = 3, FeedForwardOutputSite = 4, PooledSite = 5;
}
