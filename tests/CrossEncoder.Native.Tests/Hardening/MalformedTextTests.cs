using System.Text;
using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Hardening;

/// <summary>
/// Issue 20's text findings: a lone-surrogate escape in config.json or tokenizer.json crashed the process (exit 134) from
/// deep in a loader; control characters from a path or a file were echoed to the terminal; .NET's parameter notes leaked into
/// messages; <c>tokenize --max-length 1</c> passed the parser and then failed.
/// </summary>
public sealed class MalformedTextTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CrossEncoder.Cli.Cli.Run(args, new StringReader(""), output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("\"\\ud83d\\ude00\"", -1)]            // a pair is fine
    [InlineData("\"\\\\ud800\"", -1)]                 // an escaped backslash then the letters "ud800"
    [InlineData("\"\\u00e9 \\n \\\" x\"", -1)]
    [InlineData("\"\\ud800\"", 1)]                    // a high surrogate alone
    [InlineData("\"ab\\udc00\"", 3)]                  // a low surrogate alone
    [InlineData("\"\\ud800\\u0041\"", 1)]             // a high surrogate followed by something else
    [InlineData("\"\\ud800\\ud800\\udc00\"", 1)]
    public void LoneSurrogateEscapesAreFoundExactlyWhereSystemTextJsonWouldFailToReadThem(string json, long expected)
    {
        Assert.Equal(expected, JsonEscapes.FindLoneSurrogate(Encoding.UTF8.GetBytes(json)));
        using var document = JsonDocument.Parse(json);                     // System.Text.Json parses all of them...
        bool readable = true;
        try { document.RootElement.GetString(); } catch (InvalidOperationException) { readable = false; }
        Assert.Equal(expected < 0, readable);                              // ...and fails to read exactly the flagged ones
    }

    [Fact]
    public void ALoneSurrogateInConfigJsonIsOneErrorLineNotACrash()
    {
        using var tiny = new TinyBert(classifier: true);
        string config = Path.Combine(tiny.Directory, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"bert\"", "\"\\ud800bert\"", StringComparison.Ordinal));
        Assert.Throws<ModelFormatException>(() => Reranker.Load(tiny.Directory));
        var (code, _, error) = Run("rerank", "--model", tiny.Directory, "--query", "q", "a");
        Assert.Equal(1, code);
        Assert.Contains("lone surrogate", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void ALoneSurrogateInTokenizerJsonIsATokenizerFormatError()
    {
        string path = Path.Combine(Path.GetTempPath(), "lone-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, """{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"\udc00x":3}}}""");
        try
        {
            var error = Assert.Throws<TokenizerFormatException>(() => PipelineTokenizer.FromTokenizerJson(path));
            Assert.Contains("lone surrogate", error.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ControlCharactersFromInputAreEscapedInErrors()
    {
        string path = "/nonexistent/\u001b[31mred\u001b[0m\rover\u202Eevil";
        var (code, _, error) = Run("rerank", "--model", path, "--query", "q", "a");
        Assert.Equal(1, code);
        Assert.DoesNotContain('\u001b', error);
        Assert.DoesNotContain('\r', error);
        Assert.DoesNotContain('\u202E', error);
        Assert.Contains("\\u001b[31mred", error);
        Assert.Contains("\\u202e", error);
    }

    [Fact]
    public void ArgumentErrorsCarryNoDotNetParameterNotes()
    {
        string message = CrossEncoder.Cli.Cli.WithoutParameterNote(new ArgumentOutOfRangeException("maxLength", 1, "maxLength must be at least 2."));
        Assert.Equal("maxLength must be at least 2.", message);
        Assert.Equal("bad value.", CrossEncoder.Cli.Cli.WithoutParameterNote(new ArgumentException("bad value.", "capacity")));
    }

    [Fact]
    public void TokenizeMaxLengthOneIsAUsageError()
    {
        var (code, _, error) = Run("tokenize", "--query", "hello", "--max-length", "1");
        Assert.Equal(2, code);
        Assert.Contains("--max-length", error);
    }
}
