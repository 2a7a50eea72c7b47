using System.CommandLine;
using System.Globalization;
using CrossEncoder.Training;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>train</c>: fine-tunes a BERT checkpoint into a cross-encoder on collections in BEIR layout (BM25 hard
/// negatives, BCE or listwise loss, AdamW), evaluating on held-out dev queries and writing the best checkpoint as a Hugging
/// Face folder. Ctrl+C saves a checkpoint that <c>--resume</c> continues.</summary>
internal static class TrainCommand
{
    public static Command Create(CliContext context)
    {
        var model = CliOptions.Model("model to start from: a BERT folder or Hub id (a bi-encoder gets a new classifier); default: the offline all-MiniLM-L6-v2");
        var token = CliOptions.Token();
        var data = new Option<string[]>("--data") { Description = "training collection in BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv); repeat for several", HelpName = "dir", Required = true, AllowMultipleArgumentsPerToken = false };
        var output = CliOptions.Text("--out", "dir", "model folder to write (the best dev checkpoint; <dir>/checkpoint holds the resumable state)", required: true);
        var overwrite = CliOptions.Flag("--overwrite", "replace an existing model folder at --out");
        var loss = CliOptions.Choice("--loss", "bce: binary cross-entropy on (query, document, label) pairs; listwise: softmax over one positive and its negatives", "bce", "listwise");
        var negatives = CliOptions.Int("--negatives", "negatives per positive: BM25's top non-relevant documents, and --random-negatives of them drawn at random", 1, 1000, 4);
        var randomNegatives = CliOptions.Int("--random-negatives", "of the --negatives, how many are random documents of the collection (not judged relevant)", 0, 1000, 2);
        var depth = CliOptions.Int("--depth", "BM25 candidates per query: where negatives are mined and what the dev evaluation reranks", 1, 10_000, 30);
        var epochs = CliOptions.Int("--epochs", "passes over the training examples", 1, 1000, 1);
        var maxSteps = CliOptions.Int("--max-steps", "stop after this many optimizer steps; default: no limit", 1, int.MaxValue);
        var batchSize = CliOptions.Int("--batch-size", "examples per step: pairs (bce) or groups of 1 + negatives (listwise)", 1, 4096, 16);
        var maxLength = CliOptions.Int("--max-length", "longest input in tokens (query + document)", 3, 8192, 128);
        var learningRate = CliOptions.Text("--lr", "x", "peak learning rate; default 2e-5");
        var warmup = CliOptions.Text("--warmup", "x", "fraction of the steps warming the learning rate up from 0; default 0.1");
        var weightDecay = CliOptions.Text("--weight-decay", "x", "AdamW weight decay (not on biases and LayerNorm); default 0.01");
        var devFraction = CliOptions.Text("--dev-fraction", "x", "fraction of the queries held out for dev evaluation (0: none, keep the last checkpoint); default 0.1");
        var evaluateEvery = CliOptions.Int("--eval-every", "also evaluate on the dev queries every N steps; default: after each epoch", 1, int.MaxValue);
        var seed = CliOptions.Int("--seed", "seeds the split, example order, dropout and a new classifier", int.MinValue, int.MaxValue, 42);
        var allPositives = CliOptions.Flag("--all-positives", "train on every judged positive, not only those among BM25's --depth candidates");
        var noDropout = CliOptions.Flag("--no-dropout", "train without dropout (the config's probabilities are used otherwise)");
        var resume = CliOptions.Flag("--resume", "continue the run saved in <out>/checkpoint (by Ctrl+C or at each evaluation) with the same options");
        var command = new Command("train", "Fine-tune a cross-encoder on judged collections (BM25 hard negatives, AdamW), in pure C#.")
        {
            model, token, data, output, overwrite, loss, negatives, randomNegatives, depth, epochs, maxSteps, batchSize, maxLength, learningRate, warmup, weightDecay,
            devFraction, evaluateEvery, seed, allPositives, noDropout, resume,
        };
        CliHelp.SetExamples(command,
            "crossencoder train --data data/cranfield --data data/cisi --data data/npl --out weights/minilm-ce --epochs 1",
            "crossencoder train --data data/cranfield --out weights/minilm-ce --resume");
        command.SetAction(parse =>
        {
            if (parse.GetValue(randomNegatives) > parse.GetValue(negatives))
                throw new UsageException($"--random-negatives {parse.GetValue(randomNegatives)} exceeds --negatives {parse.GetValue(negatives)}: random negatives are drawn among them.");
            var options = new TrainingOptions
            {
                Loss = parse.GetValue(loss) == "listwise" ? TrainingLoss.Listwise : TrainingLoss.BinaryCrossEntropy,
                Negatives = parse.GetValue(negatives),
                RandomNegatives = parse.GetValue(randomNegatives),
                CandidateDepth = Math.Max(parse.GetValue(depth), parse.GetValue(negatives)),
                Epochs = parse.GetValue(epochs),
                MaxSteps = parse.GetValue(maxSteps) ?? 0,
                BatchSize = parse.GetValue(batchSize),
                MaxLength = parse.GetValue(maxLength),
                LearningRate = Number(parse.GetValue(learningRate), "--lr", 2e-5, 0, 1, inclusiveMin: false),
                WarmupRatio = Number(parse.GetValue(warmup), "--warmup", 0.1, 0, 1),
                WeightDecay = Number(parse.GetValue(weightDecay), "--weight-decay", 0.01, 0, 0.999),
                DevFraction = Number(parse.GetValue(devFraction), "--dev-fraction", 0.1, 0, 0.9),
                EvaluateEverySteps = parse.GetValue(evaluateEvery) ?? 0,
                Seed = parse.GetValue(seed),
                Dropout = !parse.GetValue(noDropout),
                AllPositives = parse.GetValue(allPositives),
            };
            return Run(context, parse.GetValue(model), parse.GetValue(token), parse.GetValue(data)!, parse.GetValue(output)!, parse.GetValue(overwrite), parse.GetValue(resume), options);
        });
        return command;
    }

    private static double Number(string? text, string name, double fallback, double min, double max, bool inclusiveMin = true)
    {
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) ||
            value > max || (inclusiveMin ? value < min : value <= min))
            throw new UsageException($"option {name} must be a number {(inclusiveMin ? "from" : "above")} {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, got '{text}'.");
        return value;
    }

    private static int Run(CliContext context, string? modelOption, string? token, string[] dataFolders, string output, bool overwrite, bool resume, TrainingOptions options)
    {
        var stderr = context.Error;
        foreach (string folder in dataFolders)
            if (!Directory.Exists(folder)) throw new CliException($"data folder '{folder}' does not exist.");
        string modelFolder = modelOption is null ? DefaultModel.Ensure(stderr, preferTrained: false, explainKind: false) : HubModelOption.Resolve(modelOption, token, stderr, context.CancellationToken);
        if (!Directory.Exists(modelFolder)) throw new CliException($"model folder '{modelOption}' does not exist.");
        string fullOutput = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        if (string.Equals(fullOutput, Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)), StringComparison.Ordinal))
            throw new CliException($"--out '{output}' is the model being trained; write the trained model to another folder.");
        bool hasModel = File.Exists(Path.Combine(output, "config.json")) || File.Exists(Path.Combine(output, "model.safetensors"));
        if (hasModel && !resume && !overwrite)
            throw new CliException($"'{output}' already holds a model; pass --overwrite to replace it, or --resume to continue its run.");

        var data = TrainingData.Load(dataFolders, options, context.CancellationToken);
        var trainer = new CrossEncoderTrainer(modelFolder, options);
        int total = trainer.TotalSteps(data);
        int pairsPerStep = options.Loss == TrainingLoss.Listwise ? options.BatchSize * (1 + options.Negatives) : options.BatchSize;
        stderr.WriteLine($"training {Path.GetFileName(modelFolder)} on {string.Join(", ", data.Collections)}: {data.Train.Count} training and {data.Dev.Count} dev queries, " +
                         $"{total} steps of {pairsPerStep} pairs ({options.Loss}, {options.Negatives} negatives of which {options.RandomNegatives} random, max length {options.MaxLength}, lr {options.LearningRate})");
        using var reporter = new TrainingReporter(stderr, interactive: !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error));
        TrainingResult result;
        try
        {
            result = trainer.Train(data, output, resume, reporter, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            reporter.Finish();
            stderr.WriteLine($"interrupted: the run is saved in {Path.Combine(output, CrossEncoderTrainer.CheckpointFolderName)}; continue it with the same command and --resume.");
            throw;
        }
        reporter.Finish();
        var stdout = context.Out;
        stdout.WriteLine($"trained {result.Steps} steps at {result.PairsPerSecond:F1} pairs/s -> {output}");
        if (result.Best is { } best)
            stdout.WriteLine($"best dev nDCG@10 {best.NdcgAt10:F4} (MAP {best.Map:F4}) at step {best.Step}; BM25 on the same queries {best.Bm25NdcgAt10:F4}");
        return 0;
    }
}

/// <summary>Training progress: a redrawn line on a terminal (step, loss, learning rate, pairs/s, ETA), plain lines every
/// 25 steps and at each evaluation when standard error is piped.</summary>
internal sealed class TrainingReporter(TextWriter output, bool interactive) : IProgress<TrainingProgress>, IDisposable
{
    private long _lastDraw = -1000;
    private bool _drawn;
    private DevEvaluation? _lastDev;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public void Report(TrainingProgress value)
    {
        bool newDev = value.Dev is not null && !ReferenceEquals(value.Dev, _lastDev);
        _lastDev = value.Dev;
        double remaining = value.Step > 0 ? value.Elapsed.TotalSeconds / value.Step * (value.TotalSteps - value.Step) : 0;
        string dev = value.Dev is { } d ? $"  dev nDCG@10 {d.NdcgAt10:F4}" : "";
        string line = $"step {value.Step}/{value.TotalSteps}  loss {value.Loss:F4}  lr {value.LearningRate:E2}  {value.PairsPerSecond:F1} pairs/s  ETA {Duration(remaining)}{dev}";
        if (interactive)
        {
            long now = _clock.ElapsedMilliseconds;
            if (!newDev && value.Step < value.TotalSteps && now - _lastDraw < 250) return;
            _lastDraw = now;
            if (newDev) { Finish(); output.WriteLine($"epoch {value.Epoch + 1}, step {value.Step}: dev nDCG@10 {value.Dev!.NdcgAt10:F4}, MAP {value.Dev.Map:F4} (BM25 {value.Dev.Bm25NdcgAt10:F4})"); }
            int width = 20, filled = (int)Math.Round((double)value.Step / value.TotalSteps * width);
            output.Write($"\r[{new string('#', filled)}{new string('-', width - filled)}] {line}   ");
            _drawn = true;
        }
        else if (newDev || value.Step % 25 == 0 || value.Step == value.TotalSteps) output.WriteLine(line);
    }

    public void Finish()
    {
        if (_drawn) output.WriteLine();
        _drawn = false;
    }

    public void Dispose() => Finish();

    private static string Duration(double seconds) =>
        seconds >= 3600 ? $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):D2}m" : seconds >= 60 ? $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s" : $"{seconds:F0}s";
}
