namespace CrossEncoder.Conversion.Onnx;

/// <summary>The ONNX file cannot be read, or its graph does not look like a BERT encoder; the message names the problem.</summary>
public sealed class OnnxConversionException : FormatException
{
    /// <summary>Creates the exception with a message naming the offending node, tensor or file.</summary>
    public OnnxConversionException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the parser's failure.</summary>
    public OnnxConversionException(string message, Exception inner) : base(message, inner) { }
}
