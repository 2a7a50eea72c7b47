using System.Runtime.InteropServices;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.SafeTensors;

/// <summary>
/// F32 -> BF16 rounding as PyTorch's c10::detail::round_to_nearest_even does it: hand-checked bit patterns (ties both ways,
/// subnormals, the carry into the exponent, overflow to infinity, NaNs whose payload would truncate to infinity), then every
/// upper half against an independent nearest-value reference, and the writer's BF16/F16 files read back.
/// </summary>
public sealed class BFloat16Tests : IDisposable
{
    private readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>F32 bits -> BF16 bits, each worked by hand: the kept half is bits 31..16, the dropped half bits 15..0;
    /// dropped &gt; 0x8000 rounds up, &lt; 0x8000 down, = 0x8000 (a tie) goes to the even kept half.</summary>
    public static TheoryData<uint, ushort, string> HandChecked => new()
    {
        { 0x3F800000, 0x3F80, "1.0 is exact" },
        { 0x3F807FFF, 0x3F80, "just below half an ulp above 1: down" },
        { 0x3F808000, 0x3F80, "tie, kept 0x3F80 is even: stays (down)" },
        { 0x3F808001, 0x3F81, "just above the tie: up" },
        { 0x3F818000, 0x3F82, "tie, kept 0x3F81 is odd: up to the even 0x3F82" },
        { 0xBF818000, 0xBF82, "negative tie rounds the magnitude the same way, sign kept" },
        { 0x40490FDB, 0x4049, "pi: dropped 0x0FDB < half, 3.140625" },
        { 0x3FFF8000, 0x4000, "tie at the top of a binade, kept odd: the carry makes it 2.0" },
        { 0x3FFFFFFF, 0x4000, "just below 2.0 rounds up into the next exponent" },
        { 0x7F7F7FFF, 0x7F7F, "the largest finite bf16 and a bit more stays finite" },
        { 0x7F7FFFFF, 0x7F80, "float.MaxValue is above bf16's max + half an ulp: +infinity" },
        { 0xFF7FFFFF, 0xFF80, "float.MinValue: -infinity" },
        { 0x7F800000, 0x7F80, "+infinity" },
        { 0xFF800000, 0xFF80, "-infinity" },
        { 0x00000000, 0x0000, "+0" },
        { 0x80000000, 0x8000, "-0 keeps its sign" },
        { 0x00000001, 0x0000, "smallest subnormal: far below half of bf16's smallest subnormal, +0" },
        { 0x80000001, 0x8000, "negative smallest subnormal: -0" },
        { 0x00008000, 0x0000, "subnormal tie, kept 0 is even: +0" },
        { 0x00018000, 0x0002, "subnormal tie, kept 1 is odd: up to 2" },
        { 0x0000C000, 0x0001, "subnormal above the tie: bf16's smallest subnormal" },
        { 0x007FFFFF, 0x0080, "largest subnormal carries into the smallest normal" },
        { 0x00800000, 0x0080, "smallest normal is exact" },
        { 0x7FC00000, BFloat16.NaN, "the quiet NaN" },
        { 0x7F800001, BFloat16.NaN, "a NaN with payload only in the dropped bits: NaN, not the infinity truncation gives" },
        { 0xFFC00001, BFloat16.NaN, "negative NaN: c10's canonical 0x7FC0 (sign and payload dropped)" },
        { 0x7FFFFFFF, BFloat16.NaN, "a NaN whose rounding would carry into the sign bit (giving -0): NaN" },
        { 0x7FA00000, BFloat16.NaN, "a signalling NaN: quiet NaN" },
    };

    [Theory]
    [MemberData(nameof(HandChecked))]
    public void RoundsLikePyTorch(uint f32, ushort expected, string why)
    {
        ushort actual = BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(f32));
        Assert.True(expected == actual, $"0x{f32:X8} ({why}): expected 0x{expected:X4}, got 0x{actual:X4}");
    }

    [Fact]
    public void EveryUpperHalfWithAwkwardLowHalvesIsTheNearestBf16TiesToEven()
    {
        // All 65,536 kept halves x the low halves where rounding decides (exact, below, at and above the tie, the top).
        ushort[] lows = [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF];
        var random = new Random(5);
        for (uint high = 0; high <= 0xFFFF; high++)
        {
            foreach (uint low in lows.Append((ushort)random.Next(0x10000)))
            {
                float x = BitConverter.UInt32BitsToSingle(high << 16 | low);
                ushort actual = BFloat16.FromSingle(x);
                if (float.IsNaN(x))
                {
                    Assert.Equal(BFloat16.NaN, actual);
                    continue;
                }
                ushort expected = NearestTiesToEven(x);
                if (expected != actual) Assert.Fail($"0x{BitConverter.SingleToUInt32Bits(x):X8}: expected 0x{expected:X4}, got 0x{actual:X4}");
            }
        }
    }

    /// <summary>The reference, from values rather than the carry trick: of the two bf16 values around x (x truncated toward
    /// zero, and the next one away from zero), the closer in double arithmetic; on a tie, the one with an even last bit.
    /// Past bf16's largest finite value the next one up is 2^128, which IEEE rounding reaches as infinity.</summary>
    private static ushort NearestTiesToEven(float x)
    {
        ushort toward = (ushort)(BitConverter.SingleToUInt32Bits(x) >> 16);
        if ((toward & 0x7FFF) == 0x7F80) return toward;                     // infinity is exact
        ushort away = (ushort)(toward + 1);
        double low = BFloat16.ToSingle(toward);
        double high = (away & 0x7FFF) == 0x7F80 ? Math.CopySign(Math.Pow(2, 128), x) : BFloat16.ToSingle(away);
        double below = Math.Abs(x - low), above = Math.Abs(high - x);
        return below < above ? toward : above < below ? away : (toward & 1) == 0 ? toward : away;
    }

    [Fact]
    public void WidenIsExactAndRoundIsTheRoundTrip()
    {
        for (uint bits = 0; bits <= 0xFFFF; bits++)
        {
            float wide = BFloat16.ToSingle((ushort)bits);
            Assert.Equal(bits << 16, BitConverter.SingleToUInt32Bits(wide));
            if (!float.IsNaN(wide)) Assert.Equal(bits, BFloat16.FromSingle(wide));   // bf16 values survive the round trip
        }
        Assert.Equal(BFloat16.ToSingle(0x3F82), BFloat16.Round(BitConverter.UInt32BitsToSingle(0x3F818000)));
    }

    [Fact]
    public void TheWriterStoresBf16AndF16ThatTheReaderWidensBack()
    {
        float[] values = [1f, -2.5f, 3.14159274f, 1e-40f, float.MaxValue, float.NaN, 65504f, 1e5f, 0.1f];
        foreach (var dtype in new[] { SafeTensorDType.BF16, SafeTensorDType.F16 })
        {
            string path = _files.NewPath(dtype.ToString());
            SafeTensorsWriter.WriteFloats(path, new Dictionary<string, (long[], float[])> { ["w"] = ([3, 3], values) }, dtype);
            using var file = SafeTensorsFile.Open(path);
            Assert.Equal(dtype, file.Tensors["w"].DType);
            Assert.Equal(values.Length * 2, file.Tensors["w"].ByteLength);
            float[] read = file.ReadFloat32("w");
            float[] expected = dtype == SafeTensorDType.BF16 ? values.Select(BFloat16.Round).ToArray() : values.Select(v => (float)(Half)v).ToArray();
            Assert.Equal(expected.Select(BitConverter.SingleToUInt32Bits), read.Select(BitConverter.SingleToUInt32Bits));
            if (dtype == SafeTensorDType.BF16)
                Assert.Equal(values.Select(BFloat16.FromSingle), MemoryMarshal.Cast<byte, ushort>(file.GetBytes("w")).ToArray());
        }
        Assert.Equal(float.PositiveInfinity, (float)(Half)1e5f);   // F16 overflows where BF16 does not: the reason decoders ship BF16
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.EncodeFloats([1f], SafeTensorDType.I8));
    }
}
