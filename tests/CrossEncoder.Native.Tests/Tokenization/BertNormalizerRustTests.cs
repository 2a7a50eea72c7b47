using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// Cases where @huggingface/transformers (the reference generator) departs from Hugging Face's Rust tokenizers, so they are
/// not in the reference file; the expected behaviour is read off tokenizers/src/normalizers/bert.rs and
/// tokenizer/normalizer.rs and checked by equivalence with an input that needs no such rule.
/// </summary>
public class BertNormalizerRustTests
{
    private static BertTokenizer Tokenizer => TokenizationFixture.FromVocab;

    [Fact]
    public void Lowercase_is_per_character_without_the_final_sigma_rule()
    {
        // NormalizedString::lowercase maps each char with char::to_lowercase: Σ -> σ everywhere (JS toLowerCase gives ς at a word end).
        Assert.Equal(Tokenizer.EncodeToIds("οδοσ"), Tokenizer.EncodeToIds("ΟΔΟΣ"));
    }

    [Fact]
    public void Dotted_capital_i_lowercases_to_i_and_combining_dot()
    {
        // char::to_lowercase('İ') = "i\u0307" (SpecialCasing.txt); with strip_accents the dot is a non-spacing mark and goes.
        Assert.Equal(Tokenizer.EncodeToIds("istanbul"), Tokenizer.EncodeToIds("İstanbul"));
        BertTokenizer keepAccents = BertTokenizer.FromVocabFile(TokenizationFixture.VocabPath, new() { StripAccents = false });
        Assert.Equal(keepAccents.EncodeToIds("i\u0307stanbul"), keepAccents.EncodeToIds("İstanbul"));
    }

    [Fact]
    public void Supplementary_plane_ideographs_are_spaced_like_other_cjk()
    {
        // is_chinese_char covers 0x20000..=0x2A6DF; JS tests UTF-16 units one at a time and misses it.
        Assert.Equal(Tokenizer.EncodeToIds("a \U00020000 b"), Tokenizer.EncodeToIds("a\U00020000b"));
        Assert.Equal(3, Tokenizer.EncodeToIds("a\U00020000b").Length);
    }

    [Fact]
    public void Unassigned_code_points_are_removed_as_control_characters()
    {
        // is_control uses char::is_other, which includes Cn (unassigned); U+0378 is unassigned.
        Assert.Equal(Tokenizer.EncodeToIds("abcd"), Tokenizer.EncodeToIds("ab\u0378cd"));
    }

    [Fact]
    public void Line_and_paragraph_separators_are_whitespace()
    {
        Assert.Equal(Tokenizer.EncodeToIds("hello world again"), Tokenizer.EncodeToIds("hello\u2028world\u2029again"));
    }

    [Fact]
    public void Lone_surrogates_are_removed()
    {
        Assert.Equal(Tokenizer.EncodeToIds("ab"), Tokenizer.EncodeToIds("a\uD800b"));
    }

    [Fact]
    public void Decomposition_table_matches_known_characters()
    {
        // The generated table is the source of accent stripping under InvariantGlobalization.
        Assert.Equal(Tokenizer.EncodeToIds("angstrom a e i o u n c"), Tokenizer.EncodeToIds("\u212Bngström à é î õ ü ñ ç"));
        Assert.Equal(Tokenizer.EncodeToIds("\u1112\u1161\u11AB"), Tokenizer.EncodeToIds("한")); // Hangul: arithmetic decomposition
    }
}
