using System.Numerics;

namespace CrossEncoder.Native.Kernels;

/// <summary>
/// The SIMD path of the fp32 kernels, the <see cref="KernelCapabilities.Isa"/> of a call. Every value can be forced on any
/// machine (Vector256 and Vector512 code still runs, emulated in software, without AVX2 or AVX-512), so tests cover every
/// path on one machine. Element-wise kernels have two paths: <see cref="Avx512"/> uses Vector512, the others use
/// <see cref="Vector{T}"/> (256-bit on AVX2 machines, 128-bit on Arm). GEMM has a dedicated microkernel per value.
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
    /// <summary>The fastest path the hardware accelerates: <see cref="KernelCapabilities.Default"/>'s.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static KernelIsa Best => KernelCapabilities.Default.Isa;

    /// <summary>Every path, for tests.</summary>
    public static readonly KernelIsa[] All = [KernelIsa.Portable, KernelIsa.Avx2, KernelIsa.Avx512];
}
