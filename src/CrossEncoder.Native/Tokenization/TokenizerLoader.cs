using System.Text.Json;

namespace CrossEncoder.Native.Tokenization;

/// <summary>Picks and loads the tokenizer of a Hugging Face model folder.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads the folder's tokenizer: <c>tokenizer.json</c> if present (a BERT WordPiece one through the tuned
    /// <see cref="BertTokenizer"/>, anything else through <see cref="PipelineTokenizer"/>), else <c>sentencepiece.bpe.model</c>
    /// (XLM-RoBERTa, fairseq ids), else <c>vocab.txt</c> (BERT). <c>tokenizer_config.json</c>'s <c>model_max_length</c>
    /// supplies the length limit when tokenizer.json has none.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no tokenizer file.</exception>
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
        if (File.Exists(sentencePiece))
            return PipelineTokenizer.FromSentencePieceModel(sentencePiece, SentencePieceIds.Fairseq, maxLength ?? 512);
        if (!File.Exists(Path.Combine(directory, "vocab.txt")))
            throw new FileNotFoundException($"Model folder '{directory}' has no tokenizer: none of tokenizer.json, sentencepiece.bpe.model, vocab.txt.",
                Path.Combine(directory, "tokenizer.json"));
        return BertTokenizer.FromModelFolder(directory);   // vocab.txt (+ tokenizer_config.json)
    }

    /// <summary>True for the layout <see cref="BertTokenizer"/> implements: WordPiece with a BertNormalizer (or none) and BertPreTokenizer.</summary>
    private static bool IsBertWordPiece(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            using var document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            JsonElement root = document.RootElement;
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
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("model_max_length", out JsonElement m)
                && m.ValueKind == JsonValueKind.Number && m.GetDouble() is var value && value >= 2 && value <= int.MaxValue)
                return (int)value;   // transformers writes 1e30 for "no limit": ignored
            return null;
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"invalid JSON: {e.Message}", e);
        }
    }
}
