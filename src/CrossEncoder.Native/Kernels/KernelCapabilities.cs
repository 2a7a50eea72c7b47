using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using X86Fma = System.Runtime.Intrinsics.X86.Fma;

namespace CrossEncoder.Native.Kernels;

// One immutable record says what a kernel call may use: the fp32 SIMD path, the int8 SIMD path, whether the portable path
// fuses a * b + c, and how many threads. It is chosen once (Default = Detect(), at first use) and passed explicitly to every
// kernel entry point as the last parameter (`in KernelCapabilities caps`); the entry point copies it into the call's job, and
// every decision inside (microkernel, FMA or multiply + add, AVX2 or portable quantizer and epilogue, thread count) reads
// that copy. Nothing in Kernels/ keeps a mutable global. Tests and the bench force any field with a `with` expression:
//
//   KernelCapabilities.Default with { Isa = KernelIsa.Portable, Fma = false }   the portable path as on hardware without FMA
//   KernelCapabilities.Default with { Int8Isa = Int8Isa.Portable }              scalar int8 kernel, portable quantizer and epilogue
//   KernelCapabilities.Default with { MaxThreads = 1 }                          one core
//
// What can be forced where. The fp32 path anywhere: Vector256 / Vector512 code runs, emulated, without the hardware (slow
// but exact). The int8 path only where the hardware has it (its intrinsics have no software fallback): the int8 entry
// points (GemmInt8, Quantize.Rows) throw PlatformNotSupportedException at entry otherwise, never a silent fallback.
//
// The hardware checks left inside kernels are not choices the record makes: each guards intrinsics that have no software
// fallback, on a path the record already chose. Gemm.PackA / PackPanelTransposed take the AVX 8 x 8 transpose only where
// AVX exists (a pure copy, bit-identical to the scalar twin); Attention.CanPackProbabilities writes P packed only where that
// transpose can run; Gemm.Prefetch issues its cache hint only on x86 (a hint, no effect on results); Quantize's portable
// loops skip Vector<T> where it is not hardware-accelerated (the scalar loops give the same bits).

/// <summary>
/// What a kernel call may use: the fp32 <see cref="Isa"/>, the int8 <see cref="Int8Isa"/>, fused multiply-add on the
/// portable path (<see cref="Fma"/>) and at most <see cref="MaxThreads"/> threads. <see cref="Default"/> is the best this
/// machine runs; force any field with <c>with</c> (tests, bench).
/// </summary>
/// <param name="Isa">The fp32 SIMD path (Gemm, Attention, Softmax, LayerNorm, Gelu). Any value runs on any machine.</param>
/// <param name="Int8Isa">The int8 path (GemmInt8 microkernel; with <see cref="Int8UsesAvx2"/>, the quantizer and the
/// dequantization epilogue). Only values the hardware runs (<see cref="GemmInt8.IsSupported"/>).</param>
/// <param name="Fma">True: the portable path computes a * b + c fused (one rounding). False: a multiply then an add, as on
/// hardware without an FMA, where the fused form is a ~30x slower software emulation (see MultiplyAdd.cs). The AVX2 and
/// AVX-512 paths always fuse.</param>
/// <param name="MaxThreads">The most threads a call uses, the caller's included; 1 (or less): the calling thread only.</param>
internal readonly record struct KernelCapabilities(KernelIsa Isa, Int8Isa Int8Isa, bool Fma, int MaxThreads)
{
    /// <summary>The best the hardware runs (<see cref="Detect"/>), computed once.</summary>
    public static readonly KernelCapabilities Default = Detect();

    /// <summary>
    /// The best the hardware runs: AVX-512 where Vector512 is accelerated, else AVX2 + FMA3, else portable; the int8 path by
    /// <see cref="GemmInt8.Select"/>; FMA where the hardware has one (x86 FMA3, Arm AdvSimd); every logical processor.
    /// </summary>
    public static KernelCapabilities Detect() => new(
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? KernelIsa.Avx512
            : Vector256.IsHardwareAccelerated && X86Fma.IsSupported ? KernelIsa.Avx2
            : KernelIsa.Portable,
        GemmInt8.Select(AvxVnni.IsSupported, Avx512BW.IsSupported, Avx2.IsSupported),
        X86Fma.IsSupported || AdvSimd.IsSupported,
        Math.Max(1, Environment.ProcessorCount));

    /// <summary>True when the fp32 kernels compute a * b + c fused (see MultiplyAdd.cs): always on AVX2 and AVX-512,
    /// on the portable path when <see cref="Fma"/>.</summary>
    public bool UsesFma => Isa != KernelIsa.Portable || Fma;

    /// <summary>
    /// True when the int8 quantizer (Quantize.Rows) and the int8 GEMM's dequantization epilogue run their AVX2 loops; false:
    /// their portable ones (bit-identical). Every int8 path but <see cref="Kernels.Int8Isa.Portable"/> needs AVX2 hardware
    /// (.NET's AvxVnni and Avx512BW derive from Avx2), so forcing the portable int8 path makes the whole int8 pipeline portable.
    /// </summary>
    public bool Int8UsesAvx2 => Int8Isa != Int8Isa.Portable;

    /// <summary>Threads a call of <paramref name="work"/> flops in at most <paramref name="maxParts"/> parts uses (see
    /// <see cref="KernelParallelism.DegreeFor"/>), at most <see cref="MaxThreads"/>.</summary>
    public int ThreadsFor(long work, int maxParts) => KernelParallelism.DegreeFor(work, maxParts, MaxThreads);

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> when the hardware cannot run <see cref="Int8Isa"/> (int8 entry points call it first).</summary>
    public void RequireInt8Support()
    {
        if (!GemmInt8.IsSupported(Int8Isa)) throw new PlatformNotSupportedException($"The {Int8Isa} int8 path needs hardware this machine lacks.");
    }
}
