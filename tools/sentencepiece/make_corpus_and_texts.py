#!/usr/bin/env python3
"""Writes the training corpus for the small Unigram fixture model and the texts its reference ids are made for.

    python3 tools/sentencepiece/make_corpus_and_texts.py ../shared/ir /tmp/spm-corpus.txt tests/CrossEncoder.Native.Tests/Fixtures/tokenization/unigram-texts.json

Corpus: every document and query of the four IR collections in ../shared/ir (Cranfield, MEDLINE, CISI, NPL), one per line,
plus the multilingual test sentences of tools/reference-tokenizer/cases.json, so the model has some non-Latin pieces.
Texts: the cases.json singles, the queries and passages of tests/.../Fixtures/ir-sample.jsonl, and whitespace/normalization
edge cases. Deterministic.
"""
import json, re, sys
from pathlib import Path

here = Path(__file__).resolve().parent
repo = here.parent.parent

def smart(path, fields):
    docs, cur, field = {}, None, None
    for line in Path(path).read_text(encoding="latin-1").replace("\r\n", "\n").split("\n"):
        m = re.match(r"^\.I\s+(\d+)", line)
        if m:
            cur = int(m.group(1)); docs[cur] = {}; field = None; continue
        m = re.match(r"^\.([A-Z])\s*$", line)
        if m:
            field = m.group(1); continue
        if cur is not None and field in fields:
            docs[cur].setdefault(field, []).append(line.strip())
    return [re.sub(r"\s+", " ", " ".join(" ".join(v.get(f, [])) for f in fields)).strip() for v in docs.values()]

def npl(path):
    parts = Path(path).read_text(encoding="latin-1").split("/")
    return [re.sub(r"\s+", " ", re.sub(r"^\s*\d+", "", p)).strip() for p in parts]

def main(ir, corpus_path, texts_path):
    ir = Path(ir)
    cases = json.loads((repo / "tools/reference-tokenizer/cases.json").read_text(encoding="utf-8"))
    singles = [c["text"] for c in cases["singles"]]
    lines = []
    lines += smart(ir / "cranfield/cran.all.1400", ["T", "W"]) + smart(ir / "cranfield/cran.qry", ["W"])
    lines += smart(ir / "medline/MED.ALL", ["W"]) + smart(ir / "medline/MED.QRY", ["W"])
    lines += smart(ir / "cisi/CISI.ALL", ["T", "W"]) + smart(ir / "cisi/CISI.QRY", ["W"])
    lines += npl(ir / "npl/doc-text") + npl(ir / "npl/query-text")
    lines += [re.sub(r"\s+", " ", s).strip() for s in singles] * 20
    lines = [l for l in lines if l]
    Path(corpus_path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    texts = list(singles)
    seen = set()
    for row in (json.loads(l) for l in (repo / "tests/CrossEncoder.Native.Tests/Fixtures/ir-sample.jsonl").read_text(encoding="utf-8").splitlines()):
        for t in (row["query"], row["doc"][:600]):
            if t not in seen:
                seen.add(t); texts.append(t)
    texts += [
        "  leading and trailing spaces  ", "many     inner      spaces", "tabs\tand\u3000ideographic space", "",
        " ", "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 \uff41\uff53\uff43\uff49\uff49 \uff11\uff12\uff13",
        "ligatures \ufb01 \ufb02 \u2460\u2461 \u00bd \u2122 \u3392", "caf\u00e9 vs cafe\u0301 vs CAF\u00c9",
        "<s> literal specials </s> and <mask> and <unk>", "a<mask>b", "emoji \U0001F600 and \u200d joiners \u00ad soft hyphen",
        "Hangul \u1100\u1161 jamo and \uac00", "e\u0301\u0302\u0303 stacked marks", "x" * 80,
    ]
    Path(texts_path).write_text(json.dumps({"comment": "Inputs of the Unigram reference ids; made by tools/sentencepiece/make_corpus_and_texts.py.", "texts": texts}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(lines)} corpus lines -> {corpus_path}; {len(texts)} texts -> {texts_path}")

if __name__ == "__main__":
    main(*sys.argv[1:])
