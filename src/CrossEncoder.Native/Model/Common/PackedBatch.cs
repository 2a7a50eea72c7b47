namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// A batch of token sequences packed back to back without padding: sequence b owns rows
/// [<c>Starts[b]</c>, <c>Starts[b+1]</c>) of every [N, *] activation. Matrix products then run over real tokens only,
/// and attention runs per sequence over its own rows. Reused across calls; nothing is allocated after construction.
/// </summary>
internal sealed class PackedBatch
{
    private readonly int _vocabSize;
    private readonly int _typeVocabSize;
    private readonly int _maxSequenceLength;

    internal PackedBatch(int maxTokens, int maxSequences, int maxSequenceLength, int vocabSize, int typeVocabSize)
    {
        InputIds = new int[maxTokens];          // [N]
        TokenTypeIds = new int[maxTokens];      // [N]
        Starts = new int[maxSequences + 1];     // [B + 1]
        _maxSequenceLength = maxSequenceLength;
        _vocabSize = vocabSize;
        _typeVocabSize = typeVocabSize;
        _zeroTypes = typeVocabSize == 1 ? new int[maxSequenceLength] : [];
    }

    private readonly int[] _zeroTypes;   // [T] the type ids of every sequence of a model with one token type

    /// <summary>A batch for a workspace: <paramref name="maxTokens"/> tokens in <paramref name="maxSequences"/> sequences of
    /// at most min(<paramref name="maxSequenceLength"/>, <paramref name="modelMaxLength"/>, maxTokens) tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A capacity is not positive.</exception>
    public static PackedBatch Create(int maxTokens, int maxSequences, int maxSequenceLength, int modelMaxLength, int vocabSize, int typeVocabSize)
    {
        if (maxTokens <= 0) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token capacity must be positive.");
        if (maxSequences <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequences), maxSequences, "The sequence capacity must be positive.");
        if (maxSequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequenceLength), maxSequenceLength, "The sequence length must be positive.");
        return new PackedBatch(maxTokens, maxSequences, Math.Min(Math.Min(maxTokens, maxSequenceLength), modelMaxLength), vocabSize, typeVocabSize);
    }

    internal int[] InputIds { get; }
    internal int[] TokenTypeIds { get; }
    internal int[] Starts { get; }

    /// <summary>Number of sequences (B).</summary>
    public int Count { get; private set; }

    /// <summary>Total tokens over all sequences (N).</summary>
    public int TotalTokens => Starts[Count];

    /// <summary>Most tokens the batch can hold.</summary>
    public int TokenCapacity => InputIds.Length;

    /// <summary>Longest sequence the batch accepts (the model's limit, or less for a workspace sized smaller).</summary>
    public int MaxSequenceLength => _maxSequenceLength;

    /// <summary>Most sequences the batch can hold.</summary>
    public int SequenceCapacity => Starts.Length - 1;

    /// <summary>Length of sequence <paramref name="index"/>.</summary>
    public int LengthOf(int index) => Starts[index + 1] - Starts[index];

    /// <summary>Empties the batch.</summary>
    public void Clear() => Count = 0;

    /// <summary>True when a sequence of <paramref name="length"/> tokens still fits.</summary>
    public bool CanAdd(int length) => Count < SequenceCapacity && TotalTokens + length <= TokenCapacity;

    /// <summary>Appends one tokenized sequence. A model with one token type (RoBERTa, type_vocab_size 1) reads type 0 for
    /// every token, whatever its tokenizer's pair template assigns, as transformers does.</summary>
    /// <exception cref="ArgumentException">The sequence is empty or longer than the model allows, or an id is out of range.</exception>
    /// <exception cref="InvalidOperationException">The batch is full (check <see cref="CanAdd"/>).</exception>
    public void Add(Tokenization.EncodedPair sequence)
    {
        if (_typeVocabSize > 1) { Add(sequence.InputIds, sequence.TokenTypeIds); return; }
        Add(sequence.InputIds, sequence.InputIds.Length <= _zeroTypes.Length ? _zeroTypes.AsSpan(0, sequence.InputIds.Length) : new int[sequence.InputIds.Length]);
    }

    /// <summary>Appends one sequence of a model with one token type (every type id 0).</summary>
    /// <exception cref="ArgumentException">The sequence is empty or longer than the model allows, or an id is out of range.</exception>
    /// <exception cref="InvalidOperationException">The batch is full, or the model reads token types.</exception>
    public void Add(ReadOnlySpan<int> inputIds)
    {
        if (_typeVocabSize != 1) throw new InvalidOperationException("This model reads token types; add the sequence with its type ids.");
        Add(inputIds, inputIds.Length <= _zeroTypes.Length ? _zeroTypes.AsSpan(0, inputIds.Length) : new int[inputIds.Length]);
    }

    /// <summary>Appends one sequence (special tokens included).</summary>
    /// <exception cref="ArgumentException">Lengths differ, the sequence is empty or longer than the model allows, or an id is out of range.</exception>
    /// <exception cref="InvalidOperationException">The batch is full (check <see cref="CanAdd"/>).</exception>
    public void Add(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds)
    {
        if (inputIds.Length != tokenTypeIds.Length)
            throw new ArgumentException($"input ids ({inputIds.Length}) and token type ids ({tokenTypeIds.Length}) differ in length.", nameof(tokenTypeIds));
        if (inputIds.Length == 0) throw new ArgumentException("A sequence needs at least one token.", nameof(inputIds));
        if (inputIds.Length > _maxSequenceLength)
            throw new ArgumentException($"A sequence of {inputIds.Length} tokens exceeds the model's maximum of {_maxSequenceLength}; truncate it first.", nameof(inputIds));
        if (!CanAdd(inputIds.Length)) throw new InvalidOperationException($"The batch is full ({Count} sequences, {TotalTokens} of {TokenCapacity} tokens).");
        for (int i = 0; i < inputIds.Length; i++)
        {
            if ((uint)inputIds[i] >= (uint)_vocabSize)
                throw new ArgumentException($"Token id {inputIds[i]} at position {i} is outside the vocabulary (size {_vocabSize}).", nameof(inputIds));
            if ((uint)tokenTypeIds[i] >= (uint)_typeVocabSize)
                throw new ArgumentException($"Token type id {tokenTypeIds[i]} at position {i} is outside [0, {_typeVocabSize}).", nameof(tokenTypeIds));
        }
        int start = TotalTokens;
        inputIds.CopyTo(InputIds.AsSpan(start));
        tokenTypeIds.CopyTo(TokenTypeIds.AsSpan(start));
        Starts[Count + 1] = start + inputIds.Length;
        Count++;
    }
}
