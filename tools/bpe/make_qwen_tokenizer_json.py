#!/usr/bin/env python3
"""Builds the tokenizer.json that Hugging Face's Qwen2TokenizerFast makes from a Qwen2/Qwen3 model folder's vocab.json,
merges.txt and tokenizer_config.json, for the oracle (Hugging Face's Rust tokenizers) to run on.

    python3 tools/bpe/make_qwen_tokenizer_json.py ../shared/models/Qwen--Qwen3-Reranker-0.6B /tmp/qwen3.tokenizer.json

Qwen's own tokenizer.json (11 MB) is not in ../shared/models, so this rebuilds it the way transformers does when a folder
has only the slow files. Read from huggingface/transformers:

* src/transformers/convert_slow_tokenizer.py, class Qwen2Converter (commit 6619c4b1): BPE(vocab, merges, dropout None,
  unk_token None, continuing_subword_prefix "", end_of_word_suffix "", fuse_unk False, byte_fallback False); normalizer
  NFC; pre_tokenizer Sequence[Split(Regex PRETOKENIZE_REGEX, behavior isolated, invert False),
  ByteLevel(add_prefix_space False, use_regex False)]; decoder ByteLevel; post_processor ByteLevel(trim_offsets False).
* src/transformers/models/qwen2/tokenization_qwen2.py (commit 168c83fa): PRETOKENIZE_REGEX, vocab.json read with
  json.load, merges.txt read line by line. Since huggingface/transformers#29929 only a first line starting with
  "#version:" and empty lines are skipped: Qwen's merges.txt has 96 merges whose first part starts with '#' ("# #",
  "# include"), which the older slow tokenizer dropped. 256 byte symbols + 151,387 merges = 151,643 vocab.json entries.
* The added tokens are tokenizer_config.json's added_tokens_decoder, in id order, with their own flags (Qwen's are all
  normalized false, lstrip/rstrip/single_word false; `special` differs: <think> and <tool_call> are not special).

The layout is tokenizers' own (serde_json's pretty printer: field order of its serializers, 2-space indent, vocabulary in
id order, merges as ["a", "b"] pairs as tokenizers 0.20 and later write them, no final newline). For Qwen3-Reranker-0.6B
the output is byte-identical to the real tokenizer.json of Qwen/Qwen3-Reranker-0.6B (and Qwen/Qwen3-0.6B): 11,422,654
bytes, sha256 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4 as pinned in ../shared/models/SOURCES.md.
That pins every field above, including trim_offsets/add_prefix_space/use_regex false on all three ByteLevel steps and
ignore_merges false. Deterministic.
"""
import hashlib
import json
import sys
from pathlib import Path

# tokenization_qwen2.py's PRETOKENIZE_REGEX, verbatim.
PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def read_merges(path):
    """merges.txt as Qwen2Tokenizer reads it (after transformers#29929): the "#version" header and empty lines skipped."""
    merges = []
    for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
        line = line.strip()
        if (i == 0 and line.startswith("#version:")) or not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise SystemExit(f"{path}:{i + 1}: not two symbols: {line!r}")
        merges.append(parts)
    return merges


def byte_level(add_prefix_space):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": False, "use_regex": False}


def main(folder, out_path):
    folder = Path(folder)
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    vocab = dict(sorted(vocab.items(), key=lambda kv: kv[1]))   # tokenizers writes the vocabulary in id order
    merges = read_merges(folder / "merges.txt")
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    if config.get("tokenizer_class") not in ("Qwen2Tokenizer", "Qwen2TokenizerFast"):
        raise SystemExit(f"tokenizer_class is {config.get('tokenizer_class')!r}, not Qwen2Tokenizer")
    add_prefix_space = bool(config.get("add_prefix_space", False))

    added = []
    for key, token in sorted(config.get("added_tokens_decoder", {}).items(), key=lambda kv: int(kv[0])):
        added.append({
            "id": int(key),
            "content": token["content"],
            "single_word": token.get("single_word", False),
            "lstrip": token.get("lstrip", False),
            "rstrip": token.get("rstrip", False),
            "normalized": token.get("normalized", not token.get("special", False)),
            "special": token.get("special", False),
        })

    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PRETOKENIZE_REGEX}, "behavior": "Isolated", "invert": False},
            byte_level(add_prefix_space),
        ]},
        "post_processor": byte_level(False),
        "decoder": byte_level(False),
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": merges,
        },
    }
    data = json.dumps(tokenizer, ensure_ascii=False, indent=2).encode("utf-8")   # serde_json's pretty form, no final newline
    Path(out_path).write_bytes(data)
    print(f"{len(vocab)} vocab entries, {len(merges)} merges, {len(added)} added tokens -> {out_path}: "
          f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main(*sys.argv[1:])
