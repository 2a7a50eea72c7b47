using CrossEncoder.Evaluation.Metrics;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Metrics;

public sealed class RandomizationTestTests
{
    [Fact]
    public void Exact_p_value_hand_worked()
    {
        // d = (0.5, -0.1, 0.2), observed |sum| 0.6. The 8 sign assignments give |sum| 0.8, 0.6, 0.4, 0.2, each twice:
        // 4 of 8 are >= 0.6.
        Assert.Equal(0.5, RandomizationTest.PValue([0, 0.3, 0], [0.5, 0.2, 0.2]), 12);
        // All three differences positive and equal: only the two all-same-sign assignments reach |sum| 3: p = 2/8.
        Assert.Equal(0.25, RandomizationTest.PValue([0, 0, 0], [1, 1, 1]), 12);
        // Swapping before and after does not change a two-sided p-value.
        Assert.Equal(0.25, RandomizationTest.PValue([1, 1, 1], [0, 0, 0]), 12);
    }

    [Fact]
    public void No_change_gives_p_one_and_no_queries_gives_p_one()
    {
        Assert.Equal(1.0, RandomizationTest.PValue([0.2, 0.4], [0.2, 0.4]));
        Assert.Equal(1.0, RandomizationTest.PValue([], []));
    }

    [Fact]
    public void Sampled_p_value_agrees_with_full_enumeration_and_is_reproducible()
    {
        // 16 queries: 65,536 assignments, more than the 10,000 samples, so PValue samples; the reference enumerates all of them.
        var random = new Random(7);
        double[] before = Enumerable.Range(0, 16).Select(_ => random.NextDouble()).ToArray();
        double[] after = before.Select(b => b + random.NextDouble() * 0.2 - 0.06).ToArray();
        double[] d = after.Zip(before, (a, b) => a - b).ToArray();
        double observed = Math.Abs(d.Sum());
        int hits = 0;
        for (int mask = 0; mask < 1 << d.Length; mask++)
        {
            double sum = 0;
            for (int i = 0; i < d.Length; i++) sum += (mask >> i & 1) == 0 ? d[i] : -d[i];
            if (Math.Abs(sum) >= observed - 1e-12) hits++;
        }
        double exact = (double)hits / (1 << d.Length);
        Assert.InRange(exact, 0.005, 0.5);   // the test is only informative away from 0 and 1
        double sampled = RandomizationTest.PValue(before, after);
        Assert.Equal(exact, sampled, 0.02);   // binomial standard error at 10,000 samples is <= 0.005
        Assert.Equal(sampled, RandomizationTest.PValue(before, after));   // fixed seed
    }

    [Fact]
    public void Clear_difference_over_many_queries_is_significant()
    {
        double[] before = Enumerable.Range(0, 50).Select(i => 0.3 + 0.01 * (i % 7)).ToArray();
        double[] after = before.Select((b, i) => b + (i % 5 == 0 ? -0.02 : 0.1)).ToArray();
        Assert.True(RandomizationTest.PValue(before, after) < 0.001);
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => RandomizationTest.PValue([1, 2], [1]));
        Assert.Throws<ArgumentException>(() => RandomizationTest.PValue([double.NaN], [1]));
    }
}
