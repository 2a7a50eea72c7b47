namespace CrossEncoder.Native.Tokenization;

/// <summary>A tokenizer file (<c>vocab.txt</c>, <c>tokenizer.json</c>, <c>tokenizer_config.json</c>) is malformed or describes a tokenizer this library does not implement.</summary>
public sealed class TokenizerFormatException : FormatException
{
    /// <summary>Creates the exception; the message names the file and the problem.</summary>
    /// <param name="filePath">The offending file.</param>
    /// <param name="problem">What is wrong with it.</param>
    /// <param name="inner">The underlying parse error, if any.</param>
    public TokenizerFormatException(string filePath, string problem, Exception? inner = null)
        : base($"Invalid tokenizer file '{filePath}': {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The offending file.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with the file, without the file name.</summary>
    public string Problem { get; }
}
