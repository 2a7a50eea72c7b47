namespace CrossEncoder.Native.Model;

/// <summary>A model folder or one of its files (config.json, weights) is missing, malformed or unsupported.
/// The message names the file and the problem.</summary>
public sealed class ModelFormatException : FormatException
{
    /// <summary>Creates the exception; the message is prefixed with the file path.</summary>
    public ModelFormatException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file (or folder) at fault.</summary>
    public string FilePath { get; }

    /// <summary>The problem, without the file prefix.</summary>
    public string Problem { get; }
}
