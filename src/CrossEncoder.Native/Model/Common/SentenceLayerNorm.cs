using Names = CrossEncoder.Native.Model.Common.SentenceTransformersWeightNames;

namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// sentence-transformers' LayerNorm module: y[B, D] = (x - mean) / sqrt(var + eps) * gamma + beta over each sentence vector,
/// gamma = <c>norm.weight</c>, beta = <c>norm.bias</c> [D], eps = torch's default 1e-5 (the module never sets another).
/// </summary>
internal sealed class SentenceLayerNorm : ISentenceVectorModule
{
    private readonly LayerNormParameters _norm;

    private SentenceLayerNorm(LayerNormParameters norm) => _norm = norm;

    /// <inheritdoc/>
    public int InFeatures => _norm.Gamma.Length;

    /// <inheritdoc/>
    public int OutFeatures => _norm.Gamma.Length;

    /// <summary>Reads a LayerNorm module folder: <c>config.json</c> (<c>dimension</c>) and <c>model.safetensors</c>.</summary>
    /// <exception cref="ModelFormatException">A file is missing or malformed, or the dimension is not <paramref name="inFeatures"/>.</exception>
    public static SentenceLayerNorm Load(string folder, int inFeatures, Kernels.KernelCapabilities capabilities)
    {
        string configPath = Path.Combine(folder, Names.ModuleConfigFile);
        using (var document = ModelFolder.ReadConfigJson(configPath))
        {
            int dimension = new ModuleConfig(configPath, document.RootElement).RequiredInt("dimension");
            if (dimension != inFeatures)
                throw new ModelFormatException(configPath, $"dimension is {dimension}, but the step before it produces vectors of {inFeatures}.");
        }
        using var file = ModuleWeights.Open(folder);
        var weights = ModuleWeights.Source(file, capabilities);
        var norm = LayerNormParameters.Load(weights, Names.LayerNormNorm, inFeatures, Names.LayerNormEps);
        weights.ThrowIfIncomplete();
        return new SentenceLayerNorm(norm);
    }

    /// <inheritdoc/>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        int n = rows * InFeatures;
        x[..n].CopyTo(y);
        _norm.Forward(y, rows);
    }

    /// <inheritdoc/>
    public override string ToString() => $"LayerNorm({InFeatures})";
}
