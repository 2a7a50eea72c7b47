using System.Text;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>vocab.txt, tokenizer.json and model-folder loading, including malformed files.</summary>
public sealed class BertTokenizerLoadingTests : IDisposable
{
    private static readonly string[] SmallVocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "café", "cafe", "Hello", "!"];
    private readonly string _folder = Directory.CreateTempSubdirectory("tokenizer-loading-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, string content, bool bom = false)
    {
        string path = Path.Combine(_folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, new UTF8Encoding(bom));
        return path;
    }

    [Theory]
    [InlineData("\n", false, true)]
    [InlineData("\r\n", false, true)]
    [InlineData("\r\n", true, true)]
    [InlineData("\n", true, false)]
    public void Vocab_line_endings_bom_and_final_newline_do_not_change_ids(string newline, bool bom, bool finalNewline)
    {
        string path = Write("vocab.txt", string.Join(newline, SmallVocab) + (finalNewline ? newline : ""), bom);
        BertTokenizer tokenizer = BertTokenizer.FromVocabFile(path);
        Assert.Equal(SmallVocab.Length, tokenizer.VocabularySize);
        Assert.Equal([5, 6, 7], tokenizer.EncodeToIds("hello worlds"));
        Assert.Equal("[PAD]", tokenizer.IdToToken(0));
        Assert.Equal("!", tokenizer.IdToToken(SmallVocab.Length - 1));
    }

    [Fact]
    public void Duplicate_vocab_line_maps_to_its_last_id_and_empty_lines_take_ids()
    {
        // transformers' load_vocab: vocab[token] = index for every line, so the later duplicate wins; the Rust reader does too.
        string path = Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n\nhello\nworld\n");
        BertTokenizer tokenizer = BertTokenizer.FromVocabFile(path);
        Assert.Equal([6, 7], tokenizer.EncodeToIds("hello world"));
        Assert.Equal("hello", tokenizer.IdToToken(4));
        Assert.Equal("", tokenizer.IdToToken(5));
        Assert.Equal(8, tokenizer.VocabularySize);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.IdToToken(8));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.IdToToken(-1));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("\n\n", "empty")]
    [InlineData("[PAD]\n[CLS]\n[SEP]\nhello\n", "[UNK]")]
    [InlineData("[PAD]\n[UNK]\n[SEP]\nhello\n", "[CLS]")]
    [InlineData("[PAD]\n[UNK]\n[CLS]\nhello\n", "[SEP]")]
    public void Bad_vocab_files_throw_a_typed_error_naming_file_and_problem(string content, string problem)
    {
        string path = Write("vocab.txt", content);
        var error = Assert.Throws<TokenizerFormatException>(() => BertTokenizer.FromVocabFile(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Equal(path, error.FilePath);
        Assert.IsAssignableFrom<FormatException>(error);
    }

    [Fact]
    public void Invalid_utf8_vocab_is_a_format_error()
    {
        string path = Path.Combine(_folder, "vocab.txt");
        File.WriteAllBytes(path, [.. "[UNK]\n[CLS]\n[SEP]\n"u8, 0xFF, 0xFE, 0x41, (byte)'\n']);
        Assert.Contains("UTF-8", Assert.Throws<TokenizerFormatException>(() => BertTokenizer.FromVocabFile(path)).Message);
    }

    [Fact]
    public void Options_control_case_accents_and_word_length()
    {
        string path = Write("vocab.txt", string.Join('\n', SmallVocab));
        BertTokenizer uncased = BertTokenizer.FromVocabFile(path);
        Assert.Equal([9], uncased.EncodeToIds("Café"));                                                    // lower + strip: "cafe"
        Assert.Equal([8], BertTokenizer.FromVocabFile(path, new() { StripAccents = false }).EncodeToIds("CAFÉ")); // lower only: "café"
        Assert.Equal([10], BertTokenizer.FromVocabFile(path, new() { LowerCase = false }).EncodeToIds("Hello")); // cased: strip follows lowercase -> off
        Assert.Equal([1], BertTokenizer.FromVocabFile(path, new() { LowerCase = false }).EncodeToIds("hellO"));
        Assert.Equal([5, 1], BertTokenizer.FromVocabFile(path, new() { MaxInputCharsPerWord = 5 }).EncodeToIds("hello worlds")); // 6 chars > 5
        Assert.Throws<ArgumentOutOfRangeException>(() => BertTokenizer.FromVocabFile(path, new() { MaxInputCharsPerWord = 0 }));
    }

    [Fact]
    public void Tokenizer_json_errors_are_typed_and_name_the_problem()
    {
        string vocabJson = """{"[UNK]":0,"[CLS]":1,"[SEP]":2,"a":3}""";
        string Json(string model, string pre = """{"type":"BertPreTokenizer"}""") =>
            $$"""{"normalizer":{"type":"BertNormalizer","lowercase":true},"pre_tokenizer":{{pre}},"model":{{model}}}""";
        (string Content, string Problem)[] cases =
        [
            ("{ not json", "invalid JSON"),
            ("[1,2]", "not a JSON object"),
            (Json($$"""{"type":"BPE","vocab":{{vocabJson}},"merges":[]}"""), "unsupported model type 'BPE'"),
            (Json("""{"type":"WordPiece","vocab":{}}"""), "empty"),
            (Json($$"""{"type":"WordPiece","unk_token":"<unk>","vocab":{{vocabJson}}}"""), "<unk>"),
            (Json($$"""{"type":"WordPiece","vocab":{{vocabJson}}}""", """{"type":"Whitespace"}"""), "pre_tokenizer 'Whitespace'"),
            (Json("""{"type":"WordPiece","vocab":{"[UNK]":0,"[SEP]":1}}"""), "[CLS]"),
            (Json("""{"type":"WordPiece","vocab":{"[UNK]":"zero"}}"""), "not a non-negative integer"),
        ];
        foreach ((string content, string problem) in cases)
        {
            string path = Write("bad/tokenizer.json", content);
            var error = Assert.Throws<TokenizerFormatException>(() => BertTokenizer.FromTokenizerJson(path));
            Assert.Contains(problem, error.Message);
            Assert.Contains(path, error.Message);
        }
    }

    [Fact]
    public void Tokenizer_json_truncation_max_length_and_added_tokens_are_honoured()
    {
        string json = TokenizationFixture.BuildTokenizerJson(SmallVocab, truncationMaxLength: 128);
        // An extra added token beyond the WordPiece vocabulary, matched literally.
        json = json.Replace("\"added_tokens\":[", "\"added_tokens\":[{\"id\":12,\"content\":\"<doc>\",\"special\":true,\"normalized\":false},");
        BertTokenizer tokenizer = BertTokenizer.FromTokenizerJson(Write("tokenizer.json", json));
        Assert.Equal(128, tokenizer.ModelMaxLength);
        Assert.Equal(13, tokenizer.VocabularySize);
        Assert.Equal([5, 12, 6], tokenizer.EncodeToIds("hello<doc>world"));
        Assert.Equal("<doc>", tokenizer.IdToToken(12));
    }

    [Fact]
    public void Model_folder_prefers_tokenizer_json_then_reads_tokenizer_config()
    {
        Write("m1/vocab.txt", string.Join('\n', SmallVocab));
        Write("m1/tokenizer_config.json", """{"do_lower_case": false, "model_max_length": 256, "tokenize_chinese_chars": true}""");
        BertTokenizer cased = BertTokenizer.FromModelFolder(Path.Combine(_folder, "m1"));
        Assert.Equal(256, cased.ModelMaxLength);
        Assert.Equal([10], cased.EncodeToIds("Hello"));

        Write("m2/vocab.txt", string.Join('\n', SmallVocab));
        Write("m2/tokenizer_config.json", """{"model_max_length": 1000000000000000019884624838656}""");
        Assert.Equal(512, BertTokenizer.FromModelFolder(Path.Combine(_folder, "m2")).ModelMaxLength);

        Write("m3/vocab.txt", "this vocab must not be read");
        Write("m3/tokenizer.json", TokenizationFixture.BuildTokenizerJson(SmallVocab));
        Write("m3/tokenizer_config.json", """{"model_max_length": 64}""");
        BertTokenizer fromJson = BertTokenizer.FromModelFolder(Path.Combine(_folder, "m3"));
        Assert.Equal([5], fromJson.EncodeToIds("Hello"));
        Assert.Equal(64, fromJson.ModelMaxLength);

        Directory.CreateDirectory(Path.Combine(_folder, "empty"));
        Assert.Throws<FileNotFoundException>(() => BertTokenizer.FromModelFolder(Path.Combine(_folder, "empty")));
        Assert.Throws<DirectoryNotFoundException>(() => BertTokenizer.FromModelFolder(Path.Combine(_folder, "missing")));
        Write("m4/vocab.txt", string.Join('\n', SmallVocab));
        Write("m4/tokenizer_config.json", "{oops");
        Assert.Throws<TokenizerFormatException>(() => BertTokenizer.FromModelFolder(Path.Combine(_folder, "m4")));
    }

    [Fact]
    public void Null_arguments_throw_ArgumentNullException()
    {
        BertTokenizer tokenizer = BertTokenizer.FromVocabFile(Write("vocab.txt", string.Join('\n', SmallVocab)));
        Assert.Throws<ArgumentNullException>(() => BertTokenizer.FromVocabFile(null!));
        Assert.Throws<ArgumentNullException>(() => BertTokenizer.FromTokenizerJson(null!));
        Assert.Throws<ArgumentNullException>(() => BertTokenizer.FromModelFolder(null!));
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodeToIds(null!));
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodeSingle((string)null!, 8));
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodePair(null!, "d", 8));
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodePair("q", null!, 8));
    }
}
