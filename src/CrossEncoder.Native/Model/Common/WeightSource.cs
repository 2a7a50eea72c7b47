using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// Hands out a checkpoint's tensors by canonical Hugging Face name, resolving the family's optional model prefix and
/// spelling aliases (<see cref="TensorNaming"/>), checking shapes, and remembering what was taken. After loading,
/// <see cref="ThrowIfIncomplete"/> fails loudly with the full list of missing and unexpected tensors, so a wrong checkpoint
/// never loads half-way. It is also where precision reaches the modules: <see cref="Precision"/> says whether a quantizable
/// linear loads as int8, and every quantizable tensor is recorded under its name in the file.
/// </summary>
/// <remarks>The checkpoint may be one file or shards (<see cref="SafeTensorsCheckpoint"/>): a message about one tensor names
/// the file that holds it, one about the whole set (missing or unexpected tensors) names the checkpoint (the index).</remarks>
internal sealed class WeightSource(SafeTensorsCheckpoint file, TensorNaming naming, Precision precision, KernelCapabilities capabilities)
{
    /// <summary>The kernel paths the loaded modules run (chosen once by the loader; the modules pack weights for them).</summary>
    public KernelCapabilities Capabilities { get; } = capabilities;

    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
    private readonly List<string> _missing = [];
    private readonly List<QuantizableTensor> _quantizable = [];

    /// <summary>Fp32 or Int8: the arithmetic of the linear layers loaded as quantizable.</summary>
    public Precision Precision { get; } = precision is Precision.Fp32 or Precision.Int8 ? precision
        : throw new ArgumentOutOfRangeException(nameof(precision), precision, "A checkpoint loads in Fp32 or Int8; Auto is resolved by the loader.");

    /// <summary>The checkpoint's path (the single file, or the index of a sharded one), for error messages.</summary>
    public string FilePath => file.Location;

    /// <summary>The quantizable tensors taken so far, under their names in the file.</summary>
    public IReadOnlyList<QuantizableTensor> Quantizable => _quantizable;

    /// <summary>True when the checkpoint has a tensor under <paramref name="name"/> (with any accepted prefix/alias).</summary>
    public bool Has(string name, bool underModelPrefix = true) => Resolve(name, underModelPrefix) is not null;

    /// <summary>Copies a tensor as F32, checking its shape. Records a missing tensor and returns an empty array instead of throwing,
    /// so every missing name is reported at once. An I8 tensor (a quantized file) is dequantized.</summary>
    public float[] Take(string name, long[] shape, bool underModelPrefix = true)
    {
        string? actual = Resolve(name, underModelPrefix);
        if (actual is null)
        {
            RecordMissing(name, shape);
            return [];
        }
        var info = file.Tensors[actual];
        if (!info.Shape.SequenceEqual(shape))
            throw new ModelFormatException(file.FilePathOf(actual), $"tensor '{actual}' has shape {FormatShape(info.Shape)}; the config implies {FormatShape(shape)}.");
        _taken.Add(actual);
        if (info.DType == SafeTensorDType.I8)
        {
            var (q, scale) = ReadInt8(actual, shape);
            return ModelQuantization.Dequantize(q, scale, (int)shape[0], (int)shape[1]);
        }
        var values = file.ReadFloat32(actual);
        RequireFinite(actual, values, shape);
        return values;
    }

    /// <summary>Refuses a weight holding a NaN or an infinity, naming the tensor and the element: every weight the forward
    /// reads passes here (F32, F16, BF16, F64 and an int8 tensor's scales), so a corrupt checkpoint never loads to return NaN
    /// or infinite scores, and int8 never rounds such a value into finite, wrong ones.</summary>
    private void RequireFinite(string actual, ReadOnlySpan<float> values, long[] shape)
    {
        int at = Finite.IndexOfNonFinite(values, Capabilities);
        if (at < 0) return;
        throw new ModelFormatException(file.FilePathOf(actual),
            $"tensor '{actual}' holds {values[at]} at {FormatIndex(at, shape)}: every weight must be a finite number (the file is corrupt, or was saved from a diverged run).");
    }

    /// <summary>The element <paramref name="flat"/> of a row-major tensor as [i, j, ...] (a scalar: []).</summary>
    private static string FormatIndex(long flat, IReadOnlyList<long> shape)
    {
        var index = new long[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--)
        {
            if (shape[d] == 0) break;
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return FormatShape(index);
    }

    /// <summary>A gathered table [rows, columns] (a word-embedding table), quantizable as 8-bit rows: in int8 it is rounded
    /// through its per-row 8-bit representation (what a quantized file stores), so a quantized folder and an fp32 folder
    /// loaded in int8 compute the same.</summary>
    public float[] TakeTable(string name, long[] shape, bool underModelPrefix = true)
    {
        string? actual = Resolve(name, underModelPrefix);
        if (actual is not null) _quantizable.Add(new QuantizableTensor(actual, IsTable: true));
        var values = Take(name, shape, underModelPrefix);
        if (Precision != Precision.Int8 || values.Length == 0 || shape.Length != 2 || file.Tensors[actual!].DType == SafeTensorDType.I8) return values;
        return ModelQuantization.RoundTable(values, (int)shape[0], (int)shape[1]);
    }

    /// <summary>A quantizable linear weight [out, in] as int8 values and per-row scales: read from an int8 file, or quantized
    /// from fp32. Returns empty arrays (and records the name) when missing, like <see cref="Take"/>.</summary>
    public (sbyte[] Q, float[] Scale) TakeQuantized(string name, long[] shape, bool underModelPrefix = true)
    {
        string? actual = Resolve(name, underModelPrefix);
        if (actual is not null && file.Tensors[actual].DType == SafeTensorDType.I8 && file.Tensors[actual].Shape.SequenceEqual(shape))
        {
            _taken.Add(actual);
            return ReadInt8(actual, shape);
        }
        var w = Take(name, shape, underModelPrefix);
        if (w.Length == 0) return ([], []);   // Take refused a non-finite value: nothing to round
        var q = new sbyte[w.Length];
        var s = new float[shape[0]];
        Quantize.Weights(w, q, s, (int)shape[0], (int)shape[1]);
        return (q, s);
    }

    /// <summary>Records <paramref name="name"/> (a linear weight) as one the int8 scheme quantizes.</summary>
    public void MarkQuantizableLinear(string name, bool underModelPrefix = true)
    {
        if (Resolve(name, underModelPrefix) is { } actual) _quantizable.Add(new QuantizableTensor(actual, IsTable: false));
    }

    /// <summary>An I8 [rows, columns] tensor and its F32 [rows] scale tensor (both marked taken).</summary>
    private (sbyte[] Q, float[] Scale) ReadInt8(string actual, long[] shape)
    {
        if (shape.Length != 2) throw new ModelFormatException(file.FilePathOf(actual), $"tensor '{actual}' is I8 but only 2-D weights may be quantized.");
        string scaleName = TensorNaming.Scale(actual);
        if (!file.Tensors.TryGetValue(scaleName, out var scaleInfo) || !scaleInfo.Shape.SequenceEqual([shape[0]]))
            throw new ModelFormatException(file.FilePathOf(actual), $"int8 tensor '{actual}' needs its scales '{scaleName}' with shape [{shape[0]}].");
        _taken.Add(scaleName);
        var q = new sbyte[shape[0] * shape[1]];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(file.GetBytes(actual)).CopyTo(q);
        var scale = file.ReadFloat32(scaleName);
        RequireFinite(scaleName, scale, [shape[0]]);
        return (q, scale);
    }

    /// <summary>Marks every tensor under <paramref name="module"/> (with any accepted prefix) as deliberately unused, e.g. the
    /// pooler a RoBERTa classifier checkpoint may carry but its head never reads (transformers ignores it too).</summary>
    public void Ignore(string module)
    {
        foreach (string name in file.Tensors.Keys)
            if (name.StartsWith(module + ".", StringComparison.Ordinal) || name.StartsWith(naming.ModelPrefix + module + ".", StringComparison.Ordinal))
                _taken.Add(name);
    }

    /// <summary>Throws if any tensor was missing or any non-ignorable tensor was never taken.</summary>
    public void ThrowIfIncomplete()
    {
        var unexpected = file.Tensors.Keys.Where(n => !_taken.Contains(n) && !naming.IsIgnorable(n)).Order(StringComparer.Ordinal).ToList();
        if (_missing.Count == 0 && unexpected.Count == 0) return;
        var message = new System.Text.StringBuilder("the weights do not match the model described by config.json.");
        if (_missing.Count > 0) message.Append($" Missing ({_missing.Count}): ").AppendJoin(", ", _missing.Take(20)).Append(_missing.Count > 20 ? ", ..." : "").Append('.');
        if (unexpected.Count > 0) message.Append($" Unexpected ({unexpected.Count}): ").AppendJoin(", ", unexpected.Take(20)).Append(unexpected.Count > 20 ? ", ..." : "").Append('.');
        throw new ModelFormatException(file.Location, message.ToString());
    }

    /// <summary>Notes a tensor the config implies but the file lacks. A config that implies far more tensors than the file
    /// holds (num_hidden_layers: 1000000 on a 1-layer checkpoint) fails here, before its layers are built, instead of growing
    /// to gigabytes of packed empty layers.</summary>
    private void RecordMissing(string name, long[] shape)
    {
        _missing.Add($"{name} {FormatShape(shape)}");
        int limit = Math.Max(64, file.Tensors.Count);
        if (_missing.Count <= limit) return;
        throw new ModelFormatException(file.Location,
            $"the weights do not match the model described by config.json: more than {limit} tensors it implies are missing (first: "
            + string.Join(", ", _missing.Take(5)) + $"); the file holds {file.Tensors.Count} tensors; check num_hidden_layers and the other sizes in config.json.");
    }

    private string? Resolve(string name, bool underModelPrefix)
    {
        foreach (string alias in naming.Aliases(name))
        {
            if (file.Tensors.ContainsKey(alias)) return alias;
            if (underModelPrefix && file.Tensors.ContainsKey(naming.ModelPrefix + alias)) return naming.ModelPrefix + alias;
        }
        return null;
    }

    private static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
