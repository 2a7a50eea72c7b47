namespace CrossEncoder.Native.Kernels;

// A constant B[N,K] (a Linear weight, [out, in]) packed once, in exactly the layout the GEMM microkernels stream, so that
// Gemm.MultiplyTransposed(a, packed, bias, c, m) skips the per-call packing of B.
//
// Layout (NR = the register-tile width of the ISA chosen at creation: 32 for Avx512, 16 for Avx2, 2W for Portable;
// panels = ceil(N / NR); KC = Gemm's reduction block: 384, 256 on AVX-512). The reduction is cut into slices of KC steps (the last one
// shorter); slice pc (a multiple of KC) starts at panels * NR * pc, and holds the panels one after another, each k-major:
//
//   data[panels*NR*pc + j*NR*kb + p*NR + c] = B[j*NR + c, pc + p]     (kb = min(KC, K - pc); zero where j*NR + c >= N)
//
// This is the same buffer a threaded unpacked call builds on every call (see the header of Gemm.cs).
//
// Gated order (Gemm.PackGated, for the gated-unit epilogue, GeGLU or SwiGLU): B is [2I, K], rows [0, I) the activated half
// and [I, 2I) the multiplier half. Panels come in pairs, panels = 2 * ceil(I / NR): panel 2q holds activated rows
// [q*NR, q*NR + NR), panel 2q + 1 the multiplier rows I + [q*NR, q*NR + NR), zero where q*NR + c >= I. So one pair of panels yields both halves of the same NR output columns.
//
// After the K
// come panels * NR zeros, the first k-slice's "bias" when the caller passes none. The floats live in a managed array on the
// pinned object heap, starting at a 64-byte aligned offset, so nothing needs disposing and the address never changes.

/// <summary>
/// A matrix <c>B[N,K]</c> (typically a constant Linear weight, <c>[out, in]</c>) packed once by
/// <see cref="Gemm.Pack(ReadOnlySpan{float}, int, int, in KernelCapabilities)"/> into the panel layout of the GEMM microkernels, for
/// <see cref="Gemm.MultiplyTransposed(ReadOnlySpan{float}, PackedMatrix, ReadOnlySpan{float}, Span{float}, int, in KernelCapabilities)"/>.
/// </summary>
/// <remarks>
/// Immutable after creation and safe to share between threads. It holds a copy of B (rounded up to whole register panels,
/// about N*K floats), so the source span may be released once packed. The layout depends on the SIMD path chosen at creation
/// (the <see cref="KernelCapabilities.Isa"/> passed to Pack); it is an implementation detail, described in the source file's header.
/// </remarks>
internal sealed unsafe class PackedMatrix
{
    private const int Alignment = 64;

    private readonly float[] _data;
    private readonly int _offset;

    /// <param name="n">Rows of B.</param>
    /// <param name="k">Columns of B.</param>
    /// <param name="isa">The microkernel the layout is for.</param>
    /// <param name="nr">Its panel width.</param>
    /// <param name="inner">0 for the plain layout; I (with <paramref name="n"/> = 2I) for the gated order of the file header.</param>
    internal PackedMatrix(int n, int k, KernelIsa isa, int nr, int inner = 0)
    {
        N = n;
        K = k;
        Isa = isa;
        Nr = nr;
        Inner = inner;
        Panels = inner > 0 ? 2 * ((inner + nr - 1) / nr) : (n + nr - 1) / nr;
        long floats = (long)Panels * nr * k + (long)Panels * nr;
        if (floats > Array.MaxLength - Alignment / sizeof(float))
            throw new ArgumentException($"A packed [{n}, {k}] matrix needs {floats} floats, more than one array can hold.");
        // Pinned (never moves), so an aligned offset computed now stays aligned. Zeroed: the padding columns and the bias tail.
        _data = GC.AllocateArray<float>((int)floats + Alignment / sizeof(float), pinned: true);
        fixed (float* p = _data)
            _offset = (int)((Alignment - (nint)p % Alignment) % Alignment) / sizeof(float);
    }

    /// <summary>Rows of B: the columns of every product C (the Linear layer's output size).</summary>
    public int N { get; }

    /// <summary>Columns of B: the reduction dimension (the Linear layer's input size).</summary>
    public int K { get; }

    /// <summary>The microkernel whose panel width (NR) this matrix was packed for.</summary>
    internal KernelIsa Isa { get; }

    /// <summary>ceil(N / NR); for a gated matrix 2 * ceil(I / NR) (activated and multiplier panels in pairs).</summary>
    internal int Panels { get; }

    /// <summary>I for a matrix packed in gated order by <see cref="Gemm.PackGated"/> (then N = 2I and only the gated product
    /// takes it); 0 for the plain layout.</summary>
    internal int Inner { get; }

    /// <summary>True when packed in gated order (<see cref="Inner"/> &gt; 0).</summary>
    internal bool IsGated => Inner > 0;

    /// <summary>The panel width the matrix was packed with.</summary>
    internal int Nr { get; }

    /// <summary>Floats in the K slices; the zero tail (Panels * Nr floats) starts here.</summary>
    internal long ZerosOffset => (long)Panels * Nr * K;

    /// <summary>The packed floats (64-byte aligned start), slices then the zero tail.</summary>
    internal Span<float> Data => _data.AsSpan(_offset, (int)(ZerosOffset + (long)Panels * Nr));
}
