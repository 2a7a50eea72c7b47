namespace CrossEncoder.Training;

/// <summary>
/// The two training losses of sentence-transformers' CrossEncoder trainer, each with its gradient with respect to the logits
/// (what <c>ITrainableModel.Backward</c> takes), computed in double and stable for any logit.
/// </summary>
public static class Losses
{
    /// <summary>Binary cross-entropy with logits, mean over the pairs (torch's <c>BCEWithLogitsLoss</c>):
    /// loss = mean(max(z, 0) - z y + log(1 + exp(-|z|))), dloss/dz = (sigmoid(z) - y) / n.</summary>
    /// <param name="logits">One logit per pair.</param>
    /// <param name="labels">The target of each pair in [0, 1] (1 relevant, 0 not).</param>
    /// <param name="gradient">Receives dloss/dlogit, one per pair.</param>
    public static double BinaryCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels, Span<float> gradient)
    {
        if (labels.Length != logits.Length || gradient.Length != logits.Length)
            throw new ArgumentException($"{logits.Length} logits need as many labels and gradient slots ({labels.Length}, {gradient.Length}).");
        if (logits.IsEmpty) return 0;
        double loss = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double z = logits[i], y = labels[i];
            loss += Math.Max(z, 0) - z * y + Math.Log(1 + Math.Exp(-Math.Abs(z)));
            gradient[i] = (float)((Sigmoid(z) - y) / logits.Length);
        }
        return loss / logits.Length;
    }

    /// <summary>Listwise softmax cross-entropy over groups of one positive followed by its negatives, mean over the groups
    /// (sentence-transformers' MultipleNegativesRankingLoss for a cross-encoder, torch's <c>cross_entropy</c> with target 0):
    /// loss = mean over groups of logsumexp(z) - z_0, dloss/dz_j = (softmax(z)_j - [j = 0]) / groups.</summary>
    /// <param name="logits">groups x groupSize logits, each group's positive first.</param>
    /// <param name="groupSize">Logits per group (1 + negatives), at least 2.</param>
    /// <param name="gradient">Receives dloss/dlogit.</param>
    public static double ListwiseSoftmax(ReadOnlySpan<float> logits, int groupSize, Span<float> gradient)
    {
        if (groupSize < 2) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "A listwise group needs a positive and at least one negative.");
        if (logits.Length % groupSize != 0) throw new ArgumentException($"{logits.Length} logits are not whole groups of {groupSize}.", nameof(logits));
        if (gradient.Length != logits.Length) throw new ArgumentException("The gradient needs one slot per logit.", nameof(gradient));
        int groups = logits.Length / groupSize;
        if (groups == 0) return 0;
        double loss = 0;
        for (int g = 0; g < groups; g++)
        {
            var z = logits.Slice(g * groupSize, groupSize);
            double max = double.NegativeInfinity;
            foreach (float v in z) max = Math.Max(max, v);
            double sum = 0;
            foreach (float v in z) sum += Math.Exp(v - max);
            double logSumExp = max + Math.Log(sum);
            loss += logSumExp - z[0];
            for (int j = 0; j < groupSize; j++)
                gradient[g * groupSize + j] = (float)((Math.Exp(z[j] - logSumExp) - (j == 0 ? 1 : 0)) / groups);
        }
        return loss / groups;
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
}
