using System.Text;
using System.Text.RegularExpressions;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>GPT-2's byte-to-unicode mapping, the ByteLevel decoder, the hand-written GPT-2 split and the Split pre-tokenizer.</summary>
public class ByteLevelTests
{
    [Fact]
    public void Every_byte_has_its_own_printable_non_space_character()
    {
        char[] map = ByteLevel.ByteToChar;
        Assert.Equal(256, map.Distinct().Count());
        Assert.All(map, c => Assert.False(char.IsWhiteSpace(c) || char.IsControl(c), $"U+{(int)c:X4}"));
        Assert.Equal('\u0120', map[' ']);    // Ġ
        Assert.Equal('\u010A', map['\n']);   // Ċ
        Assert.Equal('\u0109', map['\t']);   // ĉ
        Assert.Equal('\u0100', map[0]);
        Assert.Equal('\u0143', map[0xAD]);   // the 68th remapped byte, the last
        Assert.Equal('A', map['A']);
        Assert.Equal('\u00e9', map[0xE9]);
        Assert.Equal("\u00c3\u00a9", ByteLevel.Encode("\u00e9"));                 // é = C3 A9 -> "Ã©"
        Assert.Equal("\u0120hello\u010a", ByteLevel.Encode(" hello\n"));
    }

    [Theory]
    [InlineData("Hello world!")]
    [InlineData("caf\u00e9 \u4e2d\u6587 \U0001F600 \t\n\r end")]
    [InlineData("\u0000\u007f\u0080\u00ad\u00ff")]
    public void The_decoder_inverts_the_mapping(string text)
    {
        string mapped = ByteLevel.Encode(text);
        Assert.Equal(text, ByteLevel.Decode([mapped[..1], mapped[1..]]));
        Assert.Equal("[CLS]" + text, ByteLevel.Decode(["[CLS]", mapped]));
        Assert.Equal("<s>\u4e2d", ByteLevel.Decode(["<s>", ByteLevel.Encode("\u4e2d")]));   // "<s>" is inside the mapping: bytes "<s>"
    }

    [Fact]
    public void A_token_cut_inside_a_character_decodes_to_the_replacement_character()
    {
        string mapped = ByteLevel.Encode("\u00e9");
        Assert.Equal("\ufffd", ByteLevel.Decode([mapped[..1]]));
    }

    public static TheoryData<string, string[]> Splits => new()
    {
        { "Hello world!", ["Hello", " world", "!"] },
        { "I'm can't we're they'll he'd it's you've", ["I", "'m", " can", "'t", " we", "'re", " they", "'ll", " he", "'d", " it", "'s", " you", "'ve"] },
        { "'S ''s", ["'", "S", " ''", "s"] },
        { "a  b", ["a", " ", " b"] },
        { "a   \n  b", ["a", "   \n ", " b"] },
        { "end   ", ["end", "   "] },
        { "x\ty", ["x", "\t", "y"] },
        { "x\n\ny", ["x", "\n", "\n", "y"] },
        { "abc123 456def ?!x", ["abc", "123", " 456", "def", " ?!", "x"] },
        { "\U0001d400\U0001d401 x \U0001d7ce", ["\U0001d400\U0001d401", " x", " \U0001d7ce"] },   // astral letters and digits
        { "\U0001F600\U0001F600 \U0001F600", ["\U0001F600\U0001F600", " \U0001F600"] },
        { " ", [" "] },
        { "", [] },
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void The_gpt2_split_matches_the_regular_expression_by_hand(string text, string[] pieces) =>
        Assert.Equal(pieces, ByteLevelPreTokenizer.SplitGpt2(text));

    [Fact]
    public void On_text_without_astral_characters_the_hand_split_equals_dotnet_regex()
    {
        var gpt2 = new Regex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant);
        int compared = 0;
        foreach (var (text, _) in BpeFixtures.ModernBertCases)
        {
            if (text.Any(char.IsSurrogate)) continue;
            Assert.Equal(gpt2.Matches(text).Select(m => m.Value), ByteLevelPreTokenizer.SplitGpt2(text));
            compared++;
        }
        Assert.True(compared > 200);
    }

    [Fact]
    public void The_byte_level_pre_tokenizer_adds_the_prefix_space_unless_one_is_there()
    {
        var words = new List<string>();
        new ByteLevelPreTokenizer(addPrefixSpace: true, useRegex: true).Split("Hi there", atTextStart: true, words);
        Assert.Equal(["\u0120Hi", "\u0120there"], words);
        words.Clear();
        new ByteLevelPreTokenizer(addPrefixSpace: true, useRegex: true).Split(" Hi", atTextStart: false, words);
        Assert.Equal(["\u0120Hi"], words);
        words.Clear();
        new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: false).Split("Hi there", atTextStart: true, words);
        Assert.Equal(["Hi\u0120there"], words);
    }

    [Theory]
    [InlineData(nameof(DelimiterBehavior.Isolated), false, new[] { "a", "-", "b", "--", "c" })]
    [InlineData(nameof(DelimiterBehavior.Removed), false, new[] { "a", "b", "c" })]
    [InlineData(nameof(DelimiterBehavior.MergedWithPrevious), false, new[] { "a-", "b--", "c" })]
    [InlineData(nameof(DelimiterBehavior.MergedWithNext), false, new[] { "a", "-b", "--c" })]
    [InlineData(nameof(DelimiterBehavior.Contiguous), false, new[] { "a", "-", "b", "--", "c" })]
    [InlineData(nameof(DelimiterBehavior.Removed), true, new[] { "-", "--" })]
    public void Split_treats_the_matches_by_behavior(string behaviorName, bool invert, string[] expected)
    {
        var behavior = Enum.Parse<DelimiterBehavior>(behaviorName);
        var words = new List<string>();
        new SplitPreTokenizer(null, "-+", behavior, invert).Split("a-b--c", atTextStart: true, words);
        Assert.Equal(expected, words);
        words.Clear();
        new SplitPreTokenizer(literal: "-", regex: null, DelimiterBehavior.Removed, invert: false).Split("a-b--c", atTextStart: true, words);
        Assert.Equal(["a", "b", "c"], words);
    }
}
