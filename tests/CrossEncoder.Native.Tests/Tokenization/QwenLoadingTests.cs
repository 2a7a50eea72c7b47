using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// <see cref="PipelineTokenizer.FromVocabularyAndMerges"/> on tiny hand-written folders: what merges.txt lines are skipped,
/// token lookups, and one clear error per malformed file (naming the file and the line or entry).
/// </summary>
public class QwenLoadingTests
{
    private const string Vocab = """{"a": 0, "b": 1, "ab": 2, "#": 3, "##": 4, "\u0120": 5, "\u0120a": 6}""";
    private const string Merges = "#version: 0.2\na b\n\n# #\n\u0120 a\n";
    private const string Config = """
        {"tokenizer_class": "Qwen2Tokenizer", "model_max_length": 100, "split_special_tokens": false, "add_prefix_space": false,
         "added_tokens_decoder": {"7": {"content": "<|x|>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
                                  "8": {"content": "<y>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": false}}}
        """;

    private static string Folder(string vocab = Vocab, string merges = Merges, string? config = Config)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"qwen-tiny-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "vocab.json"), vocab);
        File.WriteAllText(Path.Combine(folder, "merges.txt"), merges);
        if (config is not null) File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config);
        return folder;
    }

    [Fact]
    public void A_tiny_folder_loads_keeps_merges_starting_with_hash_and_matches_added_tokens_in_text()
    {
        string folder = Folder();
        try
        {
            ITextPairTokenizer tokenizer = TokenizerLoader.FromModelFolder(folder);
            Assert.Equal(9, tokenizer.VocabularySize);
            Assert.Equal(100, tokenizer.ModelMaxLength);
            Assert.Equal([2, 7, 4, 6, 8], tokenizer.EncodeToIds("ab<|x|>## a<y>"));   // "# #" is a merge, not a comment
            Assert.True(tokenizer.TryGetTokenId("<y>", out int y) && y == 8);
            Assert.True(tokenizer.TryGetTokenId("\u0120a", out int spaceA) && spaceA == 6);
            Assert.False(tokenizer.TryGetTokenId(" a", out _));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    public static TheoryData<string, string, string, string, string> Cases => new()
    {
        // name, file, vocab.json, merges.txt, expected message part
        { "vocab-json", "vocab.json", "{\"a\": 0,\n \"b\": }", Merges, "invalid JSON at line 2" },
        { "vocab-array", "vocab.json", "[\"a\", \"b\"]", Merges, "not a JSON object of token -> id" },
        { "vocab-id", "vocab.json", """{"a": 0, "b": "one"}""", Merges, "entry 2 (\"b\"): the id is the string \"one\"" },
        { "vocab-negative", "vocab.json", """{"a": -1}""", Merges, "entry 1 (\"a\"): the id is -1" },
        { "vocab-empty", "vocab.json", "{}", Merges, "the vocabulary is empty" },
        { "merges-one", "merges.txt", Vocab, "#version: 0.2\na b\nab\n", "line 3: 'ab' is not two symbols" },
        { "merges-three", "merges.txt", Vocab, "#version: 0.2\na b ab\n", "line 2: 'a b ab' is not two symbols" },
        { "merges-part", "merges.txt", Vocab, "#version: 0.2\na b\na c\n", "line 3: merge 'a c': 'c' is not in vocab.json" },
        { "merges-result", "merges.txt", Vocab, "#version: 0.2\nb a\n", "line 2: merge 'b a': 'ba' is not in vocab.json" },
        { "merges-version-late", "merges.txt", Vocab, "a b\n#version: 0.2\n", "line 2: merge '#version: 0.2': '#version:' is not in vocab.json" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_vocab_json_and_merges_txt_name_the_file_and_the_line(string name, string file, string vocab, string merges, string message)
    {
        string folder = Folder(vocab, merges);
        try
        {
            var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.FromModelFolder(folder));
            Assert.Equal(file, Path.GetFileName(error.FilePath));
            Assert.Contains(message, error.Message);
            Assert.Contains(file, error.Message);
            Assert.NotEmpty(name);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    public static TheoryData<string, string> ConfigCases => new()
    {
        { Config.Replace("Qwen2Tokenizer", "GPT2Tokenizer"), "tokenizer_class 'GPT2Tokenizer' is not supported from vocab.json + merges.txt" },
        { Config.Replace("\"tokenizer_class\": \"Qwen2Tokenizer\",", ""), "no \"tokenizer_class\"" },
        { Config.Replace("\"add_prefix_space\": false", "\"add_prefix_space\": true"), "add_prefix_space true is not supported" },
        { Config.Replace("\"split_special_tokens\": false", "\"split_special_tokens\": true"), "split_special_tokens true is not supported" },
        { """{"tokenizer_class": "Qwen2TokenizerFast"}""", "no \"added_tokens_decoder\"" },
        { Config.Replace("\"8\":", "\"9\":"), "added token '<y>' has id 9; the next free id after vocab.json and the earlier added tokens is 8" },
        { Config.Replace("\"content\": \"<y>\"", "\"content\": \"ab\""), "added token 'ab' has id 8, but vocab.json gives it 2" },
        { Config.Replace("\"7\":", "\"x\":"), "added_tokens_decoder key \"x\" is not a token id" },
        { "{\"tokenizer_class\": \n\"Qwen2Tokenizer\"", "invalid JSON at line 2" },
    };

    [Theory]
    [MemberData(nameof(ConfigCases))]
    public void Unsupported_or_malformed_tokenizer_config_is_refused_with_its_reason(string config, string message)
    {
        string folder = Folder(config: config);
        try
        {
            var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.FromModelFolder(folder));
            Assert.Equal("tokenizer_config.json", Path.GetFileName(error.FilePath));
            Assert.Contains(message, error.Message);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Vocab_and_merges_without_tokenizer_config_is_a_missing_file()
    {
        string folder = Folder(config: null);
        try
        {
            var error = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.FromModelFolder(folder));
            Assert.Contains("tokenizer_config.json", error.Message);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Bert_and_unigram_tokenizers_look_up_token_ids_too()
    {
        BertTokenizer bert = TokenizationFixture.FromVocab;
        Assert.True(bert.TryGetTokenId("[CLS]", out int cls) && cls == bert.ClsTokenId);
        Assert.True(bert.TryGetTokenId("##ing", out int ing) && bert.IdToToken(ing) == "##ing");
        Assert.False(bert.TryGetTokenId("no such token", out _));
        PipelineTokenizer unigram = PipelineTokenizer.FromTokenizerJson(PipelineFixtures.UnigramTokenizerJson);
        int id = unigram.EncodeToIds("retrieval")[^1];
        Assert.True(unigram.TryGetTokenId(unigram.IdToToken(id), out int back) && back == id);
    }
}
