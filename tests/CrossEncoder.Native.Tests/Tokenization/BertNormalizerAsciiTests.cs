using System.Text;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>The normalizer's bulk ASCII path against bert.rs's per-char rules, for every option combination.</summary>
public class BertNormalizerAsciiTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Ascii_runs_follow_the_per_char_rules(bool cleanText, bool lowercase)
    {
        // Every ASCII char, in runs of several lengths (vector tails) broken by a non-ASCII char, é.
        var text = new StringBuilder();
        for (int repeat = 0; repeat < 5; repeat++)
        {
            for (int c = 0; c < 128; c++) text.Append((char)c);
            text.Append("Héllo\tWORLD\r\n").Append('x', repeat * 7).Append('é').Append("\u0001A\u007F");
        }
        string input = text.ToString();
        var expected = new StringBuilder();
        foreach (char c in input)
        {
            if (c == 'é') { expected.Append(lowercase ? 'e' : 'é'); continue; } // strip_accents follows lowercase here
            // clean_text: \t \n \r -> ' ', other controls removed; lowercase: A-Z -> a-z.
            if (cleanText && c is '\t' or '\n' or '\r') { expected.Append(' '); continue; }
            if (cleanText && (c < 0x20 || c == 0x7F)) continue;
            expected.Append(lowercase && c is >= 'A' and <= 'Z' ? (char)(c + 32) : c);
        }
        var normalizer = new BertNormalizer(cleanText, handleChineseChars: true, stripAccents: lowercase, lowercase);
        var output = new PooledBuffer<char>(4);
        normalizer.Normalize(input, ref output);
        string actual = output.Span.ToString();
        output.Dispose();
        Assert.Equal(expected.ToString(), actual);
    }
}
