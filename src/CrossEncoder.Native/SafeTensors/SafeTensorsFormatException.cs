namespace CrossEncoder.Native.SafeTensors;

/// <summary>A safetensors file violates the format. The message names the file, the tensor (when one is at fault) and the problem.</summary>
public sealed class SafeTensorsFormatException : FormatException
{
    /// <summary>Creates the exception; the message is prefixed with the file path and the tensor name.</summary>
    public SafeTensorsFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : base(Format(filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>The file that failed validation.</summary>
    public string FilePath { get; }

    /// <summary>The tensor at fault, or null when the problem is with the file as a whole.</summary>
    public string? TensorName { get; }

    /// <summary>The problem, without the file and tensor prefix.</summary>
    public string Problem { get; }

    private static string Format(string filePath, string? tensorName, string problem) =>
        tensorName is null
            ? $"Invalid safetensors file '{filePath}': {problem}"
            : $"Invalid safetensors file '{filePath}', tensor '{tensorName}': {problem}";
}
