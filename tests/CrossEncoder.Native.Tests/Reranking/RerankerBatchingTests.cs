using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary>Encode -> Forward -> Score (the cross-request batching entry points) against <see cref="Reranker.Rerank"/> run on
/// each request alone: the same scores whatever other requests' sequences share the forward pass.</summary>
public sealed class RerankerBatchingTests
{
    private static readonly (string Query, string[] Documents)[] Requests =
    [
        ("wing lift", ["the wing lift in high speed flow", "", "blood cell data"]),
        ("heat of a plate", ["what is the heat of the plate ?", "a", "the wing", "shear flow in the boundary layer of a wing and the lift of the aircraft model in a high speed test"]),
        ("blood", ["blood cell data"]),
    ];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MixedRequestsScoreAsEachRequestAlone(bool classifier)
    {
        using var tiny = new TinyBert(classifier);
        using var reranker = Reranker.Load(tiny.Directory, new RerankerOptions { MaxBatchTokens = 48, MaxBatchSequences = 3 });
        var encoded = Requests.Select(r => reranker.Encode(r.Query, r.Documents)).ToArray();
        var all = encoded.SelectMany(e => e.Sequences).ToList();
        Assert.Equal(classifier ? 8 : 11, all.Count);   // pairs, or the query plus each document
        var outputs = new float[all.Count * reranker.OutputSize];
        reranker.Forward(all, outputs);

        int row = 0;
        for (int r = 0; r < Requests.Length; r++)
        {
            int rows = encoded[r].Sequences.Count;
            var scored = reranker.Score(encoded[r], outputs.AsSpan(row * reranker.OutputSize, rows * reranker.OutputSize));
            row += rows;
            Assert.Equal(Enumerable.Range(0, Requests[r].Documents.Length), scored.Select(s => s.Index));
            Assert.Equal(encoded[r].Sequences.Sum(s => s.Length), encoded[r].TokenCount);
            foreach (var alone in reranker.Rerank(Requests[r].Query, Requests[r].Documents))
            {
                Assert.Equal(alone.Score, scored[alone.Index].Score, 1e-5f);
                Assert.Equal(alone.Truncation, scored[alone.Index].Truncation);
            }
        }
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        using var tiny = new TinyBert(classifier: true);
        using var reranker = Reranker.Load(tiny.Directory);
        var inputs = reranker.Encode("wing", ["a", "b"]);
        Assert.Contains("need 2", Assert.Throws<ArgumentException>(() => reranker.Forward(inputs.Sequences, new float[1])).Message);
        Assert.Contains("need 2", Assert.Throws<ArgumentException>(() => reranker.Score(inputs, new float[3])).Message);
        Assert.Throws<ArgumentNullException>(() => reranker.Encode("wing", ["a", null!]));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => reranker.Forward(inputs.Sequences, new float[2], cts.Token));
    }
}
