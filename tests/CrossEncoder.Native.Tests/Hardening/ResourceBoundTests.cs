using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Hardening;

/// <summary>
/// Issue 20's runaways, each a regression test that failed before its fix: allocations a file can drive are bounded by the
/// file (num_hidden_layers 1e6 on a 2-layer checkpoint, a vocabulary id of 1e9 or 2^31 - 1), regexes from tokenizer files run
/// with a time limit, and each ends in the project's typed error naming the file, quickly.
/// </summary>
public sealed class ResourceBoundTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("hardening-bounds-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ALayerCountFarBeyondTheCheckpointFailsFastNamingTheConfig()
    {
        using var tiny = new TinyBert(classifier: true);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(tiny.Directory, "config.json")))!;
        config["num_hidden_layers"] = 1_000_000;
        File.WriteAllText(Path.Combine(tiny.Directory, "config.json"), config.ToJsonString());
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var stopwatch = Stopwatch.StartNew();
        var error = Assert.Throws<ModelFormatException>(() => Reranker.Load(tiny.Directory));
        Assert.Contains("num_hidden_layers", error.Message);
        Assert.Contains("missing", error.Message);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed}");
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 512L << 20, $"allocated {allocated >> 20} MiB before failing");   // it grew to gigabytes before the fix
    }

    private string TokenizerJson(Action<JsonObject> edit)
    {
        var root = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100,
                ["vocab"] = new JsonObject { ["[UNK]"] = 0, ["[CLS]"] = 1, ["[SEP]"] = 2, ["a"] = 3, ["b"] = 4, ["##a"] = 5 },
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "WhitespaceSplit" },
        };
        edit(root);
        string path = Path.Combine(_root, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    [Theory]
    [InlineData(1_000_000_000)]
    [InlineData(int.MaxValue)]
    public void AVocabularyIdOutOfAllProportionIsAFormatErrorBeforeAnyTableIsSized(int id)
    {
        string path = TokenizerJson(root => root["model"]!["vocab"]!["b"] = id);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var error = Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromTokenizerJson(path));
        Assert.Contains($"id {id}", error.Message);
        Assert.Contains("'b'", error.Message);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64L << 20);
    }

    [Fact]
    public void AnAddedTokenIdOutOfAllProportionIsAFormatError()
    {
        string path = TokenizerJson(root => root["added_tokens"] = new JsonArray(new JsonObject { ["id"] = int.MaxValue, ["content"] = "[X]", ["special"] = true }));
        var error = Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromTokenizerJson(path));
        Assert.Contains("[X]", error.Message);
    }

    [Fact]
    public void IdsWithModestGapsStillLoad()
    {
        string path = TokenizerJson(root => root["model"]!["vocab"]!["b"] = 900);   // Hugging Face allows gaps; this one is not absurd
        var tokenizer = PipelineTokenizer.FromTokenizerJson(path);
        Assert.Equal([3, 900], tokenizer.EncodeToIds("a b"));
    }

    [Theory]
    [InlineData("normalizer", "Replace")]
    [InlineData("pre_tokenizer", "Split")]
    public void ACatastrophicRegexFailsWithinItsTimeLimitNamingThePattern(string stage, string type)
    {
        var step = new JsonObject { ["type"] = type, ["pattern"] = new JsonObject { ["Regex"] = "(a+)+$" } };
        if (type == "Replace") step["content"] = "b";
        else step["behavior"] = "Isolated";
        string path = TokenizerJson(root => root[stage] = step);
        var tokenizer = PipelineTokenizer.FromTokenizerJson(path);
        Assert.Equal([4], tokenizer.EncodeToIds("b"));   // harmless text still tokenizes
        var stopwatch = Stopwatch.StartNew();
        var error = Assert.Throws<TokenizerFormatException>(() => tokenizer.EncodeToIds(new string('a', 40) + "!"));   // 41 characters: hours without a limit
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15), $"took {stopwatch.Elapsed}");
        Assert.Contains("(a+)+$", error.Message);
        Assert.Contains("catastrophic backtracking", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void AnInvalidRegexIsAFormatErrorAtLoad()
    {
        string path = TokenizerJson(root => root["pre_tokenizer"] = new JsonObject { ["type"] = "Split", ["behavior"] = "Isolated", ["pattern"] = new JsonObject { ["Regex"] = "(unclosed" } });
        var error = Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromTokenizerJson(path));
        Assert.Contains("not a valid regular expression", error.Message);
    }
}
