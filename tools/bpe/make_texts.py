#!/usr/bin/env python3
"""Writes the inputs of the byte-level BPE reference ids (tests/.../Fixtures/tokenization/bpe-texts.json).

    python3 tools/bpe/make_texts.py ../shared/ir tests/CrossEncoder.Native.Tests/Fixtures/tokenization/bpe-texts.json

Texts: the singles of tools/reference-tokenizer/cases.json (accents, CJK, emoji, control characters, special-token
literals), the queries and passages of tests/.../Fixtures/ir-sample.jsonl, more IR queries and documents from every
collection in ../shared/ir (Cranfield, MEDLINE, CISI, NPL; the first lines verbatim, so the originals' line breaks and
indentation stay), and byte-level edge cases: whitespace runs (which ModernBERT has as added tokens), tabs and newlines,
contractions, astral letters and digits, very long words, ModernBERT's own added-token literals. Deterministic.
"""
import json, re, sys
from pathlib import Path

here = Path(__file__).resolve().parent
repo = here.parent.parent

def smart_raw(path, fields):
    """SMART tagged text -> list of the wanted fields' raw lines joined by newlines (original layout kept)."""
    docs, cur, field = [], None, None
    for line in Path(path).read_text(encoding="latin-1").replace("\r\n", "\n").split("\n"):
        if re.match(r"^\.I\s+(\d+)", line):
            cur = {}; docs.append(cur); field = None; continue
        m = re.match(r"^\.([A-Z])\s*$", line)
        if m:
            field = m.group(1); continue
        if cur is not None and field in fields:
            cur.setdefault(field, []).append(line)
    return ["\n".join("\n".join(d.get(f, [])) for f in fields if f in d).strip("\n") for d in docs]

def npl(path):
    return [p.strip("\n") for p in Path(path).read_text(encoding="latin-1").split("/") if p.strip()]

def main(ir, texts_path):
    ir = Path(ir)
    cases = json.loads((repo / "tools/reference-tokenizer/cases.json").read_text(encoding="utf-8"))
    texts, seen = [], set()
    def add(t):
        if t not in seen:
            seen.add(t); texts.append(t)
    for c in cases["singles"]: add(c["text"])
    for row in (json.loads(l) for l in (repo / "tests/CrossEncoder.Native.Tests/Fixtures/ir-sample.jsonl").read_text(encoding="utf-8").splitlines()):
        add(row["query"]); add(row["doc"][:1500])
    # Raw IR text, layout kept: every 37th document and every 5th query of each collection.
    for docs, queries in [
        (smart_raw(ir / "cranfield/cran.all.1400", ["T", "A", "B", "W"]), smart_raw(ir / "cranfield/cran.qry", ["W"])),
        (smart_raw(ir / "medline/MED.ALL", ["W"]), smart_raw(ir / "medline/MED.QRY", ["W"])),
        (smart_raw(ir / "cisi/CISI.ALL", ["T", "A", "W", "X"]), smart_raw(ir / "cisi/CISI.QRY", ["W"])),
        (npl(ir / "npl/doc-text"), npl(ir / "npl/query-text")),
    ]:
        for d in docs[::37][:12]: add(d[:2000])
        for q in queries[::5][:8]: add(q)
    for t in [
        "  leading and trailing spaces  ", "many     inner      spaces", "a  b   c    d" + " " * 30 + "e", " " * 24, " " * 25, " " * 60,
        "tabs\tand\t\ttabs\t", "new\nlines\n\n\nand\r\nCRLF\r\n", "mixed \t \n \r\n  \t  end", "\n\nleading newlines", "trailing newlines\n\n",
        "space then newline \n word", "tab\tthen word", "  \u00a0 nbsp runs \u00a0\u00a0 and \u2003em\u2003\u2003", "\u3000ideographic\u3000\u3000space",
        "\u2028line\u2029para\u0085nel\u001cfs\u001dgs\u001eRS\u001fus", "x\u000by\u000cz",
        "don't DON'T it's IT'S I'm we're you've they'll he'd 's 't 're 've 'm 'll 'd", "rock'n'roll o'clock ''quoted'' '''s",
        "can\u2019t won\u2019t (curly apostrophes)", "'s's's'sss", " 's", "'S 'T 'RE",
        "\U0001d400\U0001d401\U0001d402 math letters \U0001d7ce\U0001d7cf math digits", "\U00020000\U00020001 CJK extension B \U0002a6d6",
        "\U0001f600\U0001f601\U0001f602\U0001f923", "\U0001f44d\U0001f3fd\U0001f44d\U0001f3ff", "\U0001f3f3\ufe0f\u200d\U0001f308 flag",
        "\u4e2d\u6587\u6d4b\u8bd5\u3002\u65e5\u672c\u8a9e\u3068\u4e2d\u6587\u3002\ud55c\uad6d\uc5b4", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea \u0939\u093f\u0928\u094d\u0926\u0940",
        "cafe\u0301 vs caf\u00e9 (NFC joins them)", "A\u030a \u212b \u00c5 angstrom forms", "\u1e9b\u0323 \u0071\u0307\u0323 marks",
        "123 4567 89012 1234567890123 3.14159 1,000,000 \u0661\u0662\u0663 \u2460\u2461 \u00bd",
        "supercalifragilisticexpialidocious" * 6, "x" * 300, "ab" * 400, "\u00e9" * 200, "\U0001f600" * 120,
        "Pneumonoultramicroscopicsilicovolcanoconiosis and antidisestablishmentarianism",
        "https://example.com/a/b?c=d&e=f#g user@example.org C:\\path\\to\\file.txt",
        "def f(x):\n    return x ** 2  # comment\n\tif x: pass", "{\"json\": [1, 2, {\"k\": null}]}",
        "[CLS] [SEP] [MASK] [PAD] [UNK] <|endoftext|> <|padding|>", "before [MASK] after", "x[MASK]y", "text  [MASK]  spaced",
        "|||IP_ADDRESS||| |||EMAIL_ADDRESS||| |||PHONE_NUMBER|||", "[unused0] [unused1] [unused99]",
        "!!!??? ... --- *** ___ ### $$$ %%% ^^^", "a-b_c.d,e;f:g!h?i", "\u00ff\u00fe\u0100 \u0080\u0081 control-ish",
        "\ufffd replacement \ufeff bom \u200b zwsp", "\U000e0041 tag char \U0010ffff last plane",
    ]:
        add(t)
    Path(texts_path).write_text(json.dumps({"comment": "Inputs of the byte-level BPE reference ids; made by tools/bpe/make_texts.py.", "texts": texts},
                                           ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(texts)} texts -> {texts_path}")

if __name__ == "__main__":
    main(*sys.argv[1:])
