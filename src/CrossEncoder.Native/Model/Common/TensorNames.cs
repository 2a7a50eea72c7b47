namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// How a family's checkpoints name their tensors, beyond the canonical names its names file builds: the prefix a task model
/// keeps the encoder under (<c>bert.</c>, <c>roberta.</c>...), spelling aliases, and tensors that are buffers or unused heads.
/// </summary>
/// <param name="ModelPrefix">Prefix of the encoder's tensors in a task model (optional in the file: base models omit it).</param>
/// <param name="Aliases">The spellings a canonical name may have in a file, the canonical one first.</param>
/// <param name="IsIgnorable">Tensors skipped without being reported as unexpected.</param>
internal sealed record TensorNaming(string ModelPrefix, Func<string, IEnumerable<string>> Aliases, Func<string, bool> IsIgnorable)
{
    /// <summary><c>{module}.weight</c>.</summary>
    public static string Weight(string module) => module + ".weight";

    /// <summary><c>{module}.bias</c>.</summary>
    public static string Bias(string module) => module + ".bias";

    /// <summary>A quantized file's per-row fp32 scales of an I8 tensor: <c>{tensor}_scale</c>, e.g.
    /// <c>encoder.layer.0.intermediate.dense.weight_scale</c>.</summary>
    public static string Scale(string tensor) => tensor + "_scale";
}
