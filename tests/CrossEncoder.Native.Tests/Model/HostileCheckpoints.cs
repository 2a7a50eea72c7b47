using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// Copies of a valid model folder with one tensor of its single <c>model.safetensors</c> replaced, as a hostile or corrupt
/// file would hold it: NaN or infinity in F32, F16 or BF16, values that overflow in arithmetic (3e38), or the right number
/// of bytes under a dtype no weight may have (I32, BOOL, ...). The file stays valid safetensors, so only the model loader's
/// own checks can refuse it. The caller deletes the copy.
/// </summary>
internal static class HostileCheckpoints
{
    /// <summary>A copy of <paramref name="folder"/> whose tensor <paramref name="name"/> is re-encoded by
    /// <paramref name="encode"/> (its F32 values in, the new dtype and bytes out; the shape is kept).</summary>
    public static string WithTensor(string folder, string name, Func<float[], (SafeTensorDType DType, byte[] Data)> encode)
    {
        string copy = Path.Combine(Path.GetTempPath(), "ce-hostile-" + Guid.NewGuid().ToString("N"));
        CopyDirectory(folder, copy);
        string path = Path.Combine(copy, SafeTensorsCheckpoint.SingleFileName);
        var tensors = new List<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)>();
        using (var file = SafeTensorsFile.Open(path))
        {
            if (!file.Tensors.ContainsKey(name)) throw new ArgumentException($"'{name}' is not in {path}: {string.Join(", ", file.Tensors.Keys)}", nameof(name));
            foreach (var (tensor, info) in file.Tensors)
            {
                if (tensor != name) { tensors.Add((tensor, info.DType, info.Shape.ToArray(), file.GetBytes(tensor).ToArray())); continue; }
                var (dtype, data) = encode(file.ReadFloat32(tensor));
                tensors.Add((tensor, dtype, info.Shape.ToArray(), data));
            }
        }
        SafeTensorsWriter.Write(path, tensors);
        return copy;
    }

    /// <summary>The tensor's values with <paramref name="value"/> at flat index <paramref name="index"/>, written as <paramref name="dtype"/>.</summary>
    public static string WithValue(string folder, string name, int index, float value, SafeTensorDType dtype = SafeTensorDType.F32) =>
        WithTensor(folder, name, values =>
        {
            values[index] = value;
            return (dtype, SafeTensorsWriter.EncodeFloats(values, dtype));
        });

    /// <summary>Every value of the tensor set to <paramref name="value"/> (finite values that overflow in arithmetic, e.g. 3e38).</summary>
    public static string WithAll(string folder, string name, float value) =>
        WithTensor(folder, name, values =>
        {
            Array.Fill(values, value);
            return (SafeTensorDType.F32, SafeTensorsWriter.EncodeFloats(values, SafeTensorDType.F32));
        });

    /// <summary>The tensor's element count of bytes of <paramref name="dtype"/> (a pattern, not zeros): a valid file whose weight
    /// has a dtype the model cannot read.</summary>
    public static string WithDType(string folder, string name, SafeTensorDType dtype) =>
        WithTensor(folder, name, values => (dtype, Enumerable.Range(0, values.Length * dtype.SizeInBytes()).Select(i => (byte)(i % 2)).ToArray()));

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string dir in Directory.GetDirectories(from)) CopyDirectory(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
