using System.Text.Json.Nodes;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>Malformed tokenizer.json pieces fail at load with one line naming the problem.</summary>
public class PipelineLoadingErrorTests
{
    private static string Edit(Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(File.ReadAllText(PipelineFixtures.UnigramTokenizerJson))!.AsObject();
        edit(root);
        string path = Path.Combine(Path.GetTempPath(), $"broken-{Guid.NewGuid():N}.tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    public static TheoryData<string, string> Cases => new()
    {
        { "charsmap-base64", "precompiled_charsmap is not valid base64" },
        { "charsmap-short", "does not fit" },
        { "unk-missing", "model.unk_id is missing" },
        { "unk-range", "model.unk_id 99999 is outside the vocabulary" },
        { "vocab-entry", "model.vocab entry 1 is not [piece, score]" },
        { "normalizer", "unsupported normalizer 'Nmt'" },
        { "metaspace", "unknown Metaspace prepend_scheme 'sometimes'" },
        { "post", "unsupported post_processor 'Bert'" },
        { "template", "template sequence 'C' is neither A nor B" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BrokenPiecesAreRejectedWithTheirName(string what, string message)
    {
        JsonObject Normalizers(JsonObject root) => root["normalizer"]!["normalizers"]![0]!.AsObject();
        string path = Edit(root =>
        {
            switch (what)
            {
                case "charsmap-base64": Normalizers(root)["precompiled_charsmap"] = "not base64!"; break;
                case "charsmap-short": Normalizers(root)["precompiled_charsmap"] = Convert.ToBase64String([0xFF, 0xFF, 0, 0, 1, 2, 3, 4]); break;
                case "unk-missing": root["model"]!.AsObject().Remove("unk_id"); break;
                case "unk-range": root["model"]!["unk_id"] = 99999; break;
                case "vocab-entry": root["model"]!["vocab"]![1] = new JsonArray("x"); break;
                case "normalizer": root["normalizer"] = new JsonObject { ["type"] = "Nmt" }; break;
                case "metaspace": root["pre_tokenizer"]!["prepend_scheme"] = "sometimes"; break;
                case "post": root["post_processor"] = new JsonObject { ["type"] = "Bert" }; break;
                case "template":
                    root["post_processor"] = new JsonObject
                    {
                        ["type"] = "TemplateProcessing",
                        ["single"] = new JsonArray(new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "C", ["type_id"] = 0 } }),
                        ["pair"] = new JsonArray(),
                        ["special_tokens"] = new JsonObject(),
                    };
                    break;
            }
        });
        try
        {
            var error = Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromTokenizerJson(path));
            Assert.Contains(message, error.Message);
            Assert.DoesNotContain('\n', error.Message);
        }
        finally { File.Delete(path); }
    }
}
