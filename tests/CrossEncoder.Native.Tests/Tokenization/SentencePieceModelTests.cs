using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>The SentencePiece .model reader against spm_encode's ids (committed, tools/sentencepiece/spm_reference.py).</summary>
public class SentencePieceModelTests
{
    private static string Escape(string s) => string.Concat(s.Take(100).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));

    [Fact]
    public void TheModelFileGivesSpmEncodesIdsOnEveryFixtureText()
    {
        var tokenizer = PipelineTokenizer.FromSentencePieceModel(PipelineFixtures.UnigramModel);
        var cases = PipelineFixtures.SpmReference();
        Assert.True(cases.Length >= 140);
        var failures = cases.Where(c => !tokenizer.EncodeToIds(c.Text).SequenceEqual(c.Ids))
            .Select(c => $"{Escape(c.Text)}\n   spm:  {string.Join(' ', c.Ids)}\n   ours: {string.Join(' ', tokenizer.EncodeToIds(c.Text))}").ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Length} differ:\n" + string.Join("\n", failures.Take(6)));
    }

    [Fact]
    public void FairseqIdsAreTheSentencePieceIdsShiftedWithXlmrSpecials()
    {
        // fairseq's dictionary for XLM-R: <s>=0 <pad>=1 </s>=2 <unk>=3, SentencePiece id i >= 3 -> i + 1, <unk> (0) -> 3.
        var fairseq = PipelineTokenizer.FromSentencePieceModel(PipelineFixtures.UnigramModel, SentencePieceIds.Fairseq);
        var cases = PipelineFixtures.SpmReference();
        // Texts that spell a special token are left out: spm_encode reads "<s>" as text, XLM-R (and this tokenizer) as the token.
        foreach (var (text, spmIds) in cases.Where(c => !new[] { "<s>", "</s>", "<pad>", "<unk>", "<mask>" }.Any(c.Text.Contains)))
        {
            int[] expected = [0, .. spmIds.Select(i => i == 0 ? 3 : i + 1), 2];
            Assert.Equal(expected, fairseq.EncodeSingle(text, int.MaxValue).InputIds);
        }
        Assert.Equal(3002, fairseq.VocabularySize);   // 3000 pieces - 3 + 4 specials + <mask>
        Assert.Equal("<mask>", fairseq.IdToToken(3001));
        var pair = fairseq.EncodePair("wing lift", "heat transfer", 512);
        Assert.Equal([0, .. fairseq.EncodeToIds("wing lift"), 2, 2, .. fairseq.EncodeToIds("heat transfer"), 2], pair.InputIds);
        Assert.All(pair.TokenTypeIds, t => Assert.Equal(0, t));
    }

    [Fact]
    public void NotASentencePieceModelIsAClearError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"not-a-model-{Guid.NewGuid():N}.model");
        File.WriteAllBytes(path, [0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        try
        {
            var error = Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromSentencePieceModel(path));
            Assert.Contains("not a SentencePiece model", error.Message);
        }
        finally { File.Delete(path); }
    }
}
