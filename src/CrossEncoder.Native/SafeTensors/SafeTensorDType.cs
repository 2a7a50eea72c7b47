namespace CrossEncoder.Native.SafeTensors;

/// <summary>Element types defined by the safetensors format (the header's <c>dtype</c> strings).</summary>
internal enum SafeTensorDType
{
    /// <summary>Boolean, 1 byte.</summary>
    Bool,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE 754 half precision.</summary>
    F16,
    /// <summary>bfloat16: the upper 16 bits of an IEEE single.</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE 754 single precision.</summary>
    F32,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
    /// <summary>IEEE 754 double precision.</summary>
    F64,
}

/// <summary>Element sizes and header spellings of <see cref="SafeTensorDType"/>.</summary>
internal static class SafeTensorDTypeExtensions
{
    /// <summary>Size of one element in bytes (1 for <see cref="SafeTensorDType.Bool"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined value.</exception>
    public static int SizeInBytes(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.Bool or SafeTensorDType.U8 or SafeTensorDType.I8 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        SafeTensorDType.I64 or SafeTensorDType.U64 or SafeTensorDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>The string the header uses for this dtype, e.g. <c>"BF16"</c> or <c>"BOOL"</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined value.</exception>
    public static string ToHeaderString(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.Bool => "BOOL",
        SafeTensorDType.U8 => "U8",
        SafeTensorDType.I8 => "I8",
        SafeTensorDType.I16 => "I16",
        SafeTensorDType.U16 => "U16",
        SafeTensorDType.F16 => "F16",
        SafeTensorDType.BF16 => "BF16",
        SafeTensorDType.I32 => "I32",
        SafeTensorDType.U32 => "U32",
        SafeTensorDType.F32 => "F32",
        SafeTensorDType.I64 => "I64",
        SafeTensorDType.U64 => "U64",
        SafeTensorDType.F64 => "F64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>Parses a header dtype string (case-sensitive, as in the reference implementation).</summary>
    /// <returns>False for a string this library does not know (e.g. the FP8 types).</returns>
    public static bool TryParseHeaderString(string? text, out SafeTensorDType dtype)
    {
        switch (text)
        {
            case "BOOL": dtype = SafeTensorDType.Bool; return true;
            case "U8": dtype = SafeTensorDType.U8; return true;
            case "I8": dtype = SafeTensorDType.I8; return true;
            case "I16": dtype = SafeTensorDType.I16; return true;
            case "U16": dtype = SafeTensorDType.U16; return true;
            case "F16": dtype = SafeTensorDType.F16; return true;
            case "BF16": dtype = SafeTensorDType.BF16; return true;
            case "I32": dtype = SafeTensorDType.I32; return true;
            case "U32": dtype = SafeTensorDType.U32; return true;
            case "F32": dtype = SafeTensorDType.F32; return true;
            case "I64": dtype = SafeTensorDType.I64; return true;
            case "U64": dtype = SafeTensorDType.U64; return true;
            case "F64": dtype = SafeTensorDType.F64; return true;
            default: dtype = default; return false;
        }
    }
}
