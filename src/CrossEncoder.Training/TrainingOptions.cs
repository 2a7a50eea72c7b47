namespace CrossEncoder.Training;

/// <summary>The loss a cross-encoder is trained with.</summary>
public enum TrainingLoss
{
    /// <summary>Binary cross-entropy on (query, document, label) pairs: each positive and its negatives scored independently.</summary>
    BinaryCrossEntropy,
    /// <summary>Softmax cross-entropy over a group of one positive and its negatives: the positive must outscore them.</summary>
    Listwise,
}

/// <summary>
/// How <see cref="CrossEncoderTrainer"/> fine-tunes: data, negatives, loss, optimizer and schedule. The defaults are
/// sentence-transformers' CrossEncoder trainer's (AdamW, lr 2e-5, warm-up 10 %, weight decay 0.01, clipping at 1.0).
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>The loss; default binary cross-entropy.</summary>
    public TrainingLoss Loss { get; init; } = TrainingLoss.BinaryCrossEntropy;

    /// <summary>Hard negatives per positive, taken from BM25's top-ranked documents not judged relevant; default 4.</summary>
    public int Negatives { get; init; } = 4;

    /// <summary>Of the <see cref="Negatives"/> per positive, how many are drawn at random from the collection (not judged
    /// relevant) instead of BM25's top; default 2. With hard negatives only, every negative shares the query's words and the
    /// positives BM25 misses do not, so the model learns that overlap means irrelevance.</summary>
    public int RandomNegatives { get; init; } = 2;

    /// <summary>Train on every judged positive, not only those among BM25's top <see cref="CandidateDepth"/> (the default:
    /// the candidates are all the reranker ever reorders, and positives BM25 misses share few of the query's words, which on
    /// small collections teaches that overlap means irrelevance).</summary>
    public bool AllPositives { get; init; }

    /// <summary>How deep in BM25's ranking negatives are mined (and dev candidates reranked); default 30.</summary>
    public int CandidateDepth { get; init; } = 30;

    /// <summary>Passes over the training examples; default 1 (<see cref="MaxSteps"/> may stop earlier).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Stop after this many optimizer steps (0: no limit).</summary>
    public int MaxSteps { get; init; }

    /// <summary>Examples per step: pairs for binary cross-entropy, groups (1 + <see cref="Negatives"/> pairs) for listwise; default 16.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Longest input in tokens (query and document together); default 128.</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>Peak learning rate; default 2e-5.</summary>
    public double LearningRate { get; init; } = 2e-5;

    /// <summary>Fraction of the steps spent warming the learning rate up from 0; default 0.1.</summary>
    public double WarmupRatio { get; init; } = 0.1;

    /// <summary>AdamW's decoupled weight decay (not applied to biases and LayerNorm); default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Gradients are clipped to this global L2 norm (0: no clipping); default 1.0.</summary>
    public double MaxGradientNorm { get; init; } = 1.0;

    /// <summary>Fraction of the queries held out as the dev set (split by query, seeded); default 0.1. 0: no dev evaluation,
    /// the last checkpoint is kept.</summary>
    public double DevFraction { get; init; } = 0.1;

    /// <summary>Evaluate on the dev queries every this many steps as well as after each epoch (0: after each epoch only).</summary>
    public int EvaluateEverySteps { get; init; }

    /// <summary>Seeds the split, the example order, dropout and a new classifier: the same seed and data give the same run.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Dropout as the config says (hidden and attention probabilities), as Hugging Face trains; false turns it off.</summary>
    public bool Dropout { get; init; } = true;

    /// <summary>Where BM25 indexes are kept; default each collection's <c>.cache</c> folder (as <c>eval</c>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value, string range)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} must be {range}, got {value}.");
        }
        Require(Negatives is >= 1 and <= 1000, nameof(Negatives), Negatives, "between 1 and 1000");
        Require(RandomNegatives >= 0 && RandomNegatives <= Negatives, nameof(RandomNegatives), RandomNegatives, $"between 0 and {nameof(Negatives)}");
        Require(CandidateDepth >= Negatives && CandidateDepth <= 10_000, nameof(CandidateDepth), CandidateDepth, $"between {nameof(Negatives)} and 10000");
        Require(Epochs is >= 1 and <= 1000, nameof(Epochs), Epochs, "between 1 and 1000");
        Require(MaxSteps >= 0, nameof(MaxSteps), MaxSteps, "0 or more");
        Require(BatchSize is >= 1 and <= 4096, nameof(BatchSize), BatchSize, "between 1 and 4096");
        Require(MaxLength is >= 3 and <= 8192, nameof(MaxLength), MaxLength, "between 3 and 8192");
        Require(LearningRate > 0 && LearningRate < 1, nameof(LearningRate), LearningRate, "in (0, 1)");
        Require(WarmupRatio is >= 0 and <= 1, nameof(WarmupRatio), WarmupRatio, "in [0, 1]");
        Require(WeightDecay is >= 0 and < 1, nameof(WeightDecay), WeightDecay, "in [0, 1)");
        Require(MaxGradientNorm >= 0 && double.IsFinite(MaxGradientNorm), nameof(MaxGradientNorm), MaxGradientNorm, "0 or a positive number");
        Require(DevFraction is >= 0 and < 1, nameof(DevFraction), DevFraction, "in [0, 1)");
        Require(EvaluateEverySteps >= 0, nameof(EvaluateEverySteps), EvaluateEverySteps, "0 or more");
    }
}
