using System.Text;
using CrossEncoder.Native.Tokenization;
using Microsoft.ML.Tokenizers;
using Xunit;
using MlBertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Why tokenization is not delegated to Microsoft.ML.Tokenizers 2.0.1's BertTokenizer: with Hugging Face-like options it
/// still loses ASCII symbols (dotnet/machinelearning#7724, #7725). Its WordPieceTokenizer is used, behind <see cref="WordPiece"/>,
/// which works around the two differences shown last. If these assertions start failing, the defect is fixed upstream.
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

    [Fact]
    public void Ml_tokenizers_wordpiece_counts_the_word_limit_in_utf16_units_not_code_points()
    {
        // tokenizers/src/models/wordpiece/mod.rs: "if sequence.chars().count() > self.max_input_chars_per_word" (code points).
        // No reference case can show it (the MiniLM vocabulary has no astral token), so the vocabulary here has one.
        var vocabulary = new Dictionary<string, int> { ["[UNK]"] = 0, ["𝑥"] = 1, ["##𝑥"] = 2 };
        string word = string.Concat(Enumerable.Repeat("𝑥", 60)); // 60 code points, 120 UTF-16 units, limit 100
        int[] huggingFace = [1, .. Enumerable.Repeat(2, 59)];
        Assert.Equal(huggingFace, new WordPieceReference(vocabulary, 0, "##", 100).Tokenize(word));

        using var vocab = new MemoryStream(Encoding.UTF8.GetBytes("[UNK]\n𝑥\n##𝑥\n"));
        WordPieceTokenizer ml = WordPieceTokenizer.Create(vocab, new WordPieceOptions { MaxInputCharsPerWord = 100 });
        Assert.Equal([0], ml.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false)); // [UNK]

        var ids = new PooledBuffer<int>(64);
        new WordPiece(vocabulary, 0, "##", 100).Encode(word, ref ids);
        Assert.Equal(huggingFace, ids.Span.ToArray());
        ids.Dispose();
    }

    [Fact]
    public void Ml_tokenizers_wordpiece_rejects_a_vocabulary_with_a_repeated_token()
    {
        // transformers' load_vocab and the Rust reader keep the last line of a repeated token (BertTokenizerLoadingTests);
        // WordPieceTokenizer.Create throws, so WordPiece hands it the vocabulary our loader resolved, one line per id.
        using var vocab = new MemoryStream(Encoding.UTF8.GetBytes("[UNK]\nhello\nhello\n"));
        Assert.Throws<ArgumentException>(() => WordPieceTokenizer.Create(vocab));
    }
}
