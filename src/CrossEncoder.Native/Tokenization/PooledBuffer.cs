using System.Buffers;

namespace CrossEncoder.Native.Tokenization;

/// <summary>A growable buffer rented from <see cref="ArrayPool{T}"/>: per-call scratch space that does not allocate in steady state.</summary>
internal struct PooledBuffer<T> : IDisposable
{
    private T[] _items;

    public PooledBuffer(int capacity)
    {
        _items = ArrayPool<T>.Shared.Rent(Math.Max(capacity, 16));
        Count = 0;
    }

    public int Count { get; private set; }

    public readonly ReadOnlySpan<T> Span => _items.AsSpan(0, Count);

    public void Add(T item)
    {
        if (Count == _items.Length) Grow(Count + 1);
        _items[Count++] = item;
    }

    public void Add(ReadOnlySpan<T> items)
    {
        if (Count + items.Length > _items.Length) Grow(Count + items.Length);
        items.CopyTo(_items.AsSpan(Count));
        Count += items.Length;
    }

    /// <summary>Appends <paramref name="count"/> items for the caller to write through the returned span (valid until the next call).</summary>
    public Span<T> AppendSpan(int count)
    {
        if (Count + count > _items.Length) Grow(Count + count);
        Span<T> appended = _items.AsSpan(Count, count);
        Count += count;
        return appended;
    }

    /// <summary>Drops everything after the first <paramref name="count"/> items.</summary>
    public void Truncate(int count) => Count = count;

    private void Grow(int needed)
    {
        T[] larger = ArrayPool<T>.Shared.Rent(Math.Max(needed, _items.Length * 2));
        _items.AsSpan(0, Count).CopyTo(larger);
        ArrayPool<T>.Shared.Return(_items);
        _items = larger;
    }

    public void Dispose()
    {
        if (_items is not null) ArrayPool<T>.Shared.Return(_items);
        _items = null!;
    }
}
