using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Truncation of pairs. @huggingface/transformers cuts pairs differently from Hugging Face's Rust tokenizers, so truncated
/// expectations are built here from the reference per-sequence ids with the Rust rule, restated independently below.
/// </summary>
public class PairTruncationTests
{
    /// <summary>
    /// tokenizers/src/utils/truncation.rs, <c>truncate_encodings</c>, TruncationStrategy::LongestFirst with a pair, restated
    /// as its comment's cases. The tokenizer first subtracts the 3 added special tokens from max_length
    /// (tokenizer/mod.rs, post_process), giving <paramref name="budget"/>. With n1 = the shorter length, n2 = the longer:
    ///   case 1: n1 + n2 &lt;= budget: nothing is cut;
    ///   case 2: budget - n1 &gt;= n1 ("n2 = max(n1, max_length - n1)" picks max_length - n1, and n1 + n2 == max_length):
    ///           the shorter one is kept whole, the longer is cut to budget - n1;
    ///   case 3: otherwise "n1 = max_length / 2; n2 = n1 + max_length % 2": both are cut to half and the odd token goes to the
    ///           n2 slot, which after the final swap is the longer sequence, or the second (document) when they are equal,
    ///           because the swap only happens when the first is strictly longer ("if n1 &gt; n2").
    /// </summary>
    private static (int Query, int Document) RustLongestFirst(int query, int document, int budget)
    {
        if (budget == 0) return (0, 0);                      // "if params.max_length == 0": both emptied
        if (query + document <= budget) return (query, document);
        bool queryIsLonger = query > document;
        int shorter = Math.Min(query, document);
        int longer, keptShorter;
        if (budget - shorter >= shorter)
        {
            keptShorter = shorter;
            longer = budget - shorter;
        }
        else
        {
            keptShorter = budget / 2;
            longer = budget / 2 + budget % 2;
        }
        return queryIsLonger ? (longer, keptShorter) : (keptShorter, longer);
    }

    [Theory]
    // q=5, d=20, max=16: budget 13; n1=5 (query, shorter), 13-5=8 >= 5 -> case 2: query keeps 5, document 8 (16 tokens).
    [InlineData(5, 20, 16, 5, 8)]
    // q=10, d=10, max=16: budget 13; 13-10=3 < 10 -> case 3: 13/2=6 and 6+13%2=7; no swap on a tie, so the document gets 7.
    // (The slow Python tokenizer's one-at-a-time loop would end at q=7, d=6 instead.)
    [InlineData(10, 10, 16, 6, 7)]
    // q=20, d=10, max=16: budget 13; swapped (query longer) -> case 3: n1=6, n2=7, swapped back: the longer query gets 7.
    [InlineData(20, 10, 16, 7, 6)]
    // q=30, d=4, max=16: budget 13; n1=4 (document), 13-4=9 >= 4 -> case 2: document keeps 4, query 9.
    [InlineData(30, 4, 16, 9, 4)]
    // q=15, d=20, max=13: budget 10; n1=15 > 10 -> "n2 = n1" then 30 > 10 -> case 3: 5 and 5.
    [InlineData(15, 20, 13, 5, 5)]
    // q=1, d=1, max=4: budget 1; 1-1=0 < 1 -> case 3: n1=0, n2=1: the document keeps its token.
    [InlineData(1, 1, 4, 0, 1)]
    // q=8, d=8, max=12: budget 9 -> 4 and 5, document gets the odd one.
    [InlineData(8, 8, 12, 4, 5)]
    // max=3: budget 0 -> both emptied.
    [InlineData(7, 9, 3, 0, 0)]
    // fits: nothing cut.
    [InlineData(3, 4, 10, 3, 4)]
    [InlineData(0, 40, 10, 0, 7)]
    public void Hand_worked_longest_first(int query, int document, int maxLength, int keepQuery, int keepDocument)
    {
        Assert.Equal((keepQuery, keepDocument), RustLongestFirst(query, document, maxLength - 3));
        EncodedPair encoded = TokenizationFixture.FromVocab.EncodePair(Ids(query, 1000), Ids(document, 2000), maxLength);
        Assert.Equal(keepQuery + keepDocument + 3, encoded.Length);
        Assert.Equal(new TruncationInfo(query - keepQuery, document - keepDocument), encoded.Truncation);
        Assert.Equal([101, .. Ids(keepQuery, 1000), 102, .. Ids(keepDocument, 2000), 102], encoded.InputIds);
        Assert.Equal([.. Enumerable.Repeat(0, keepQuery + 2), .. Enumerable.Repeat(1, keepDocument + 1)], encoded.TokenTypeIds);
    }

    [Fact]
    public void Reference_pairs_truncated_at_every_length_follow_the_rust_rule()
    {
        BertTokenizer tokenizer = TokenizationFixture.FromVocab;
        int checkedCases = 0;
        foreach (ReferencePair reference in TokenizationFixture.Pairs)
        {
            int full = reference.QueryIds.Length + reference.DocumentIds.Length + 3;
            var lengths = Enumerable.Range(3, Math.Min(full, 40)).Concat([full - 1, full, full + 1, 128, 256, 512]).Where(l => l >= 3).Distinct();
            foreach (int maxLength in lengths)
            {
                (int q, int d) = RustLongestFirst(reference.QueryIds.Length, reference.DocumentIds.Length, maxLength - 3);
                int[] expected = [101, .. reference.QueryIds.Take(q), 102, .. reference.DocumentIds.Take(d), 102];
                EncodedPair encoded = tokenizer.EncodePair(reference.Query, reference.Document, maxLength);
                Assert.True(expected.SequenceEqual(encoded.InputIds), $"{reference.Name} at maxLength {maxLength}");
                Assert.Equal(new TruncationInfo(reference.QueryIds.Length - q, reference.DocumentIds.Length - d), encoded.Truncation);
                Assert.True(encoded.Length <= maxLength);
                checkedCases++;
            }
        }
        Assert.True(checkedCases > 1000);
    }

    [Fact]
    public void Only_second_cuts_the_document_only()
    {
        // q=5, d=20, max=16: budget 13, to_remove = 25 - 13 = 12; document 20 > 12 -> keeps 8.
        EncodedPair encoded = TokenizationFixture.FromVocab.EncodePair(Ids(5, 1000), Ids(20, 2000), 16, TruncationStrategy.OnlySecond);
        Assert.Equal(new TruncationInfo(0, 12), encoded.Truncation);
        Assert.Equal([101, .. Ids(5, 1000), 102, .. Ids(8, 2000), 102], encoded.InputIds);

        // q=20, d=10, max=16: to_remove = 30 - 13 = 17 >= 10 -> HF's "Sequence to truncate too short" error.
        var error = Assert.Throws<ArgumentException>(() => TokenizationFixture.FromVocab.EncodePair(Ids(20, 1000), Ids(10, 2000), 16, TruncationStrategy.OnlySecond));
        Assert.Contains("too short", error.Message);
        // Cutting the document to exactly zero is also refused ("target_len > to_remove" in truncation.rs).
        Assert.Throws<ArgumentException>(() => TokenizationFixture.FromVocab.EncodePair(Ids(9, 1000), Ids(3, 2000), 12, TruncationStrategy.OnlySecond));
        // From text, too.
        Assert.Throws<ArgumentException>(() => TokenizationFixture.FromVocab.EncodePair("a long query with many words in it", "doc", 8, TruncationStrategy.OnlySecond));
        // No truncation needed: no error even with an empty document.
        Assert.Equal(5, TokenizationFixture.FromVocab.EncodePair(Ids(2, 1000), [], 8, TruncationStrategy.OnlySecond).Length);
    }

    [Fact]
    public void Max_length_below_the_special_tokens_is_rejected()
    {
        BertTokenizer tokenizer = TokenizationFixture.FromVocab;
        var pairError = Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.EncodePair("q", "d", 2));
        Assert.Contains("at least 3", pairError.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.EncodePair(Ids(1, 1000), Ids(1, 2000), 0));
        var singleError = Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.EncodeSingle("text", 1));
        Assert.Contains("at least 2", singleError.Message);
        Assert.Equal([101, 102], tokenizer.EncodeSingle("some text", 2).InputIds);
        Assert.Equal([101, 102, 102], tokenizer.EncodePair("q", "d", 3).InputIds);
    }

    [Fact]
    public void Encode_single_truncates_the_end()
    {
        ReferenceSingle reference = TokenizationFixture.Single("cranfield-doc-1");
        EncodedPair encoded = TokenizationFixture.FromVocab.EncodeSingle(reference.Text, 32);
        Assert.Equal([101, .. reference.Ids.Take(30), 102], encoded.InputIds);
        Assert.Equal(new TruncationInfo(reference.Ids.Length - 30, 0), encoded.Truncation);
        Assert.All(encoded.TokenTypeIds, t => Assert.Equal(0, t));
    }

    private static int[] Ids(int count, int first) => Enumerable.Range(first, count).ToArray();
}
