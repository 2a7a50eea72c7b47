using CrossEncoder.Tools.Reference;
using Xunit;

namespace CrossEncoder.Native.Tests.Conversion;

/// <summary>ONNX Runtime as the reference: per-layer outputs with stable names and shapes, padding, determinism, pooling.</summary>
[Collection("MiniLM")]
public sealed class OnnxReferenceTests(MiniLmFixture fixture)
{
    private const int Hidden = 384, Layers = 6;

    /// <summary>Padding must not change a row's real tokens beyond float noise between two ORT runs of different shapes.</summary>
    private const float PaddingTolerance = 1e-4f;

    private long[] Ids(params string[] tokens)
    {
        string[] vocab = [.. File.ReadAllLines(fixture.VocabPath).Select(l => l.TrimEnd('\r'))];
        return [.. tokens.Select(t => (long)Array.IndexOf(vocab, t))];
    }

    /// <summary>Two rows, T = 8: a full one and one with 4 padding tokens. Returns [B, T] ids, mask and type ids.</summary>
    private (long[] Ids, long[] Mask, long[] Types) PaddedBatch()
    {
        long[] full = Ids("[CLS]", "the", "quick", "brown", "fox", "jumps", "over", "[SEP]");
        long[] shortRow = Ids("[CLS]", "hello", "world", "[SEP]");
        Assert.DoesNotContain(-1L, full.Concat(shortRow));
        long[] ids = [.. full, .. shortRow, 0, 0, 0, 0];
        long[] mask = [.. Enumerable.Repeat(1L, 8), 1, 1, 1, 1, 0, 0, 0, 0];
        return (ids, mask, new long[16]);
    }

    [Fact]
    public void TheModelTakesThreeInt64InputsAndReturnsLastHiddenStateAndPooler()
    {
        OnnxReference reference = fixture.Reference;
        Assert.Equal(["input_ids: Int64[batch, sequence]", "attention_mask: Int64[batch, sequence]", "token_type_ids: Int64[batch, sequence]"], reference.ModelInputs);
        Assert.Equal(2, reference.ModelOutputs.Count);
        Assert.StartsWith("last_hidden_state: Float[", reference.ModelOutputs[0]);
        Assert.Equal(Layers, reference.LayerCount);
        Assert.Equal(Hidden, reference.HiddenSize);
        Assert.Equal(["embeddings", "layer.0", "layer.1", "layer.2", "layer.3", "layer.4", "layer.5", "last_hidden_state", "pooler_output"], reference.OutputNames);
    }

    [Fact]
    public void APaddedBatchYieldsEveryLayerWithItsShapeAndTheLastLayerIsLastHiddenState()
    {
        (long[] ids, long[] mask, long[] types) = PaddedBatch();
        IReadOnlyDictionary<string, ReferenceTensor> outputs = fixture.Reference.Run(ids, mask, types, batch: 2, sequenceLength: 8);

        foreach (string name in new[] { OnnxReference.Embeddings, OnnxReference.LastHiddenState }.Concat(Enumerable.Range(0, Layers).Select(OnnxReference.Layer)))
        {
            Assert.Equal([2, 8, Hidden], outputs[name].Shape);
            Assert.Equal(2 * 8 * Hidden, outputs[name].Data.Length);
            Assert.All(outputs[name].Data, v => Assert.True(float.IsFinite(v)));
        }
        Assert.Equal([2, Hidden], outputs[OnnxReference.PoolerOutput].Shape);
        Assert.All(outputs[OnnxReference.PoolerOutput].Data, v => Assert.InRange(v, -1f, 1f)); // tanh

        // layer.{L-1} is the tensor last_hidden_state holds: bit-for-bit equal.
        Assert.Equal(outputs[OnnxReference.LastHiddenState].Data, outputs[OnnxReference.Layer(Layers - 1)].Data);
        // ... and the layers really differ from each other.
        Assert.NotEqual(outputs[OnnxReference.Layer(0)].Data, outputs[OnnxReference.Layer(1)].Data);
        Assert.NotEqual(outputs[OnnxReference.Embeddings].Data, outputs[OnnxReference.Layer(0)].Data);
    }

    [Fact]
    public void RunsAreDeterministic()
    {
        (long[] ids, long[] mask, long[] types) = PaddedBatch();
        var first = fixture.Reference.Run(ids, mask, types, 2, 8);
        var second = fixture.Reference.Run(ids, mask, types, 2, 8);
        foreach (string name in fixture.Reference.OutputNames) Assert.Equal(first[name].Data, second[name].Data);
    }

    [Fact]
    public void PaddingDoesNotChangeTheRealTokensOfAShortRow()
    {
        (long[] ids, long[] mask, long[] types) = PaddedBatch();
        var padded = fixture.Reference.Run(ids, mask, types, 2, 8);
        var alone = fixture.Reference.Run(ids[8..12], mask[8..12], types[8..12], 1, 4);
        foreach (string name in fixture.Reference.OutputNames.Where(n => n != OnnxReference.PoolerOutput))
            for (int t = 0; t < 4; t++)
                for (int h = 0; h < Hidden; h++)
                    Assert.True(Math.Abs(padded[name].Data[((1 * 8) + t) * Hidden + h] - alone[name].Data[t * Hidden + h]) <= PaddingTolerance, $"{name}[t={t}, h={h}]");

        double[] paddedEmbedding = OnnxReference.MeanPoolNormalize(padded[OnnxReference.LastHiddenState].Data, mask, 2, 8, Hidden);
        double[] aloneEmbedding = OnnxReference.MeanPoolNormalize(alone[OnnxReference.LastHiddenState].Data, mask[8..12], 1, 4, Hidden);
        for (int h = 0; h < Hidden; h++) Assert.Equal(aloneEmbedding[h], paddedEmbedding[Hidden + h], 1e-5);
        for (int b = 0; b < 2; b++)
            Assert.Equal(1.0, Math.Sqrt(paddedEmbedding.AsSpan(b * Hidden, Hidden).ToArray().Sum(v => v * v)), 1e-12);
    }

    [Fact]
    public void MeanPoolNormalizeAveragesUnmaskedTokensThenNormalizes()
    {
        // B=2, T=3, H=2. Row 0 keeps tokens 0 and 1: mean (3, 4) -> (0.6, 0.8). Row 1 is all padding -> zeros, not NaN.
        float[] states = [1, 2, 5, 6, 100, 100, /* row 1 */ 7, 7, 7, 7, 7, 7];
        long[] mask = [1, 1, 0, 0, 0, 0];
        double[] pooled = OnnxReference.MeanPoolNormalize(states, mask, batch: 2, sequenceLength: 3, hidden: 2);
        Assert.Equal(0.6, pooled[0], 1e-15);
        Assert.Equal(0.8, pooled[1], 1e-15);
        Assert.Equal([0.0, 0.0], pooled[2..]);
        Assert.Throws<ArgumentException>(() => OnnxReference.MeanPoolNormalize(states, mask, 2, 3, 3));
    }

    [Fact]
    public void MismatchedInputLengthsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => fixture.Reference.Run(new long[5], new long[6], new long[6], 2, 3));
    }
}
