using System.Numerics;
using System.Runtime.CompilerServices;

namespace CrossEncoder.Native.Kernels;

// The portable (Vector<T>) kernels compute a * b + c through one of these two strategies, chosen once per call and passed as
// a generic struct argument, so the JIT compiles a separate loop for each with no branch inside. Where the hardware has an
// FMA (every AVX2 machine, Arm AdvSimd) the fused form is one instruction and rounds once. Where it has none (WebAssembly,
// x86 without FMA3), Vector.FusedMultiplyAdd and MathF.FusedMultiplyAdd are emulated in software to keep the single
// rounding, ~30-50x slower (measured: the portable GEMM fell from 22-34 to 0.77 GFLOP/s): there a multiply then an add is
// the right choice. Every kernel's error budget already covers the second rounding (its reference twin is in double).

/// <summary>a * b + c on vectors and scalars, fused or not.</summary>
internal interface IMultiplyAdd
{
    static abstract Vector<float> Apply(Vector<float> a, Vector<float> b, Vector<float> c);
    static abstract float Apply(float a, float b, float c);
}

/// <summary>One fused instruction: for hardware with an FMA.</summary>
internal readonly struct FusedMultiplyAdd : IMultiplyAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Apply(Vector<float> a, Vector<float> b, Vector<float> c) => Vector.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Apply(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
}

/// <summary>A multiply, then an add: for hardware without an FMA, where the fused form is a slow software emulation.</summary>
internal readonly struct SeparateMultiplyAdd : IMultiplyAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Apply(Vector<float> a, Vector<float> b, Vector<float> c) => a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Apply(float a, float b, float c) => a * b + c;
}
