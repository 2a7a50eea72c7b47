using System.Text;
using System.Text.Json.Nodes;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Fuzz;

/// <summary>
/// The seed corpus: small valid inputs per target, written by the library's own writer (safetensors) or by hand after the
/// formats' specs, plus the committed config.json fixtures of the test project. <c>make-corpus tools/fuzz/corpus</c>
/// rebuilds tools/fuzz/corpus/ byte for byte.
/// </summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        SafeTensors(Folder(root, "safetensors"));
        Config(Folder(root, "config"));
        TokenizerJson(Folder(root, "tokenizer-json"));
        Vocab(Folder(root, "vocab"));
        SentencePiece(Folder(root, "sentencepiece"));
        HubJson(Folder(root, "hub-json"));
        ServerRequest(Folder(root, "server-request"));
        foreach (string target in FuzzTargets.Names)
        {
            var files = Directory.GetFiles(Path.Combine(root, target));
            Console.WriteLine($"{target}: {files.Length} seeds, {files.Sum(f => new FileInfo(f).Length):N0} bytes");
        }
    }

    private static string Folder(string root, string name)
    {
        string folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static void Text(string folder, string name, string text) => File.WriteAllText(Path.Combine(folder, name), text.ReplaceLineEndings("\n"), new UTF8Encoding(false));

    private static byte[] Floats(params float[] values) => SafeTensorsWriter.EncodeFloats(values, SafeTensorDType.F32);

    private static void SafeTensors(string folder)
    {
        SafeTensorsWriter.Write(Path.Combine(folder, "f32-two.safetensors"),
        [
            ("bert.embeddings.word_embeddings.weight", SafeTensorDType.F32, [2, 3], Floats(1, 2, 3, 4, 5, 6)),
            ("classifier.bias", SafeTensorDType.F32, [1], Floats(-0.5f)),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        SafeTensorsWriter.Write(Path.Combine(folder, "dtypes.safetensors"),
        [
            ("a.bf16", SafeTensorDType.BF16, [2], SafeTensorsWriter.EncodeFloats([1.5f, -2f], SafeTensorDType.BF16)),
            ("b.f16", SafeTensorDType.F16, [2], SafeTensorsWriter.EncodeFloats([0.25f, 65504f], SafeTensorDType.F16)),
            ("c.f64", SafeTensorDType.F64, [], BitConverter.GetBytes(3.25)),
            ("d.i64", SafeTensorDType.I64, [1, 1], BitConverter.GetBytes(7L)),
            ("e.i8", SafeTensorDType.I8, [3], [1, 0xFF, 2]),
            ("f.empty", SafeTensorDType.F32, [0, 4], []),
        ]);
        SafeTensorsWriter.Write(Path.Combine(folder, "empty.safetensors"), []);
    }

    private static void Config(string folder)
    {
        Text(folder, "bert.json", """
            {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 32, "hidden_size": 8,
             "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
             "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
             "id2label": {"0": "LABEL_0"}, "sbert_ce_default_activation_function": "torch.nn.modules.linear.Identity"}
            """);
        Text(folder, "roberta.json", """
            {"architectures": ["XLMRobertaForSequenceClassification"], "model_type": "xlm-roberta", "vocab_size": 40, "hidden_size": 8,
             "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu", "max_position_embeddings": 66,
             "type_vocab_size": 1, "layer_norm_eps": 1e-05, "pad_token_id": 1, "num_labels": 1,
             "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Sigmoid"}}
            """);
        Text(folder, "electra.json", """
            {"architectures": ["ElectraForSequenceClassification"], "model_type": "electra", "vocab_size": 32, "embedding_size": 4,
             "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
             "max_position_embeddings": 32, "type_vocab_size": 2, "layer_norm_eps": 1e-12, // a comment, as some files carry
             "summary_activation": "gelu", "summary_type": "first",}
            """);
        // The test project's committed real configs (ModernBERT, Qwen3, Qwen2 and the autograd BERT).
        string? fixtures = FixturesFolder();
        if (fixtures is null) return;
        foreach (var (source, name) in new[]
        {
            ("bert-autograd/config.json", "bert-autograd.json"),
            ("modernbert/gte-reranker-modernbert-base.config.json", "modernbert.json"),
            ("qwen/Qwen3-Reranker-0.6B.config.json", "qwen3.json"),
            ("qwen-torch/qwen2-f32/config.json", "qwen2.json"),
            ("qwen/Qwen3-Embedding-0.6B/config_sentence_transformers.json", "config-sentence-transformers.json"),
        })
            File.Copy(Path.Combine(fixtures, source), Path.Combine(folder, name), overwrite: true);
    }

    private static string? FixturesFolder()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln")))
                return Path.Combine(dir.FullName, "tests", "CrossEncoder.Native.Tests", "Fixtures");
        return null;
    }

    private static readonly string[] WordPieceVocab =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", ",", "?", "a", "is", "what", "hello", "world", "cross", "-", "encoder", "##s", "##er",
         "un", "##ic", "##ode", "cafe", "你", "好", "tab", "##s", "and", "line"];

    private static JsonObject Added(int id, string content, bool special = true) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = !special, ["special"] = special,
    };

    private static JsonObject Special(string id, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
    private static JsonObject Sequence(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };

    private static JsonObject Tokenizer(JsonNode? normalizer, JsonNode? preTokenizer, JsonNode? post, JsonObject model, JsonArray added, int? maxLength = null) => new()
    {
        ["version"] = "1.0",
        ["truncation"] = maxLength is { } m ? new JsonObject { ["direction"] = "Right", ["max_length"] = m, ["strategy"] = "LongestFirst", ["stride"] = 0 } : null,
        ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = normalizer, ["pre_tokenizer"] = preTokenizer, ["post_processor"] = post,
        ["decoder"] = null, ["model"] = model,
    };

    private static JsonObject T(string type, params (string Key, JsonNode? Value)[] fields)
    {
        var o = new JsonObject { ["type"] = type };
        foreach (var (k, v) in fields) o[k] = v;
        return o;
    }

    private static void TokenizerJson(string folder)
    {
        var vocab = new JsonObject();
        foreach (string token in WordPieceVocab) vocab[token] ??= vocab.Count;
        JsonObject WordPiece() => T("WordPiece", ("unk_token", "[UNK]"), ("continuing_subword_prefix", "##"), ("max_input_chars_per_word", 100), ("vocab", vocab.DeepClone()));
        JsonArray BertAdded() => [Added(0, "[PAD]"), Added(1, "[UNK]"), Added(2, "[CLS]"), Added(3, "[SEP]"), Added(4, "[MASK]")];
        var template = T("TemplateProcessing",
            ("single", new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0))),
            ("pair", new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0), Sequence("B", 1), Special("[SEP]", 1))),
            ("special_tokens", new JsonObject
            {
                ["[CLS]"] = new JsonObject { ["id"] = "[CLS]", ["ids"] = new JsonArray(2), ["tokens"] = new JsonArray("[CLS]") },
                ["[SEP]"] = new JsonObject { ["id"] = "[SEP]", ["ids"] = new JsonArray(3), ["tokens"] = new JsonArray("[SEP]") },
            }));
        Text(folder, "bert-wordpiece.json", Tokenizer(
            T("BertNormalizer", ("clean_text", true), ("handle_chinese_chars", true), ("strip_accents", null), ("lowercase", true)),
            T("BertPreTokenizer"), template, WordPiece(), BertAdded(), maxLength: 128).ToJsonString());
        Text(folder, "wordpiece-pipeline.json", Tokenizer(
            T("Sequence", ("normalizers", new JsonArray(T("NFD"), T("Lowercase"), T("StripAccents"),
                T("Replace", ("pattern", new JsonObject { ["String"] = "\t" }), ("content", " ")), T("Strip", ("strip_left", true), ("strip_right", true))))),
            T("Sequence", ("pretokenizers", new JsonArray(T("WhitespaceSplit"), T("Punctuation", ("behavior", "Isolated"))))),
            T("BertProcessing", ("sep", new JsonArray("[SEP]", 3)), ("cls", new JsonArray("[CLS]", 2))), WordPiece(), BertAdded()).ToJsonString());

        var pieces = new JsonArray(new JsonArray("<s>", 0.0), new JsonArray("<pad>", 0.0), new JsonArray("</s>", 0.0), new JsonArray("<unk>", 0.0));
        string[] words = ["\u2581", "\u2581hello", "\u2581world", "\u2581what", "\u2581is", "\u2581a", "\u2581cross", "-", "en", "coder", "h", "e", "l", "o", "w", "r", "d", ",", "!", "?", "\u4f60", "\u597d"];
        for (int i = 0; i < words.Length; i++) pieces.Add(new JsonArray(words[i], -1.0 - i * 0.25));
        Text(folder, "unigram-metaspace.json", Tokenizer(
            T("Sequence", ("normalizers", new JsonArray(T("NFKC"), T("Replace", ("pattern", new JsonObject { ["Regex"] = " {2,}" }), ("content", " "))))),
            T("Metaspace", ("replacement", "\u2581"), ("prepend_scheme", "always"), ("split", true)),
            T("RobertaProcessing", ("sep", new JsonArray("</s>", 2)), ("cls", new JsonArray("<s>", 0)), ("trim_offsets", true), ("add_prefix_space", true)),
            T("Unigram", ("unk_id", 3), ("vocab", pieces), ("byte_fallback", false)),
            [Added(0, "<s>"), Added(1, "<pad>"), Added(2, "</s>"), Added(3, "<unk>"), Added(pieces.Count, "<mask>")], maxLength: 64).ToJsonString());

        // Byte-level BPE (GPT-2 / RoBERTa / ModernBERT / Qwen): the 256-character byte alphabet, a few merges.
        var bpeVocab = new JsonObject();
        foreach (char c in ByteAlphabet()) bpeVocab[c.ToString()] = bpeVocab.Count;
        string[] merges = ["\u0120 w", "h e", "l l", "he ll", "hell o", "\u0120w o", "\u0120wo r", "r l", "\u0120wor l", "\u0120worl d", "\u0120 c"];
        foreach (string merge in merges) bpeVocab[merge.Replace(" ", "")] ??= bpeVocab.Count;
        int endOfText = bpeVocab.Count;
        JsonObject Bpe() => T("BPE", ("dropout", null), ("unk_token", null), ("continuing_subword_prefix", null), ("end_of_word_suffix", null),
            ("fuse_unk", false), ("byte_fallback", false), ("ignore_merges", false), ("vocab", bpeVocab.DeepClone()),
            ("merges", new JsonArray([.. merges.Select(m => (JsonNode)JsonValue.Create(m))])));
        Text(folder, "bpe-bytelevel.json", Tokenizer(null,
            T("ByteLevel", ("add_prefix_space", false), ("trim_offsets", true), ("use_regex", true)),
            T("ByteLevel", ("add_prefix_space", true), ("trim_offsets", false), ("use_regex", true)), Bpe(), [Added(endOfText, "<|endoftext|>")]).ToJsonString());
        Text(folder, "bpe-split-qwen.json", Tokenizer(T("NFC"),
            T("Sequence", ("pretokenizers", new JsonArray(
                T("Split", ("pattern", new JsonObject { ["Regex"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+" }),
                    ("behavior", "Isolated"), ("invert", false)),
                T("ByteLevel", ("add_prefix_space", false), ("trim_offsets", false), ("use_regex", false))))),
            T("TemplateProcessing", ("single", new JsonArray(Sequence("A", 0))), ("pair", new JsonArray(Sequence("A", 0), Sequence("B", 1))), ("special_tokens", new JsonObject())),
            Bpe(), [Added(endOfText, "<|endoftext|>"), Added(endOfText + 1, "<|im_start|>"), Added(endOfText + 2, "<|im_end|>")]).ToJsonString());
    }

    /// <summary>GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 on.</summary>
    private static IEnumerable<char> ByteAlphabet()
    {
        int next = 256;
        for (int b = 0; b < 256; b++)
            yield return b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? (char)b : (char)next++;
    }

    private static void Vocab(string folder)
    {
        Text(folder, "vocab.txt", string.Join('\n', WordPieceVocab) + "\n");
        Text(folder, "vocab-crlf-bom.txt", "\ufeff" + string.Join("\r\n", WordPieceVocab.Take(12)) + "\r\n\r\n[unused0]\r\n");
    }

    private static void SentencePiece(string folder)
    {
        // ModelProto: 1 = pieces {1 piece, 2 score (fixed32), 3 type}, 2 = TrainerSpec {3 model_type}, 3 = NormalizerSpec {3, 4, 5}.
        var model = new List<byte>();
        void Piece(string piece, float score, int type)
        {
            var body = new List<byte>();
            Bytes(body, 1, Encoding.UTF8.GetBytes(piece));
            Key(body, 2, 5); body.AddRange(BitConverter.GetBytes(score));
            if (type != 1) { Key(body, 3, 0); Varint(body, (ulong)type); }
            Bytes(model, 1, [.. body]);
        }
        Piece("<unk>", 0, 2); Piece("<s>", 0, 3); Piece("</s>", 0, 3);
        string[] words = ["\u2581", "\u2581hello", "\u2581world", "\u2581what", "\u2581is", "\u2581a", "e", "l", "o", "h", "w", "r", "d", ",", "!", "?", "\u4f60"];
        for (int i = 0; i < words.Length; i++) Piece(words[i], -1f - i * 0.5f, 1);
        Piece("<user>", 0, 4); Piece("<0x41>", 0, 6); Piece("unused", 0, 5);
        var trainer = new List<byte>(); Key(trainer, 3, 0); Varint(trainer, 1); Key(trainer, 35, 0); Varint(trainer, 0);
        Bytes(model, 2, [.. trainer]);
        var normalizer = new List<byte>();
        Bytes(normalizer, 1, "identity"u8.ToArray());
        foreach (int field in (int[])[3, 4, 5]) { Key(normalizer, field, 0); Varint(normalizer, 1); }
        Bytes(model, 3, [.. normalizer]);
        File.WriteAllBytes(Path.Combine(folder, "unigram.model"), [.. model]);
    }

    private static void Key(List<byte> to, int field, int wireType) => Varint(to, (ulong)(field << 3 | wireType));

    private static void Varint(List<byte> to, ulong value)
    {
        for (; value >= 0x80; value >>= 7) to.Add((byte)(value | 0x80));
        to.Add((byte)value);
    }

    private static void Bytes(List<byte> to, int field, byte[] bytes)
    {
        Key(to, field, 2);
        Varint(to, (ulong)bytes.Length);
        to.AddRange(bytes);
    }

    private static void HubJson(string folder)
    {
        Text(folder, "revision.json", """
            {"_id": "0", "id": "org/model", "sha": "0123456789abcdef0123456789abcdef01234567", "private": false,
             "siblings": [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}, {"rfilename": "tokenizer.json"},
                          {"rfilename": "modules.json"}, {"rfilename": "1_Pooling/config.json"}, {"rfilename": "../escape"}]}
            """);
        Text(folder, "modules.json", """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
             {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
            """);
        Text(folder, "index.json", """
            {"metadata": {"total_size": 64}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}
            """);
    }

    private static void ServerRequest(string folder)
    {
        Text(folder, "tei-rerank.json", """{"query": "what is a cross-encoder?", "texts": ["a model that reads both", "a bi-encoder"], "truncate": true, "raw_scores": false, "return_text": true, "truncation_direction": "right"}""");
        Text(folder, "cohere-v2.json", """{"model": "m", "query": "q", "documents": ["d1", "d2"], "top_n": 1, "max_tokens_per_doc": 128}""");
        Text(folder, "jina.json", """{"model": "m", "query": "q", "documents": ["plain", {"text": "object"}], "top_n": 2, "return_documents": false, "instruction": "rank"}""");
        Text(folder, "embed.json", """{"inputs": ["one", "two"], "truncate": false, "normalize": true}""");
        Text(folder, "explain.json", """{"query": "q", "document": "the document. two sentences.", "max_length": 64, "sentences": true, "query_words": false}""");
        Text(folder, "long-documents.json", """{"query": "q", "texts": ["long"], "long_documents": "chunk", "chunk_window": 64, "chunk_overlap": 8, "chunk_aggregation": "topk:2"}""");
    }
}
