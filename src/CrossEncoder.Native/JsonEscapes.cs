using System.Text.Json;

namespace CrossEncoder.Native;

/// <summary>
/// System.Text.Json accepts a <c>\ud800</c> escape without its pair while parsing and throws
/// <see cref="InvalidOperationException"/> only when the string is read, deep in a loader; serde_json (what Hugging Face's
/// Rust tokenizers and safetensors use) rejects such a file outright. Loaders scan the raw bytes first and report the file
/// as malformed, with the byte offset.
/// </summary>
internal static class JsonEscapes
{
    /// <summary>The byte offset of the first <c>\uXXXX</c> escape that is a lone surrogate, or -1.</summary>
    public static long FindLoneSurrogate(ReadOnlySpan<byte> json)
    {
        bool pendingHigh = false;   // the previous escape was a high surrogate that the next one must complete
        long pendingAt = -1;
        for (int i = 0; i < json.Length; i++)
        {
            if (json[i] != (byte)'\\') { if (pendingHigh) return pendingAt; continue; }
            if (i + 1 >= json.Length) break;
            if (json[i + 1] != (byte)'u' || i + 5 >= json.Length || !TryHex(json.Slice(i + 2, 4), out int unit))
            {
                if (pendingHigh) return pendingAt;
                i++;                // an escape such as \\ or \": its second byte is not the start of another escape
                continue;
            }
            bool high = unit is >= 0xD800 and <= 0xDBFF, low = unit is >= 0xDC00 and <= 0xDFFF;
            if (pendingHigh && !low) return pendingAt;
            if (!pendingHigh && low) return i;
            pendingHigh = high && !pendingHigh;
            if (pendingHigh) pendingAt = i;
            i += 5;
        }
        return pendingHigh ? pendingAt : -1;
    }

    /// <summary><see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/>, with a lone surrogate escape
    /// reported as the <see cref="JsonException"/> every loader already turns into its typed format error.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> json, JsonDocumentOptions options = default)
    {
        if (FindLoneSurrogate(json.Span) is var at and >= 0)
            throw new JsonException($"byte {at}: a \\u escape is a lone surrogate (half of a UTF-16 pair), which is not valid Unicode text.");
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
            throw new JsonException($"byte {FirstInvalidUtf8(json.Span)}: not valid UTF-8 (JSON text must be UTF-8).");
        return JsonDocument.Parse(json, options);
    }

    /// <inheritdoc cref="Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/>
    public static JsonDocument Parse(string json, JsonDocumentOptions options = default) => Parse(System.Text.Encoding.UTF8.GetBytes(json), options);

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        for (int at = 0; at < bytes.Length;)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes[at..], out _, out int consumed) != System.Buffers.OperationStatus.Done) return at;
            at += consumed;
        }
        return -1;
    }

    private static bool TryHex(ReadOnlySpan<byte> digits, out int value)
    {
        value = 0;
        foreach (byte b in digits)
        {
            int d = b is >= (byte)'0' and <= (byte)'9' ? b - '0' : b is >= (byte)'a' and <= (byte)'f' ? b - 'a' + 10 : b is >= (byte)'A' and <= (byte)'F' ? b - 'A' + 10 : -1;
            if (d < 0) return false;
            value = value * 16 + d;
        }
        return true;
    }
}
