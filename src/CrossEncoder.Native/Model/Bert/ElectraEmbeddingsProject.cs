using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>ELECTRA's <c>embeddings_project</c>: small ELECTRA models keep narrower embedding tables (E, e.g. 128) than their
/// hidden states (H, e.g. 256); one linear layer widens every embedded token before the first encoder layer.</summary>
internal sealed class ElectraEmbeddingsProject(WeightSource weights, BertConfig config)
{
    private readonly Linear _dense = Linear.Load(weights, BertWeightNames.EmbeddingsProject, config.EmbeddingSize, config.HiddenSize, quantizable: false);   // [H, E]

    /// <summary>hidden[N, H] = embedded[N, E] W^T + b.</summary>
    public void Forward(ReadOnlySpan<float> embedded, Span<float> hidden, int tokens) => _dense.Forward(embedded, hidden, tokens);
}
