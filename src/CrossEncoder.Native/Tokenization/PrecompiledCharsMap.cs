using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// SentencePiece's compiled normalization rules (<c>precompiled_charsmap</c>: nmt_nfkc and friends), the <c>Precompiled</c>
/// normalizer of tokenizer.json and the <c>normalizer_spec</c> of a .model file.
/// </summary>
/// <remarks>
/// <para>Format (sentencepiece normalizer.cc; huggingface/spm_precompiled): a little-endian u32 byte length of the trie, the
/// trie as that many bytes of little-endian u32 units (a Darts-clone double array), then the replacement strings, UTF-8,
/// each ended by NUL. The trie maps UTF-8 byte strings (the source) to the offset of their replacement.</para>
/// <para>Darts-clone unit bits: label = bits 0-7 (and bit 31, so a leaf never matches a byte), has-leaf = bit 8, offset =
/// bits 10-30 shifted left by 8 more if bit 9 is set, value (on a leaf unit) = bits 0-30. A walk starts at node 0 moved by
/// its offset; each byte c moves to node ^ c, whose label must equal c; a node with the leaf bit has a value at
/// node ^ offset.</para>
/// <para>Two ways to apply it, because the two references differ:</para>
/// <list type="bullet">
/// <item><see cref="NormalizeLikeTokenizers"/> — Hugging Face tokenizers (normalizers/precompiled.rs): per extended grapheme
/// cluster shorter than 6 UTF-8 bytes, the replacement of the <em>shortest</em> rule matching a prefix of the cluster
/// replaces the whole cluster; otherwise character by character, each replaced by its shortest matching rule.</item>
/// <item><see cref="NormalizePrefix"/> — SentencePiece itself (normalizer.cc NormalizePrefix): the <em>longest</em> rule
/// matching at the current byte position, else one character copied.</item>
/// </list>
/// </remarks>
internal sealed class PrecompiledCharsMap
{
    private readonly uint[] _array;
    private readonly byte[] _normalized;

    public PrecompiledCharsMap(ReadOnlySpan<byte> blob, string source)
    {
        if (blob.Length < 4) throw new TokenizerFormatException(source, "the precompiled_charsmap is shorter than its 4-byte header.");
        uint trieBytes = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieBytes % 4 != 0 || trieBytes > blob.Length - 4 || trieBytes == 0)
            throw new TokenizerFormatException(source, $"the precompiled_charsmap's trie size {trieBytes} does not fit its {blob.Length} bytes.");
        _array = new uint[trieBytes / 4];
        for (int i = 0; i < _array.Length; i++) _array[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob[(4 + 4 * i)..]);
        _normalized = blob[(4 + (int)trieBytes)..].ToArray();
    }

    private static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;
    private static int Value(uint unit) => (int)(unit & 0x7FFFFFFF);
    private static uint Label(uint unit) => unit & 0x800000FF;
    private static int Offset(uint unit) => (int)((unit >> 10) << (int)((unit & (1u << 9)) >> 6));

    /// <summary>Walks <paramref name="key"/>: the (length, value) of the shortest or longest matching prefix; length 0 if none.</summary>
    private (int Length, int Value) Match(ReadOnlySpan<byte> key, bool longest)
    {
        (int, int) result = (0, 0);
        int node = 0;
        uint unit = _array[0];
        node ^= Offset(unit);
        for (int i = 0; i < key.Length; i++)
        {
            byte c = key[i];
            if (c == 0) break;
            node ^= c;
            if ((uint)node >= (uint)_array.Length) break;
            unit = _array[node];
            if (Label(unit) != c) break;
            node ^= Offset(unit);
            if (HasLeaf(unit))
            {
                if ((uint)node >= (uint)_array.Length) break;
                result = (i + 1, Value(_array[node]));
                if (!longest) return result;
            }
        }
        return result;
    }

    /// <summary>The replacement string starting at byte <paramref name="offset"/>, up to its NUL.</summary>
    private string ReplacementAt(int offset)
    {
        if ((uint)offset > (uint)_normalized.Length) return "";
        int end = Array.IndexOf(_normalized, (byte)0, offset);
        if (end < 0) end = _normalized.Length;
        return Encoding.UTF8.GetString(_normalized, offset, end - offset);
    }

    /// <summary>Hugging Face tokenizers' Precompiled normalizer (grapheme clusters, shortest rule).</summary>
    public string NormalizeLikeTokenizers(string text)
    {
        var output = new StringBuilder(text.Length);
        Span<byte> utf8 = stackalloc byte[64];
        int i = 0;
        while (i < text.Length)
        {
            int length = StringInfo.GetNextTextElementLength(text, i);
            ReadOnlySpan<char> grapheme = text.AsSpan(i, length);
            i += length;
            int bytes = Encoding.UTF8.GetByteCount(grapheme);
            if (bytes < 6)
            {
                Encoding.UTF8.GetBytes(grapheme, utf8);
                var (matched, value) = Match(utf8[..bytes], longest: false);
                if (matched > 0)
                {
                    output.Append(ReplacementAt(value));
                    continue;
                }
            }
            for (int j = 0; j < grapheme.Length;)
            {
                int charLength = char.IsHighSurrogate(grapheme[j]) && j + 1 < grapheme.Length && char.IsLowSurrogate(grapheme[j + 1]) ? 2 : 1;
                ReadOnlySpan<char> part = grapheme.Slice(j, charLength);
                j += charLength;
                int n = Encoding.UTF8.GetBytes(part, utf8);
                var (matched, value) = Match(utf8[..n], longest: false);
                if (matched > 0) output.Append(ReplacementAt(value));
                else output.Append(part);
            }
        }
        return output.ToString();
    }

    /// <summary>SentencePiece's rule at the start of <paramref name="utf8"/>: (bytes consumed, replacement), or (0, null) if none.</summary>
    public (int Consumed, string? Replacement) NormalizePrefix(ReadOnlySpan<byte> utf8)
    {
        var (matched, value) = Match(utf8, longest: true);
        return matched == 0 ? (0, null) : (matched, ReplacementAt(value));
    }
}

/// <summary>tokenizer.json's <c>Precompiled</c> normalizer.</summary>
internal sealed class PrecompiledNormalizer(PrecompiledCharsMap map) : TextNormalizer
{
    public override string Normalize(string text) => map.NormalizeLikeTokenizers(text);
}
