namespace CrossEncoder.Native.Tokenization;

/// <summary>Settings of BERT's basic tokenizer and WordPiece, as in Hugging Face's BertTokenizer / tokenizer.json.</summary>
public sealed record BertTokenizerOptions
{
    /// <summary>Lower-case the text (uncased models).</summary>
    public bool LowerCase { get; init; } = true;
    /// <summary>Strip accents; null means "same as <see cref="LowerCase"/>", Hugging Face's default.</summary>
    public bool? StripAccents { get; init; }
    /// <summary>Put spaces around CJK ideographs so each is its own word.</summary>
    public bool TokenizeChineseChars { get; init; } = true;
    /// <summary>Words longer than this many characters (Unicode code points) become the unknown token; at most 524288 (2^19).</summary>
    public int MaxInputCharsPerWord { get; init; } = 100;
    /// <summary>Remove NUL, U+FFFD and control/format characters and turn every whitespace character into a space (BertNormalizer's <c>clean_text</c>).</summary>
    public bool CleanText { get; init; } = true;
    /// <summary>The maximum input length of the model, in tokens, specials included (Hugging Face's <c>model_max_length</c>).</summary>
    public int ModelMaxLength { get; init; } = 512;

    /// <summary>The effective accent-stripping setting: <see cref="StripAccents"/>, or <see cref="LowerCase"/> when it is null.</summary>
    public bool EffectiveStripAccents => StripAccents ?? LowerCase;

    internal void Validate()
    {
        if (MaxInputCharsPerWord is < 1 or > WordPiece.MaxInputCharsPerWordLimit)
            throw new ArgumentOutOfRangeException(nameof(MaxInputCharsPerWord), MaxInputCharsPerWord, $"MaxInputCharsPerWord must be between 1 and {WordPiece.MaxInputCharsPerWordLimit}.");
        if (ModelMaxLength < 2)
            throw new ArgumentOutOfRangeException(nameof(ModelMaxLength), ModelMaxLength, "ModelMaxLength must be at least 2 ([CLS] and [SEP]).");
    }
}
