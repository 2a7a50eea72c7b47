using System.Diagnostics;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Training;

namespace CrossEncoder.Tools.Bench;

/// <summary>One training-speed measurement: a step (forward keeping activations + backward, no optimizer) against the
/// inference forward of the same batch, both on this engine in the same process.</summary>
/// <param name="Pairs">Pairs per batch.</param>
/// <param name="Tokens">Tokens per pair.</param>
/// <param name="InferencePairsPerSecond">The inference forward (BertModel, as <c>Rerank</c> runs it).</param>
/// <param name="TrainingPairsPerSecond">Forward + backward of <see cref="BertTrainingModel"/>, dropout on as in training.</param>
/// <param name="StepOverInference">How many inference forwards one training step costs.</param>
/// <param name="TrainingGflops">The step's useful flops per second (3x the forward's matrix products: forward, dX, dW).</param>
/// <param name="PercentOfPeak">Of the measured FMA peak of the same threads.</param>
public sealed record TrainingBenchResult(int Pairs, int Tokens, double InferencePairsPerSecond, double TrainingPairsPerSecond, double StepOverInference,
    double TrainingGflops, double PercentOfPeak);

/// <summary>Times training steps of a BERT folder (bench --training).</summary>
public static class TrainingBench
{
    /// <summary>Measures <paramref name="pairs"/> x <paramref name="tokens"/> batches for about <paramref name="seconds"/> each way.</summary>
    public static TrainingBenchResult Run(string modelDirectory, int pairs, int tokens, double seconds, double peakGflops, CancellationToken cancellationToken)
    {
        var inference = BertModel.Load(modelDirectory);
        var training = BertTrainingModel.Load(modelDirectory);
        var config = training.Config;
        if (tokens > config.MaxSequenceLength) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"The model's limit is {config.MaxSequenceLength} tokens.");
        var random = new Random(1234);
        var ids = new int[tokens];
        var types = new int[tokens];
        var inferenceWorkspace = inference.CreateWorkspace(pairs * tokens, pairs, tokens);
        var trainingWorkspace = training.CreateWorkspace(pairs * tokens, pairs, tokens);
        for (int p = 0; p < pairs; p++)
        {
            for (int t = 0; t < tokens; t++) { ids[t] = random.Next(1000, config.VocabSize); types[t] = t > tokens / 3 ? 1 : 0; }
            ids[0] = 101; ids[^1] = 102;
            inferenceWorkspace.Batch.Add(ids, types);
            trainingWorkspace.Batch.Add(ids, types);
        }
        var gradient = new float[pairs * training.OutputSize];
        Array.Fill(gradient, 1f / pairs);
        int step = 0;
        double inferenceRate = Measure(seconds, pairs, cancellationToken, () => inference.Forward(inferenceWorkspace, null, cancellationToken));
        double trainingRate = Measure(seconds, pairs, cancellationToken, () =>
        {
            training.Forward(trainingWorkspace, dropoutSeed: step++, cancellationToken);
            training.Backward(trainingWorkspace, gradient, cancellationToken);
        });
        // Forward flops per pair: every linear layer (2 flops per multiply-add) and attention's two products; a step is 3x.
        int h = config.HiddenSize, inner = config.IntermediateSize;
        double forward = config.NumHiddenLayers * (2.0 * tokens * (4.0 * h * h + 2.0 * h * inner) + 4.0 * tokens * tokens * h) + 2.0 * h * h;
        double gflops = 3 * forward * trainingRate / 1e9;
        return new TrainingBenchResult(pairs, tokens, inferenceRate, trainingRate, inferenceRate / trainingRate, gflops, peakGflops > 0 ? 100 * gflops / peakGflops : 0);
    }

    private static double Measure(double seconds, int pairs, CancellationToken cancellationToken, Action run)
    {
        run();
        var clock = Stopwatch.StartNew();
        int runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds || runs < 2)
        {
            cancellationToken.ThrowIfCancellationRequested();
            run();
            runs++;
        }
        return runs * pairs / clock.Elapsed.TotalSeconds;
    }
}
