using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// i = the first index of x[n] that is NaN or +-infinity, or -1
//
// Implementation notes. A float is NaN or infinite exactly when its 8 exponent bits are all ones, so one AND and one
// compare per lane test a whole vector: (bits & 0x7F800000) == 0x7F800000. The loop ORs the comparisons of four vectors
// and only looks for the lane when one is set (never on a good checkpoint), so a weight scan runs at memory speed: the
// load-time check of every weight a forward reads costs a few milliseconds on a 22M-parameter model.

/// <summary>Finds NaN and infinities in a span (the load-time check that every weight is a finite number).</summary>
internal static partial class Finite
{
    private const uint ExponentMask = 0x7F80_0000u;

    /// <summary>Index of the first NaN or infinity in <paramref name="x"/>, or -1 when every value is finite.
    /// <paramref name="caps"/>: the vector width (no threads: callers scan one tensor at a time).</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> x, in KernelCapabilities caps)
    {
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(x);
        int i = 0;
        if (caps.Isa == KernelIsa.Avx512 && Vector512.IsHardwareAccelerated)
        {
            var mask = Vector512.Create(ExponentMask);
            for (; i <= bits.Length - 64; i += 64)
            {
                var any = Vector512.Equals(Vector512.Create(bits.Slice(i)) & mask, mask)
                        | Vector512.Equals(Vector512.Create(bits.Slice(i + 16)) & mask, mask)
                        | Vector512.Equals(Vector512.Create(bits.Slice(i + 32)) & mask, mask)
                        | Vector512.Equals(Vector512.Create(bits.Slice(i + 48)) & mask, mask);
                if (any != Vector512<uint>.Zero) break;   // the scalar tail below finds the lane
            }
        }
        else
        {
            int w = Vector<uint>.Count;
            var mask = new Vector<uint>(ExponentMask);
            for (; i <= bits.Length - 4 * w; i += 4 * w)
            {
                var any = Vector.Equals(new Vector<uint>(bits.Slice(i)) & mask, mask)
                        | Vector.Equals(new Vector<uint>(bits.Slice(i + w)) & mask, mask)
                        | Vector.Equals(new Vector<uint>(bits.Slice(i + 2 * w)) & mask, mask)
                        | Vector.Equals(new Vector<uint>(bits.Slice(i + 3 * w)) & mask, mask);
                if (any != Vector<uint>.Zero) break;
            }
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & ExponentMask) == ExponentMask) return i;
        return -1;
    }
}
