using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Model;

/// <summary>
/// The quantized model folder. A quantized <c>model.safetensors</c> keeps every tensor name of the fp32 one; the tensors the
/// model's family marks quantizable (<see cref="ITransformerModel.QuantizableTensors"/>: every encoder linear weight, and the
/// word-embedding table) change dtype and gain a scale tensor:
/// <list type="bullet">
/// <item>linear weights, e.g. BERT's <c>encoder.layer.{i}.(attention.self.query|key|value, attention.output.dense,
/// intermediate.dense, output.dense).weight</c>: I8 [out, in] in [-127, 127] plus <c>...weight_scale</c> F32 [out]
/// (w = scale[o] * q[o, i]);</item>
/// <item>the word-embedding table: I8 [V, H] in [-127, 127] plus <c>..._scale</c> F32 [V] (one scale per token).</item>
/// </list>
/// Biases, norms, position/type embeddings, pooler and head stay F32. Loading such a folder with <see cref="Precision.Int8"/>
/// runs exactly the arithmetic of quantizing the fp32 folder at load.
/// </summary>
public static class ModelQuantization
{
    /// <summary>Levels of the embedding table's per-row symmetric quantization (8 bits: it is only gathered, never multiplied).</summary>
    internal const int TableMax = 127;

    /// <summary>Refuses a tensor with a NaN or infinity before it is quantized: int8 has no such value, and rounding it would
    /// hide it in finite, wrong scores (fp32 shows NaN scores instead).</summary>
    internal static void RequireFinite(string filePath, string name, ReadOnlySpan<float> values, int columns)
    {
        int at = Quantize.FirstNonFinite(values);
        if (at >= 0)
            throw new ModelFormatException(filePath, $"tensor '{name}' holds {values[at]} at [{at / columns}, {at % columns}]; int8 cannot represent it (load in fp32 to see its effect).");
    }

    /// <summary>Rounds a table through its 8-bit per-row representation (what a quantized file stores).</summary>
    internal static float[] RoundTable(float[] table, int rows, int columns)
    {
        var q = new sbyte[table.Length];
        var scale = new float[rows];
        Quantize.Weights(table, q, scale, rows, columns, TableMax);
        return Dequantize(q, scale, rows, columns);
    }

    internal static float[] Dequantize(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scale, int rows, int columns)
    {
        var w = new float[q.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) w[r * columns + c] = scale[r] * q[r * columns + c];
        return w;
    }

    /// <summary>
    /// Writes the quantized <c>model.safetensors</c> of the fp32 model folder <paramref name="source"/> (one file or a sharded
    /// checkpoint) into <paramref name="destination"/> and copies every other file (config, tokenizer, pooling). Returns the
    /// bytes written for the weights. See <see cref="WriteQuantizedFolder(string, string, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="ModelFormatException">The source folder does not load (any family the loader runs), or is already quantized.</exception>
    public static long WriteQuantizedFolder(string source, string destination) => WriteQuantizedFolder(source, destination, CancellationToken.None);

    /// <summary>
    /// Writes the quantized weights of the fp32 model folder <paramref name="source"/> into <paramref name="destination"/> as one
    /// <c>model.safetensors</c> and copies every other file (config, tokenizer, sentence-transformers modules). The source may be
    /// one <c>model.safetensors</c> or a sharded checkpoint (<c>model.safetensors.index.json</c> and its shards; its F16/BF16
    /// tensors are written as F32); the output is always one file, never an index: none of the source's weight files
    /// (<c>*.safetensors</c> and the index at its root) are copied. Returns the bytes written for the weights.
    /// </summary>
    /// <param name="source">The fp32 model folder.</param>
    /// <param name="destination">Created if missing.</param>
    /// <param name="cancellationToken">Checked between tensors.</param>
    /// <exception cref="ModelFormatException">The source folder does not load (any family the loader runs), or is already quantized.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; the destination may hold copied files but no weights.</exception>
    public static long WriteQuantizedFolder(string source, string destination, CancellationToken cancellationToken)
    {
        // Load the fp32 model through the loader: it validates the folder and its family names the quantizable tensors, under
        // their names in the file (prefixes included: bert., roberta., electra., ...).
        var (model, _) = ModelLoader.Load(source, Precision.Fp32);
        var quantizable = model.QuantizableTensors.ToDictionary(t => t.Name, t => t.IsTable, StringComparer.Ordinal);
        Directory.CreateDirectory(destination);
        string weightsOut = Path.Combine(destination, SafeTensorsCheckpoint.SingleFileName);
        var tensors = new List<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)>();
        using (var checkpoint = ModelFolder.Open(source).OpenWeights(cancellationToken))
        {
            foreach (var (name, info) in checkpoint.Tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
            {
                cancellationToken.ThrowIfCancellationRequested();
                string file = checkpoint.FilePathOf(name);
                if (info.DType == SafeTensorDType.I8) throw new ModelFormatException(file, $"tensor '{name}' is already int8: the folder is quantized.");
                if (quantizable.TryGetValue(name, out bool table) && info.Shape.Count == 2)
                {
                    int rows = (int)info.Shape[0], columns = (int)info.Shape[1];
                    var q = new sbyte[(long)rows * columns];
                    var scale = new float[rows];
                    var values = checkpoint.ReadFloat32(name);
                    RequireFinite(file, name, values, columns);
                    Quantize.Weights(values, q, scale, rows, columns, table ? TableMax : Quantize.WeightMax);
                    tensors.Add((name, SafeTensorDType.I8, info.Shape.ToArray(), (byte[])(Array)q));
                    tensors.Add((Common.TensorNaming.Scale(name), SafeTensorDType.F32, [rows], ToBytes(scale)));
                }
                else if (info.DType == SafeTensorDType.F32 || info.DType == SafeTensorDType.F16 || info.DType == SafeTensorDType.BF16 || info.DType == SafeTensorDType.F64)
                    tensors.Add((name, SafeTensorDType.F32, info.Shape.ToArray(), ToBytes(checkpoint.ReadFloat32(name))));
                else
                    tensors.Add((name, info.DType, info.Shape.ToArray(), checkpoint.GetBytes(name).ToArray()));
            }
        }
        SafeTensorsWriter.Write(weightsOut, tensors);
        foreach (string path in Directory.EnumerateFiles(source))
        {
            string fileName = Path.GetFileName(path);
            if (IsWeightFile(fileName) || fileName == "quantization.json" || fileName.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) continue;
            File.Copy(path, Path.Combine(destination, fileName), overwrite: true);
        }
        foreach (string dir in Directory.EnumerateDirectories(source))   // sentence-transformers module folders (1_Pooling/, 2_Dense/...), head weights kept fp32
        {
            if (IsTrainingCheckpoint(dir)) continue;   // `train`'s resumable state (optimizer moments, 3x the model): not part of the model
            string target = Path.Combine(destination, Path.GetFileName(dir));
            Directory.CreateDirectory(target);
            foreach (string path in Directory.EnumerateFiles(dir).Where(p => !p.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) && !p.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)))
                File.Copy(path, Path.Combine(target, Path.GetFileName(path)), overwrite: true);
        }
        return new FileInfo(weightsOut).Length;
    }

    /// <summary>True for the folder <c>crossencoder train</c> keeps its resumable state in (it holds trainer_state.json).</summary>
    internal static bool IsTrainingCheckpoint(string directory) => File.Exists(Path.Combine(directory, "trainer_state.json"));

    /// <summary>The model's own weight files at a folder's root, which the quantized file replaces: model.safetensors, the
    /// index of a sharded checkpoint, its shards, and any other root *.safetensors (a variant such as model.fp16.safetensors).</summary>
    private static bool IsWeightFile(string fileName) =>
        fileName == SafeTensorsIndex.FileName || fileName.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);

    private static byte[] ToBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }
}
