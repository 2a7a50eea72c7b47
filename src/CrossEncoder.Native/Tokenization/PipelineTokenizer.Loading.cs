using System.Text;
using System.Text.Json;

namespace CrossEncoder.Native.Tokenization;

// Reading tokenizer.json into pipeline pieces. Field names and defaults follow tokenizers' serde definitions.
public sealed partial class PipelineTokenizer
{
    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> made of supported pieces (see the class remarks).</summary>
    /// <param name="path">The file.</param>
    /// <param name="modelMaxLengthFallback">The limit when tokenizer.json has no <c>truncation.max_length</c>
    /// (tokenizer_config.json's <c>model_max_length</c>); 512 when null.</param>
    /// <exception cref="TokenizerFormatException">Invalid JSON, or a piece this library does not implement (named).</exception>
    public static PipelineTokenizer FromTokenizerJson(string path, int? modelMaxLengthFallback = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        JsonDocument document;
        try
        {
            document = JsonEscapes.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"invalid JSON: {e.Message}", e);
        }
        using (document)
        {
            var reader = new Reader(path);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new TokenizerFormatException(path, "the top level is not a JSON object.");
            if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
                throw new TokenizerFormatException(path, "no \"model\" object.");

            var added = new List<AddedToken>();
            if (root.TryGetProperty("added_tokens", out JsonElement addedElement) && addedElement.ValueKind == JsonValueKind.Array)
                foreach (JsonElement item in addedElement.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object) throw new TokenizerFormatException(path, "an added_tokens entry is not an object.");
                    string content = reader.String(item, "content") ?? throw new TokenizerFormatException(path, "an added_tokens entry has no content.");
                    int id = reader.Int(item, "id") ?? throw new TokenizerFormatException(path, $"added token '{content}' has no id.");
                    if (id < 0) throw new TokenizerFormatException(path, $"added token '{content}' has a negative id.");
                    added.Add(new AddedToken(content, id, reader.Bool(item, "single_word") ?? false, reader.Bool(item, "lstrip") ?? false,
                        reader.Bool(item, "rstrip") ?? false, reader.Bool(item, "normalized") ?? false));
                }

            var (encodeWord, vocabulary) = ReadModel(model, reader, out Action<string, List<WordToken>> traceWord);
            TextNormalizer? normalizer = root.TryGetProperty("normalizer", out JsonElement n) && n.ValueKind != JsonValueKind.Null ? ReadNormalizer(n, reader) : null;
            PreTokenizer? preTokenizer = root.TryGetProperty("pre_tokenizer", out JsonElement p) && p.ValueKind != JsonValueKind.Null ? ReadPreTokenizer(p, reader) : null;

            int IdOf(string token) => added.FirstOrDefault(a => a.Content == token)?.Id
                ?? (vocabulary.TryGetValue(token, out int id) ? id : throw new TokenizerFormatException(path, $"the post_processor's token '{token}' is not in the vocabulary."));
            bool hasPost = root.TryGetProperty("post_processor", out JsonElement pp) && pp.ValueKind != JsonValueKind.Null;
            var knownIds = new HashSet<int>(vocabulary.Values.Concat(added.Select(a => a.Id)));
            PostProcessor post = hasPost ? ReadPostProcessor(pp, reader, IdOf, knownIds.Contains) : PostProcessor.None();
            var trimming = hasPost ? ReadOffsetTrimming(pp, reader) : (false, false);

            int modelMaxLength = modelMaxLengthFallback ?? 512;
            if (root.TryGetProperty("truncation", out JsonElement truncation) && truncation.ValueKind == JsonValueKind.Object)
                modelMaxLength = reader.Int(truncation, "max_length") ?? modelMaxLength;
            if (modelMaxLength < 2) throw new TokenizerFormatException(path, $"the maximum length {modelMaxLength} is below 2.");

            TokenIdRange.Check(path, vocabulary, added);
            return new PipelineTokenizer(normalizer, preTokenizer, encodeWord, vocabulary, added, post, modelMaxLength) { TraceWord = traceWord, OffsetTrimming = trimming };
        }
    }

    private static (Func<string, List<int>, bool> Encode, Dictionary<string, int> Vocabulary) ReadModel(JsonElement model, Reader reader, out Action<string, List<WordToken>> traceWord)
    {
        string? type = reader.String(model, "type");
        switch (type)
        {
            case "WordPiece":
            {
                var vocabulary = ReadVocabulary(model, reader);
                string unk = reader.String(model, "unk_token") ?? "[UNK]";
                if (!vocabulary.TryGetValue(unk, out int unkId)) throw reader.Error($"the unknown token {unk} is not in the vocabulary.");
                int maxChars = reader.Int(model, "max_input_chars_per_word") ?? 100;
                if (maxChars is < 1 or > WordPiece.MaxInputCharsPerWordLimit)
                    throw reader.Error($"model.max_input_chars_per_word is {maxChars}; it must be between 1 and {WordPiece.MaxInputCharsPerWordLimit}.");
                var wordPiece = new WordPiece(vocabulary, unkId, reader.String(model, "continuing_subword_prefix") ?? "##", maxChars);
                traceWord = (word, tokens) => wordPiece.EncodeTraced(word, tokens);
                return ((word, ids) =>
                {
                    var buffer = new PooledBuffer<int>(8);
                    try
                    {
                        wordPiece.Encode(word, ref buffer);
                        foreach (int id in buffer.Span) ids.Add(id);
                    }
                    finally { buffer.Dispose(); }
                    return true;
                }, vocabulary);
            }
            case "Unigram":
            {
                if (!model.TryGetProperty("vocab", out JsonElement v) || v.ValueKind != JsonValueKind.Array)
                    throw reader.Error("model.vocab is missing or not an array of [piece, score].");
                var pieces = new List<(string, double)>();
                foreach (JsonElement entry in v.EnumerateArray())
                {
                    if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() != 2 || entry[0].ValueKind != JsonValueKind.String || entry[1].ValueKind != JsonValueKind.Number)
                        throw reader.Error($"model.vocab entry {pieces.Count} is not [piece, score].");
                    pieces.Add((entry[0].GetString()!, SerdeJsonFloat.Parse(entry[1].GetRawText())));   // as tokenizers reads it
                }
                if (pieces.Count == 0) throw reader.Error("model.vocab is empty.");
                int unkId = reader.Int(model, "unk_id") ?? throw reader.Error("model.unk_id is missing: a Unigram model needs an unknown piece.");
                if (unkId < 0 || unkId >= pieces.Count) throw reader.Error($"model.unk_id {unkId} is outside the vocabulary (size {pieces.Count}).");
                var unigram = new Unigram(pieces, unkId, reader.Bool(model, "byte_fallback") ?? false);
                traceWord = unigram.EncodeTraced;
                var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int i = 0; i < pieces.Count; i++) vocabulary[pieces[i].Item1] = i;
                return ((word, ids) => { unigram.Encode(word, ids); return true; }, vocabulary);
            }
            case "BPE":
            {
                var (encode, vocabulary, model_) = ReadBpe(model, reader);
                traceWord = BpeTrace(model_);
                return (encode, vocabulary);
            }
            default:
                throw reader.Error($"unsupported model type '{type ?? "(none)"}': WordPiece, Unigram and BPE are supported.");
        }
    }

    /// <summary>A BPE model's tokens with their ranges (a byte of a multi-byte character covers the whole character).</summary>
    internal static Action<string, List<WordToken>> BpeTrace(BytePairEncoding bpe) => (word, tokens) =>
    {
        foreach (BytePairEncoding.Token t in bpe.Tokenize(word)) tokens.Add(new WordToken(t.Id, t.Start, t.End));
    };

    private static TextNormalizer ReadNormalizer(JsonElement element, Reader reader)
    {
        string? type = element.ValueKind == JsonValueKind.Object ? reader.String(element, "type") : null;
        switch (type)
        {
            case "Sequence":
                if (!element.TryGetProperty("normalizers", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
                    throw reader.Error("a Sequence normalizer has no \"normalizers\" array.");
                return new SequenceNormalizer(list.EnumerateArray().Select(e => ReadNormalizer(e, reader)).ToArray());
            case "BertNormalizer":
            {
                bool lowercase = reader.Bool(element, "lowercase") ?? true;
                return new BertTextNormalizer(new BertNormalizer(reader.Bool(element, "clean_text") ?? true, reader.Bool(element, "handle_chinese_chars") ?? true,
                    reader.Bool(element, "strip_accents") ?? lowercase, lowercase));
            }
            case "Lowercase": return BertTextNormalizer.Lowercase();
            case "StripAccents": return new StripAccentsNormalizer();
            case "NFC": return new UnicodeFormNormalizer(NormalizationForm.FormC);
            case "NFD": return new UnicodeFormNormalizer(NormalizationForm.FormD);
            case "NFKC": return new UnicodeFormNormalizer(NormalizationForm.FormKC);
            case "NFKD": return new UnicodeFormNormalizer(NormalizationForm.FormKD);
            case "Strip": return new StripNormalizer(reader.Bool(element, "strip_left") ?? true, reader.Bool(element, "strip_right") ?? true);
            case "Prepend": return new PrependNormalizer(reader.String(element, "prepend") ?? throw reader.Error("a Prepend normalizer has no \"prepend\"."));
            case "Replace":
            {
                string content = reader.String(element, "content") ?? throw reader.Error("a Replace normalizer has no \"content\".");
                var (literal, regex) = ReadPattern(element, reader, "Replace");
                return new ReplaceNormalizer(literal, regex, content, reader.Path);
            }
            case "Precompiled":
            {
                string? base64 = reader.String(element, "precompiled_charsmap");
                if (string.IsNullOrEmpty(base64)) return new SequenceNormalizer([]);   // an empty charsmap is the identity
                byte[] blob;
                try { blob = Convert.FromBase64String(base64); }
                catch (FormatException e) { throw new TokenizerFormatException(reader.Path, "precompiled_charsmap is not valid base64.", e); }
                return new PrecompiledNormalizer(new PrecompiledCharsMap(blob, reader.Path));
            }
            default:
                throw reader.Error($"unsupported normalizer '{type ?? element.ValueKind.ToString()}'.");
        }
    }

    /// <summary><c>model.vocab</c> (token -> id) of a WordPiece or BPE model, every id a non-negative integer.</summary>
    private static Dictionary<string, int> ReadVocabulary(JsonElement model, Reader reader)
    {
        if (!model.TryGetProperty("vocab", out JsonElement v) || v.ValueKind != JsonValueKind.Object)
            throw reader.Error("model.vocab is missing or not an object of token -> id.");
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in v.EnumerateObject())
            vocabulary[entry.Name] = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out int id) && id >= 0 ? id : throw reader.Error($"model.vocab[\"{entry.Name}\"] is not a non-negative integer id.");
        if (vocabulary.Count == 0) throw reader.Error("model.vocab is empty.");
        TokenIdRange.Check(reader.Path, vocabulary, []);   // before any model sizes a table by the largest id
        return vocabulary;
    }

    /// <summary>
    /// The BPE model (tokenizers' models/bpe/serialization.rs): <c>vocab</c> token -> id; <c>merges</c> in rank order, as
    /// <c>"a b"</c> strings (exactly one space; the older files) or <c>["a", "b"]</c> pairs (tokenizers 0.20 and later);
    /// <c>unk_token</c>, <c>fuse_unk</c>, <c>byte_fallback</c>, <c>ignore_merges</c>, <c>continuing_subword_prefix</c>,
    /// <c>end_of_word_suffix</c>. <c>dropout</c> must be null or 0: with dropout the ids are random.
    /// </summary>
    private static (Func<string, List<int>, bool> Encode, Dictionary<string, int> Vocabulary, BytePairEncoding Model) ReadBpe(JsonElement model, Reader reader)
    {
        var vocabulary = ReadVocabulary(model, reader);

        var merges = new List<(string, string)>();
        if (model.TryGetProperty("merges", out JsonElement m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Array) throw reader.Error("model.merges is not an array.");
            foreach (JsonElement merge in m.EnumerateArray())
            {
                if (merge.ValueKind == JsonValueKind.String)
                {
                    string[] parts = merge.GetString()!.Split(' ');
                    if (parts.Length != 2) throw reader.Error($"merge {merges.Count + 1} '{merge.GetString()}' is not two tokens separated by one space.");
                    merges.Add((parts[0], parts[1]));
                }
                else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
                    merges.Add((merge[0].GetString()!, merge[1].GetString()!));
                else throw reader.Error($"merge {merges.Count + 1} is neither \"a b\" nor [\"a\", \"b\"].");
            }
        }

        if (model.TryGetProperty("dropout", out JsonElement dropout) && dropout.ValueKind != JsonValueKind.Null
            && !(dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() == 0))
            throw reader.Error($"model.dropout is {dropout.GetRawText()}: BPE dropout skips merges at random, so its ids are not reproducible; only null (or 0) is supported.");

        BytePairEncoding bpe;
        try
        {
            bpe = new BytePairEncoding(vocabulary, merges, reader.String(model, "unk_token"), reader.Bool(model, "fuse_unk") ?? false,
                reader.Bool(model, "byte_fallback") ?? false, reader.Bool(model, "ignore_merges") ?? false,
                reader.String(model, "continuing_subword_prefix"), reader.String(model, "end_of_word_suffix"));
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException(reader.Path, e.Message, e);
        }
        return ((word, ids) => { bpe.Encode(word, ids); return true; }, vocabulary, bpe);
    }

    private static PreTokenizer ReadPreTokenizer(JsonElement element, Reader reader)
    {
        string? type = element.ValueKind == JsonValueKind.Object ? reader.String(element, "type") : null;
        switch (type)
        {
            case "Sequence":
                if (!element.TryGetProperty("pretokenizers", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
                    throw reader.Error("a Sequence pre_tokenizer has no \"pretokenizers\" array.");
                return new SequencePreTokenizer(list.EnumerateArray().Select(e => ReadPreTokenizer(e, reader)).ToArray());
            case "BertPreTokenizer": return new BertWordsPreTokenizer();
            case "WhitespaceSplit": return new WhitespaceSplitPreTokenizer();
            case "Whitespace": return new WhitespacePreTokenizer();
            case "Punctuation": return new PunctuationPreTokenizer(ReadBehavior(reader.String(element, "behavior") ?? "Isolated", reader));
            case "ByteLevel":
                return new ByteLevelPreTokenizer(reader.Bool(element, "add_prefix_space") ?? true, reader.Bool(element, "use_regex") ?? true);
            case "Split":
            {
                var (literal, regex) = ReadPattern(element, reader, "Split pre_tokenizer");
                string behavior = reader.String(element, "behavior") ?? throw reader.Error("a Split pre_tokenizer has no \"behavior\".");
                return new SplitPreTokenizer(literal, regex, ReadBehavior(behavior, reader), reader.Bool(element, "invert") ?? false, reader.Path);
            }
            case "Metaspace":
            {
                string replacement = reader.String(element, "replacement") ?? "\u2581";
                if (replacement.Length != 1) throw reader.Error($"Metaspace replacement '{replacement}' is not one UTF-16 character.");
                string? scheme = reader.String(element, "prepend_scheme");
                PrependScheme prepend = scheme switch
                {
                    "always" => PrependScheme.Always,
                    "first" => PrependScheme.First,
                    "never" => PrependScheme.Never,
                    null => reader.Bool(element, "add_prefix_space") ?? true ? PrependScheme.Always : PrependScheme.Never,   // files before tokenizers 0.19
                    _ => throw reader.Error($"unknown Metaspace prepend_scheme '{scheme}'."),
                };
                return new MetaspacePreTokenizer(replacement[0], prepend, reader.Bool(element, "split") ?? true);
            }
            default:
                throw reader.Error($"unsupported pre_tokenizer '{type ?? element.ValueKind.ToString()}'.");
        }
    }

    private static DelimiterBehavior ReadBehavior(string name, Reader reader) => name switch
    {
        "Removed" or "removed" => DelimiterBehavior.Removed,
        "Isolated" or "isolated" => DelimiterBehavior.Isolated,
        "MergedWithPrevious" or "merged_with_previous" => DelimiterBehavior.MergedWithPrevious,
        "MergedWithNext" or "merged_with_next" => DelimiterBehavior.MergedWithNext,
        "Contiguous" or "contiguous" => DelimiterBehavior.Contiguous,
        _ => throw reader.Error($"unknown split behavior '{name}'."),
    };

    private static (string? Literal, string? Regex) ReadPattern(JsonElement element, Reader reader, string owner)
    {
        if (!element.TryGetProperty("pattern", out JsonElement pattern) || pattern.ValueKind != JsonValueKind.Object)
            throw reader.Error($"a {owner} has no \"pattern\" object.");
        if (reader.String(pattern, "String") is { } literal) return (literal, null);
        if (reader.String(pattern, "Regex") is { } regex) return (null, regex);
        throw reader.Error($"a {owner} pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}.");
    }

    /// <summary>Whether the post_processor trims token offsets (RobertaProcessing, ByteLevel: <c>trim_offsets</c>, default
    /// true), and its <c>add_prefix_space</c> (default true).</summary>
    private static (bool Trim, bool AddPrefixSpace) ReadOffsetTrimming(JsonElement element, Reader reader)
    {
        string? type = element.ValueKind == JsonValueKind.Object ? reader.String(element, "type") : null;
        if (type is "RobertaProcessing" or "ByteLevel")
            return (reader.Bool(element, "trim_offsets") ?? true, reader.Bool(element, "add_prefix_space") ?? true);
        if (type == "Sequence" && element.TryGetProperty("processors", out JsonElement list) && list.ValueKind == JsonValueKind.Array)
            foreach (JsonElement step in list.EnumerateArray())
                if (ReadOffsetTrimming(step, reader) is { Trim: true } trimming) return trimming;
        return (false, false);
    }

    // known: whether an id is the vocabulary's or an added token's; a special token's id that is neither would fail every
    // encoding later (and index past the embedding table).
    private static PostProcessor ReadPostProcessor(JsonElement element, Reader reader, Func<string, int> idOf, Func<int, bool> known)
    {
        string? type = element.ValueKind == JsonValueKind.Object ? reader.String(element, "type") : null;
        int Known(int id, string what) => known(id) ? id : throw reader.Error($"the {type} post_processor's {what} has id {id}, which is not in the vocabulary.");
        (string Token, int Id) Pair(string name)
        {
            if (!element.TryGetProperty(name, out JsonElement e) || e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2
                || e[0].ValueKind != JsonValueKind.String || e[1].ValueKind != JsonValueKind.Number || !e[1].TryGetInt32(out int id))
                throw reader.Error($"the {type} post_processor's \"{name}\" must be [token, id].");
            return (e[0].GetString()!, Known(id, $"\"{name}\""));
        }
        switch (type)
        {
            case "BertProcessing": return PostProcessor.Bert(Pair("cls").Id, Pair("sep").Id);
            case "RobertaProcessing": return PostProcessor.Roberta(Pair("cls").Id, Pair("sep").Id);
            case "ByteLevel": return PostProcessor.None();   // it only trims offsets; pairs are concatenated, B typed 1
            case "Sequence":
            {
                // Llama-3 style [ByteLevel, TemplateProcessing]: ByteLevel steps change no ids, so at most one other step decides.
                if (!element.TryGetProperty("processors", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
                    throw reader.Error("a Sequence post_processor has no \"processors\" array.");
                var steps = list.EnumerateArray().Where(p => p.ValueKind != JsonValueKind.Object || reader.String(p, "type") != "ByteLevel").ToArray();
                if (steps.Length > 1) throw reader.Error("a Sequence post_processor with more than one step besides ByteLevel is not supported.");
                return steps.Length == 0 ? PostProcessor.None() : ReadPostProcessor(steps[0], reader, idOf, known);
            }
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (element.TryGetProperty("special_tokens", out JsonElement s) && s.ValueKind == JsonValueKind.Object)
                    foreach (JsonProperty entry in s.EnumerateObject())
                    {
                        if (entry.Value.ValueKind != JsonValueKind.Object) throw reader.Error($"the TemplateProcessing special token '{entry.Name}' is not an object.");
                        specials[entry.Name] = entry.Value.TryGetProperty("ids", out JsonElement ids) && ids.ValueKind == JsonValueKind.Array
                            ? ids.EnumerateArray().Select(i => i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out int id) && id >= 0
                                ? Known(id, $"special token '{entry.Name}'")
                                : throw reader.Error($"the TemplateProcessing special token '{entry.Name}' has an id that is not a non-negative integer.")).ToArray()
                            : [idOf(entry.Name)];
                    }
                TemplatePiece[] Template(string name)
                {
                    if (!element.TryGetProperty(name, out JsonElement list) || list.ValueKind != JsonValueKind.Array)
                        throw reader.Error($"the TemplateProcessing post_processor has no \"{name}\" template.");
                    return list.EnumerateArray().Select(item =>
                    {
                        if (item.ValueKind != JsonValueKind.Object) throw reader.Error($"a \"{name}\" template item is not an object.");
                        bool special = item.TryGetProperty("SpecialToken", out JsonElement body);
                        if (!special && !item.TryGetProperty("Sequence", out body)) throw reader.Error($"a \"{name}\" template item is neither SpecialToken nor Sequence.");
                        string id = reader.String(body, "id") ?? throw reader.Error($"a \"{name}\" template item has no id.");
                        int typeId = reader.Int(body, "type_id") ?? 0;
                        if (!special) return TemplatePiece.Of(id == "A" ? 0 : id == "B" ? 1 : throw reader.Error($"template sequence '{id}' is neither A nor B."), typeId);
                        return TemplatePiece.Special(specials.TryGetValue(id, out int[]? tokenIds) ? tokenIds : [idOf(id)], typeId);
                    }).ToArray();
                }
                return new PostProcessor(Template("single"), Template("pair"));
            }
            default:
                throw reader.Error($"unsupported post_processor '{type ?? element.ValueKind.ToString()}': BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel and Sequence are supported.");
        }
    }

    /// <summary>Typed field access with errors naming the file.</summary>
    private sealed class Reader(string path)
    {
        public string Path => path;

        public TokenizerFormatException Error(string problem) => new(path, problem);

        public string? String(JsonElement obj, string name) =>
            !obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
            : v.ValueKind == JsonValueKind.String ? v.GetString()
            : throw Error($"\"{name}\" must be a string, not {v.ValueKind}.");

        public bool? Bool(JsonElement obj, string name) =>
            !obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
            : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
            : throw Error($"\"{name}\" must be true, false or null, not {v.ValueKind}.");

        public int? Int(JsonElement obj, string name) =>
            !obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
            : throw Error($"\"{name}\" must be an integer, not {v}.");
    }
}
