using CrossEncoder.Native.Tokenization;
using Microsoft.ML.Tokenizers;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Why the Unigram model is our own rather than Microsoft.ML.Tokenizers 2.0.1's SentencePieceTokenizer: on the committed
/// model it agrees with spm_encode on most texts but emits one &lt;unk&gt; per unknown character, where SentencePiece (and
/// Hugging Face) fuse a run of unknown characters into one. It also cannot read tokenizer.json's Unigram, whose
/// Precompiled normalizer works per grapheme cluster and whose scores tokenizers reads with its own float parser.
/// </summary>
public class MlTokenizersUnigramTests
{
    [Fact]
    public void MlTokenizersSplitsRunsOfUnknownCharactersWhereSentencePieceFusesThem()
    {
        using var stream = File.OpenRead(PipelineFixtures.UnigramModel);
        var ml = SentencePieceTokenizer.Create(stream, false, false);
        var ours = PipelineTokenizer.FromSentencePieceModel(PipelineFixtures.UnigramModel);
        var cases = PipelineFixtures.SpmReference();
        int mlAgrees = cases.Count(c => ml.EncodeToIds(c.Text).SequenceEqual(c.Ids));
        Assert.All(cases, c => Assert.Equal(c.Ids, ours.EncodeToIds(c.Text)));
        Assert.InRange(mlAgrees, cases.Length / 2, cases.Length - 1);   // close, but not equal

        var (text, spmIds) = cases.Single(c => c.Text == "\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5");   // six characters outside the vocabulary
        Assert.Equal([11, 0], spmIds);                                                                // "▁", one fused <unk>
        Assert.Equal([11, 0, 0, 0, 0, 0, 0], ml.EncodeToIds(text).ToArray());
    }
}
