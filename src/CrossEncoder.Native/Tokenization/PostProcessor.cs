namespace CrossEncoder.Native.Tokenization;

/// <summary>One item of a post-processing template: a special token's ids, or the place of sequence A (0) or B (1).</summary>
internal sealed record TemplatePiece(int Sequence, int[] SpecialIds, int TypeId)
{
    public bool IsSequence => Sequence >= 0;
    public static TemplatePiece Special(int id, int typeId) => new(-1, [id], typeId);
    public static TemplatePiece Special(int[] ids, int typeId) => new(-1, ids, typeId);
    public static TemplatePiece Of(int sequence, int typeId) => new(sequence, [], typeId);
}

/// <summary>
/// tokenizer.json's <c>post_processor</c> as templates for a single text and for a pair: BertProcessing
/// (<c>[CLS] A [SEP]</c> / <c>[CLS] A [SEP] B [SEP]</c>, B's part type 1), RobertaProcessing (<c>&lt;s&gt; A &lt;/s&gt;</c> /
/// <c>&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;</c>, every type id 0, as tokenizers' roberta.rs sets them), TemplateProcessing as
/// written, and none (<c>A</c> / <c>A B</c>, B type 1).
/// </summary>
internal sealed class PostProcessor(TemplatePiece[] single, TemplatePiece[] pair)
{
    public TemplatePiece[] Single { get; } = single;
    public TemplatePiece[] Pair { get; } = pair;

    /// <summary>Special tokens the template adds (tokenizers' <c>added_tokens(is_pair)</c>), subtracted before truncation.</summary>
    public int AddedTokens(bool isPair) => (isPair ? Pair : Single).Where(p => !p.IsSequence).Sum(p => p.SpecialIds.Length);

    public static PostProcessor None() => new([TemplatePiece.Of(0, 0)], [TemplatePiece.Of(0, 0), TemplatePiece.Of(1, 1)]);

    public static PostProcessor Bert(int cls, int sep) => new(
        [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0)],
        [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0), TemplatePiece.Of(1, 1), TemplatePiece.Special(sep, 1)]);

    public static PostProcessor Roberta(int cls, int sep) => new(
        [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0)],
        [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0), TemplatePiece.Special(sep, 0), TemplatePiece.Of(1, 0), TemplatePiece.Special(sep, 0)]);

    /// <summary>Fills the template with the (already truncated) sequences: input ids and type ids.</summary>
    public (int[] Ids, int[] TypeIds) Apply(ReadOnlySpan<int> a, ReadOnlySpan<int> b, bool isPair)
    {
        TemplatePiece[] template = isPair ? Pair : Single;
        int length = 0;
        foreach (TemplatePiece p in template) length += p.IsSequence ? (p.Sequence == 0 ? a.Length : b.Length) : p.SpecialIds.Length;
        var ids = new int[length];
        var types = new int[length];
        int at = 0;
        foreach (TemplatePiece piece in template)
        {
            ReadOnlySpan<int> part = piece.IsSequence ? (piece.Sequence == 0 ? a : b) : piece.SpecialIds;
            part.CopyTo(ids.AsSpan(at));
            types.AsSpan(at, part.Length).Fill(piece.TypeId);
            at += part.Length;
        }
        return (ids, types);
    }
}
