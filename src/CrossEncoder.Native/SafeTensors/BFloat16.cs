// bfloat16 ("brain float"): the upper 16 bits of an IEEE 754 single.
//
//   bit 15      sign
//   bits 14..7  exponent, 8 bits, bias 127 (the same as F32, so the range is F32's: about 1e-38 to 3.4e38)
//   bits 6..0   mantissa, 7 bits (F32 has 23): about 2-3 significant decimal digits
//
// Widening to F32 is exact: bits32 = bits16 << 16. Narrowing rounds the 16 dropped bits to nearest, ties to even, the
// rule of PyTorch's c10::detail::round_to_nearest_even (what tensor.to(torch.bfloat16) and save_pretrained(...,
// torch_dtype=torch.bfloat16) produce):
//
//   NaN                      -> 0x7FC0 (a quiet NaN; sign and payload are dropped, as c10 does: truncating a NaN whose
//                               payload is only in the low 16 bits would otherwise turn it into infinity)
//   anything else, bits u    -> (u + 0x7FFF + ((u >> 16) & 1)) >> 16
//
// Adding 0x7FFF carries into the kept bits exactly when the dropped half is more than half an ulp; the extra 1 when the
// kept part is odd turns an exact tie (dropped bits 0x8000) into a carry too, so ties go to the even neighbour. A carry
// out of the mantissa increments the exponent, which is right: the value rounds up to the next binade, and the largest
// finite values round up to infinity. Subnormals need no special case: their exponent field is 0 and the same integer
// arithmetic rounds their mantissa. (PyTorch's vectorised AVX2 path writes NaN as 0xFFFF instead; both are NaN.)

namespace CrossEncoder.Native.SafeTensors;

/// <summary>Conversions between F32 and bfloat16 bit patterns, rounding as PyTorch does (see the file header).</summary>
internal static class BFloat16
{
    /// <summary>The quiet NaN every NaN narrows to (c10's choice).</summary>
    public const ushort NaN = 0x7FC0;

    /// <summary>The bfloat16 nearest to <paramref name="value"/>, ties to even; NaN gives <see cref="NaN"/>.</summary>
    public static ushort FromSingle(float value)
    {
        if (float.IsNaN(value)) return NaN;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + roundingBias) >> 16);   // no overflow: the largest non-NaN pattern, 0xFF800000, plus 0x8000 fits
    }

    /// <summary>destination[i] = <see cref="FromSingle(float)"/>(source[i]).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void FromSingle(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"The destination has {destination.Length} elements; the source has {source.Length}.", nameof(destination));
        for (int i = 0; i < source.Length; i++) destination[i] = FromSingle(source[i]);
    }

    /// <summary>The F32 value of a bfloat16 bit pattern (exact).</summary>
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary><paramref name="value"/> rounded to bfloat16 and widened back: what a BF16 checkpoint of it loads as.</summary>
    public static float Round(float value) => ToSingle(FromSingle(value));
}
