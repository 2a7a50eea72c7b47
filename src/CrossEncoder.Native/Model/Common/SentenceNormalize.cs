using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>sentence-transformers' Normalize module: each sentence vector scaled to unit length, y = x / max(||x||_2, 1e-12)
/// (torch.nn.functional.normalize). No files.</summary>
internal sealed class SentenceNormalize(int size) : ISentenceVectorModule
{
    /// <inheritdoc/>
    public int InFeatures { get; } = size;

    /// <inheritdoc/>
    public int OutFeatures => InFeatures;

    /// <inheritdoc/>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        int n = InFeatures;
        x[..(rows * n)].CopyTo(y);
        for (int r = 0; r < rows; r++) Pooling.L2Normalize(y.Slice(r * n, n));
    }

    /// <inheritdoc/>
    public override string ToString() => "Normalize";
}
