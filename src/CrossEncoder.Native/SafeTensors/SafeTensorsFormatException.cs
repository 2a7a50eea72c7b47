namespace CrossEncoder.Native.SafeTensors;

/// <summary>A safetensors file, or the index of a sharded checkpoint (<c>model.safetensors.index.json</c>), violates the format,
/// or the shards disagree with their index. The message names the file, the tensor (when one is at fault) and the problem.</summary>
public sealed class SafeTensorsFormatException : FormatException
{
    /// <summary>Creates the exception; the message is prefixed with the file path and the tensor name.</summary>
    public SafeTensorsFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : this("safetensors file", filePath, tensorName, problem, inner)
    {
    }

    private SafeTensorsFormatException(string what, string filePath, string? tensorName, string problem, Exception? inner)
        : base(Format(what, filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>A problem with a sharded checkpoint's index file (the message says "safetensors index").</summary>
    internal static SafeTensorsFormatException ForIndex(string indexPath, string? tensorName, string problem, Exception? inner = null) =>
        new("safetensors index", indexPath, tensorName, problem, inner);

    /// <summary>The file that failed validation (a safetensors file, a shard, or the index of a sharded checkpoint).</summary>
    public string FilePath { get; }

    /// <summary>The tensor at fault, or null when the problem is with the file as a whole.</summary>
    public string? TensorName { get; }

    /// <summary>The problem, without the file and tensor prefix.</summary>
    public string Problem { get; }

    private static string Format(string what, string filePath, string? tensorName, string problem) =>
        tensorName is null
            ? $"Invalid {what} '{filePath}': {problem}"
            : $"Invalid {what} '{filePath}', tensor '{tensorName}': {problem}";
}
