#!/usr/bin/env python3
"""Runs spm_encode (Debian sentencepiece) on every single-line text of unigram-texts.json and stores the ids, so tests
compare against SentencePiece itself without needing the tool:

    python3 tools/sentencepiece/spm_reference.py model texts.json out.json

spm_encode reads one sentence per line, so texts containing a line break are skipped (the Tokenizers.DotNet comparison
covers them). The ids are raw SentencePiece ids (<unk>=0, <s>=1, </s>=2), with no <s>/</s> added.
"""
import json, subprocess, sys

def main(model, texts_path, out_path):
    texts = json.load(open(texts_path, encoding="utf-8"))["texts"]
    usable = [t for t in texts if "\n" not in t and "\r" not in t and "\x85" not in t and "\u2028" not in t and "\u2029" not in t]
    out = subprocess.run(["spm_encode", f"--model={model}", "--output_format=id"], input="\n".join(usable) + "\n",
                         capture_output=True, text=True, encoding="utf-8", check=True).stdout
    lines = out.split("\n")[:len(usable)]
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "sentencepiece"], capture_output=True, text=True).stdout
    cases = [{"text": t, "ids": [int(x) for x in l.split()]} for t, l in zip(usable, lines)]
    comment = f"spm_encode --output_format=id (Debian sentencepiece {version}) on unigram-ir.model; made by tools/sentencepiece/spm_reference.py."
    with open(out_path, "w", encoding="utf-8") as f:   # one case per line
        f.write("{\"comment\": " + json.dumps(comment) + ",\n\"cases\": [\n")
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print(f"{len(cases)} cases -> {out_path}")

if __name__ == "__main__":
    main(*sys.argv[1:])
