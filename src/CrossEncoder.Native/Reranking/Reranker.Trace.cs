using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

public sealed partial class Reranker
{
    /// <summary>
    /// Runs one encoded sequence alone through the model with an activation <paramref name="tap"/> (every intermediate of
    /// <see cref="ModelTaps"/> is reported, and computed in full: no last-row shortcut, no prefix cache) in a pooled workspace,
    /// and returns its output row [OutputSize] (a cross-encoder's logit, a bi-encoder's embedding). What <see cref="Rerank"/>
    /// computes for the same input, up to the float rounding of the shortcuts it skips.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The sequence is longer than <see cref="ModelMaxLength"/>.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked between layers).</exception>
    internal float[] RunTapped(EncodedPair input, ActivationTap tap, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(tap);
        if (input.Length == 0 || input.Length > _modelMaxLength)
            throw new ArgumentOutOfRangeException(nameof(input), input.Length, $"A traced sequence has between 1 and the model's limit of {_modelMaxLength} tokens.");
        ModelWorkspace workspace = RentWorkspace(input.Length);
        try
        {
            workspace.Batch.Clear();
            workspace.Batch.Add(input);
            return Model.Forward(workspace, tap, cancellationToken)[..OutputSize].ToArray();   // [OutputSize]
        }
        finally
        {
            workspace.Batch.Clear();
            workspace.ReleaseTapScratch();
            if (_workspaces.Count < Environment.ProcessorCount) _workspaces.Add(workspace);
        }
    }
}
