using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// The capability record: Detect() makes the hardware's choices, each field forced with <c>with</c> changes the path the
/// kernels take (and the results still equal the reference twins), and an int8 path the hardware lacks is refused at entry.
/// </summary>
public unsafe class KernelCapabilitiesTests
{
    [Fact]
    public void DetectChoosesTheBestTheHardwareRuns()
    {
        var detected = KernelCapabilities.Detect();
        Assert.Equal(KernelCapabilities.Default, detected);
        var isa = Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? KernelIsa.Avx512
            : Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported ? KernelIsa.Avx2
            : KernelIsa.Portable;
        Assert.Equal(isa, detected.Isa);
        Assert.Equal(GemmInt8.Select(AvxVnni.IsSupported, Avx512BW.IsSupported, Avx2.IsSupported), detected.Int8Isa);
        Assert.True(GemmInt8.IsSupported(detected.Int8Isa));
        Assert.Equal(System.Runtime.Intrinsics.X86.Fma.IsSupported || AdvSimd.IsSupported, detected.Fma);
        Assert.Equal(Environment.ProcessorCount, detected.MaxThreads);
        // The compatibility members Model/ still reads are the record's.
        Assert.Equal(detected.Isa, KernelIsas.Best);
        Assert.Equal(detected.Int8Isa, GemmInt8.Best);
    }

    [Fact]
    public void WithForcesOneFieldAndLeavesDefaultAlone()
    {
        var before = KernelCapabilities.Default;
        var forced = KernelCapabilities.Default with { MaxThreads = 1 };
        Assert.Equal(1, forced.MaxThreads);
        Assert.Equal((before.Isa, before.Int8Isa, before.Fma), (forced.Isa, forced.Int8Isa, forced.Fma));
        Assert.Equal(before, KernelCapabilities.Default);
        Assert.Equal(before, KernelCapabilities.Detect());
    }

    [Fact]
    public void ForcingIsaChangesTheMicrokernelAndItsLayout()
    {
        // The packing layout is the microkernel's register tile: NR = 32 (AVX-512), 16 (AVX2), 2W (portable).
        var b = KernelTestData.Uniform(40 * 20, 3);
        int[] nr = [2 * Vector<float>.Count, 16, 32];
        foreach (var isa in KernelIsas.All)
        {
            var packed = Gemm.Pack(b, 40, 20, KernelTestData.Caps(isa));
            Assert.Equal(isa, packed.Isa);
            Assert.Equal(nr[(int)isa], packed.Nr);
            GemmTests.AssertPackedMatches(new GemmTests.Shape(9, 40, 20, true, 5), KernelTestData.Caps(isa));
        }
        // A packed matrix runs only with the path it was packed for: the record is never silently overridden.
        var avx2 = Gemm.Pack(b, 40, 20, KernelTestData.Caps(KernelIsa.Avx2));
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.MultiplyTransposed(new float[3 * 20], avx2, [], new float[3 * 40], 3, KernelTestData.Caps(KernelIsa.Portable)));
        Assert.Contains("packed for the Avx2 microkernel", e.Message);
    }

    [Fact]
    public void ForcingFmaOffSelectsMultiplyThenAddOnThePortablePathOnly()
    {
        // C = (-1)(1) + (1 + 2^-12)^2 = 2^-11 + 2^-24 exactly; a multiply then an add rounds the square first and gives 2^-11.
        float e = 1f + MathF.Pow(2, -12);
        float[] a = [-1f, e], b = [1f, e];
        var c = new float[1];
        var portable = KernelTestData.Caps(KernelIsa.Portable);
        Gemm.MultiplyTransposed(a, b, [], c, 1, 1, 2, portable with { Fma = false });
        Assert.Equal(MathF.Pow(2, -11), c[0]);
        Gemm.MultiplyTransposed(a, b, [], c, 1, 1, 2, portable with { Fma = true });
        Assert.Equal(MathF.Pow(2, -11) + MathF.Pow(2, -24), c[0]);
        Assert.False((portable with { Fma = false }).UsesFma);
        Assert.True((portable with { Fma = false, Isa = KernelIsa.Avx2 }).UsesFma);
        Assert.True((portable with { Fma = false, Isa = KernelIsa.Avx512 }).UsesFma);
    }

    /// <summary>
    /// Int8Isa = Portable makes the whole int8 pipeline portable: the scalar microkernel, and (Int8UsesAvx2 false, which is
    /// all the quantizer and the epilogue consult) their portable loops, even on AVX2 hardware. Both stay bit-identical to
    /// their reference twins and to this machine's own path.
    /// </summary>
    [Fact]
    public void ForcingThePortableInt8PathMakesQuantizerAndEpiloguePortable()
    {
        var portable = KernelCapabilities.Default with { Int8Isa = Int8Isa.Portable };
        Assert.False(portable.Int8UsesAvx2);
        Assert.Equal(KernelCapabilities.Default.Int8Isa != Int8Isa.Portable, KernelCapabilities.Default.Int8UsesAvx2);
        Assert.Equal(Avx2.IsSupported, KernelCapabilities.Default.Int8UsesAvx2);   // every non-portable int8 path implies AVX2

        int m = 37, n = 48, k = 100, kp = Quantize.PadK(k);   // k >= 16 and full 16-column panels: the AVX2 loops would run
        var x = KernelTestData.Uniform(m * k, 11, 3f);
        var (qRef, sRef, zRef) = (new ushort[m * kp], new float[m], new int[m]);
        Quantize.RowsReference(x, qRef, sRef, zRef, m, k);
        var w = QuantizedMatrix.FromFloat(KernelTestData.Uniform(n * k, 12, 0.1f), n, k);
        var bias = KernelTestData.Uniform(n, 13);
        var expected = new float[m * n];
        GemmInt8.MultiplyReference(qRef, sRef, zRef, w.Unpack(), w.Scale, bias, expected, m, n, k);
        foreach (var caps in new[] { portable, KernelCapabilities.Default })
        {
            var (q, s, z) = (new ushort[m * kp], new float[m], new int[m]);
            Quantize.Rows(x, q, s, z, m, k, caps);
            Assert.Equal(qRef, q);
            Assert.Equal(sRef, s);
            Assert.Equal(zRef, z);
            var c = new float[m * n];
            GemmInt8.Multiply(q, s, z, w, bias, c, m, caps);
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), c.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void AForcedInt8PathTheHardwareLacksIsRefusedAtEntry()
    {
        var w = QuantizedMatrix.FromFloat(KernelTestData.Uniform(16 * 8, 1), 16, 8);
        foreach (var isa in Enum.GetValues<Int8Isa>())
        {
            var caps = KernelCapabilities.Default with { Int8Isa = isa };
            if (GemmInt8.IsSupported(isa))
            {
                caps.RequireInt8Support();
                continue;
            }
            Assert.NotEqual(isa, KernelCapabilities.Default.Int8Isa);
            Assert.Throws<PlatformNotSupportedException>(caps.RequireInt8Support);
            Assert.Throws<PlatformNotSupportedException>(() => Quantize.Rows(new float[8], new ushort[8], new float[1], new int[1], 1, 8, caps));
            Assert.Throws<PlatformNotSupportedException>(() => GemmInt8.Multiply(new ushort[8], [1f], [0], w, [], new float[16], 1, caps));
            Assert.Throws<PlatformNotSupportedException>(() => GemmInt8.MultiplyColumns(new ushort[8], [1f], [0], w, [], new float[16], 1, 16, 0, 16, isa));
            // Even an empty call: the check comes first.
            Assert.Throws<PlatformNotSupportedException>(() => GemmInt8.Multiply([], [], [], w, [], [], 0, caps));
        }
    }

    [Fact]
    public void MaxThreadsBoundsEveryCallsThreads()
    {
        const long huge = 1L << 40;
        Assert.Equal(1, (KernelCapabilities.Default with { MaxThreads = 1 }).ThreadsFor(huge, 1000));
        Assert.Equal(1, (KernelCapabilities.Default with { MaxThreads = 0 }).ThreadsFor(huge, 1000));
        Assert.Equal(Math.Min(Environment.ProcessorCount, 1000), KernelCapabilities.Default.ThreadsFor(huge, 1000));
        Assert.Equal(1, KernelCapabilities.Default.ThreadsFor(10, 1000));   // too little work to split

        // KernelParallelism.For with the limit of one thread runs every part on the calling thread.
        var owners = new int[64];
        fixed (int* p = owners) KernelParallelism.For(owners.Length, p, &RecordThread, threads: 1);
        Assert.All(owners, id => Assert.Equal(Environment.CurrentManagedThreadId, id));

        // A threaded-size product gives the same bits on one thread as on all of them (same tiles, same k-slices).
        var one = KernelCapabilities.Default with { MaxThreads = 1 };
        int m = 300, n = 200, k = 384;
        var a = KernelTestData.Uniform(m * k, 1);
        var packed = Gemm.Pack(KernelTestData.Uniform(n * k, 2), n, k, one);
        var c1 = new float[m * n];
        var cAll = new float[m * n];
        Gemm.MultiplyTransposed(a, packed, [], c1, m, one);
        Gemm.MultiplyTransposed(a, packed, [], cAll, m, KernelCapabilities.Default);
        Assert.Equal(cAll.Select(BitConverter.SingleToInt32Bits), c1.Select(BitConverter.SingleToInt32Bits));
    }

    private static void RecordThread(void* state, int part) => ((int*)state)[part] = Environment.CurrentManagedThreadId;
}
