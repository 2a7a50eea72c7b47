using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

/// <summary>
/// The SIMD path a kernel takes. Public kernel entry points run <see cref="KernelIsas.Best"/>; internal overloads take an
/// explicit value so tests can force every path on any machine (Vector512 code still runs, emulated, without AVX-512).
/// Element-wise kernels have two paths: <see cref="Avx512"/> uses Vector512, the others use <see cref="Vector{T}"/>
/// (256-bit on AVX2 machines, 128-bit on Arm). GEMM has a dedicated microkernel per value.
/// </summary>
internal enum KernelIsa
{
    /// <summary>Vector&lt;T&gt; (whatever width the runtime picked) plus scalar edges.</summary>
    Portable,
    /// <summary>Vector256 with fused multiply-add (AVX2 + FMA3).</summary>
    Avx2,
    /// <summary>Vector512 (AVX-512F).</summary>
    Avx512,
}

internal static class KernelIsas
{
    /// <summary>The fastest path the hardware accelerates.</summary>
    public static readonly KernelIsa Best =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? KernelIsa.Avx512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? KernelIsa.Avx2
        : KernelIsa.Portable;

    /// <summary>
    /// True when the portable (Vector&lt;T&gt;) path may use fused multiply-add: the hardware has one (x86 FMA3, Arm AdvSimd).
    /// Without it (WebAssembly, x86 without FMA) <c>Vector.FusedMultiplyAdd</c> and <c>MathF.FusedMultiplyAdd</c> fall back to
    /// a software emulation ~30x slower, so the portable kernels use a multiply then an add instead. Settable so that tests
    /// and the bench can run that path on any machine; set it only while no kernel call is running.
    /// </summary>
    internal static bool PortableFma { get; set; } = Fma.IsSupported || AdvSimd.IsSupported;

    /// <summary>True when a kernel on <paramref name="isa"/> computes a * b + c fused (see MultiplyAdd.cs).</summary>
    public static bool UsesFma(KernelIsa isa) => isa != KernelIsa.Portable || PortableFma;

    /// <summary>Every path, for tests.</summary>
    public static readonly KernelIsa[] All = [KernelIsa.Portable, KernelIsa.Avx2, KernelIsa.Avx512];
}
