using System.Numerics.Tensors;

namespace CrossEncoder.Native.Kernels;

/// <summary>The gradients of a table lookup and of the element-wise activations a backward pass needs.</summary>
internal static class TrainingGradients
{
    /// <summary>dTable[ids[r], :] += dRows[r, :] for every row r (the gradient of a gather <c>rows[r] = table[ids[r]]</c>;
    /// repeated ids accumulate). Ids are checked against the table's rows.</summary>
    public static void GatherBackward(ReadOnlySpan<int> ids, ReadOnlySpan<float> dRows, Span<float> dTable, int width)
    {
        KernelGuard.Positive(width, nameof(width));
        KernelGuard.Length(dRows, (long)ids.Length * width, nameof(dRows));
        int tableRows = dTable.Length / width;
        for (int r = 0; r < ids.Length; r++)
        {
            int id = ids[r];
            if ((uint)id >= (uint)tableRows) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Row {r} looks up {id}, outside the table's {tableRows} rows.");
            var destination = dTable.Slice(id * width, width);
            TensorPrimitives.Add(destination, dRows.Slice(r * width, width), destination);
        }
    }

    /// <summary>dx[i] = dy[i] (1 - y[i]^2), the gradient of y = tanh(x) from its output; dx may alias dy.</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        KernelGuard.Length(dy, y.Length, nameof(dy));
        KernelGuard.Length(dx, y.Length, nameof(dx));
        for (int i = 0; i < y.Length; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
    }

    /// <summary>bias[n] += sum over rows of dY[rows, n]: the gradient of a bias added to every row.</summary>
    public static void ColumnSums(ReadOnlySpan<float> dY, Span<float> bias, int rows, int n)
    {
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Length(dY, (long)rows * n, nameof(dY));
        KernelGuard.Length(bias, n, nameof(bias));
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(bias, dY.Slice(r * n, n), bias);
    }
}
