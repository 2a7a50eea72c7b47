using System.Text;
using System.Text.Json;

namespace CrossEncoder.Native.Tokenization;

// Qwen2 / Qwen3's byte-level BPE from the "slow" files, for folders that ship vocab.json + merges.txt without tokenizer.json.
public sealed partial class PipelineTokenizer
{
    /// <summary>Qwen2's pre-tokenization pattern, <c>PRETOKENIZE_REGEX</c> of transformers' tokenization_qwen2.py: contractions in
    /// any case, a letter run with at most one non-letter in front, every digit alone, a punctuation run with the line breaks
    /// after it, whitespace ending in line breaks, whitespace not followed by a non-space, the rest of the whitespace.</summary>
    internal const string Qwen2SplitPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The limit when tokenizer_config.json has no <c>model_max_length</c>: tokenization_qwen2.py's MAX_MODEL_INPUT_SIZES.</summary>
    private const int Qwen2DefaultMaxLength = 32768;

    /// <summary>
    /// Loads the tokenizer of a Qwen2 / Qwen2.5 / Qwen3 model folder (Qwen3-Reranker, Qwen3-Embedding, mxbai-rerank-v2) from
    /// <c>vocab.json</c>, <c>merges.txt</c> and <c>tokenizer_config.json</c>, as the same pipeline Hugging Face's
    /// Qwen2TokenizerFast builds from them: NFC, then Qwen's Split pattern (<see cref="Qwen2SplitPattern"/>, each match its own
    /// word), then ByteLevel without prefix space or regex, then BPE (no unknown token, no dropout); no special tokens are
    /// added (Qwen has no BOS/EOS template). The added tokens of <c>added_tokens_decoder</c> (<c>&lt;|im_start|&gt;</c>,
    /// <c>&lt;think&gt;</c>, ...) are matched in the raw text, inside user text too (<c>split_special_tokens</c> false).
    /// </summary>
    /// <remarks>
    /// <para>Sources, read in huggingface/transformers: <c>src/transformers/models/qwen2/tokenization_qwen2.py</c> (commit
    /// 168c83fa: the pattern, NFC in <c>prepare_for_tokenization</c>, how vocab.json and merges.txt are read) and
    /// <c>src/transformers/convert_slow_tokenizer.py</c>'s <c>Qwen2Converter</c> (commit 6619c4b1: the tokenizer.json it makes).
    /// tools/bpe/make_qwen_tokenizer_json.py writes that tokenizer.json for Qwen3-Reranker-0.6B byte for byte as Qwen
    /// publishes it (same sha256; its three ByteLevel steps all say add_prefix_space, trim_offsets and use_regex false), and
    /// the tests check this loader against Hugging Face's Rust tokenizers on it.</para>
    /// <para>File formats. vocab.json: one JSON object of token -> id (a repeated token keeps its last id, as json.load does).
    /// merges.txt: one merge per line, two symbols separated by whitespace, rank = order; a first line starting with
    /// <c>#version:</c> and empty lines are skipped, nothing else: Qwen has 96 merges starting with '#' ("# #", "# include")
    /// that transformers' slow tokenizer dropped before huggingface/transformers#29929. Each merge's parts and result must be
    /// in vocab.json. tokenizer_config.json: <c>tokenizer_class</c> Qwen2Tokenizer or Qwen2TokenizerFast;
    /// <c>added_tokens_decoder</c> (id -> content and flags); <c>model_max_length</c> (else 32768).</para>
    /// <para>Added tokens that are not in vocab.json must have the ids right after it, in order (Qwen: 151643-151668 after
    /// 151,643 entries), because Hugging Face's fast tokenizer gives them the next free ids whatever the file says. <c>add_prefix_space</c> true and
    /// <c>split_special_tokens</c> true are refused rather than guessed.</para>
    /// </remarks>
    /// <param name="vocabJsonPath">The folder's vocab.json.</param>
    /// <param name="mergesPath">The folder's merges.txt.</param>
    /// <param name="tokenizerConfigPath">The folder's tokenizer_config.json.</param>
    /// <exception cref="FileNotFoundException">One of the files does not exist.</exception>
    /// <exception cref="TokenizerFormatException">A file is malformed (the message names the file and the line or entry), or
    /// describes a tokenizer class or option not supported here.</exception>
    public static PipelineTokenizer FromVocabularyAndMerges(string vocabJsonPath, string mergesPath, string tokenizerConfigPath)
    {
        ArgumentNullException.ThrowIfNull(vocabJsonPath);
        ArgumentNullException.ThrowIfNull(mergesPath);
        ArgumentNullException.ThrowIfNull(tokenizerConfigPath);
        Qwen2Config config = ReadQwen2Config(tokenizerConfigPath);
        Dictionary<string, int> vocabulary = ReadVocabJson(vocabJsonPath);
        List<(int, int, int)> merges = ReadMergesTxt(mergesPath, vocabulary);
        CheckAddedTokenIds(config.AddedTokens, vocabulary, tokenizerConfigPath);
        TokenIdRange.Check(tokenizerConfigPath, vocabulary, config.AddedTokens);

        var bpe = new BytePairEncoding(vocabulary, merges);   // the vocabulary is shared, not copied: nothing changes it after this

        var normalizer = new UnicodeFormNormalizer(NormalizationForm.FormC);
        var preTokenizer = new SequencePreTokenizer([
            new SplitPreTokenizer(literal: null, Qwen2SplitPattern, DelimiterBehavior.Isolated, invert: false),
            new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: false),
        ]);
        return new PipelineTokenizer(normalizer, preTokenizer, (word, ids) => { bpe.Encode(word, ids); return true; }, vocabulary,
            config.AddedTokens, PostProcessor.None(), config.ModelMaxLength) { TraceWord = BpeTrace(bpe) };
    }

    private sealed record Qwen2Config(IReadOnlyList<AddedToken> AddedTokens, int ModelMaxLength);

    private static Qwen2Config ReadQwen2Config(string path)
    {
        JsonDocument document;
        try { document = JsonEscapes.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new TokenizerFormatException(path, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e); }
        using (document)
        {
            var reader = new Reader(path);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw reader.Error("the top level is not a JSON object.");

            string? tokenizerClass = reader.String(root, "tokenizer_class");
            if (tokenizerClass is not ("Qwen2Tokenizer" or "Qwen2TokenizerFast"))
                throw reader.Error(tokenizerClass is null
                    ? "no \"tokenizer_class\": with vocab.json + merges.txt (and no tokenizer.json) it must say Qwen2Tokenizer or Qwen2TokenizerFast."
                    : $"tokenizer_class '{tokenizerClass}' is not supported from vocab.json + merges.txt (Qwen2Tokenizer and Qwen2TokenizerFast are); add the model's tokenizer.json to load it.");
            if (reader.Bool(root, "add_prefix_space") == true)
                throw reader.Error("add_prefix_space true is not supported for Qwen2Tokenizer (the slow tokenizer ignores it, the fast one would add a space).");
            if (reader.Bool(root, "split_special_tokens") == true)
                throw reader.Error("split_special_tokens true is not supported: special tokens in the text are always matched as tokens here.");

            if (!root.TryGetProperty("added_tokens_decoder", out JsonElement decoder) || decoder.ValueKind != JsonValueKind.Object)
                throw reader.Error("no \"added_tokens_decoder\" object (id -> added token), which Qwen2 folders carry; older layouts with added_tokens.json are not supported.");
            var added = new List<AddedToken>();
            foreach (JsonProperty entry in decoder.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
                    throw reader.Error($"added_tokens_decoder key \"{entry.Name}\" is not a token id.");
                if (entry.Value.ValueKind != JsonValueKind.Object) throw reader.Error($"added_tokens_decoder[\"{entry.Name}\"] is not an object.");
                string content = reader.String(entry.Value, "content") ?? "";
                if (content.Length == 0) throw reader.Error($"added_tokens_decoder[\"{entry.Name}\"] has no content.");
                bool special = reader.Bool(entry.Value, "special") ?? false;
                added.Add(new AddedToken(content, id, reader.Bool(entry.Value, "single_word") ?? false, reader.Bool(entry.Value, "lstrip") ?? false,
                    reader.Bool(entry.Value, "rstrip") ?? false, reader.Bool(entry.Value, "normalized") ?? !special));   // transformers' AddedToken default
            }
            added.Sort((a, b) => a.Id.CompareTo(b.Id));
            return new Qwen2Config(added, TokenizerLoader.ModelMaxLengthOf(root) ?? Qwen2DefaultMaxLength);
        }
    }

    /// <summary>vocab.json: a JSON object of token -> non-negative integer id, read with a forward-only reader (151k entries).</summary>
    internal static Dictionary<string, int> ReadVocabJson(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        ReadOnlySpan<byte> json = bytes.AsSpan().StartsWith("\uFEFF"u8) ? bytes.AsSpan(3) : bytes;
        var vocabulary = new Dictionary<string, int>(bytes.Length / 16, StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new TokenizerFormatException(path, "the top level is not a JSON object of token -> id.");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string token = reader.GetString()!;
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id) || id < 0)
                    throw new TokenizerFormatException(path, $"entry {vocabulary.Count + 1} (\"{token}\"): the id is {Describe(ref reader)}, not a non-negative integer.");
                vocabulary[token] = id;   // a repeated token keeps its last id, as json.load does
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw new TokenizerFormatException(path, $"unexpected {reader.TokenType} after entry {vocabulary.Count}.");
            if (reader.Read()) throw new TokenizerFormatException(path, "more JSON after the vocabulary object.");
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1} (after entry {vocabulary.Count}): {e.Message}", e);
        }
        catch (InvalidOperationException e)   // GetString on invalid UTF-8
        {
            throw new TokenizerFormatException(path, $"entry {vocabulary.Count + 1} is not valid UTF-8.", e);
        }
        if (vocabulary.Count == 0) throw new TokenizerFormatException(path, "the vocabulary is empty.");
        return vocabulary;

        static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
        {
            JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
            JsonTokenType.String => $"the string \"{reader.GetString()}\"",
            _ => reader.TokenType.ToString(),
        };
    }

    /// <summary>merges.txt as tokenization_qwen2.py reads it (see <see cref="FromVocabularyAndMerges"/>): each merge as the ids
    /// of its two parts and of their concatenation, so a merge outside the vocabulary is reported with its line.</summary>
    internal static List<(int Left, int Right, int Merged)> ReadMergesTxt(string path, Dictionary<string, int> vocabulary)
    {
        string text;
        try { text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path)); }
        catch (DecoderFallbackException e) { throw new TokenizerFormatException(path, "the file is not valid UTF-8.", e); }
        if (text.StartsWith('\uFEFF')) text = text[1..];

        var ids = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();   // span lookups: no string per part
        var merges = new List<(int, int, int)>(text.Length / 10);
        char[] joined = new char[64];
        int lineNumber = 0;
        for (int start = 0; start < text.Length;)
        {
            // Python's universal newlines: a line ends at \n, \r or \r\n (not at U+0085 or U+2028, as EnumerateLines would).
            int end = text.AsSpan(start).IndexOfAny('\r', '\n');
            end = end < 0 ? text.Length : start + end;
            ReadOnlySpan<char> line = text.AsSpan(start, end - start).Trim();   // Python's str.strip(): Unicode whitespace
            start = end + (end + 1 < text.Length && text[end] == '\r' && text[end + 1] == '\n' ? 2 : 1);
            lineNumber++;
            if (line.IsEmpty || (lineNumber == 1 && line.StartsWith("#version:"))) continue;

            int split = IndexOfWhiteSpace(line);   // Python's str.split(): exactly two parts between whitespace runs
            ReadOnlySpan<char> left = split < 0 ? line : line[..split], right = split < 0 ? default : line[split..].TrimStart();
            if (split < 0 || IndexOfWhiteSpace(right) >= 0)
                throw new TokenizerFormatException(path, $"line {lineNumber}: '{line}' is not two symbols separated by a space.");
            if (joined.Length < left.Length + right.Length) joined = new char[2 * (left.Length + right.Length)];
            left.CopyTo(joined);
            right.CopyTo(joined.AsSpan(left.Length));
            ReadOnlySpan<char> merged = joined.AsSpan(0, left.Length + right.Length);
            if (!ids.TryGetValue(left, out int leftId) || !ids.TryGetValue(right, out int rightId) || !ids.TryGetValue(merged, out int mergedId))
            {
                string missing = !ids.ContainsKey(left) ? left.ToString() : !ids.ContainsKey(right) ? right.ToString() : merged.ToString();
                throw new TokenizerFormatException(path, $"line {lineNumber}: merge '{left} {right}': '{missing}' is not in vocab.json.");
            }
            merges.Add((leftId, rightId, mergedId));
        }
        return merges;

        static int IndexOfWhiteSpace(ReadOnlySpan<char> s)
        {
            for (int i = 0; i < s.Length; i++) if (char.IsWhiteSpace(s[i])) return i;
            return -1;
        }
    }

    /// <summary>Added tokens keep a vocabulary entry's id; the others must follow the vocabulary in id order, because Hugging
    /// Face's fast tokenizer gives them the next free ids whatever the file says.</summary>
    private static void CheckAddedTokenIds(IReadOnlyList<AddedToken> added, IReadOnlyDictionary<string, int> vocabulary, string path)
    {
        int next = vocabulary.Values.Max() + 1;
        foreach (AddedToken token in added)   // sorted by id
        {
            if (vocabulary.TryGetValue(token.Content, out int id))
            {
                if (id != token.Id)
                    throw new TokenizerFormatException(path, $"added token '{token.Content}' has id {token.Id}, but vocab.json gives it {id}.");
                continue;
            }
            if (token.Id != next)
                throw new TokenizerFormatException(path, $"added token '{token.Content}' has id {token.Id}; the next free id after vocab.json and the earlier added tokens is {next}, which Hugging Face's fast tokenizer would give it.");
            next++;
        }
    }
}
