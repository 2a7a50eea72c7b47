using System.Text.Json;

namespace CrossEncoder.Native.Tokenization;

/// <summary>Picks and loads the tokenizer of a Hugging Face model folder.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads the folder's tokenizer: <c>tokenizer.json</c> if present (a BERT WordPiece one through the tuned
    /// <see cref="BertTokenizer"/>, anything else through <see cref="PipelineTokenizer"/>), else <c>vocab.json</c> +
    /// <c>merges.txt</c> with a Qwen2Tokenizer <c>tokenizer_config.json</c> (Qwen2/2.5/3:
    /// <see cref="PipelineTokenizer.FromVocabularyAndMerges"/>, the same ids as their tokenizer.json), else
    /// <c>sentencepiece.bpe.model</c> (XLM-RoBERTa, fairseq ids), else <c>vocab.txt</c> (BERT). <c>tokenizer_config.json</c>'s
    /// <c>model_max_length</c> supplies the length limit when tokenizer.json has none.
    /// </summary>
    /// <example>A decoder reranker's tokenizer and the ids of its answer tokens:
    /// <code>
    /// ITextPairTokenizer tokenizer = TokenizerLoader.FromModelFolder("Qwen3-Reranker-0.6B");
    /// int[] ids = tokenizer.EncodeToIds(prompt);                 // no BOS/EOS added; &lt;|im_start|&gt; etc. matched in the text
    /// bool found = tokenizer.TryGetTokenId("yes", out int yes);  // 9693 ("no" 2152)
    /// </code></example>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no tokenizer file, or vocab.json + merges.txt without tokenizer_config.json.</exception>
    /// <exception cref="TokenizerFormatException">A tokenizer file is malformed or uses an unsupported piece (named).</exception>
    public static ITextPairTokenizer FromModelFolder(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model folder '{directory}' does not exist.");
        string tokenizerJson = Path.Combine(directory, "tokenizer.json");
        string sentencePiece = Path.Combine(directory, "sentencepiece.bpe.model");
        int? maxLength = ModelMaxLength(Path.Combine(directory, "tokenizer_config.json"));
        if (File.Exists(tokenizerJson))
            return IsBertWordPiece(tokenizerJson) ? BertTokenizer.FromModelFolder(directory) : PipelineTokenizer.FromTokenizerJson(tokenizerJson, maxLength);
        string vocabJson = Path.Combine(directory, "vocab.json"), merges = Path.Combine(directory, "merges.txt");
        if (File.Exists(vocabJson) && File.Exists(merges))
        {
            string config = Path.Combine(directory, "tokenizer_config.json");
            if (!File.Exists(config))
                throw new FileNotFoundException($"Model folder '{directory}' has vocab.json and merges.txt but no tokenizer_config.json, which names the tokenizer class.", config);
            return PipelineTokenizer.FromVocabularyAndMerges(vocabJson, merges, config);
        }
        if (File.Exists(sentencePiece))
            return PipelineTokenizer.FromSentencePieceModel(sentencePiece, SentencePieceIds.Fairseq, maxLength ?? 512);
        if (!File.Exists(Path.Combine(directory, "vocab.txt")))
            throw new FileNotFoundException($"Model folder '{directory}' has no tokenizer: none of tokenizer.json, vocab.json + merges.txt, sentencepiece.bpe.model, vocab.txt.",
                Path.Combine(directory, "tokenizer.json"));
        return BertTokenizer.FromModelFolder(directory);   // vocab.txt (+ tokenizer_config.json)
    }

    /// <summary>True for the layout <see cref="BertTokenizer"/> implements: WordPiece with a BertNormalizer (or none) and BertPreTokenizer.</summary>
    private static bool IsBertWordPiece(string path)
    {
        try
        {
            using var document = JsonEscapes.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new TokenizerFormatException(path, "the top level is not a JSON object.");
            static string? TypeOf(JsonElement root, string name) =>
                root.TryGetProperty(name, out JsonElement e) && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            bool noNormalizer = !root.TryGetProperty("normalizer", out JsonElement n) || n.ValueKind == JsonValueKind.Null;
            return TypeOf(root, "model") == "WordPiece" && (noNormalizer || TypeOf(root, "normalizer") == "BertNormalizer")
                && TypeOf(root, "pre_tokenizer") == "BertPreTokenizer" && TypeOf(root, "post_processor") is null or "BertProcessing" or "TemplateProcessing";
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"invalid JSON: {e.Message}", e);
        }
    }

    private static int? ModelMaxLength(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonEscapes.Parse(File.ReadAllBytes(path));
            return ModelMaxLengthOf(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    /// <summary>tokenizer_config.json's <c>model_max_length</c>, or null when absent or "no limit" (transformers writes 1e30).</summary>
    internal static int? ModelMaxLengthOf(JsonElement config) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("model_max_length", out JsonElement m)
            && m.ValueKind == JsonValueKind.Number && m.GetDouble() is var value && value >= 2 && value <= int.MaxValue
            ? (int)value : null;
}
