using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// The Unigram language model (SentencePiece's default, used by XLM-RoBERTa): every piece has a log-probability score and a
/// word is split into the pieces whose scores sum highest, found by Viterbi over the word's characters.
/// </summary>
/// <remarks>
/// Follows tokenizers' <c>Unigram::encode_optimized</c> (models/unigram/model.rs, itself SentencePiece's EncodeOptimized):
/// positions advance one character at a time; at each, every vocabulary piece starting there (a trie walk, shortest first)
/// extends the best path ending at its end if it scores strictly higher; if no single-character piece starts there, the
/// character is an unknown piece scored <c>min_score - 10</c>. Backtracking from the end gives the pieces; consecutive unknown
/// pieces are fused into one (<c>fuse_unk</c>), which maps to the unknown id, or with <c>byte_fallback</c> to its UTF-8 bytes'
/// <c>&lt;0xXX&gt;</c> pieces.
/// <para>Ties between segmentations with the same pieces in another order are common (a run of one repeated character), and
/// which one wins depends on rounding, so the arithmetic copies each reference. tokenizers: f64 throughout (with scores read
/// by <see cref="SerdeJsonFloat"/>). SentencePiece (unigram_model.cc EncodeOptimized): the best path score is stored as a
/// float, a candidate is <c>score + best</c> evaluated in double (the piece score's expression is double because of the
/// user-defined branch), compared in double against the stored float, then rounded to float when stored; the unknown
/// candidate is a float sum.</para>
/// </remarks>
internal sealed class Unigram
{
    private const double UnknownPenalty = 10.0;

    private readonly Dictionary<string, int> _ids;                 // piece -> id (a repeated piece keeps its last id)
    private readonly double[] _scores;                            // [V]
    private readonly Trie _trie = new();
    private readonly int _unkId;
    private readonly double _unkScore;
    private readonly bool _byteFallback;
    private readonly bool _singlePrecision;

    /// <param name="vocabulary">Pieces by id, with their scores.</param>
    /// <param name="unkId">Id of the unknown piece.</param>
    /// <param name="byteFallback">Unknown text becomes its UTF-8 bytes' pieces when they exist.</param>
    /// <param name="matchable">Which ids Viterbi may use (all when null); SentencePiece keeps control and unused pieces out.</param>
    /// <param name="unknownScore">Score of an unknown character; default: the lowest score less 10.</param>
    /// <param name="singlePrecision">Keep path scores in float, as SentencePiece's EncodeOptimized does (tokenizers uses f64).</param>
    public Unigram(IReadOnlyList<(string Piece, double Score)> vocabulary, int unkId, bool byteFallback, Func<int, bool>? matchable = null,
        double? unknownScore = null, bool singlePrecision = false)
    {
        _singlePrecision = singlePrecision;
        _ids = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        _scores = new double[vocabulary.Count];
        double min = double.PositiveInfinity;
        for (int id = 0; id < vocabulary.Count; id++)
        {
            (string piece, double score) = vocabulary[id];
            _ids[piece] = id;
            _scores[id] = score;
            if (matchable is null || matchable(id)) _trie.Add(piece);
            min = Math.Min(min, score);
        }
        _unkId = unkId;
        _unkScore = unknownScore ?? min - UnknownPenalty;
        _byteFallback = byteFallback;
    }

    public int VocabularySize => _scores.Length;

    /// <summary>Appends the ids of <paramref name="word"/>'s best segmentation to <paramref name="ids"/>.</summary>
    public void Encode(string word, List<int> ids) => Encode(word, ids, null);

    /// <summary>Appends the tokens of <paramref name="word"/>'s best segmentation with the range of the word each covers
    /// (byte-fallback tokens each the whole unknown piece, as tokenizers' offsets give them).</summary>
    public void EncodeTraced(string word, List<WordToken> tokens)
    {
        var ids = new List<int>();
        Encode(word, ids, tokens);
    }

    private void Encode(string word, List<int> ids, List<WordToken>? tokens)
    {
        if (word.Length == 0) return;
        int n = word.Length;
        // best[e]: the best path over word[..e]: its score, where its last piece starts, and that piece's id.
        var bestScore = new double[n + 1];
        var bestStart = new int[n + 1];
        var bestId = new int[n + 1];
        Array.Fill(bestStart, -1);
        int start = 0;
        while (start < n)
        {
            double scoreHere = bestScore[start];
            int charLength = char.IsHighSurrogate(word[start]) && start + 1 < n && char.IsLowSurrogate(word[start + 1]) ? 2 : 1;
            bool hasSingleCharacterPiece = false;
            int node = 0;
            for (int end = start; end < n; end++)
            {
                node = _trie.Next(node, word[end]);
                if (node < 0) break;
                int id = _trie.PieceAt(node);
                if (id < 0) continue;
                id = _ids[_trie.Pieces[id]];
                double candidate = _scores[id] + scoreHere;   // double in both references (see the remarks)
                int e = end + 1;
                if (bestStart[e] < 0 || candidate > bestScore[e])
                {
                    bestScore[e] = Store(candidate);
                    bestStart[e] = start;
                    bestId[e] = id;
                }
                if (e - start == charLength) hasSingleCharacterPiece = true;
            }
            if (!hasSingleCharacterPiece)
            {
                int e = start + charLength;
                double candidate = _singlePrecision ? (float)_unkScore + (float)scoreHere : _unkScore + scoreHere;
                if (bestStart[e] < 0 || candidate > bestScore[e])
                {
                    bestScore[e] = Store(candidate);
                    bestStart[e] = start;
                    bestId[e] = _unkId;
                }
            }
            start += charLength;
        }

        // Backtrack, fusing runs of unknown pieces.
        var pieces = new List<(int Start, int End, int Id)>();
        for (int end = n; end > 0;)
        {
            int s = bestStart[end], id = bestId[end];
            if (id == _unkId && pieces.Count > 0 && pieces[^1].Id == _unkId) pieces[^1] = (s, pieces[^1].End, _unkId);
            else pieces.Add((s, end, id));
            end = s;
        }
        for (int i = pieces.Count - 1; i >= 0; i--)
        {
            var (s, e, id) = pieces[i];
            int before = ids.Count;
            if (!(id == _unkId && _byteFallback && AppendBytes(word[s..e], ids))) ids.Add(id);
            if (tokens is not null) for (int k = before; k < ids.Count; k++) tokens.Add(new WordToken(ids[k], s, e));
        }
    }

    private double Store(double pathScore) => _singlePrecision ? (float)pathScore : pathScore;

    /// <summary>Byte fallback: the <c>&lt;0xXX&gt;</c> piece of every UTF-8 byte, if all exist.</summary>
    private bool AppendBytes(string text, List<int> ids)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var found = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            if (!_ids.TryGetValue($"<0x{bytes[i]:X2}>", out found[i])) return false;
        ids.AddRange(found);
        return true;
    }

    /// <summary>A character trie over the vocabulary: node 0 is the root; children in one dictionary keyed by (node, char).</summary>
    private sealed class Trie
    {
        private readonly Dictionary<(int, char), int> _children = new();
        private readonly List<int> _pieceAt = [-1];   // node -> index into Pieces, or -1
        public List<string> Pieces { get; } = [];

        public void Add(string piece)
        {
            if (piece.Length == 0) return;
            int node = 0;
            foreach (char c in piece)
            {
                if (!_children.TryGetValue((node, c), out int child))
                {
                    child = _pieceAt.Count;
                    _pieceAt.Add(-1);
                    _children[(node, c)] = child;
                }
                node = child;
            }
            if (_pieceAt[node] < 0)
            {
                _pieceAt[node] = Pieces.Count;
                Pieces.Add(piece);
            }
        }

        public int Next(int node, char c) => _children.TryGetValue((node, c), out int child) ? child : -1;

        public int PieceAt(int node) => _pieceAt[node];
    }
}
