using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary><see cref="PipelineTokenizer"/> against Hugging Face's own tokenizers (Tokenizers.DotNet) on the committed
/// XLM-R-style Unigram tokenizer.json, every fixture text.</summary>
public class PipelineTokenizerReferenceTests
{
    private static void AssertSameAsOracle(string tokenizerJson, IReadOnlyList<string> texts)
    {
        var ours = PipelineTokenizer.FromTokenizerJson(tokenizerJson);
        int[][] expected = PipelineFixtures.Oracle(tokenizerJson, texts);
        var failures = new List<string>();
        for (int i = 0; i < texts.Count; i++)
        {
            int[] actual = ours.EncodeSingle(texts[i], int.MaxValue).InputIds;
            if (!actual.SequenceEqual(expected[i]))
                failures.Add($"[{i}] {Escape(texts[i])}\n   hf:   {string.Join(' ', expected[i])}\n   ours: {string.Join(' ', actual)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {texts.Count} texts differ:\n" + string.Join("\n", failures.Take(8)));
    }

    private static string Escape(string s) => string.Concat(s.Take(120).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));

    [Fact]
    public void UnigramTokenizerJsonMatchesHuggingFaceOnEveryFixtureText() =>
        AssertSameAsOracle(PipelineFixtures.UnigramTokenizerJson, PipelineFixtures.Texts);
}
