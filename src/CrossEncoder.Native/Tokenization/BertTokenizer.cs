namespace CrossEncoder.Native.Tokenization;

// STUB: the tokenization helper replaces this file (same public API).

/// <summary>Settings of BERT's basic tokenizer and WordPiece, as in Hugging Face's BertTokenizer / tokenizer.json.</summary>
public sealed record BertTokenizerOptions
{
    /// <summary>Lower-case the text (uncased models).</summary>
    public bool LowerCase { get; init; } = true;
    /// <summary>Strip accents; null means "same as <see cref="LowerCase"/>", Hugging Face's default.</summary>
    public bool? StripAccents { get; init; }
    /// <summary>Put spaces around CJK ideographs so each is its own word.</summary>
    public bool TokenizeChineseChars { get; init; } = true;
    /// <summary>Words longer than this many characters become the unknown token.</summary>
    public int MaxInputCharsPerWord { get; init; } = 100;
}

/// <summary>Hugging Face-compatible BERT tokenizer: basic tokenization, WordPiece, pair encoding with truncation.</summary>
public sealed class BertTokenizer
{
    private BertTokenizer() => throw new NotImplementedException();

    /// <summary>Loads a WordPiece vocabulary file (one token per line, LF or CRLF).</summary>
    public static BertTokenizer FromVocabFile(string path, BertTokenizerOptions? options = null) => throw new NotImplementedException();

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> with a BERT normalizer and WordPiece model.</summary>
    public static BertTokenizer FromTokenizerJson(string path) => throw new NotImplementedException();

    /// <summary>Loads from a model folder: <c>tokenizer.json</c> if present, else <c>vocab.txt</c> (+ <c>tokenizer_config.json</c> settings).</summary>
    public static BertTokenizer FromModelFolder(string directory) => throw new NotImplementedException();

    /// <summary>Vocabulary size.</summary>
    public int VocabularySize => throw new NotImplementedException();

    /// <summary>Word-piece ids of <paramref name="text"/>, no special tokens.</summary>
    public int[] EncodeToIds(string text) => throw new NotImplementedException();

    /// <summary>Encodes <c>[CLS] query [SEP] document [SEP]</c>, truncated to <paramref name="maxLength"/> tokens.</summary>
    public EncodedPair EncodePair(string query, string document, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst)
        => throw new NotImplementedException();

    /// <summary>Same as <see cref="EncodePair(string,string,int,TruncationStrategy)"/> from ids already produced by <see cref="EncodeToIds"/> (lets a caller tokenize the query once).</summary>
    public EncodedPair EncodePair(ReadOnlySpan<int> queryIds, ReadOnlySpan<int> documentIds, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst)
        => throw new NotImplementedException();

    /// <summary>Encodes <c>[CLS] text [SEP]</c>, truncated to <paramref name="maxLength"/> tokens.</summary>
    public EncodedPair EncodeSingle(string text, int maxLength) => throw new NotImplementedException();

    /// <summary>The token string of an id.</summary>
    public string IdToToken(int id) => throw new NotImplementedException();
}
