using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Model;

/// <summary>
/// Hands out a checkpoint's tensors by canonical Hugging Face name, resolving the optional <c>bert.</c> prefix and the
/// <c>gamma/beta</c> aliases, checking shapes, and remembering what was taken. After loading, <see cref="ThrowIfIncomplete"/>
/// fails loudly with the full list of missing and unexpected tensors, so a wrong checkpoint never loads half-way.
/// </summary>
internal sealed class WeightSource(SafeTensorsFile file, string modelPrefix = WeightNames.ModelPrefix)
{
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
    private readonly List<string> _missing = [];

    /// <summary>Canonical names of linear weights to load as int8 (<see cref="TakeQuantized"/>); null for fp32.</summary>
    public IReadOnlySet<string>? Int8Linears { get; init; }

    /// <summary>Canonical names of tables rounded through 8-bit rows at load (as a quantized file stores them); null for none.</summary>
    public IReadOnlySet<string>? Int8Tables { get; init; }

    /// <summary>True when the checkpoint has a tensor under <paramref name="name"/> (with any accepted prefix/alias).</summary>
    public bool Has(string name, bool underModelPrefix = true) => Resolve(name, underModelPrefix) is not null;

    /// <summary>Copies a tensor as F32, checking its shape. Records a missing tensor and returns an empty array instead of throwing,
    /// so every missing name is reported at once.</summary>
    public float[] Take(string name, long[] shape, bool underModelPrefix = true)
    {
        string? actual = Resolve(name, underModelPrefix);
        if (actual is null)
        {
            _missing.Add($"{name} {FormatShape(shape)}");
            return [];
        }
        var info = file.Tensors[actual];
        if (!info.Shape.SequenceEqual(shape))
            throw new ModelFormatException(file.FilePath, $"tensor '{actual}' has shape {FormatShape(info.Shape)}; the config implies {FormatShape(shape)}.");
        _taken.Add(actual);
        if (info.DType == SafeTensorDType.I8)
        {
            var (q, scale) = ReadInt8(actual, shape);
            return ModelQuantization.Dequantize(q, scale, (int)shape[0], (int)shape[1]);
        }
        var values = file.ReadFloat32(actual);
        if (Int8Tables?.Contains(name) != true || shape.Length != 2) return values;
        ModelQuantization.RequireFinite(file.FilePath, actual, values, (int)shape[1]);
        return ModelQuantization.RoundTable(values, (int)shape[0], (int)shape[1]);
    }

    /// <summary>True when <paramref name="name"/> (a linear weight) is to be loaded as int8.</summary>
    public bool WantsInt8(string name) => Int8Linears?.Contains(name) == true;

    /// <summary>A linear weight [out, in] as int8 values and per-row scales: read from an int8 file, or quantized from fp32.
    /// Returns empty arrays (and records the name) when missing, like <see cref="Take"/>.</summary>
    public (sbyte[] Q, float[] Scale) TakeQuantized(string name, long[] shape, bool underModelPrefix = true)
    {
        string? actual = Resolve(name, underModelPrefix);
        if (actual is not null && file.Tensors[actual].DType == SafeTensorDType.I8 && file.Tensors[actual].Shape.SequenceEqual(shape))
        {
            _taken.Add(actual);
            return ReadInt8(actual, shape);
        }
        var w = Take(name, shape, underModelPrefix);
        if (w.Length == 0) return ([], []);
        ModelQuantization.RequireFinite(file.FilePath, actual!, w, (int)shape[1]);
        var q = new sbyte[w.Length];
        var s = new float[shape[0]];
        Quantize.Weights(w, q, s, (int)shape[0], (int)shape[1]);
        return (q, s);
    }

    /// <summary>An I8 [rows, columns] tensor and its F32 [rows] scale tensor (both marked taken).</summary>
    private (sbyte[] Q, float[] Scale) ReadInt8(string actual, long[] shape)
    {
        if (shape.Length != 2) throw new ModelFormatException(file.FilePath, $"tensor '{actual}' is I8 but only 2-D weights may be quantized.");
        string scaleName = WeightNames.Scale(actual);
        if (!file.Tensors.TryGetValue(scaleName, out var scaleInfo) || !scaleInfo.Shape.SequenceEqual([shape[0]]))
            throw new ModelFormatException(file.FilePath, $"int8 tensor '{actual}' needs its scales '{scaleName}' with shape [{shape[0]}].");
        _taken.Add(scaleName);
        var q = new sbyte[shape[0] * shape[1]];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(file.GetBytes(actual)).CopyTo(q);
        return (q, file.ReadFloat32(scaleName));
    }

    /// <summary>Marks every tensor under <paramref name="module"/> (with any accepted prefix) as deliberately unused, e.g. the
    /// pooler a RoBERTa classifier checkpoint may carry but its head never reads (transformers ignores it too).</summary>
    public void Ignore(string module)
    {
        foreach (string name in file.Tensors.Keys)
            if (name.StartsWith(module + ".", StringComparison.Ordinal) || name.StartsWith(modelPrefix + module + ".", StringComparison.Ordinal))
                _taken.Add(name);
    }

    /// <summary>Throws if any tensor was missing or any non-ignorable tensor was never taken.</summary>
    public void ThrowIfIncomplete()
    {
        var unexpected = file.Tensors.Keys.Where(n => !_taken.Contains(n) && !WeightNames.IsIgnorable(n)).Order(StringComparer.Ordinal).ToList();
        if (_missing.Count == 0 && unexpected.Count == 0) return;
        var message = new System.Text.StringBuilder("the weights do not match the model described by config.json.");
        if (_missing.Count > 0) message.Append($" Missing ({_missing.Count}): ").AppendJoin(", ", _missing.Take(20)).Append(_missing.Count > 20 ? ", ..." : "").Append('.');
        if (unexpected.Count > 0) message.Append($" Unexpected ({unexpected.Count}): ").AppendJoin(", ", unexpected.Take(20)).Append(unexpected.Count > 20 ? ", ..." : "").Append('.');
        throw new ModelFormatException(file.FilePath, message.ToString());
    }

    private string? Resolve(string name, bool underModelPrefix)
    {
        foreach (string alias in WeightNames.Aliases(name))
        {
            if (file.Tensors.ContainsKey(alias)) return alias;
            if (underModelPrefix && file.Tensors.ContainsKey(modelPrefix + alias)) return modelPrefix + alias;
        }
        return null;
    }

    private static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
