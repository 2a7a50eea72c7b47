using System.Collections.Concurrent;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// The BPE model (byte-pair encoding, as in GPT-2, RoBERTa, ModernBERT, Qwen): a word starts as one symbol per character and
/// the adjacent pair with the best (lowest) merge rank is merged, again and again, until no adjacent pair has a merge; the
/// symbols left are the word's tokens. "Ġlower" with merges "Ġ l", "o w", "Ġl ow", "e r" becomes "Ġlow", "er".
/// </summary>
/// <remarks>
/// <para>A port of tokenizers' models/bpe (model.rs <c>merge_word</c>, word.rs <c>merge_all</c>):</para>
/// <list type="bullet">
/// <item>Each character (Unicode scalar value) is looked up alone, with <c>continuing_subword_prefix</c> in front of every
/// character but the first and <c>end_of_word_suffix</c> after the last. A character that is not in the vocabulary becomes its
/// UTF-8 bytes' <c>&lt;0xNN&gt;</c> tokens with <c>byte_fallback</c> (when all of them exist), else the unknown token (runs of
/// them fused into one with <c>fuse_unk</c>), else nothing: without <c>unk_token</c> tokenizers drops it silently.</item>
/// <item>Merges are between symbol ids: merge i (0-based, its rank) joins the ids of its two parts into the id of their
/// concatenation (the right part's continuing prefix removed). Among all adjacent pairs that have a merge, the lowest rank goes
/// first and, on a tie, the leftmost; a merge can create new pairs with both neighbours. tokenizers does this with a binary
/// heap of (rank, position) and skips entries made stale by an earlier merge; so does <see cref="MergeAll"/>.</item>
/// <item><c>ignore_merges</c>: a word that is itself in the vocabulary is that one token, before any merging.</item>
/// <item>Words are cached (tokenizers' 10,000-word cache of words under 256 bytes); the cache never changes a result.</item>
/// </list>
/// <para>BPE dropout (random skipping of merges during training) is not supported: the loader refuses a non-zero
/// <c>dropout</c>, because the ids would not be reproducible.</para>
/// </remarks>
internal sealed class BytePairEncoding
{
    /// <summary>Words kept in the cache at most (tokenizers' <c>DEFAULT_CACHE_CAPACITY</c>).</summary>
    public const int CacheCapacity = 10_000;

    /// <summary>Only words shorter than this (UTF-16 units here, bytes in tokenizers) are cached.</summary>
    public const int MaxCachedWordLength = 256;

    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabulary;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;   // key: (left id << 32) | right id
    private readonly int[] _byteIds;                                   // [256] id of <0xNN>, or -1
    private readonly int _unkId;                                       // -1: no unk_token
    private readonly string? _missingUnkToken;                         // unk_token given but not in the vocabulary
    private readonly bool _fuseUnk, _byteFallback, _ignoreMerges;
    private readonly string? _continuingSubwordPrefix, _endOfWordSuffix;
    private readonly ConcurrentDictionary<string, Token[]> _cache = new(StringComparer.Ordinal);
    private int _cached;   // entries in _cache (ConcurrentDictionary.Count would take every lock)

    /// <param name="vocabulary">token -> id.</param>
    /// <param name="merges">The merges in rank order (rank = index); a pair listed twice keeps its last rank, as tokenizers' map does.</param>
    /// <param name="unkToken">The unknown token, or null to drop unknown characters.</param>
    /// <param name="fuseUnk">Fuse consecutive unknown characters into one unknown token.</param>
    /// <param name="byteFallback">Unknown characters become their bytes' <c>&lt;0xNN&gt;</c> tokens when those exist.</param>
    /// <param name="ignoreMerges">A word found whole in the vocabulary is not merged.</param>
    /// <param name="continuingSubwordPrefix">Put before every character but a word's first (e.g. "##"), or null.</param>
    /// <param name="endOfWordSuffix">Put after a word's last character (e.g. "&lt;/w&gt;"), or null.</param>
    /// <exception cref="ArgumentException">A merge's part or result is not in the vocabulary (message names it).</exception>
    public BytePairEncoding(IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<(string Left, string Right)> merges, string? unkToken = null,
        bool fuseUnk = false, bool byteFallback = false, bool ignoreMerges = false, string? continuingSubwordPrefix = null, string? endOfWordSuffix = null)
        : this(new Dictionary<string, int>(vocabulary, StringComparer.Ordinal), merges, unkToken, fuseUnk, byteFallback, ignoreMerges, continuingSubwordPrefix, endOfWordSuffix)
    {
    }

    /// <summary>A plain byte-level BPE (no unknown token, byte fallback, prefix or suffix; GPT-2, Qwen) whose merges the caller
    /// already resolved to ids, checking them against the vocabulary (merges.txt readers, which report a bad merge by its line).</summary>
    /// <param name="vocabulary">token -> id, with the ordinal comparer; used as is (no copy), so the caller must not change it.</param>
    /// <param name="merges">The merges in rank order: the ids of the two parts and of their concatenation.</param>
    public BytePairEncoding(Dictionary<string, int> vocabulary, IReadOnlyList<(int Left, int Right, int Merged)> merges)
        : this(vocabulary, MergeTable(merges), null, false, false, false, null, null)
    {
        if (!ReferenceEquals(vocabulary.Comparer, StringComparer.Ordinal)) throw new ArgumentException("The vocabulary must use the ordinal comparer.", nameof(vocabulary));
    }

    private BytePairEncoding(Dictionary<string, int> lookup, IReadOnlyList<(string Left, string Right)> merges, string? unkToken,
        bool fuseUnk, bool byteFallback, bool ignoreMerges, string? continuingSubwordPrefix, string? endOfWordSuffix)
        : this(lookup, MergeTable(lookup, merges, continuingSubwordPrefix?.Length ?? 0), unkToken, fuseUnk, byteFallback, ignoreMerges, continuingSubwordPrefix, endOfWordSuffix)
    {
    }

    private BytePairEncoding(Dictionary<string, int> lookup, Dictionary<long, (int Rank, int NewId)> merges, string? unkToken,
        bool fuseUnk, bool byteFallback, bool ignoreMerges, string? continuingSubwordPrefix, string? endOfWordSuffix)
    {
        _vocabulary = lookup.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++) _byteIds[b] = lookup.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        _unkId = -1;
        if (unkToken is not null)
        {
            if (lookup.TryGetValue(unkToken, out int unkId)) _unkId = unkId;
            else _missingUnkToken = unkToken;   // tokenizers fails only when an unknown character needs it
        }
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _continuingSubwordPrefix = continuingSubwordPrefix;
        _endOfWordSuffix = endOfWordSuffix;
    }

    /// <summary>(left id, right id) -> (rank, id of the merged symbol), the parts looked up in the vocabulary.</summary>
    private static Dictionary<long, (int, int)> MergeTable(Dictionary<string, int> lookup, IReadOnlyList<(string Left, string Right)> merges, int prefixLength)
    {
        var table = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            int leftId = lookup.TryGetValue(left, out int l) ? l : throw new ArgumentException($"merge {rank + 1} ('{left} {right}'): '{left}' is not in the vocabulary.");
            int rightId = lookup.TryGetValue(right, out int r) ? r : throw new ArgumentException($"merge {rank + 1} ('{left} {right}'): '{right}' is not in the vocabulary.");
            if (right.Length < prefixLength) throw new ArgumentException($"merge {rank + 1} ('{left} {right}'): '{right}' is shorter than the continuing prefix.");
            string merged = left + right[prefixLength..];
            int newId = lookup.TryGetValue(merged, out int m) ? m : throw new ArgumentException($"merge {rank + 1} ('{left} {right}'): the result '{merged}' is not in the vocabulary.");
            table[Key(leftId, rightId)] = (rank, newId);
        }
        return table;
    }

    private static Dictionary<long, (int, int)> MergeTable(IReadOnlyList<(int Left, int Right, int Merged)> merges)
    {
        var table = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++) table[Key(merges[rank].Left, merges[rank].Right)] = (rank, merges[rank].Merged);
        return table;
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>A token of a word: its id and the UTF-16 range [Start, End) of the word it covers. A byte-fallback token
    /// covers its whole character, as tokenizers' offsets do after converting bytes to characters.</summary>
    public readonly record struct Token(int Id, int Start, int End);

    /// <summary>Appends the token ids of one pre-tokenized word.</summary>
    public void Encode(string word, List<int> ids)
    {
        foreach (Token token in Tokenize(word)) ids.Add(token.Id);
    }

    /// <summary>The tokens of one pre-tokenized word, with the ranges of the word they cover. The array may be the cached
    /// one: callers read it and never write to it.</summary>
    public Token[] Tokenize(string word)
    {
        if (word.Length == 0) return [];
        if (_ignoreMerges && _vocabulary.TryGetValue(word, out int whole)) return [new Token(whole, 0, word.Length)];
        if (_cache.TryGetValue(word, out Token[]? cached)) return cached;
        Token[] tokens = MergeAll(InitialSymbols(word));
        if (word.Length < MaxCachedWordLength && Volatile.Read(ref _cached) < CacheCapacity && _cache.TryAdd(word, tokens))
            Interlocked.Increment(ref _cached);
        return tokens;
    }

    /// <summary>tokenizers' <c>merge_word</c> before merging: one symbol per character (or per byte, or unknown).</summary>
    private List<Token> InitialSymbols(string word)
    {
        var symbols = new List<Token>(word.Length);
        Token? pendingUnk = null;   // tokenizers' `unk`: an unknown token not yet added (so fuse_unk can extend it)
        for (int i = 0; i < word.Length;)
        {
            Rune.DecodeFromUtf16(word.AsSpan(i), out Rune rune, out int used);
            int start = i;
            bool isFirst = i == 0, isLast = i + used == word.Length;
            ReadOnlySpan<char> character = word.AsSpan(i, used);
            i += used;
            string? decorated = null;   // the character with prefix / suffix, when either applies
            if (!isFirst && _continuingSubwordPrefix is not null) decorated = _continuingSubwordPrefix + character.ToString();
            if (isLast && _endOfWordSuffix is not null) decorated = (decorated ?? character.ToString()) + _endOfWordSuffix;

            if (decorated is null ? _vocabulary.TryGetValue(character, out int id) : _vocabulary.TryGetValue(decorated, out id))
            {
                if (pendingUnk is { } unk) { symbols.Add(unk); pendingUnk = null; }
                symbols.Add(new Token(id, start, i));
                continue;
            }
            if (_byteFallback && AppendBytes(decorated ?? character.ToString(), start, i, symbols)) continue;   // a pending unk stays pending, as in tokenizers
            if (_unkId < 0 && _missingUnkToken is null) continue;   // no unk_token: the character is dropped
            if (_missingUnkToken is not null)
                throw new InvalidOperationException($"The BPE unknown token '{_missingUnkToken}' is not in the vocabulary, and '{rune}' needs it.");
            if (pendingUnk is { } previous && _fuseUnk) { pendingUnk = previous with { End = i }; continue; }
            if (pendingUnk is { } notFused) symbols.Add(notFused);
            pendingUnk = new Token(_unkId, start, i);
        }
        if (pendingUnk is { } last) symbols.Add(last);
        return symbols;
    }

    /// <summary>Byte fallback: the <c>&lt;0xNN&gt;</c> token of every UTF-8 byte of <paramref name="text"/>, if all exist.</summary>
    private bool AppendBytes(string text, int start, int end, List<Token> symbols)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        foreach (byte b in bytes) if (_byteIds[b] < 0) return false;
        foreach (byte b in bytes) symbols.Add(new Token(_byteIds[b], start, end));
        return true;
    }

    /// <summary>
    /// tokenizers' <c>Word::merge_all</c>: symbols form a doubly linked list; a priority queue holds candidate merges ordered by
    /// (rank, position); a popped entry is skipped if its left symbol was absorbed, has no right neighbour, or the pair there
    /// no longer merges into the entry's id (it changed since the entry was queued).
    /// </summary>
    private Token[] MergeAll(List<Token> initial)
    {
        int n = initial.Count;
        if (n < 2) return initial.ToArray();
        int[] id = initial.Select(t => t.Id).ToArray(), end = initial.Select(t => t.End).ToArray(), prev = new int[n], next = new int[n];
        bool[] removed = new bool[n];
        for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }

        var queue = new PriorityQueue<(int Position, int NewId), (int Rank, int Position)>();
        for (int i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue(Key(id[i], id[i + 1]), out var m)) queue.Enqueue((i, m.NewId), (m.Rank, i));

        while (queue.TryDequeue(out var top, out _))
        {
            int at = top.Position;
            if (removed[at] || next[at] < 0) continue;
            int right = next[at];
            if (!_merges.TryGetValue(Key(id[at], id[right]), out var current) || current.NewId != top.NewId) continue;   // stale

            // Merge the right symbol into this one.
            id[at] = top.NewId;
            end[at] = end[right];
            removed[right] = true;
            next[at] = next[right];
            if (next[right] >= 0) prev[next[right]] = at;

            // New candidate pairs with both neighbours.
            if (prev[at] >= 0 && _merges.TryGetValue(Key(id[prev[at]], id[at]), out var withPrevious))
                queue.Enqueue((prev[at], withPrevious.NewId), (withPrevious.Rank, prev[at]));
            if (next[at] >= 0 && _merges.TryGetValue(Key(id[at], id[next[at]]), out var withNext))
                queue.Enqueue((at, withNext.NewId), (withNext.Rank, at));
        }

        var result = new List<Token>(n);
        for (int i = 0; i < n; i++) if (!removed[i]) result.Add(new Token(id[i], initial[i].Start, end[i]));
        return result.ToArray();
    }
}
