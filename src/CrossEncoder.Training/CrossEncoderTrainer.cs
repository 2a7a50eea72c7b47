using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Metrics;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Native.Training;

namespace CrossEncoder.Training;

/// <summary>What the trainer reports after every step and evaluation.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="TotalSteps">Steps the run will take.</param>
/// <param name="Epoch">The current epoch (0-based).</param>
/// <param name="Loss">The last step's loss.</param>
/// <param name="LearningRate">The last step's learning rate.</param>
/// <param name="PairsPerSecond">Training pairs (forward + backward + update) per second since the run (or resume) began.</param>
/// <param name="Elapsed">Time since the run (or resume) began.</param>
/// <param name="Dev">The latest dev evaluation, or null before the first.</param>
public sealed record TrainingProgress(int Step, int TotalSteps, int Epoch, double Loss, double LearningRate, double PairsPerSecond, TimeSpan Elapsed, DevEvaluation? Dev);

/// <summary>A dev evaluation: BM25's candidates for the dev queries reranked by the model in training.</summary>
/// <param name="Step">The step it was taken at.</param>
/// <param name="NdcgAt10">Mean nDCG@10 over the dev queries (trec_eval's ndcg_cut.10).</param>
/// <param name="Map">Mean average precision.</param>
/// <param name="Bm25NdcgAt10">BM25's own nDCG@10 on the same queries, for reference.</param>
public sealed record DevEvaluation(int Step, double NdcgAt10, double Map, double Bm25NdcgAt10);

/// <summary>What a finished run produced.</summary>
/// <param name="OutputDirectory">The Hugging Face model folder written (the best dev checkpoint, or the last without dev queries).</param>
/// <param name="Steps">Optimizer steps taken in all.</param>
/// <param name="Best">The dev evaluation of the written checkpoint, or null without dev queries.</param>
/// <param name="Evaluations">Every dev evaluation, in order.</param>
/// <param name="Losses">The loss of every step (of this process; a resumed run starts where it resumed).</param>
/// <param name="PairsPerSecond">Training throughput over the run.</param>
public sealed record TrainingResult(string OutputDirectory, int Steps, DevEvaluation? Best, IReadOnlyList<DevEvaluation> Evaluations, IReadOnlyList<double> Losses, double PairsPerSecond);

/// <summary>
/// Fine-tunes a BERT checkpoint into a cross-encoder (<c>BertForSequenceClassification</c>, one logit): pairs or listwise
/// groups of (query, positive, BM25 hard negatives) -> forward -> loss -> backward -> gradient clipping -> AdamW with linear
/// warm-up and decay; the dev queries are reranked after every epoch and the best checkpoint is written as a Hugging Face
/// folder that <c>Reranker.Load</c>, <c>quantize</c>, <c>serve</c> and transformers load. A run is reproducible from its seed
/// (example order, dropout masks and a new classifier are all derived from it), and a cancelled run leaves a checkpoint in
/// <c>&lt;output&gt;/checkpoint</c> that <see cref="Train"/> with <c>resume: true</c> continues bit for bit.
/// </summary>
public sealed class CrossEncoderTrainer
{
    /// <summary>The resumable checkpoint's folder inside the output folder.</summary>
    public const string CheckpointFolderName = "checkpoint";

    private const string StateFile = "trainer_state.json", OptimizerFile = "optimizer.safetensors";

    private readonly string _modelDirectory;
    private readonly TrainingOptions _options;
    private readonly ITextPairTokenizer _tokenizer;
    private readonly Dictionary<string, int[]> _ids = new(StringComparer.Ordinal);

    /// <param name="modelDirectory">The Hugging Face BERT folder to start from (a bi-encoder gets a new pooler and classifier).</param>
    /// <param name="options">How to train.</param>
    public CrossEncoderTrainer(string modelDirectory, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _modelDirectory = modelDirectory;
        _options = options;
        _tokenizer = TokenizerLoader.FromModelFolder(modelDirectory);
    }

    /// <summary>Steps a run over <paramref name="data"/> takes: epochs x batches per epoch, capped by <see cref="TrainingOptions.MaxSteps"/>.</summary>
    public int TotalSteps(TrainingData data)
    {
        int units = Units(data, 0).Count;
        long steps = (long)_options.Epochs * ((units + _options.BatchSize - 1) / _options.BatchSize);
        if (_options.MaxSteps > 0) steps = Math.Min(steps, _options.MaxSteps);
        return (int)Math.Min(steps, int.MaxValue);
    }

    /// <summary>Trains and writes the model folder to <paramref name="outputDirectory"/>.</summary>
    /// <param name="data">The training and dev queries.</param>
    /// <param name="outputDirectory">Where the model folder goes (its <c>checkpoint</c> subfolder holds the resumable state).</param>
    /// <param name="resume">Continue from <c>&lt;output&gt;/checkpoint</c> (written by a cancelled run or at each evaluation).</param>
    /// <param name="progress">Receives a report after every step.</param>
    /// <param name="cancellationToken">Cancelling saves the resumable checkpoint, then throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="InvalidDataException">The training data has no example, or the loss diverged (non-finite gradients).</exception>
    public TrainingResult Train(TrainingData data, string outputDirectory, bool resume = false, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(outputDirectory);
        string checkpoint = Path.Combine(outputDirectory, CheckpointFolderName);
        int startStep = 0;
        var evaluations = new List<DevEvaluation>();
        DevEvaluation? best = null;
        BertTrainingModel model;
        AdamW optimizer;
        if (resume)
        {
            if (!File.Exists(Path.Combine(checkpoint, StateFile)))
                throw new FileNotFoundException($"Nothing to resume: {Path.Combine(checkpoint, StateFile)} does not exist.", Path.Combine(checkpoint, StateFile));
            model = BertTrainingModel.Load(checkpoint, _options.Seed);
            optimizer = new AdamW(model.Parameters, weightDecay: _options.WeightDecay);
            (startStep, best, evaluations) = ReadState(checkpoint, model, optimizer);
        }
        else
        {
            model = BertTrainingModel.Load(_modelDirectory, headSeed: _options.Seed);
            optimizer = new AdamW(model.Parameters, weightDecay: _options.WeightDecay);
        }

        int totalSteps = TotalSteps(data);
        if (totalSteps == 0) throw new InvalidDataException("The training data has no example (no training query with a relevant document).");
        int warmup = (int)Math.Ceiling(_options.WarmupRatio * totalSteps);
        int groupSize = 1 + _options.Negatives;
        int pairsPerStep = _options.Loss == TrainingLoss.Listwise ? _options.BatchSize * groupSize : _options.BatchSize;
        int maxLength = Math.Min(_options.MaxLength, model.Config.MaxSequenceLength);
        var workspace = model.CreateWorkspace(pairsPerStep * maxLength, pairsPerStep, maxLength);
        var labels = new float[pairsPerStep];
        var gradient = new float[pairsPerStep * model.OutputSize];
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        long pairs = 0;
        int batchesPerEpoch = (Units(data, 0).Count + _options.BatchSize - 1) / _options.BatchSize;
        bool bestIsLast = data.Dev.Count == 0;

        for (int step = startStep; step < totalSteps; step++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                WriteCheckpoint(checkpoint, model, optimizer, step, best, evaluations);
                cancellationToken.ThrowIfCancellationRequested();
            }
            int epoch = step / batchesPerEpoch, batchIndex = step % batchesPerEpoch;
            var units = Units(data, epoch);
            var batchUnits = units.Skip(batchIndex * _options.BatchSize).Take(_options.BatchSize).ToList();
            var batch = workspace.Batch;
            batch.Clear();
            int n = 0;
            foreach (var unit in batchUnits)
                foreach (var (document, label) in unit.Documents)
                {
                    batch.Add(_tokenizer.EncodePair(Ids(unit.Query), Ids(document, data), maxLength));
                    labels[n++] = label;
                }
            var logits = model.Forward(workspace, _options.Dropout ? StepSeed(step) : null, CancellationToken.None);
            double loss = _options.Loss == TrainingLoss.Listwise
                ? Losses.ListwiseSoftmax(logits, groupSize, gradient.AsSpan(0, n))
                : Losses.BinaryCrossEntropy(logits, labels.AsSpan(0, n), gradient.AsSpan(0, n));
            model.ZeroGradients();
            model.Backward(workspace, gradient.AsSpan(0, n), CancellationToken.None);
            double norm = AdamW.ClipGradientNorm(model.Parameters, _options.MaxGradientNorm);
            if (!double.IsFinite(loss) || !double.IsFinite(norm))
                throw new InvalidDataException($"Training diverged at step {step + 1}: loss {loss}, gradient norm {norm}. Lower --lr (now {_options.LearningRate}) or check the data.");
            double learningRate = AdamW.LinearSchedule(step, totalSteps, warmup, _options.LearningRate);
            optimizer.Step(learningRate);
            losses.Add(loss);
            pairs += n;

            bool epochEnd = batchIndex == batchesPerEpoch - 1 || step + 1 == totalSteps;
            bool evaluate = data.Dev.Count > 0 && (epochEnd || (_options.EvaluateEverySteps > 0 && (step + 1) % _options.EvaluateEverySteps == 0));
            DevEvaluation? dev = null;
            if (evaluate)
            {
                dev = EvaluateDev(model, data, step + 1, cancellationToken);
                evaluations.Add(dev);
                if (best is null || dev.NdcgAt10 > best.NdcgAt10)
                {
                    best = dev;
                    WriteModelFolder(model, outputDirectory, dev);
                }
                WriteCheckpoint(checkpoint, model, optimizer, step + 1, best, evaluations);
            }
            progress?.Report(new TrainingProgress(step + 1, totalSteps, epoch, loss, learningRate, pairs / Math.Max(1e-9, clock.Elapsed.TotalSeconds), clock.Elapsed, dev ?? evaluations.LastOrDefault()));
        }
        if (bestIsLast || best is null) WriteModelFolder(model, outputDirectory, null);
        WriteCheckpoint(checkpoint, model, optimizer, totalSteps, best, evaluations);
        return new TrainingResult(outputDirectory, totalSteps, best, evaluations, losses, pairs / Math.Max(1e-9, clock.Elapsed.TotalSeconds));
    }

    /// <summary>One training example: a query with its documents and labels (a positive and negatives; one pair for BCE).</summary>
    private sealed record Unit(string Query, IReadOnlyList<(string Document, float Label)> Documents);

    /// <summary>The examples of <paramref name="epoch"/> in their order: a deterministic function of the data, the seed and the epoch.</summary>
    private List<Unit> Units(TrainingData data, int epoch)
    {
        var units = new List<Unit>();
        int hardCount = _options.Negatives - _options.RandomNegatives;
        for (int q = 0; q < data.Train.Count; q++)
        {
            var query = data.Train[q];
            var negatives = data.HardNegatives(query);
            if (negatives.Count == 0) continue;
            var random = new Random(StableSeed(_options.Seed, epoch, q, 0x7A3D));
            // The reranker will only ever reorder BM25's candidates, so by default it learns from the positives among them.
            var positives = _options.AllPositives ? query.Positives : query.Positives.Where(query.Ranking.Contains).ToArray();
            for (int p = 0; p < positives.Count; p++)
            {
                // Each positive takes the next hard negatives, cycling, so a query's positives see different ones; then random
                // documents of the same collection not judged relevant (BM25's top alone teaches that word overlap is a sign of
                // irrelevance, since every hard negative has it and positives BM25 misses do not).
                var mined = Enumerable.Range(0, hardCount).Select(k => negatives[(p * hardCount + k) % negatives.Count])
                    .Concat(data.RandomNegatives(query, _options.RandomNegatives, random)).ToArray();
                if (_options.Loss == TrainingLoss.Listwise)
                    units.Add(new Unit(query.Text, [(positives[p], 1f), .. mined.Select(d => (d, 0f))]));
                else
                {
                    units.Add(new Unit(query.Text, [(positives[p], 1f)]));
                    foreach (string d in mined) units.Add(new Unit(query.Text, [(d, 0f)]));
                }
            }
        }
        var array = units.ToArray();
        new Random(StableSeed(_options.Seed, epoch, 0, 0x5EED)).Shuffle(array);
        return [.. array];
    }

    private int StepSeed(int step) => StableSeed(_options.Seed, step, 0, 0xD409);

    /// <summary>Mixes its arguments into a seed that is the same in every process (<see cref="HashCode"/> is randomised per
    /// process, which would make two runs with one seed differ).</summary>
    internal static int StableSeed(int a, int b, int c, int d)
    {
        ulong x = (ulong)(uint)a * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)b * 0xC2B2AE3D27D4EB4FUL ^ (ulong)(uint)c * 0x165667B19E3779F9UL ^ (ulong)(uint)d;
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27; x *= 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return (int)(x & int.MaxValue);
    }

    private int[] Ids(string text)
    {
        if (!_ids.TryGetValue(text, out var ids)) _ids[text] = ids = _tokenizer.EncodeToIds(text);
        return ids;
    }

    private int[] Ids(string documentId, TrainingData data) => Ids(data.Documents.TryGetValue(documentId, out var text) ? text : "");

    /// <summary>Reranks BM25's candidates of every dev query with the model (dropout off) and measures nDCG@10 and MAP.</summary>
    private DevEvaluation EvaluateDev(BertTrainingModel model, TrainingData data, int step, CancellationToken cancellationToken)
    {
        int maxLength = Math.Min(_options.MaxLength, model.Config.MaxSequenceLength);
        const int chunk = 32;
        var workspace = model.CreateWorkspace(chunk * maxLength, chunk, maxLength);
        var reranked = new TrecRun();
        var first = new TrecRun();
        foreach (var query in data.Dev)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var candidates = query.Ranking;
            var scores = new double[candidates.Count];
            for (int start = 0; start < candidates.Count; start += chunk)
            {
                workspace.Batch.Clear();
                int count = Math.Min(chunk, candidates.Count - start);
                for (int i = 0; i < count; i++) workspace.Batch.Add(_tokenizer.EncodePair(Ids(query.Text), Ids(candidates[start + i], data), maxLength));
                var logits = model.Forward(workspace, null, cancellationToken);
                for (int i = 0; i < count; i++) scores[start + i] = logits[i * model.OutputSize];
            }
            reranked.Set(query.Id, candidates.Select((d, i) => new ScoredDocument(d, scores[i])));
            first.Set(query.Id, candidates.Select((d, i) => new ScoredDocument(d, candidates.Count - i)));
        }
        var ids = data.Dev.Select(q => q.Id).ToArray();
        var metrics = RunEvaluator.Evaluate(reranked, data.Qrels, ids).Mean;
        var bm25 = RunEvaluator.Evaluate(first, data.Qrels, ids).Mean;
        return new DevEvaluation(step, metrics.NdcgAt10, metrics.Map, bm25.NdcgAt10);
    }

    /// <summary>Writes a Hugging Face <c>BertForSequenceClassification</c> folder: config.json (the source's, with the class, one
    /// label and sentence-transformers' CrossEncoder metadata), model.safetensors (F32) and the source's tokenizer files.</summary>
    private void WriteModelFolder(BertTrainingModel model, string directory, DevEvaluation? dev)
    {
        Directory.CreateDirectory(directory);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_modelDirectory, "config.json")))!.AsObject();
        config["architectures"] = new JsonArray("BertForSequenceClassification");
        config["id2label"] = new JsonObject { ["0"] = "LABEL_0" };
        config["label2id"] = new JsonObject { ["LABEL_0"] = 0 };
        config.Remove("num_labels");
        // sentence-transformers 4.x reads the score activation from here: sigmoid for a BCE-trained model (its logit is a
        // log-odds), identity for a listwise one (its logits are only comparable with each other).
        config["sentence_transformers"] = new JsonObject
        {
            ["activation_fn"] = _options.Loss == TrainingLoss.Listwise ? "torch.nn.modules.linear.Identity" : "torch.nn.modules.activation.Sigmoid",
            ["version"] = "4.1.0",
        };
        string temporary = Path.Combine(directory, "model.safetensors.tmp");
        model.SaveWeights(temporary);
        File.Move(temporary, Path.Combine(directory, "model.safetensors"), overwrite: true);
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (string file in new[] { "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
        {
            string source = Path.Combine(_modelDirectory, file);
            if (File.Exists(source)) File.Copy(source, Path.Combine(directory, file), overwrite: true);
        }
        var info = new JsonObject
        {
            ["base_model"] = Path.GetFullPath(_modelDirectory),
            ["options"] = JsonSerializer.SerializeToNode(_options with { CacheDirectory = null }),
            ["dev"] = dev is null ? null : JsonSerializer.SerializeToNode(dev),
        };
        File.WriteAllText(Path.Combine(directory, "training_info.json"), info.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The resumable state: a model folder (so BertTrainingModel.Load reads the weights) plus AdamW's moments and the step.</summary>
    private void WriteCheckpoint(string checkpoint, BertTrainingModel model, AdamW optimizer, int step, DevEvaluation? best, List<DevEvaluation> evaluations)
    {
        WriteModelFolder(model, checkpoint, best);
        var moments = new List<KeyValuePair<string, (long[], float[])>>();
        for (int k = 0; k < model.Parameters.Count; k++)
        {
            var p = model.Parameters[k];
            moments.Add(new("m/" + p.Name, (p.Shape, optimizer.FirstMoments[k])));
            moments.Add(new("v/" + p.Name, (p.Shape, optimizer.SecondMoments[k])));
        }
        SafeTensorsWriter.WriteFloat32(Path.Combine(checkpoint, OptimizerFile), moments);
        var state = new JsonObject
        {
            ["step"] = step,
            ["optimizer_steps"] = optimizer.Steps,
            ["seed"] = _options.Seed,
            ["best"] = best is null ? null : JsonSerializer.SerializeToNode(best),
            ["evaluations"] = JsonSerializer.SerializeToNode(evaluations),
        };
        File.WriteAllText(Path.Combine(checkpoint, StateFile), state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private (int Step, DevEvaluation? Best, List<DevEvaluation> Evaluations) ReadState(string checkpoint, BertTrainingModel model, AdamW optimizer)
    {
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, StateFile)))!.AsObject();
        if (state["seed"]?.GetValue<int>() != _options.Seed)
            throw new InvalidDataException($"The checkpoint was trained with seed {state["seed"]}; resume with the same options (seed {_options.Seed} given).");
        optimizer.Steps = state["optimizer_steps"]!.GetValue<int>();
        using var file = SafeTensorsFile.Open(Path.Combine(checkpoint, OptimizerFile));
        for (int k = 0; k < model.Parameters.Count; k++)
        {
            file.ReadFloat32("m/" + model.Parameters[k].Name).CopyTo(optimizer.FirstMoments[k], 0);
            file.ReadFloat32("v/" + model.Parameters[k].Name).CopyTo(optimizer.SecondMoments[k], 0);
        }
        var best = state["best"] is JsonNode b ? b.Deserialize<DevEvaluation>() : null;
        var evaluations = state["evaluations"]?.Deserialize<List<DevEvaluation>>() ?? [];
        return (state["step"]!.GetValue<int>(), best, evaluations);
    }
}
