using System.Text.Json;
using CrossEncoder.Native.Kernels;
using Names = CrossEncoder.Native.Model.Common.SentenceTransformersWeightNames;

namespace CrossEncoder.Native.Model.Common;

/// <summary>The activations a sentence-transformers Dense module may name (<c>activation_function</c>).</summary>
internal enum DenseActivation
{
    /// <summary>torch.nn.Identity: the product itself (a CrossEncoder's score layer).</summary>
    Identity,
    /// <summary>torch.nn.GELU with its default approximate='none': exact erf GELU.</summary>
    Gelu,
    /// <summary>torch.nn.Tanh (the module's default when the config names none).</summary>
    Tanh,
    /// <summary>torch.nn.ReLU.</summary>
    Relu,
    /// <summary>torch.nn.Sigmoid.</summary>
    Sigmoid,
}

/// <summary>
/// sentence-transformers' Dense module: a fully connected layer on the sentence vector, then an activation,
/// y[B, out] = act(x[B, in] W^T + b), W = <c>linear.weight</c> [out, in], b = <c>linear.bias</c> [out] (absent when
/// <c>bias</c> is false). Its weights stay fp32 (a head is never quantized).
/// </summary>
internal sealed class SentenceDense : ISentenceVectorModule
{
    private readonly Linear _linear;   // [out, in]

    private SentenceDense(Linear linear, DenseActivation activation, bool hasBias, KernelCapabilities capabilities)
    {
        _linear = linear;
        Activation = activation;
        HasBias = hasBias;
        Capabilities = capabilities;
    }

    /// <inheritdoc/>
    public int InFeatures => _linear.InFeatures;

    /// <inheritdoc/>
    public int OutFeatures => _linear.OutFeatures;

    /// <summary>The activation applied to the product.</summary>
    public DenseActivation Activation { get; }

    /// <summary>True when the layer adds a bias.</summary>
    public bool HasBias { get; }

    private KernelCapabilities Capabilities { get; }

    /// <summary>Reads a Dense module folder: <c>config.json</c> (<c>in_features</c>, <c>out_features</c>, <c>bias</c>,
    /// <c>activation_function</c>; 5.x adds <c>module_input_name</c>, <c>module_output_name</c>, <c>use_residual</c>) and
    /// <c>model.safetensors</c>. <paramref name="inFeatures"/> is the width the previous step produces.</summary>
    /// <exception cref="ModelFormatException">A file is missing or malformed, a width does not chain, or a setting is unsupported.</exception>
    public static SentenceDense Load(string folder, int inFeatures, KernelCapabilities capabilities)
    {
        string configPath = Path.Combine(folder, Names.ModuleConfigFile);
        int outFeatures;
        bool bias;
        DenseActivation activation;
        using (var document = ModelFolder.ReadConfigJson(configPath))
        {
            var config = new ModuleConfig(configPath, document.RootElement);
            int declaredIn = config.RequiredInt("in_features");
            outFeatures = config.RequiredInt("out_features");
            if (declaredIn != inFeatures)
                throw new ModelFormatException(configPath, $"in_features is {declaredIn}, but the step before it produces vectors of {inFeatures}.");
            if (outFeatures <= 0) throw new ModelFormatException(configPath, $"out_features must be positive, got {outFeatures}.");
            bias = config.OptionalBool("bias") ?? true;
            activation = ParseActivation(configPath, document.RootElement);
            if (config.OptionalString("module_input_name") is { } input && input != "sentence_embedding")
                throw new ModelFormatException(configPath, $"module_input_name '{input}' is not supported: this engine runs Dense on the pooled sentence vector ('sentence_embedding') only.");
            if (config.OptionalBool("use_residual") == true)
                throw new ModelFormatException(configPath, "use_residual true (a residual connection around the layer) is not supported.");
        }
        using var file = ModuleWeights.Open(folder);
        var weights = ModuleWeights.Source(file, capabilities);
        var linear = Linear.Load(weights, Names.DenseLinear, inFeatures, outFeatures, quantizable: false, underModelPrefix: false, hasBias: bias);
        weights.ThrowIfIncomplete();
        return new SentenceDense(linear, activation, bias, capabilities);
    }

    /// <summary><c>activation_function</c> as sentence-transformers writes it (the class's full name, e.g.
    /// <c>torch.nn.modules.activation.GELU</c>, or the short <c>torch.nn.GELU</c>); absent means Tanh, null means Identity,
    /// as the module's constructor.</summary>
    private static DenseActivation ParseActivation(string configPath, JsonElement root)
    {
        if (!root.TryGetProperty("activation_function", out var value)) return DenseActivation.Tanh;
        if (value.ValueKind == JsonValueKind.Null) return DenseActivation.Identity;
        if (value.ValueKind != JsonValueKind.String) throw new ModelFormatException(configPath, $"field 'activation_function' must be a string, got {value.GetRawText()}.");
        string name = value.GetString()!;
        string? torchClass = name.StartsWith("torch.nn.", StringComparison.Ordinal) ? name[(name.LastIndexOf('.') + 1)..] : null;
        return torchClass switch
        {
            "Identity" => DenseActivation.Identity,
            "GELU" => DenseActivation.Gelu,
            "Tanh" => DenseActivation.Tanh,
            "ReLU" => DenseActivation.Relu,
            "Sigmoid" => DenseActivation.Sigmoid,
            _ => throw new ModelFormatException(configPath,
                $"activation_function '{name}' is not supported (supported: torch.nn Identity, GELU, Tanh, ReLU, Sigmoid)."),
        };
    }

    /// <inheritdoc/>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        Span<float> product = y[..(rows * OutFeatures)];   // [B, out]
        if (Activation == DenseActivation.Gelu)
        {
            _linear.ForwardGelu(x, product, rows);          // GELU fused into the GEMM epilogue
            return;
        }
        _linear.Forward(x, product, rows);                  // x W^T + b
        switch (Activation)
        {
            case DenseActivation.Tanh: Activations.Tanh(product, product); break;
            case DenseActivation.Relu: Activations.Relu(product, product); break;
            case DenseActivation.Sigmoid: Activations.Sigmoid(product, product); break;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"Dense({InFeatures}->{OutFeatures}{(HasBias ? "" : ", no bias")}, {Activation})";
}
