using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>Unicode normalization forms NFC, NFD, NFKC, NFKD (placeholder until the tables land).</summary>
internal static class UnicodeNormalization
{
    public static string Normalize(string text, NormalizationForm form) =>
        throw new NotSupportedException($"Unicode normalization {form} is not implemented yet.");
}
