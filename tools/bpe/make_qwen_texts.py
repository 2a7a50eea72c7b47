#!/usr/bin/env python3
"""Writes the inputs of the Qwen2/Qwen3 tokenizer's reference ids (tests/.../Fixtures/tokenization/qwen3/qwen3-texts.json).

    python3 tools/bpe/make_qwen_texts.py tests/CrossEncoder.Native.Tests/Fixtures/tokenization/bpe-texts.json \
        tests/CrossEncoder.Native.Tests/Fixtures/tokenization/qwen3/qwen3-texts.json

Texts: every text of bpe-texts.json (make_texts.py: IR queries and documents with their layout, accents, CJK, emoji,
control characters, whitespace runs, contractions, astral characters, long words), then what Qwen's pre-tokenizer treats
specially: digits (`\\p{N}` alone: every digit its own piece), `(?i:'s|'t|...)` contractions in upper case, letter runs
glued to one leading non-letter (`[^\\r\\n\\p{L}\\p{N}]?\\p{L}+`), punctuation swallowing following line breaks, `\\r\\n`,
all-whitespace texts, Qwen's added tokens inside text (<|im_end|>, <think>, ...), long runs without a space; and the two
reranker prompts built around real (query, document) pairs of tests/.../Fixtures/ir-sample.jsonl:

* Qwen3-Reranker: the whole prompt, and its two halves cut before the space that precedes the document (the head ends with
  "<Document>:", the tail is " " + document + suffix), so the oracle's ids show where the pre-tokenizer cuts;
* mxbai-rerank-v2: the whole prompt, and its pieces, which mixedbread-ai/mxbai-rerank's mxbai_rerank_v2.py tokenizes one by
  one and concatenates as ids: prefix, "query: {query}", "\n", "document: {document}", "\n", task prompt, suffix. (The
  whole string tokenizes differently wherever a piece ends in punctuation: ".\n" is one token.)

Deterministic.
"""
import json
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
repo = here.parent.parent

QWEN3_PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
                "provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n")
QWEN3_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"

MXBAI_PREFIX = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
MXBAI_TASK = ("You are a search relevance expert who evaluates how well documents match search queries. For each query-document "
              "pair, carefully analyze the semantic relationship between them, then provide your binary relevance judgment "
              "(0 for not relevant, 1 for relevant).\nRelevance:")
MXBAI_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"


def qwen3_head(query, instruction=QWEN3_INSTRUCTION):
    """The Qwen3-Reranker prompt up to and including "<Document>:" (the space before the document not included)."""
    return QWEN3_PREFIX + f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>:"


def lcg_letters(n, seed=12345):
    """n pseudo-random lowercase letters (a fixed linear congruential generator, so the text is reproducible)."""
    out, x = [], seed
    for _ in range(n):
        x = (1103515245 * x + 12345) % 2**31
        out.append(chr(ord("a") + (x >> 16) % 26))
    return "".join(out)


def main(bpe_texts_path, out_path):
    texts, seen = [], set()

    def add(t):
        if t not in seen:
            seen.add(t)
            texts.append(t)

    for t in json.loads(Path(bpe_texts_path).read_text(encoding="utf-8"))["texts"]:
        add(t)

    for t in [
        # digits: one piece per digit, whatever the script
        "0", "1", "10", "2024-06-05", "3.14159265358979", "1,234,567.89", "+1 (555) 010-9999", "v2.5.1-rc3", "x86_64 arm64",
        "0123456789" * 20, "\u0660\u0661\u0662\u0663 \u0966\u0967\u0968 \uff11\uff12\uff13 \u2460\u2461\u2462 \u00bd\u00bc \u2167",
        "H2O CO2 COVID-19 ISO-8601 1st 2nd 3rd 4th", "answer: 1", "Relevance: 0",
        # contractions: (?i:...) matches them in any case; the rest of the word is letters
        "IT'S DON'T I'M WE'RE YOU'VE THEY'LL HE'D", "It'S dOn'T wE'Re", "'S 'T 'RE 'VE 'M 'LL 'D", "'s 't 're 've 'm 'll 'd",
        "O'NEILL'S Y'ALL'D'VE", "rock 'n' roll", "\u2019s curly \u2019S", "'sS'Ss 'llama 'dog",
        "it'\u017f IT'\u017fT x'\u017fy '\u212a '\u0130 don'\u0165 (case folding: long s, Kelvin, dotted I)",
        # a letter run takes one non-letter in front: "(word", "$x", "_id", "\tTab"
        "(parenthesized) [bracketed] {braced} <angled>", "$var @user #tag %pct &amp _under_score", "\tword \u00a0word \u3000word",
        "a.b.c a-b-c a_b_c a/b/c", "...leading dots ---dashes", "emoji\U0001F600glued \U0001F600\U0001F600word",
        # punctuation swallows the line breaks after it; whitespace before a line break goes with it
        "end.\nnext", "end.\n\n\nnext", "end.\r\nnext", "end.  \nnext", "end \n next", "a\r\nb\r\n\r\nc", "\r\n", "\r", "\r\r\n\n",
        "line one\r\nline two\r\n", "trailing spaces   \nand tabs\t\t\n", "x\n \n \ny", "  \n  \n  ",
        # all whitespace
        " ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\n ", " \t \n \r\n ", "\u00a0", "\u3000\u3000", " " * 100, "\n" * 40, "\t \t" * 10,
        # CJK and other scripts
        "\u4e2d\u534e\u4eba\u6c11\u5171\u548c\u56fd\u6210\u7acb\u4e8e1949\u5e74\u3002", "\u4f60\u597d\uff0c\u4e16\u754c\uff01Hello, \u4e16\u754c!",
        "\u6771\u4eac\u90fd\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a",
        "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \ubb38\uc7a5\uc785\ub2c8\ub2e4.", "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442, \u0415\u0401",
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
        "\u00c5ngstr\u00f6m na\u00efve fa\u00e7ade \u0152uvre stra\u00dfe", "e\u0301 vs \u00e9, A\u030a vs \u00c5 (NFC)",
        # emoji: sequences, skin tones, flags, keycaps
        "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family", "\U0001F1FA\U0001F1F8\U0001F1EF\U0001F1F5 flags", "1\ufe0f\u20e3 #\ufe0f\u20e3 keycaps",
        "\u2764\ufe0f \U0001F525\U0001F525 \U0001F44B\U0001F3FB\U0001F44B\U0001F3FF", "I \u2764 Qwen \U0001F916!",
        # Qwen's added tokens inside text: matched as their ids, also when glued to words
        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<think></think>", "<|im_end|><|im_start|>",
        "a<|im_end|>b", "text <|im_end|> text", "<|im_start|>user\nhi<|im_end|>\n", "<think>\nreasoning\n</think>\n\nanswer",
        "<tool_call>{\"name\": \"f\"}</tool_call>", "<|fim_prefix|>def<|fim_suffix|>\n<|fim_middle|>", "<|vision_start|><|image_pad|><|vision_end|>",
        "<|im_end", "|im_end|>", "<| im_end |>", "<|IM_END|>", "<thinking>", "< think>", "<<think>>", "<|endoftext|><|endoftext|>",
        # long runs without a space (BPE on one long word must not be quadratic)
        lcg_letters(20_000), "\u4e2d\u6587" * 1_000, "7" * 1_000, "!?" * 1_000,
    ]:
        add(t)

    rows = [json.loads(line) for line in (repo / "tests/CrossEncoder.Native.Tests/Fixtures/ir-sample.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows[::2]:   # 32 pairs: every collection
        query, doc = row["query"], row["doc"][:1200]
        add(qwen3_head(query) + " " + doc + QWEN3_SUFFIX)
        add(qwen3_head(query))
        add(" " + doc + QWEN3_SUFFIX)
    for row in rows[1::4]:  # 16 other pairs
        query, doc = row["query"], row["doc"][:1200]
        add(MXBAI_PREFIX + f"query: {query}" + "\n" + f"document: {doc}" + "\n" + MXBAI_TASK + MXBAI_SUFFIX)
        add(f"query: {query}")
        add(f"document: {doc}")
    for t in [QWEN3_PREFIX, QWEN3_SUFFIX, MXBAI_PREFIX, "\n", MXBAI_TASK, MXBAI_SUFFIX, "yes", "no", " yes", " no", "1", "0"]:
        add(t)

    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps({"comment": "Inputs of the Qwen2/Qwen3 tokenizer reference ids; made by tools/bpe/make_qwen_texts.py.",
                                          "texts": texts}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(texts)} texts -> {out_path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
