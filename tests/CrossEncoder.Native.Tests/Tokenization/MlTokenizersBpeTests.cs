using System.Text;
using System.Text.Json.Nodes;
using CrossEncoder.Native.Tokenization;
using Microsoft.ML.Tokenizers;
using Xunit;
using Xunit.Abstractions;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Decision record: why byte-level BPE is our own (<see cref="BytePairEncoding"/>, <see cref="ByteLevelPreTokenizer"/>) rather
/// than Microsoft.ML.Tokenizers 2.0.1's <see cref="CodeGenTokenizer"/> (its GPT-2 byte-level BPE). Given ModernBERT's vocabulary
/// and merges as vocab.json + merges.txt, it is compared with our pipeline on the same pieces (ByteLevel + BPE, no normalizer,
/// no added tokens: GPT-2's own layout), which BpeVariantTests shows equal to Hugging Face. On the 271 fixture texts it differs
/// on 63: every one holds a run of spaces or tabs or the literal &lt;|endoftext|&gt;, because CodeGenTokenizer adds Salesforce
/// CodeGen's own whitespace-run and special tokens to any vocabulary; elsewhere it agrees. It also reads neither tokenizer.json
/// nor its added tokens, normalizer or template, so the files we load would need translating first.
/// </summary>
public class MlTokenizersBpeTests(ITestOutputHelper output)
{
    [Fact]
    public void Ml_tokenizers_codegen_on_modernbert_vocabulary_compared_with_hugging_face_pieces()
    {
        var root = JsonNode.Parse(File.ReadAllText(BpeFixtures.ModernBertTokenizerJson))!.AsObject();
        var model = root["model"]!.AsObject();
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (JsonNode? merge in model["merges"]!.AsArray()) merges.Append(merge!.GetValue<string>()).Append('\n');
        using var vocabStream = new MemoryStream(Encoding.UTF8.GetBytes(model["vocab"]!.ToJsonString()));
        using var mergesStream = new MemoryStream(Encoding.UTF8.GetBytes(merges.ToString()));
        var ml = CodeGenTokenizer.Create(vocabStream, mergesStream, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false);

        root["added_tokens"] = new JsonArray();
        root["normalizer"] = null;
        root["post_processor"] = null;
        string path = Path.Combine(Path.GetTempPath(), $"gpt2-layout-{Guid.NewGuid():N}.tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        PipelineTokenizer ours;
        try { ours = PipelineTokenizer.FromTokenizerJson(path); }
        finally { File.Delete(path); }

        var texts = BpeFixtures.ModernBertCases.Select(c => c.Text).ToArray();
        var differing = texts.Where(t => !ml.EncodeToIds(t).SequenceEqual(ours.EncodeToIds(t))).ToArray();
        output.WriteLine($"Microsoft.ML.Tokenizers CodeGenTokenizer differs on {differing.Length} of {texts.Length} texts, for example:");
        foreach (string t in differing.Take(10))
            output.WriteLine($"  {string.Concat(t.Take(60).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()))}");
        // Every difference is CodeGen's own vocabulary at work: it adds Salesforce CodeGen's whitespace-run tokens (ids past
        // the vocabulary) and its <|endoftext|>, which a GPT-2-layout tokenizer.json does not have. Elsewhere it agrees.
        Assert.All(differing, t => Assert.True(t.Contains("  ") || t.Contains("\t\t") || t.Contains("<|endoftext|>"), t));
        Assert.InRange(differing.Length, 1, texts.Length / 3);
        Assert.Equal([89, 209, 340], ours.EncodeToIds("x  y"));                  // "x", "Ġ", "Ġy" as Hugging Face
        Assert.Equal([89, 50286, 90], ml.EncodeToIds("x  y").ToArray());         // a CodeGen whitespace token, then "y"
        Assert.Equal(ours.EncodeToIds("don't \U0001F600 caf\u00e9\n\ttab"), ml.EncodeToIds("don't \U0001F600 caf\u00e9\n\ttab").ToArray());
    }
}
