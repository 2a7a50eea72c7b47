namespace CrossEncoder.Evaluation.Metrics;

/// <summary>
/// Paired randomization (permutation) test for a difference of means, two-sided, as used for IR evaluation (Smucker, Allan
/// and Carterette, CIKM 2007). Under the null hypothesis the two systems are exchangeable on each query, so each per-query
/// difference d_i may have either sign. The statistic is |mean(d)|; the p-value is the share of sign assignments whose
/// |mean| is at least the observed one.
/// <list type="bullet">
/// <item>With n queries and 2^n &lt;= permutations, every assignment is enumerated: the exact p-value.</item>
/// <item>Otherwise, <c>permutations</c> random assignments from a fixed seed (reproducible), and p = (hits + 1) / (permutations + 1)
/// (the observed assignment counts as one of them, so p is never 0; Phipson and Smyth 2010).</item>
/// </list>
/// "At least" allows a relative slack of 1e-9 so that sums equal in exact arithmetic are not split by rounding.
/// </summary>
public static class RandomizationTest
{
    /// <summary>Default number of random sign assignments.</summary>
    public const int DefaultPermutations = 10_000;

    /// <summary>Default seed: the same inputs always give the same p-value.</summary>
    public const int DefaultSeed = 42;

    /// <summary>Two-sided p-value for mean(after - before) = 0 over paired per-query values.</summary>
    /// <exception cref="ArgumentException">The lists differ in length, or a value is not finite.</exception>
    public static double PValue(IReadOnlyList<double> before, IReadOnlyList<double> after, int permutations = DefaultPermutations, int seed = DefaultSeed)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.Count != after.Count) throw new ArgumentException($"Paired lists differ in length ({before.Count} and {after.Count}).");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(permutations);
        int n = before.Count;
        var d = new double[n];
        for (int i = 0; i < n; i++)
        {
            d[i] = after[i] - before[i];
            if (!double.IsFinite(d[i])) throw new ArgumentException($"Value {i} is not finite.");
        }
        if (n == 0) return 1.0;
        // Work with sums: |mean| >= |observed mean|  <=>  |sum| >= |observed sum| for a fixed n.
        double observed = Math.Abs(d.Sum());
        double threshold = observed - 1e-9 * Math.Max(1.0, d.Sum(Math.Abs));
        if (n < 31 && (1L << n) <= permutations)
        {
            long hits = 0, total = 1L << n;
            for (long mask = 0; mask < total; mask++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += (mask >> i & 1) == 0 ? d[i] : -d[i];
                if (Math.Abs(sum) >= threshold) hits++;
            }
            return (double)hits / total;
        }
        var random = new Random(seed);
        long randomHits = 0;
        for (int p = 0; p < permutations; p++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += random.Next(2) == 0 ? d[i] : -d[i];
            if (Math.Abs(sum) >= threshold) randomHits++;
        }
        return (randomHits + 1.0) / (permutations + 1.0);
    }
}
