using System.Numerics.Tensors;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Bidirectional multi-head attention over a packed batch, for training: the forward keeps every
// head's probabilities P = softmax(scale Q K^T) (nH T^2 floats per sequence, laid out by ProbabilityOffsets), and the
// backward turns dO (the gradient of the heads' output, [N, H]) into dQ, dK, dV ([N, 3H], the layout of the fused
// projection). Per sequence and head, with P' = dropout(P) and O = P' V:
//   dV = P'^T dO        dP' = dO V^T        dP = dropout(dP')        dS = P o (dP - rowsum(dP o P))   (softmax)
//   dQ = scale dS K     dK = scale dS^T Q
// Each (sequence, head) is a part of KernelParallelism.For and runs its products on the packed GEMM serially; its T x T
// scratch (the same layout as P) holds the masked P'^T, then dP', then dS, then dS^T (transposed in place: it is square).
internal static unsafe partial class Attention
{
    /// <summary>offsets[s] = the first float of sequence s's probabilities (nH T_s^2 each, in batch order); offsets[count] = the
    /// total. <paramref name="offsets"/> holds count + 1 values.</summary>
    public static long ProbabilityOffsets(ReadOnlySpan<int> starts, int sequences, int heads, Span<long> offsets)
    {
        KernelGuard.Length(offsets, sequences + 1, nameof(offsets));
        long total = 0;
        for (int s = 0; s < sequences; s++)
        {
            offsets[s] = total;
            long t = starts[s + 1] - starts[s];
            total += heads * t * t;
        }
        offsets[sequences] = total;
        return total;
    }

    /// <summary>output[N, H] = per sequence and head, dropout(softmax(scale Q_h K_h^T)) V_h, from qkv[N, 3H] (row stride ld);
    /// keeps P (before dropout) in <paramref name="probabilities"/> at <paramref name="offsets"/>. <paramref name="scratch"/>
    /// has the probabilities' length when <paramref name="dropout"/> is above 0 (the masked copy).</summary>
    public static void ForwardTraining(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, int heads, int headDim, float scale,
        ReadOnlySpan<long> offsets, Span<float> probabilities, Span<float> scratch, Span<float> output, float dropout, ulong dropoutKey, in KernelCapabilities caps)
    {
        var job = Validate(qkv, ld, starts, sequences, heads, headDim, offsets, probabilities, scratch, output, dropout);
        fixed (float* pqkv = qkv, pp = probabilities, ps = scratch, po = output)
        fixed (int* pst = starts)
        fixed (long* pof = offsets)
        {
            job.Qkv = pqkv; job.P = pp; job.Scratch = ps; job.Output = po; job.Starts = pst; job.Offsets = pof;
            job.Scale = scale; job.Dropout = dropout; job.Key = dropoutKey; job.Caps = caps;
            RunParts(&job, &ForwardPart);
        }
    }

    /// <summary>dQkv[N, 3H] (overwritten) from dOutput[N, H], the forward's qkv and probabilities (same arguments as
    /// <see cref="ForwardTraining"/>); <paramref name="scratch"/> has the probabilities' length.</summary>
    public static void BackwardTraining(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, int heads, int headDim, float scale,
        ReadOnlySpan<long> offsets, ReadOnlySpan<float> probabilities, Span<float> scratch, ReadOnlySpan<float> dOutput, Span<float> dQkv,
        float dropout, ulong dropoutKey, in KernelCapabilities caps)
    {
        var job = Validate(qkv, ld, starts, sequences, heads, headDim, offsets, probabilities, scratch, dOutput, dropout);
        KernelGuard.Length(scratch, offsets[sequences], nameof(scratch));
        KernelGuard.Length(dQkv, (long)starts[sequences] * ld, nameof(dQkv));
        fixed (float* pqkv = qkv, pp = probabilities, ps = scratch, pdo = dOutput, pdq = dQkv)
        fixed (int* pst = starts)
        fixed (long* pof = offsets)
        {
            job.Qkv = pqkv; job.P = pp; job.Scratch = ps; job.Output = pdo; job.DQkv = pdq; job.Starts = pst; job.Offsets = pof;
            job.Scale = scale; job.Dropout = dropout; job.Key = dropoutKey; job.Caps = caps;
            RunParts(&job, &BackwardPart);
        }
    }

    private struct TrainingJob
    {
        public float* Qkv, P, Scratch, Output, DQkv;
        public int* Starts;
        public long* Offsets;
        public int Ld, Sequences, Heads, HeadDim;
        public float Scale, Dropout;
        public ulong Key;
        public KernelCapabilities Caps;
    }

    private static TrainingJob Validate(ReadOnlySpan<float> qkv, int ld, ReadOnlySpan<int> starts, int sequences, int heads, int headDim,
        ReadOnlySpan<long> offsets, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> scratch, ReadOnlySpan<float> output, float dropout)
    {
        KernelGuard.Positive(heads, nameof(heads));
        KernelGuard.Positive(headDim, nameof(headDim));
        if (ld < 3 * heads * headDim) throw new ArgumentOutOfRangeException(nameof(ld), ld, "The row stride must hold Q, K and V.");
        if (!(dropout >= 0f && dropout < 1f)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "The dropout probability must be in [0, 1).");
        KernelGuard.Length(starts, sequences + 1, nameof(starts));
        KernelGuard.Length(offsets, sequences + 1, nameof(offsets));
        int tokens = starts[sequences];
        KernelGuard.Length(qkv, (long)tokens * ld, nameof(qkv));
        KernelGuard.Length(output, (long)tokens * heads * headDim, nameof(output));
        KernelGuard.Length(probabilities, offsets[sequences], nameof(probabilities));
        if (dropout > 0f) KernelGuard.Length(scratch, offsets[sequences], nameof(scratch));
        return new TrainingJob { Ld = ld, Sequences = sequences, Heads = heads, HeadDim = headDim };
    }

    private static void RunParts(TrainingJob* job, delegate*<void*, int, void> part)
    {
        int parts = job->Sequences * job->Heads;
        long work = 4L * (job->Offsets[job->Sequences] / Math.Max(1, job->Heads)) * job->Heads * job->HeadDim;
        KernelParallelism.For(parts, job, part, job->Caps.ThreadsFor(work, parts));
    }

    private static void ForwardPart(void* state, int part)
    {
        var job = (TrainingJob*)state;
        int s = part / job->Heads, h = part % job->Heads, dh = job->HeadDim, hidden = job->Heads * dh, ld = job->Ld;
        int start = job->Starts[s], t = job->Starts[s + 1] - start;
        if (t == 0) return;
        long offset = job->Offsets[s] + (long)h * t * t;
        float* q = job->Qkv + (long)start * ld + h * dh, k = q + hidden, v = q + 2 * hidden;
        float* p = job->P + offset;                                                    // [T, T] this head's probabilities
        Gemm.Strided(q, ld, k, ld, bIsKByN: false, p, t, t, t, dh, job->Caps, serial: true);   // S = Q_h K_h^T
        for (int i = 0; i < t; i++)
        {
            float* row = p + (long)i * t;
            float sum = Softmax.ExpScaledInPlace(row, t, job->Scale, job->Caps);    // exp(scale S - max)
            TensorPrimitives.Multiply(new Span<float>(row, t), 1f / sum, new Span<float>(row, t));
        }
        float* weights = p;
        if (job->Dropout > 0f)
        {
            weights = job->Scratch + offset;                                           // [T, T] P' = dropout(P)
            var masked = new Span<float>(weights, t * t);
            new ReadOnlySpan<float>(p, t * t).CopyTo(masked);
            Dropout.Apply(masked, offset, job->Key, job->Dropout);
        }
        Gemm.Strided(weights, t, v, ld, bIsKByN: true, job->Output + (long)start * hidden + h * dh, hidden, t, dh, t, job->Caps, serial: true);   // O_h = P' V_h
    }

    private static void BackwardPart(void* state, int part)
    {
        var job = (TrainingJob*)state;
        int s = part / job->Heads, h = part % job->Heads, dh = job->HeadDim, hidden = job->Heads * dh, ld = job->Ld;
        int start = job->Starts[s], t = job->Starts[s + 1] - start;
        if (t == 0) return;
        long offset = job->Offsets[s] + (long)h * t * t;
        float* q = job->Qkv + (long)start * ld + h * dh, k = q + hidden, v = q + 2 * hidden;
        float* dq = job->DQkv + (long)start * ld + h * dh, dk = dq + hidden, dv = dq + 2 * hidden;
        float* dO = job->Output + (long)start * hidden + h * dh;                      // [T, dH] row stride H
        float* p = job->P + offset;                                                    // [T, T]
        float* r = job->Scratch + offset;                                              // [T, T] scratch
        float keep = job->Dropout > 0f ? 1f / (1f - job->Dropout) : 1f;
        for (int i = 0; i < t; i++)                                                    // r = P'^T
            for (int j = 0; j < t; j++)
            {
                long index = (long)i * t + j;
                r[(long)j * t + i] = job->Dropout > 0f ? p[index] * Dropout.Mask(job->Key, offset + index, job->Dropout, keep) : p[index];
            }
        Gemm.Strided(r, t, dO, hidden, bIsKByN: true, dv, ld, t, dh, t, job->Caps, serial: true);        // dV = P'^T dO
        Gemm.Strided(dO, hidden, v, ld, bIsKByN: false, r, t, t, t, dh, job->Caps, serial: true);        // r = dP' = dO V^T
        for (int i = 0; i < t; i++)
        {
            var dRow = new Span<float>(r + (long)i * t, t);
            var pRow = new ReadOnlySpan<float>(p + (long)i * t, t);
            if (job->Dropout > 0f)
                for (int j = 0; j < t; j++) dRow[j] *= Dropout.Mask(job->Key, offset + (long)i * t + j, job->Dropout, keep);   // dP
            float dot = TensorPrimitives.Dot(dRow, pRow);
            TensorPrimitives.Subtract(dRow, dot, dRow);
            TensorPrimitives.Multiply(dRow, pRow, dRow);                                // dS = P o (dP - rowsum(dP o P))
            TensorPrimitives.Multiply(dRow, job->Scale, dRow);                          // the score scale folded in
        }
        Gemm.Strided(r, t, k, ld, bIsKByN: true, dq, ld, t, dh, t, job->Caps, serial: true);             // dQ = scale dS K
        for (int i = 0; i < t; i++)                                                    // r = dS^T, in place
            for (int j = i + 1; j < t; j++)
                (r[(long)i * t + j], r[(long)j * t + i]) = (r[(long)j * t + i], r[(long)i * t + j]);
        Gemm.Strided(r, t, q, ld, bIsKByN: true, dk, ld, t, dh, t, job->Caps, serial: true);             // dK = scale dS^T Q
    }
}
