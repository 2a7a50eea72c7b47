namespace CrossEncoder.Native.Model;

/// <summary>
/// The model computed a NaN or an infinity from finite weights and a valid input: an activation overflowed float range (a
/// checkpoint with huge weights, e.g. 3e38, loads but cannot be evaluated). Thrown instead of returning such a score or
/// embedding. <see cref="Stage"/> names the first intermediate that stopped being finite (e.g. <c>layer.2.attention.out</c>,
/// the names of a trace), when it could be found.
/// </summary>
public sealed class ModelComputationException : Exception
{
    /// <summary>Creates the exception for input <paramref name="inputIndex"/> whose output held <paramref name="value"/>.</summary>
    public ModelComputationException(string? stage, int inputIndex, float value)
        : base(Format(stage, inputIndex, value))
    {
        Stage = stage;
        InputIndex = inputIndex;
        Value = value;
    }

    /// <summary>The first intermediate (a trace's stage name: <c>embeddings</c>, <c>layer.{i}.attention.out</c>,
    /// <c>layer.{i}.attention.residual</c>, <c>layer.{i}.ffn.intermediate</c>, <c>layer.{i}.ffn.output</c>, <c>layer.{i}</c>,
    /// <c>head.hidden</c>, <c>output</c>) holding a NaN or an infinity; null when it could not be located.</summary>
    public string? Stage { get; }

    /// <summary>The input (a sequence of the call, in the order given) whose output is not finite.</summary>
    public int InputIndex { get; }

    /// <summary>The non-finite value found in the output (NaN or an infinity).</summary>
    public float Value { get; }

    private static string Format(string? stage, int inputIndex, float value)
    {
        string where = stage is null ? "" : $"; the activations first stop being finite at '{stage}'";
        return $"the model computed {value} for input {inputIndex} from finite weights{where}: an activation overflowed float range " +
               "(the checkpoint's weights are too large to evaluate, e.g. 3e38); no score is returned.";
    }
}
