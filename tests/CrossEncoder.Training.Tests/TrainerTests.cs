using CrossEncoder.Evaluation.Data;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Training.Tests;

/// <summary>
/// The trainer end to end on a tiny random BERT and a small synthetic collection (documents made of the tiny vocabulary's
/// words; a document is relevant when it contains the query's topic word): the loss falls, runs are reproducible from the
/// seed, a cancelled run resumes bit for bit, and the written folder loads as a cross-encoder that scores like the model
/// that was trained.
/// </summary>
public sealed class TrainerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "trainer-" + Guid.NewGuid().ToString("N"));
    private readonly TinyBert _tiny = new(classifier: false, withPooler: false);

    public TrainerTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        _tiny.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    /// <summary>Writes a BEIR folder: 6 topics x 5 documents; each query names a topic; its relevant documents contain that word.</summary>
    private string Collection(string name)
    {
        string[] topics = ["wing", "heat", "plate", "blood", "cell", "shear"];
        string[] filler = ["the", "flow", "of", "a", "in", "and", "speed", "high", "model", "test", "data", "layer"];
        var random = new Random(3);
        var corpus = new List<BeirDocument>();
        var queries = new List<BeirQuery>();
        var qrels = new Qrels();
        for (int t = 0; t < topics.Length; t++)
        {
            queries.Add(new BeirQuery($"q{t}", $"what is the {topics[t]} ?"));
            for (int d = 0; d < 5; d++)
            {
                var words = Enumerable.Range(0, 8).Select(_ => filler[random.Next(filler.Length)]).ToList();
                bool relevant = d < 2;
                words.Insert(random.Next(words.Count), relevant ? topics[t] : topics[(t + 1 + d) % topics.Length]);
                string id = $"d{t}-{d}";
                corpus.Add(new BeirDocument(id, "", string.Join(' ', words)));
                if (relevant) qrels.Add($"q{t}", id, 1);
            }
        }
        string directory = Path.Combine(_root, name);
        new BeirDataset(corpus, queries, qrels).Save(directory);
        return directory;
    }

    private TrainingOptions Options(int maxSteps = 0) => new()
    {
        Negatives = 2, RandomNegatives = 1, CandidateDepth = 10, BatchSize = 4, MaxLength = 24, LearningRate = 3e-3, WarmupRatio = 0.1,
        Epochs = 20, MaxSteps = maxSteps, DevFraction = 0.2, Seed = 5, CacheDirectory = Path.Combine(_root, "cache"),
    };

    [Fact]
    public void TheLossFallsAndTheWrittenFolderScoresLikeTheTrainedModel()
    {
        var options = Options() with { Dropout = false };
        var data = TrainingData.Load([Collection("toy")], options);
        Assert.Single(data.Dev);
        Assert.Equal(5, data.Train.Count);
        var trainer = new CrossEncoderTrainer(_tiny.Directory, options);
        string output = Path.Combine(_root, "out");
        var result = trainer.Train(data, output);
        Assert.Equal(trainer.TotalSteps(data), result.Steps);
        double first = result.Losses.Take(5).Average(), last = result.Losses.TakeLast(5).Average();
        Assert.True(last < 0.5 * first, $"the loss did not fall: first steps {first:F4}, last steps {last:F4}");
        Assert.Equal(20, result.Evaluations.Count);                                  // one per epoch
        Assert.NotNull(result.Best);
        // The held-out query: the trained reranker orders BM25's candidates better than BM25 (which ranks by filler words too).
        Assert.True(result.Best!.NdcgAt10 > result.Best.Bm25NdcgAt10, $"dev nDCG@10 {result.Best.NdcgAt10:F3} vs BM25 {result.Best.Bm25NdcgAt10:F3}");

        // The folder is a BertForSequenceClassification cross-encoder the Reranker loads; its scores are the trained model's.
        using var reranker = Reranker.Load(output);
        Assert.Equal("bert", reranker.Description.Family);
        var checkpoint = BertTrainingModel.Load(output);
        var workspace = checkpoint.CreateWorkspace(64, 2, 24);
        var tokenizer = CrossEncoder.Native.Tokenization.TokenizerLoader.FromModelFolder(output);
        workspace.Batch.Add(tokenizer.EncodePair("what is the wing ?", "the wing of a model", 24));
        float logit = checkpoint.Forward(workspace, null)[0];
        var scored = reranker.Rerank("what is the wing ?", ["the wing of a model"]);
        Assert.Equal(logit, (float)scored[0].Logit, 4);
    }

    [Fact]
    public void TheSameSeedGivesTheSameRunAndACancelledRunResumesBitForBit()
    {
        var options = Options(maxSteps: 6);
        var data = TrainingData.Load([Collection("toy")], options);
        var straight = new CrossEncoderTrainer(_tiny.Directory, options).Train(data, Path.Combine(_root, "a"));
        var again = new CrossEncoderTrainer(_tiny.Directory, options).Train(data, Path.Combine(_root, "b"));
        Assert.Equal(straight.Losses, again.Losses);

        // Cancel after 3 steps, then resume: the remaining losses and the final weights equal the straight run's.
        string output = Path.Combine(_root, "c");
        using var cancel = new CancellationTokenSource();
        var progress = new SynchronousProgress(p => { if (p.Step == 3) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => new CrossEncoderTrainer(_tiny.Directory, options).Train(data, output, progress: progress, cancellationToken: cancel.Token));
        var resumed = new CrossEncoderTrainer(_tiny.Directory, options).Train(data, output, resume: true);
        Assert.Equal(straight.Losses.Skip(3), resumed.Losses);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "a", CrossEncoderTrainer.CheckpointFolderName, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(output, CrossEncoderTrainer.CheckpointFolderName, "model.safetensors")));
    }

    [Fact]
    public void ListwiseTrainingRunsAndBadInputIsNamed()
    {
        var options = Options(maxSteps: 4) with { Loss = TrainingLoss.Listwise };
        var data = TrainingData.Load([Collection("toy")], options);
        var result = new CrossEncoderTrainer(_tiny.Directory, options).Train(data, Path.Combine(_root, "listwise"));
        Assert.All(result.Losses, l => Assert.True(double.IsFinite(l) && l > 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderTrainer(_tiny.Directory, options with { BatchSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEncoderTrainer(_tiny.Directory, options with { CandidateDepth = 1 }));
        Assert.Throws<FileNotFoundException>(() => new CrossEncoderTrainer(_tiny.Directory, options).Train(data, Path.Combine(_root, "nothing"), resume: true));
        string same = Collection("same");
        Assert.Throws<InvalidDataException>(() => TrainingData.Load([same, same], options));
    }

    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    [Fact]
    public void RandomNegativesComeFromTheQuerysCollectionAndAreNeverJudgedRelevant()
    {
        var data = TrainingData.Load([Collection("alpha"), Collection("beta")], Options());
        foreach (var query in data.Train.Concat(data.Dev))
        {
            string prefix = query.Id[..(query.Id.IndexOf('/') + 1)];
            var drawn = data.RandomNegatives(query, 12, new Random(9));
            Assert.Equal(12, drawn.Count);
            Assert.All(drawn, d => Assert.StartsWith(prefix, d));
            Assert.All(drawn, d => Assert.DoesNotContain(d, query.Positives));
            Assert.Equal(drawn, data.RandomNegatives(query, 12, new Random(9)));
        }
        Assert.Empty(data.RandomNegatives(data.Train[0], 0, new Random(1)));
    }
}
