using System.Text;
using System.Text.Json;

namespace CrossEncoder.Native.Tokenization;

// Loading from the three file layouts Hugging Face models ship: vocab.txt (+ tokenizer_config.json), or tokenizer.json.
public sealed partial class BertTokenizer
{
    private static readonly string[] DefaultSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    private const string DefaultUnkToken = "[UNK]", DefaultClsToken = "[CLS]", DefaultSepToken = "[SEP]";

    /// <summary>Loads a WordPiece vocabulary file (one token per line, LF or CRLF).</summary>
    /// <remarks>
    /// vocab.txt format: UTF-8, one token per line, the id of a token is its 0-based line number. As in transformers'
    /// <c>load_vocab</c>, empty lines still take an id, a token listed twice maps to its last line, and a final line break does
    /// not start another token. A leading byte-order mark is ignored. [PAD] [UNK] [CLS] [SEP] [MASK] are added tokens
    /// (matched literally in the text), as in the tokenizer.json Hugging Face derives from a vocab.txt.
    /// </remarks>
    /// <exception cref="TokenizerFormatException">The file is empty, not UTF-8, or lacks [UNK], [CLS] or [SEP].</exception>
    public static BertTokenizer FromVocabFile(string path, BertTokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new BertTokenizerOptions();
        options.Validate();
        string[] lines = ReadVocabLines(path);
        var vocabulary = new Dictionary<string, int>(lines.Length, StringComparer.Ordinal);
        for (int id = 0; id < lines.Length; id++) vocabulary[lines[id]] = id; // a later duplicate wins, as in load_vocab
        foreach (string required in (string[])[DefaultUnkToken, DefaultClsToken, DefaultSepToken])
            if (!vocabulary.ContainsKey(required))
                throw new TokenizerFormatException(path, $"the vocabulary has no {required} token.");
        var added = DefaultSpecialTokens.Where(vocabulary.ContainsKey).Select(t => new AddedToken(t, vocabulary[t])).ToList();
        var normalizer = new BertNormalizer(options.CleanText, options.TokenizeChineseChars, options.EffectiveStripAccents, options.LowerCase);
        return Create(normalizer, vocabulary, added, DefaultUnkToken, "##", options.MaxInputCharsPerWord,
            DefaultClsToken, DefaultSepToken, options.ModelMaxLength, path, tokensById: lines);
    }

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> with a BERT normalizer and WordPiece model.</summary>
    /// <remarks>
    /// Read: <c>normalizer</c> (BertNormalizer: clean_text, handle_chinese_chars, strip_accents, lowercase; or null),
    /// <c>pre_tokenizer</c> (must be BertPreTokenizer), <c>model</c> (must be WordPiece: vocab, unk_token,
    /// continuing_subword_prefix, max_input_chars_per_word), <c>added_tokens</c>, <c>post_processor</c> (BertProcessing or a
    /// TemplateProcessing of the form [CLS] $A [SEP] $B:1 [SEP]:1, which names the two special tokens) and
    /// <c>truncation.max_length</c> (becomes <see cref="ModelMaxLength"/>).
    /// </remarks>
    /// <exception cref="TokenizerFormatException">Invalid JSON, or a tokenizer other than BERT WordPiece.</exception>
    public static BertTokenizer FromTokenizerJson(string path) => FromTokenizerJson(path, modelMaxLengthFallback: null);

    /// <summary>Loads from a model folder: <c>tokenizer.json</c> if present, else <c>vocab.txt</c> (+ <c>tokenizer_config.json</c> settings).</summary>
    /// <remarks>
    /// tokenizer_config.json supplies do_lower_case, strip_accents, tokenize_chinese_chars and model_max_length (the last also
    /// when tokenizer.json has no truncation section). A model_max_length above int.MaxValue (transformers writes 1e30 for
    /// "unlimited") is ignored.
    /// </remarks>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has neither tokenizer.json nor vocab.txt.</exception>
    public static BertTokenizer FromModelFolder(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Model folder '{directory}' does not exist.");
        string tokenizerJson = Path.Combine(directory, "tokenizer.json");
        string vocabTxt = Path.Combine(directory, "vocab.txt");
        string configJson = Path.Combine(directory, "tokenizer_config.json");
        TokenizerConfig config = File.Exists(configJson) ? ReadTokenizerConfig(configJson) : new TokenizerConfig();
        if (File.Exists(tokenizerJson)) return FromTokenizerJson(tokenizerJson, config.ModelMaxLength);
        if (!File.Exists(vocabTxt))
            throw new FileNotFoundException($"Model folder '{directory}' has neither tokenizer.json nor vocab.txt.", vocabTxt);
        var options = new BertTokenizerOptions
        {
            LowerCase = config.LowerCase ?? true,
            StripAccents = config.StripAccents,
            TokenizeChineseChars = config.TokenizeChineseChars ?? true,
            ModelMaxLength = config.ModelMaxLength ?? 512,
        };
        return FromVocabFile(vocabTxt, options);
    }

    private static BertTokenizer FromTokenizerJson(string path, int? modelMaxLengthFallback)
    {
        ArgumentNullException.ThrowIfNull(path);
        using JsonDocument document = ParseJson(path);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new TokenizerFormatException(path, "the top level is not a JSON object.");

        // model: WordPiece only.
        if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
            throw new TokenizerFormatException(path, "no \"model\" object.");
        string? modelType = GetString(model, "type", path);
        if (modelType != "WordPiece")
            throw new TokenizerFormatException(path, $"unsupported model type '{modelType ?? "(none)"}': only WordPiece (BERT) tokenizers are supported.");
        if (!model.TryGetProperty("vocab", out JsonElement vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
            throw new TokenizerFormatException(path, "model.vocab is missing or not an object of token -> id.");
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in vocabElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new TokenizerFormatException(path, $"model.vocab[\"{entry.Name}\"] is not a non-negative integer id.");
            vocabulary[entry.Name] = id;
        }
        if (vocabulary.Count == 0) throw new TokenizerFormatException(path, "model.vocab is empty.");
        string unkToken = GetString(model, "unk_token", path) ?? DefaultUnkToken;
        string prefix = GetString(model, "continuing_subword_prefix", path) ?? "##";
        int maxChars = GetInt(model, "max_input_chars_per_word", path) ?? 100;
        if (maxChars is < 1 or > WordPiece.MaxInputCharsPerWordLimit)
            throw new TokenizerFormatException(path, $"model.max_input_chars_per_word is {maxChars}; it must be between 1 and {WordPiece.MaxInputCharsPerWordLimit}.");

        // normalizer: BertNormalizer or none.
        BertNormalizer? normalizer = null;
        if (root.TryGetProperty("normalizer", out JsonElement norm) && norm.ValueKind != JsonValueKind.Null)
        {
            string? type = norm.ValueKind == JsonValueKind.Object ? GetString(norm, "type", path) : null;
            if (type != "BertNormalizer")
                throw new TokenizerFormatException(path, $"unsupported normalizer '{type ?? norm.ValueKind.ToString()}': only BertNormalizer is supported.");
            bool lowercase = GetBool(norm, "lowercase", path) ?? true;
            normalizer = new BertNormalizer(
                GetBool(norm, "clean_text", path) ?? true,
                GetBool(norm, "handle_chinese_chars", path) ?? true,
                GetBool(norm, "strip_accents", path) ?? lowercase, // null: follow lowercase, as tokenizers does
                lowercase);
        }

        // pre_tokenizer: BertPreTokenizer.
        string? preTokenizer = root.TryGetProperty("pre_tokenizer", out JsonElement pre) && pre.ValueKind == JsonValueKind.Object
            ? GetString(pre, "type", path) : null;
        if (preTokenizer != "BertPreTokenizer")
            throw new TokenizerFormatException(path, $"unsupported pre_tokenizer '{preTokenizer ?? "(none)"}': only BertPreTokenizer is supported.");

        // added_tokens.
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out JsonElement addedElement) && addedElement.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in addedElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object) throw new TokenizerFormatException(path, "an added_tokens entry is not an object.");
                string content = GetString(item, "content", path) ?? throw new TokenizerFormatException(path, "an added_tokens entry has no content.");
                int id = GetInt(item, "id", path) ?? throw new TokenizerFormatException(path, $"added token '{content}' has no id.");
                if (id < 0) throw new TokenizerFormatException(path, $"added token '{content}' has a negative id.");
                added.Add(new AddedToken(content, id, GetBool(item, "single_word", path) ?? false, GetBool(item, "lstrip", path) ?? false,
                    GetBool(item, "rstrip", path) ?? false, GetBool(item, "normalized", path) ?? false));
            }
        }

        (string cls, string sep) = ReadPostProcessor(root, path);
        int modelMaxLength = modelMaxLengthFallback ?? 512;
        if (root.TryGetProperty("truncation", out JsonElement truncation) && truncation.ValueKind == JsonValueKind.Object)
        {
            int? max = GetInt(truncation, "max_length", path);
            if (max is < 2) throw new TokenizerFormatException(path, $"truncation.max_length is {max}; it must be at least 2.");
            modelMaxLength = max ?? modelMaxLength;
        }
        return Create(normalizer, vocabulary, added, unkToken, prefix, maxChars, cls, sep, modelMaxLength, path);
    }

    /// <summary>Names of the [CLS]-like and [SEP]-like tokens from BertProcessing or a BERT-shaped TemplateProcessing.</summary>
    private static (string Cls, string Sep) ReadPostProcessor(JsonElement root, string path)
    {
        if (!root.TryGetProperty("post_processor", out JsonElement post) || post.ValueKind == JsonValueKind.Null)
            return (DefaultClsToken, DefaultSepToken);
        string? type = post.ValueKind == JsonValueKind.Object ? GetString(post, "type", path) : null;
        if (type == "BertProcessing")
        {
            string cls = post.TryGetProperty("cls", out JsonElement c) && c.ValueKind == JsonValueKind.Array && c.GetArrayLength() > 0 && c[0].ValueKind == JsonValueKind.String
                ? c[0].GetString()! : DefaultClsToken;
            string sep = post.TryGetProperty("sep", out JsonElement s) && s.ValueKind == JsonValueKind.Array && s.GetArrayLength() > 0 && s[0].ValueKind == JsonValueKind.String
                ? s[0].GetString()! : DefaultSepToken;
            return (cls, sep);
        }
        if (type == "TemplateProcessing")
        {
            // Expect exactly: Special(cls):0, Sequence A:0, Special(sep):0, Sequence B:1, Special(sep):1.
            const string expected = "the pair template must be [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1, the only layout this encoder produces";
            if (!post.TryGetProperty("pair", out JsonElement pair) || pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 5)
                throw new TokenizerFormatException(path, $"unsupported post_processor: {expected}.");
            var items = pair.EnumerateArray().Select(e => ReadTemplateItem(e)).ToArray();
            bool ok = items[0] is { Special: true, TypeId: 0 } && items[1] is { Special: false, Id: "A", TypeId: 0 }
                && items[2] is { Special: true, TypeId: 0 } && items[3] is { Special: false, Id: "B", TypeId: 1 }
                && items[4] is { Special: true, TypeId: 1 } && items[2]!.Value.Id == items[4]!.Value.Id;
            if (!ok) throw new TokenizerFormatException(path, $"unsupported post_processor: {expected}.");
            return (items[0]!.Value.Id, items[2]!.Value.Id);
        }
        throw new TokenizerFormatException(path, $"unsupported post_processor '{type ?? post.ValueKind.ToString()}': expected BertProcessing or TemplateProcessing.");
    }

    private static (bool Special, string Id, int TypeId)? ReadTemplateItem(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object) return null;
        bool special = item.TryGetProperty("SpecialToken", out JsonElement body);
        if (!special && !item.TryGetProperty("Sequence", out body)) return null;
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("id", out JsonElement id) || id.ValueKind != JsonValueKind.String) return null;
        int typeId = body.TryGetProperty("type_id", out JsonElement t) && t.ValueKind == JsonValueKind.Number ? t.GetInt32() : 0;
        return (special, id.GetString()!, typeId);
    }

    private static BertTokenizer Create(BertNormalizer? normalizer, Dictionary<string, int> vocabulary, List<AddedToken> added,
        string unkToken, string prefix, int maxChars, string clsToken, string sepToken, int modelMaxLength, string path, string[]? tokensById = null)
    {
        if (vocabulary.Count == 0) throw new TokenizerFormatException(path, "the vocabulary is empty.");
        int IdOf(string token) =>
            added.FirstOrDefault(a => a.Content == token)?.Id
            ?? (vocabulary.TryGetValue(token, out int id) ? id : throw new TokenizerFormatException(path, $"the vocabulary has no {token} token."));
        int unkId = vocabulary.TryGetValue(unkToken, out int u) ? u
            : throw new TokenizerFormatException(path, $"the unknown token {unkToken} is not in the vocabulary.");
        int clsId = IdOf(clsToken), sepId = IdOf(sepToken);

        // id -> token over the WordPiece vocabulary and the added tokens. From vocab.txt it is the line itself, so an id
        // shadowed by a later duplicate still has its text.
        TokenIdRange.Check(path, vocabulary, added);
        int size = Math.Max(vocabulary.Values.Max(), added.Count > 0 ? added.Max(a => a.Id) : 0) + 1;
        var idToToken = new string?[size];
        if (tokensById is not null) tokensById.CopyTo(idToToken, 0);
        else foreach ((string token, int id) in vocabulary) idToToken[id] = token;
        foreach (AddedToken token in added) idToToken[token.Id] ??= token.Content;
        return new BertTokenizer(normalizer, new WordPiece(vocabulary, unkId, prefix, maxChars), vocabulary, added, idToToken,
            clsId, sepId, unkId, modelMaxLength);
    }

    private static string[] ReadVocabLines(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new TokenizerFormatException(path, "the vocabulary is not valid UTF-8.", e);
        }
        if (text.StartsWith('\uFEFF')) text = text[1..];
        // Only \n and \r\n end a line (string.Split-style helpers would also split at a lone \r, U+0085 or U+2028).
        var lines = new List<string>();
        int start = 0;
        while (start <= text.Length)
        {
            int newline = text.IndexOf('\n', start);
            if (newline < 0)
            {
                if (start < text.Length) lines.Add(text[start..]); // last line without a line break
                break;
            }
            int end = newline > start && text[newline - 1] == '\r' ? newline - 1 : newline;
            lines.Add(text[start..end]);
            start = newline + 1;
        }
        if (lines.Count == 0 || lines.All(string.IsNullOrWhiteSpace))
            throw new TokenizerFormatException(path, "the vocabulary is empty.");
        return lines.ToArray();
    }

    private sealed record TokenizerConfig(bool? LowerCase = null, bool? StripAccents = null, bool? TokenizeChineseChars = null, int? ModelMaxLength = null);

    private static TokenizerConfig ReadTokenizerConfig(string path)
    {
        using JsonDocument document = ParseJson(path);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new TokenizerFormatException(path, "the top level is not a JSON object.");
        int? maxLength = null;
        if (root.TryGetProperty("model_max_length", out JsonElement m) && m.ValueKind == JsonValueKind.Number)
        {
            double value = m.GetDouble();
            if (value < 2) throw new TokenizerFormatException(path, $"model_max_length is {value}; it must be at least 2.");
            if (value <= int.MaxValue) maxLength = (int)value; // 1e30 means "no limit": keep the default
        }
        return new TokenizerConfig(GetBool(root, "do_lower_case", path), GetBool(root, "strip_accents", path),
            GetBool(root, "tokenize_chinese_chars", path), maxLength);
    }

    private static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonEscapes.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"invalid JSON: {e.Message}", e);
        }
    }

    private static string? GetString(JsonElement obj, string name, string path) =>
        !obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw new TokenizerFormatException(path, $"\"{name}\" must be a string, not {v.ValueKind}.");

    private static bool? GetBool(JsonElement obj, string name, string path) =>
        !obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw new TokenizerFormatException(path, $"\"{name}\" must be true, false or null, not {v.ValueKind}.");

    private static int? GetInt(JsonElement obj, string name, string path) =>
        !obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw new TokenizerFormatException(path, $"\"{name}\" must be an integer, not {v}.");
}
