using System.Text.RegularExpressions;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// A regular expression from a tokenizer file (a <c>Split</c> pre-tokenizer's or a <c>Replace</c> normalizer's pattern), run
/// with a time limit: a pattern with catastrophic backtracking (<c>(a+)+$</c>) would otherwise pin a thread for hours on a
/// 41-character document. An invalid pattern fails at load and a runaway one at its first slow match, both as the project's
/// <see cref="TokenizerFormatException"/> naming the file and the pattern.
/// </summary>
internal sealed class TimedRegex
{
    /// <summary>The longest one match may take; Hugging Face's patterns take microseconds on any text.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    private readonly Regex _regex;
    private readonly string _path, _owner;

    public TimedRegex(string pattern, string path, string owner)
    {
        _path = path;
        _owner = owner;
        try { _regex = new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout); }
        catch (ArgumentException e) { throw new TokenizerFormatException(path, $"the {owner} pattern '{TokenIdRange.TextForMessage(pattern)}' is not a valid regular expression ({e.Message})."); }
    }

    /// <summary>Every match of the text, in order.</summary>
    public List<Match> Matches(string text)
    {
        try
        {
            var matches = new List<Match>();
            for (Match m = _regex.Match(text); m.Success; m = m.NextMatch()) matches.Add(m);
            return matches;
        }
        catch (RegexMatchTimeoutException) { throw TooSlow(text); }
    }

    /// <summary><see cref="Regex.Replace(string, string)"/> with the time limit.</summary>
    public string Replace(string text, string replacement)
    {
        try { return _regex.Replace(text, replacement); }
        catch (RegexMatchTimeoutException) { throw TooSlow(text); }
    }

    private TokenizerFormatException TooSlow(string text) => new(_path,
        $"the {_owner} pattern '{TokenIdRange.TextForMessage(_regex.ToString())}' took longer than {MatchTimeout.TotalSeconds:0.#} s on a {text.Length}-character text (catastrophic backtracking); this tokenizer cannot be used.");
}
