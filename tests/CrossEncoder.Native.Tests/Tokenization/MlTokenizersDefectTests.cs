using Xunit;
using MlBertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Why tokenization is not delegated to Microsoft.ML.Tokenizers 2.0.1's BertTokenizer: with Hugging Face-like options it
/// still loses ASCII symbols (dotnet/machinelearning#7724, #7725). If these assertions start failing, the defect is fixed upstream.
/// </summary>
public class MlTokenizersDefectTests
{
    [Fact]
    public void Ml_tokenizers_bert_drops_ascii_symbols_that_hugging_face_keeps()
    {
        ReferenceSingle reference = TokenizationFixture.Single("ascii-symbols");
        MlBertTokenizer ml = MlBertTokenizer.Create(TokenizationFixture.VocabPath, new Microsoft.ML.Tokenizers.BertOptions
        {
            LowerCaseBeforeTokenization = true,
            RemoveNonSpacingMarks = true,
            IndividuallyTokenizeCjk = true,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = true,
        });
        const string text = "$5 + 3 = 8";
        int[] hf = TokenizationFixture.FromVocab.EncodeToIds(text);
        Assert.Equal(reference.Ids.Take(6), hf); // the reference case starts with "$5 + 3 = 8": $ 5 + 3 = 8
        int[] mlIds = ml.EncodeToIds(text, addSpecialTokens: false).ToArray();
        Assert.NotEqual(hf, mlIds);
        int dollar = hf[0], plus = hf[2], equals = hf[4];
        Assert.DoesNotContain(dollar, mlIds);
        Assert.DoesNotContain(plus, mlIds);
        Assert.DoesNotContain(equals, mlIds);
    }
}
