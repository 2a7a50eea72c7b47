namespace CrossEncoder.Native.Tests.Model.Toy;

/// <summary>The toy family's tensor names: its whole weight-name map.</summary>
internal static class ToyWeightNames
{
    public const string ModelPrefix = "toy.";
    public const string Embeddings = "embeddings.weight";
    public static string Mixer(int layer) => $"layers.{layer}.mixer";
    public const string Score = "score";
}
