#!/usr/bin/env python3
"""Builds an XLM-RoBERTa-style tokenizer.json from a SentencePiece Unigram .model, the way transformers'
XLMRobertaConverter (convert_slow_tokenizer.py) lays it out for the Hub's XLM-R / bge-reranker tokenizer.json files:

- vocab: fairseq order <s>=0 <pad>=1 </s>=2 <unk>=3, then SentencePiece pieces 3.. (ids shifted by one), then <mask>;
  each with its SentencePiece score (0.0 for the specials); model Unigram with unk_id 3;
- normalizer: Sequence[Precompiled(the model's precompiled_charsmap), Replace(Regex " {2,}" -> " ")];
- pre_tokenizer: Metaspace("▁", prepend_scheme "always", split true);
- post_processor: RobertaProcessing(<s>, </s>);
- added tokens: the five specials, <mask> with lstrip (as in XLM-R).

The .model (a protobuf ModelProto) is parsed by hand here, independently of the C# reader: field 1 = pieces
{1 piece, 2 score (float), 3 type}, field 3 = normalizer_spec {2 precompiled_charsmap}. No protobuf package needed.

    python3 tools/sentencepiece/make_tokenizer_json.py unigram-ir.model unigram-ir.tokenizer.json
"""
import base64, json, struct, sys

def varint(b, i):
    shift = result = 0
    while True:
        c = b[i]; i += 1
        result |= (c & 0x7F) << shift
        if c < 0x80: return result, i
        shift += 7

def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        number, wire = key >> 3, key & 7
        if wire == 0: value, i = varint(b, i)
        elif wire == 1: value = b[i:i + 8]; i += 8
        elif wire == 2:
            n, i = varint(b, i); value = b[i:i + n]; i += n
        elif wire == 5: value = b[i:i + 4]; i += 4
        else: raise ValueError(f"wire type {wire}")
        yield number, wire, value

def main(model_path, out_path):
    data = open(model_path, "rb").read()
    pieces, charsmap = [], b""
    for number, _, value in fields(data):
        if number == 1:
            piece, score, kind = None, 0.0, 1
            for n, _, v in fields(value):
                if n == 1: piece = v.decode("utf-8")
                elif n == 2: score = struct.unpack("<f", v)[0]
                elif n == 3: kind = v
            pieces.append((piece, score, kind))
        elif number == 3:
            for n, _, v in fields(value):
                if n == 2: charsmap = v
    assert [p[0] for p in pieces[:3]] == ["<unk>", "<s>", "</s>"], pieces[:3]
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]] + [[p, s] for p, s, _ in pieces[3:]] + [["<mask>", 0.0]]
    mask_id = len(vocab) - 1
    def added(i, c, lstrip=False):
        return {"id": i, "content": c, "single_word": False, "lstrip": lstrip, "rstrip": False, "normalized": False, "special": True}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"), added(mask_id, "<mask>", lstrip=True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True, "add_prefix_space": True},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False},
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    print(f"{len(vocab)} tokens, charsmap {len(charsmap)} bytes -> {out_path}")

if __name__ == "__main__":
    main(*sys.argv[1:])
