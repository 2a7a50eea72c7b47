namespace CrossEncoder.Native.SafeTensors;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The tensor name, e.g. <c>bert.embeddings.word_embeddings.weight</c>.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions, outermost first; empty for a scalar.</param>
/// <param name="DataOffset">Byte offset of the first element, relative to the start of the data section.</param>
/// <param name="ByteLength">Number of bytes the tensor occupies.</param>
internal sealed record SafeTensorInfo(string Name, SafeTensorDType DType, IReadOnlyList<long> Shape, long DataOffset, long ByteLength)
{
    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    /// <exception cref="OverflowException">The product does not fit in a long (never for entries from <see cref="SafeTensorsFile"/>, which validates it).</exception>
    public long ElementCount
    {
        get
        {
            long count = 1;
            for (int i = 0; i < Shape.Count; i++)
                count = checked(count * Shape[i]);
            return count;
        }
    }
}
