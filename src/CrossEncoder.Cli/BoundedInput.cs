using System.Globalization;
using System.Text;

namespace CrossEncoder.Cli;

/// <summary>
/// Reads text input (<c>--docs</c> files, stdin) with caps, so that <c>/dev/urandom</c> or a 1 GB file without a newline
/// ends in one <c>error:</c> line instead of filling memory: at most <see cref="MaxLineChars"/> characters per line and
/// <see cref="MaxTotalChars"/> in all.
/// </summary>
internal static class BoundedInput
{
    /// <summary>4 Mi characters: a document of some 600,000 words, far past what chunking is for.</summary>
    public const int MaxLineChars = 4 << 20;

    /// <summary>64 Mi characters of input in all.</summary>
    public const long MaxTotalChars = 64L << 20;

    /// <summary>The lines of <paramref name="reader"/> (split at \n, \r\n or \r, like <see cref="TextReader.ReadLine"/>).</summary>
    /// <param name="what">Names the input in errors, e.g. "--docs 'file.txt'".</param>
    public static IEnumerable<string> ReadLines(TextReader reader, string what, int maxLineChars = MaxLineChars, long maxTotalChars = MaxTotalChars)
    {
        var line = new StringBuilder();
        var buffer = new char[1 << 16];
        long total = 0;
        int lineNumber = 1;
        bool afterCarriageReturn = false;
        for (int read; (read = reader.Read(buffer, 0, buffer.Length)) > 0;)
        {
            total += read;
            if (total > maxTotalChars)
                throw new CliException(string.Create(CultureInfo.InvariantCulture, $"{what} holds more than {maxTotalChars / (1 << 20)} Mi characters; split the input."));
            for (int i = 0; i < read; i++)
            {
                char c = buffer[i];
                if (afterCarriageReturn && c == '\n') { afterCarriageReturn = false; continue; }
                afterCarriageReturn = c == '\r';
                if (c is '\n' or '\r')
                {
                    yield return line.ToString();
                    line.Clear();
                    lineNumber++;
                    continue;
                }
                if (line.Length == maxLineChars)
                    throw new CliException(string.Create(CultureInfo.InvariantCulture, $"{what}: line {lineNumber} is longer than {maxLineChars / (1 << 20)} Mi characters (one document per line)."));
                line.Append(c);
            }
        }
        if (line.Length > 0) yield return line.ToString();
    }

    /// <summary>The whole of <paramref name="reader"/> as one text of at most <paramref name="maxChars"/> characters.</summary>
    public static string ReadAll(TextReader reader, string what, int maxChars = MaxLineChars)
    {
        var text = new StringBuilder();
        var buffer = new char[1 << 16];
        for (int read; (read = reader.Read(buffer, 0, buffer.Length)) > 0;)
        {
            if (text.Length + read > maxChars)
                throw new CliException(string.Create(CultureInfo.InvariantCulture, $"{what} is longer than {maxChars / (1 << 20)} Mi characters."));
            text.Append(buffer, 0, read);
        }
        return text.ToString();
    }
}
