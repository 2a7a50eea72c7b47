using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>Every case of the Hugging Face reference (Fixtures/tokenization/minilm-reference.json), through each loader.</summary>
public class BertTokenizerReferenceTests
{
    public static IEnumerable<object[]> SingleNames() => TokenizationFixture.SingleNames();
    public static IEnumerable<object[]> PairNames() => TokenizationFixture.PairNames();

    [Fact]
    public void Reference_file_has_the_promised_coverage()
    {
        Assert.True(TokenizationFixture.Singles.Length >= 80);
        Assert.True(TokenizationFixture.Singles.Count(s => s.Name.Contains("-doc-")) >= 30);
        Assert.Contains(TokenizationFixture.Singles, s => s.Tokens.Contains("[UNK]"));
    }

    [Theory]
    [MemberData(nameof(SingleNames))]
    public void EncodeToIds_matches_reference_vocab_txt(string name)
    {
        ReferenceSingle reference = TokenizationFixture.Single(name);
        int[] ids = TokenizationFixture.FromVocab.EncodeToIds(reference.Text);
        Assert.Equal(reference.Tokens, ids.Select(TokenizationFixture.FromVocab.IdToToken)); // readable diff first
        Assert.Equal(reference.Ids, ids);
    }

    [Theory]
    [MemberData(nameof(SingleNames))]
    public void EncodeToIds_matches_reference_tokenizer_json(string name)
    {
        ReferenceSingle reference = TokenizationFixture.Single(name);
        Assert.Equal(reference.Ids, TokenizationFixture.FromJson.EncodeToIds(reference.Text));
    }

    [Theory]
    [MemberData(nameof(SingleNames))]
    public void EncodeSingle_matches_reference(string name)
    {
        ReferenceSingle reference = TokenizationFixture.Single(name);
        EncodedPair encoded = TokenizationFixture.FromVocab.EncodeSingle(reference.Text, maxLength: 100_000);
        Assert.Equal(reference.InputIds, encoded.InputIds);
        Assert.Equal(reference.TokenTypeIds, encoded.TokenTypeIds);
        Assert.Equal(reference.InputIds.Select(TokenizationFixture.FromVocab.IdToToken), encoded.Tokens);
        Assert.False(encoded.Truncation.Truncated);
    }

    [Theory]
    [MemberData(nameof(PairNames))]
    public void EncodePair_matches_reference(string name)
    {
        ReferencePair reference = TokenizationFixture.Pair(name);
        foreach (BertTokenizer tokenizer in new[] { TokenizationFixture.FromVocab, TokenizationFixture.FromJson })
        {
            Assert.Equal(reference.QueryIds, tokenizer.EncodeToIds(reference.Query));
            Assert.Equal(reference.DocumentIds, tokenizer.EncodeToIds(reference.Document));
            EncodedPair encoded = tokenizer.EncodePair(reference.Query, reference.Document, maxLength: 100_000);
            (string[] tokens, int[] inputIds, int[] typeIds) = (reference.Tokens, reference.InputIds, reference.TokenTypeIds);
            if (reference.Document.Length == 0)
            {
                // @huggingface/transformers (like transformers' unbatched encode_plus) treats text_pair "" as "no pair" and
                // emits [CLS] q [SEP]. The Rust tokenizer given a pair, and the batched call sentence-transformers' CrossEncoder
                // makes, emit [CLS] q [SEP] [SEP] with the last [SEP] in segment 1; this encoder always encodes a pair.
                (tokens, inputIds, typeIds) = ([.. tokens, "[SEP]"], [.. inputIds, 102], [.. typeIds, 1]);
            }
            Assert.Equal(tokens, encoded.Tokens);
            Assert.Equal(inputIds, encoded.InputIds);
            Assert.Equal(typeIds, encoded.TokenTypeIds);
            Assert.Equal(new TruncationInfo(0, 0), encoded.Truncation);

            EncodedPair fromIds = tokenizer.EncodePair(reference.QueryIds, reference.DocumentIds, maxLength: 100_000);
            Assert.Equal(inputIds, fromIds.InputIds);
        }
    }

    [Fact]
    public void Special_token_literals_become_single_special_tokens_case_sensitively()
    {
        // Hugging Face (tokenizers added tokens, normalized=false) and @huggingface/transformers agree: exact "[SEP]" is one token.
        BertTokenizer tokenizer = TokenizationFixture.FromVocab;
        Assert.Equal(["[CLS]", "hello", "[SEP]", "world", "[MASK]", "[PAD]", "[UNK]"],
            tokenizer.EncodeToIds("[CLS] hello [SEP] world [MASK] [PAD] [UNK]").Select(tokenizer.IdToToken));
        Assert.Equal(["a", "[SEP]", "b"], tokenizer.EncodeToIds("a[SEP]b").Select(tokenizer.IdToToken));
        Assert.Equal(["[", "sep", "]"], tokenizer.EncodeToIds("[sep]").Select(tokenizer.IdToToken));
        Assert.Equal(["[", "unused", "##1", "]"], tokenizer.EncodeToIds("[unused1]").Select(tokenizer.IdToToken)); // not an added token
    }

    [Fact]
    public void Model_folder_with_vocab_txt_matches_reference()
    {
        BertTokenizer tokenizer = BertTokenizer.FromModelFolder(TokenizationFixture.ModelFolder);
        foreach (ReferenceSingle reference in TokenizationFixture.Singles)
            Assert.Equal(reference.Ids, tokenizer.EncodeToIds(reference.Text));
        Assert.Equal(512, tokenizer.ModelMaxLength);
        Assert.Equal(30522, tokenizer.VocabularySize);
        Assert.Equal((101, 102, 100), (tokenizer.ClsTokenId, tokenizer.SepTokenId, tokenizer.UnknownTokenId));
    }

    [Fact]
    public void Concurrent_use_gives_the_same_ids()
    {
        BertTokenizer tokenizer = TokenizationFixture.FromVocab;
        ReferenceSingle[] singles = TokenizationFixture.Singles;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, singles.Length * 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            ReferenceSingle reference = singles[i % singles.Length];
            if (!tokenizer.EncodeToIds(reference.Text).SequenceEqual(reference.Ids)) failures.Add(reference.Name);
        });
        Assert.Empty(failures);
    }
}
