using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>The BPE model alone (<see cref="BytePairEncoding"/>): merge order, stale queue entries, byte fallback, unknown
/// characters, affixes and ignore_merges, on small vocabularies whose outcome can be worked out by hand.</summary>
public class BytePairEncodingTests
{
    private static Dictionary<string, int> Vocab(params string[] tokens) =>
        tokens.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);

    private static (string, string)[] Merges(params string[] merges) => merges.Select(m => (m.Split(' ')[0], m.Split(' ')[1])).ToArray();

    private static string[] Encode(BytePairEncoding bpe, Dictionary<string, int> vocab, string word)
    {
        var ids = new List<int>();
        bpe.Encode(word, ids);
        var tokens = vocab.ToDictionary(p => p.Value, p => p.Key);
        return ids.Select(i => tokens[i]).ToArray();
    }

    [Fact]
    public void The_lowest_rank_merges_first_wherever_it_is()
    {
        var vocab = Vocab("a", "b", "c", "ab", "bc", "abc");
        // "b c" ranks first, so "abc" is a + bc, then (a, bc) has no merge: two tokens.
        var bcFirst = new BytePairEncoding(vocab, Merges("b c", "a b", "ab c"));
        Assert.Equal(["a", "bc"], Encode(bcFirst, vocab, "abc"));
        // "a b" first: ab + c, then "ab c": one token.
        var abFirst = new BytePairEncoding(vocab, Merges("a b", "b c", "ab c"));
        Assert.Equal(["abc"], Encode(abFirst, vocab, "abc"));
    }

    [Fact]
    public void Equal_ranks_merge_leftmost_first_and_new_pairs_join_the_queue()
    {
        var vocab = Vocab("a", "aa", "aaaa");
        var bpe = new BytePairEncoding(vocab, Merges("a a", "aa aa"));
        Assert.Equal(["aa", "a"], Encode(bpe, vocab, "aaa"));           // (0,1) before (1,2)
        Assert.Equal(["aaaa"], Encode(bpe, vocab, "aaaa"));             // a a | a a, then aa aa
        Assert.Equal(["aaaa", "a"], Encode(bpe, vocab, "aaaaa"));
        Assert.Equal(["aaaa", "aa"], Encode(bpe, vocab, "aaaaaa"));
    }

    [Fact]
    public void A_queued_pair_is_dropped_when_a_better_merge_took_one_of_its_symbols()
    {
        // "xyz": (x,y) rank 1 and (y,z) rank 0 are both queued; y z merges first, so the (x,y) entry is stale and x + yz stays.
        var vocab = Vocab("x", "y", "z", "xy", "yz", "xyz");
        var bpe = new BytePairEncoding(vocab, Merges("y z", "x y", "xy z"));
        Assert.Equal(["x", "yz"], Encode(bpe, vocab, "xyz"));
    }

    [Fact]
    public void A_pair_listed_twice_keeps_its_last_rank_as_in_the_tokenizers_hash_map()
    {
        var vocab = Vocab("a", "b", "c", "ab", "bc");
        var bpe = new BytePairEncoding(vocab, Merges("a b", "b c", "a b"));   // "a b" ends up ranked 2, after "b c"
        Assert.Equal(["a", "bc"], Encode(bpe, vocab, "abc"));
    }

    [Fact]
    public void Byte_fallback_spells_unknown_characters_as_their_utf8_bytes_which_can_merge_further()
    {
        string[] bytes = Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>").ToArray();
        var vocab = Vocab([.. bytes, "h", "i", "<0xC3><0xA9>"]);
        var merges = Merges("<0xC3> <0xA9>");
        var bpe = new BytePairEncoding(vocab, merges, unkToken: null, byteFallback: true);
        Assert.Equal(["h", "<0xC3><0xA9>", "i"], Encode(bpe, vocab, "héi"));                  // é = C3 A9, then merged
        Assert.Equal(["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"], Encode(bpe, vocab, "😀"));    // an astral character: 4 bytes
        // Without byte fallback and without unk_token, tokenizers drops the character.
        var noFallback = new BytePairEncoding(vocab, merges);
        Assert.Equal(["h", "i"], Encode(noFallback, vocab, "héi"));
    }

    [Fact]
    public void Byte_fallback_needs_every_byte_else_the_unknown_token_is_used()
    {
        var vocab = Vocab("<unk>", "a", "<0xC3>");   // no <0xA9>
        var bpe = new BytePairEncoding(vocab, [], unkToken: "<unk>", byteFallback: true);
        Assert.Equal(["a", "<unk>", "a"], Encode(bpe, vocab, "aéa"));
    }

    [Fact]
    public void Unknown_characters_become_unk_fused_into_one_with_fuse_unk()
    {
        var vocab = Vocab("<unk>", "a");
        Assert.Equal(["a", "<unk>", "<unk>", "a"], Encode(new BytePairEncoding(vocab, [], "<unk>"), vocab, "axya"));
        Assert.Equal(["a", "<unk>", "a"], Encode(new BytePairEncoding(vocab, [], "<unk>", fuseUnk: true), vocab, "axya"));
        var missing = new BytePairEncoding(vocab, [], "<missing>");
        Assert.Equal(["a"], Encode(missing, vocab, "a"));   // only an unknown character needs the unk token
        Assert.Throws<InvalidOperationException>(() => Encode(missing, vocab, "ax"));
    }

    [Fact]
    public void Continuing_prefix_and_end_of_word_suffix_decorate_the_characters_and_merges_drop_the_inner_prefix()
    {
        var vocab = Vocab("l", "##o", "##w</w>", "lo", "low</w>", "o");
        var bpe = new BytePairEncoding(vocab, Merges("l ##o", "lo ##w</w>"), continuingSubwordPrefix: "##", endOfWordSuffix: "</w>");
        Assert.Equal(["low</w>"], Encode(bpe, vocab, "low"));
        Assert.Equal(["lo"], Encode(new BytePairEncoding(vocab, Merges("l ##o"), continuingSubwordPrefix: "##"), vocab, "lo"));
    }

    [Fact]
    public void Ignore_merges_takes_a_word_that_is_in_the_vocabulary_whole()
    {
        // "abc" is a token, but the merges alone can only reach a + bc.
        var vocab = Vocab("a", "b", "c", "bc", "abc");
        Assert.Equal(["a", "bc"], Encode(new BytePairEncoding(vocab, Merges("b c")), vocab, "abc"));
        Assert.Equal(["abc"], Encode(new BytePairEncoding(vocab, Merges("b c"), ignoreMerges: true), vocab, "abc"));
        Assert.Equal(["a", "bc", "a"], Encode(new BytePairEncoding(vocab, Merges("b c"), ignoreMerges: true), vocab, "abca"));
    }

    [Fact]
    public void Merges_naming_tokens_outside_the_vocabulary_are_rejected()
    {
        var vocab = Vocab("a", "b");
        Assert.Contains("'ab' is not in the vocabulary", Assert.Throws<ArgumentException>(() => new BytePairEncoding(vocab, Merges("a b"))).Message);
        Assert.Contains("'c' is not in the vocabulary", Assert.Throws<ArgumentException>(() => new BytePairEncoding(vocab, Merges("a c"))).Message);
    }

    [Fact]
    public void Cached_and_fresh_encodings_agree_and_long_words_are_not_cached()
    {
        var vocab = Vocab("a", "aa", "aaaa");
        var bpe = new BytePairEncoding(vocab, Merges("a a", "aa aa"));
        string longWord = new('a', BytePairEncoding.MaxCachedWordLength + 3);
        Assert.Equal(Encode(bpe, vocab, "aaaaa"), Encode(bpe, vocab, "aaaaa"));
        string[] first = Encode(bpe, vocab, longWord), second = Encode(bpe, vocab, longWord);
        Assert.Equal(first, second);
        Assert.Equal(longWord, string.Concat(first));
    }
}
