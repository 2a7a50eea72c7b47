using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>Which ids a SentencePiece model's pieces get.</summary>
public enum SentencePieceIds
{
    /// <summary>The .model file's own ids (what <c>spm_encode --output_format=id</c> prints); no special tokens added.</summary>
    SentencePiece,
    /// <summary>fairseq's dictionary, as XLM-RoBERTa uses its <c>sentencepiece.bpe.model</c>: <c>&lt;s&gt;</c>=0,
    /// <c>&lt;pad&gt;</c>=1, <c>&lt;/s&gt;</c>=2, <c>&lt;unk&gt;</c>=3, the model's pieces from its id 3 on shifted by one,
    /// <c>&lt;mask&gt;</c> last; pairs are <c>&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;</c>.</summary>
    Fairseq,
}

/// <summary>
/// Reads a SentencePiece <c>.model</c> file (a protobuf <c>ModelProto</c>) and applies SentencePiece's own normalizer, so a
/// model folder that ships <c>sentencepiece.bpe.model</c> but no tokenizer.json still tokenizes as the original does.
/// </summary>
/// <remarks>
/// <para>Wire format (protobuf; sentencepiece_model.proto): each field is a varint key (number &lt;&lt; 3 | wire type) then a
/// varint (type 0), 8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5). Fields read here:
/// ModelProto 1 = repeated SentencePiece {1 piece (string), 2 score (float), 3 type (NORMAL 1, UNKNOWN 2, CONTROL 3,
/// USER_DEFINED 4, UNUSED 5, BYTE 6; absent = NORMAL)}, 2 = TrainerSpec {3 model_type (UNIGRAM 1, BPE 2, WORD 3, CHAR 4),
/// 35 byte_fallback}, 3 = NormalizerSpec {2 precompiled_charsmap, 3 add_dummy_prefix, 4 remove_extra_whitespaces,
/// 5 escape_whitespaces; all three default true}. Everything else is skipped.</para>
/// <para>Encoding (sentencepiece normalizer.cc and unigram_model.cc): leading whitespace is dropped, "▁" is put in front
/// (add_dummy_prefix), each position is rewritten by the longest charsmap rule (else one character is copied), a run of
/// spaces collapses to one, spaces become "▁", trailing "▁" are dropped; then one Viterbi over the whole text with control
/// and unused pieces excluded, path scores summed in float, unknown characters scored (lowest normal score - 10).
/// Only Unigram models are supported (XLM-R's "bpe" file is a Unigram model despite its name). User-defined pieces are
/// matched by Viterbi with SentencePiece's score (bytes x highest score - 0.1) but not protected from normalization.</para>
/// </remarks>
public sealed partial class PipelineTokenizer
{
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>Loads a SentencePiece Unigram <c>.model</c> file.</summary>
    /// <param name="path">The .model file.</param>
    /// <param name="ids">The file's own ids, or fairseq's (XLM-RoBERTa).</param>
    /// <param name="modelMaxLength">The model's maximum input length, specials included.</param>
    /// <exception cref="TokenizerFormatException">The file is not a SentencePiece model, or not a Unigram one.</exception>
    public static PipelineTokenizer FromSentencePieceModel(string path, SentencePieceIds ids = SentencePieceIds.SentencePiece, int modelMaxLength = 512)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] data = File.ReadAllBytes(path);
        var pieces = new List<(string Piece, float Score, int Type)>();
        int modelType = 1;
        bool byteFallback = false, addDummyPrefix = true, removeExtraWhitespaces = true, escapeWhitespaces = true;
        byte[] charsmap = [];
        try
        {
            foreach (var (number, field) in Protobuf.Fields(data))
                switch (number)
                {
                    case 1:
                        string piece = ""; float score = 0; int type = Normal;
                        foreach (var (n, f) in Protobuf.Fields(field.Memory))
                            if (n == 1) piece = Encoding.UTF8.GetString(f.Bytes);
                            else if (n == 2) score = BitConverter.Int32BitsToSingle((int)f.Fixed);
                            else if (n == 3) type = (int)f.Varint;
                        pieces.Add((piece, score, type));
                        break;
                    case 2:
                        foreach (var (n, f) in Protobuf.Fields(field.Memory))
                            if (n == 3) modelType = (int)f.Varint;
                            else if (n == 35) byteFallback = f.Varint != 0;
                        break;
                    case 3:
                        foreach (var (n, f) in Protobuf.Fields(field.Memory))
                            if (n == 2) charsmap = f.Bytes.ToArray();
                            else if (n == 3) addDummyPrefix = f.Varint != 0;
                            else if (n == 4) removeExtraWhitespaces = f.Varint != 0;
                            else if (n == 5) escapeWhitespaces = f.Varint != 0;
                        break;
                }
        }
        catch (FormatException e)
        {
            throw new TokenizerFormatException(path, $"not a SentencePiece model: {e.Message}", e);
        }
        if (pieces.Count == 0) throw new TokenizerFormatException(path, "not a SentencePiece model: it has no pieces.");
        if (modelType != 1)
            throw new TokenizerFormatException(path, $"SentencePiece model_type {modelType} ({(modelType switch { 2 => "BPE", 3 => "WORD", 4 => "CHAR", _ => "unknown" })}) is not supported; only Unigram (1) is.");
        int unk = pieces.FindIndex(p => p.Type == Unknown);
        if (unk < 0) throw new TokenizerFormatException(path, "the SentencePiece model has no unknown piece.");

        float minScore = pieces.Where(p => p.Type == Normal).Select(p => p.Score).DefaultIfEmpty(0).Min();
        float maxScore = pieces.Where(p => p.Type == Normal).Select(p => p.Score).DefaultIfEmpty(0).Max();
        double ScoreOf((string Piece, float Score, int Type) p) => p.Type == UserDefined ? (float)(Encoding.UTF8.GetByteCount(p.Piece) * maxScore - 0.1f) : p.Score;
        bool Matchable(int type) => type is Normal or UserDefined;

        // The vocabulary in the requested id space.
        var vocabulary = new List<(string, double)>();
        var matchable = new List<bool>();
        var added = new List<AddedToken>();
        int unkId;
        PostProcessor post;
        if (ids == SentencePieceIds.Fairseq)
        {
            if (pieces.Count < 3 || unk != 0)
                throw new TokenizerFormatException(path, "fairseq ids need the SentencePiece layout <unk>=0, <s>=1, </s>=2.");
            foreach (string special in (string[])["<s>", "<pad>", "</s>", "<unk>"])
            {
                added.Add(new AddedToken(special, vocabulary.Count));
                vocabulary.Add((special, 0));
                matchable.Add(false);
            }
            for (int i = 3; i < pieces.Count; i++)
            {
                vocabulary.Add((pieces[i].Piece, ScoreOf(pieces[i])));
                matchable.Add(Matchable(pieces[i].Type));
            }
            added.Add(new AddedToken("<mask>", vocabulary.Count, LStrip: true));
            vocabulary.Add(("<mask>", 0));
            matchable.Add(false);
            unkId = 3;
            post = PostProcessor.Roberta(0, 2);
        }
        else
        {
            foreach (var p in pieces)
            {
                vocabulary.Add((p.Piece, ScoreOf(p)));
                matchable.Add(Matchable(p.Type));
            }
            unkId = unk;
            post = PostProcessor.None();
        }
        var unigram = new Unigram(vocabulary, unkId, byteFallback, id => matchable[id], unknownScore: minScore - 10f, singlePrecision: true);
        var normalizer = new SentencePieceNormalizer(charsmap.Length == 0 ? null : new PrecompiledCharsMap(charsmap, path),
            addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces);
        return new PipelineTokenizer(normalizer, preTokenizer: null, (word, result) => { unigram.Encode(word, result); return true; },
            vocabulary.Select((v, id) => KeyValuePair.Create(v.Item1, id)), added, post, modelMaxLength) { TraceWord = unigram.EncodeTraced };
    }

    /// <summary>A minimal protobuf reader: enough for ModelProto.</summary>
    private static class Protobuf
    {
        public readonly record struct Field(ulong Varint, ulong Fixed, ReadOnlyMemory<byte> Memory)
        {
            public ReadOnlySpan<byte> Bytes => Memory.Span;
        }

        public static IEnumerable<(int Number, Field Value)> Fields(ReadOnlyMemory<byte> data)
        {
            int i = 0;
            while (i < data.Length)
            {
                ulong key = Varint(data.Span, ref i);
                int number = (int)(key >> 3), wire = (int)(key & 7);
                if (number <= 0) throw new FormatException($"invalid field number at byte {i}");
                switch (wire)
                {
                    case 0: yield return (number, new Field(Varint(data.Span, ref i), 0, default)); break;
                    case 1:
                        if (i + 8 > data.Length) throw new FormatException("truncated 64-bit field");
                        yield return (number, new Field(0, BitConverter.ToUInt64(data.Span.Slice(i, 8)), default));
                        i += 8;
                        break;
                    case 2:
                        ulong length = Varint(data.Span, ref i);
                        if (length > (ulong)(data.Length - i)) throw new FormatException($"field {number} runs past the end of the data");
                        yield return (number, new Field(0, 0, data.Slice(i, (int)length)));
                        i += (int)length;
                        break;
                    case 5:
                        if (i + 4 > data.Length) throw new FormatException("truncated 32-bit field");
                        yield return (number, new Field(0, BitConverter.ToUInt32(data.Span.Slice(i, 4)), default));
                        i += 4;
                        break;
                    default: throw new FormatException($"unsupported wire type {wire} (field {number})");
                }
            }
        }

        private static ulong Varint(ReadOnlySpan<byte> data, ref int i)
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (i >= data.Length) throw new FormatException("truncated varint");
                byte b = data[i++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
            throw new FormatException("varint longer than 10 bytes");
        }
    }
}

/// <summary>SentencePiece's own normalizer (normalizer.cc Normalize), used for .model files; see <see cref="PipelineTokenizer.FromSentencePieceModel"/>.</summary>
internal sealed class SentencePieceNormalizer(PrecompiledCharsMap? map, bool addDummyPrefix, bool removeExtraWhitespaces, bool escapeWhitespaces) : TextNormalizer
{
    private static readonly byte[] SpaceSymbol = "\u2581"u8.ToArray();

    public override string Normalize(string text)
    {
        ReadOnlySpan<byte> input = Encoding.UTF8.GetBytes(text);
        var output = new List<byte>(input.Length + 8);

        // One rewrite at the start of the input: (bytes consumed, replacement bytes).
        (int, byte[]) Prefix(ReadOnlySpan<byte> rest)
        {
            if (map is not null)
            {
                var (consumed, replacement) = map.NormalizePrefix(rest);
                if (consumed > 0) return (consumed, Encoding.UTF8.GetBytes(replacement!));
            }
            // No rule: one UTF-8 character as is; a malformed byte becomes U+FFFD.
            if (Rune.DecodeFromUtf8(rest, out _, out int length) == System.Buffers.OperationStatus.Done)
                return (length, rest[..length].ToArray());
            return (1, "\uFFFD"u8.ToArray());
        }

        if (removeExtraWhitespaces)
            while (!input.IsEmpty)
            {
                var (consumed, replacement) = Prefix(input);
                if (!replacement.AsSpan().SequenceEqual(" "u8)) break;
                input = input[consumed..];
            }
        if (input.IsEmpty) return "";
        if (addDummyPrefix) output.AddRange(escapeWhitespaces ? SpaceSymbol : [(byte)' ']);
        bool previousIsSpace = removeExtraWhitespaces;
        while (!input.IsEmpty)
        {
            var (consumed, replacement) = Prefix(input);
            ReadOnlySpan<byte> piece = replacement;
            if (previousIsSpace) while (!piece.IsEmpty && piece[0] == (byte)' ') piece = piece[1..];
            if (!piece.IsEmpty)
            {
                foreach (byte b in piece)
                    if (escapeWhitespaces && b == (byte)' ') output.AddRange(SpaceSymbol);
                    else output.Add(b);
                previousIsSpace = piece[^1] == (byte)' ';
            }
            input = input[consumed..];
        }
        if (removeExtraWhitespaces)
        {
            byte[] space = escapeWhitespaces ? SpaceSymbol : [(byte)' '];
            while (output.Count >= space.Length && output.Skip(output.Count - space.Length).SequenceEqual(space)) output.RemoveRange(output.Count - space.Length, space.Length);
        }
        return Encoding.UTF8.GetString(output.ToArray());
    }
}
