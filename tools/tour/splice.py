"""Cuts `crossencoder trace` output into the figures of docs/tour.md and writes each between its markers.

Usage: splice.py TOUR FP32_OUTPUT INT8_OUTPUT QUERY DOC (run by regenerate.sh). A figure is a fenced text block of lines
exactly as trace printed them; the command line that produced it opens the first figure.
"""
import re
import sys

tour_path, fp32_path, int8_path, query, doc = sys.argv[1:6]
fp32 = open(fp32_path, encoding="utf-8").read().rstrip("\n").split("\n")
int8 = open(int8_path, encoding="utf-8").read().rstrip("\n").split("\n")


def sequence(lines, n):
    """Lines of sequence n (1-based): from its '== sequence n' line to the next one or the end."""
    start = next(i for i, l in enumerate(lines) if l.startswith(f"== sequence {n} of"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== sequence")), len(lines))
    return lines[start:end]


def tokens(seq):
    i = next(i for i, l in enumerate(seq) if l.lstrip().startswith("pos "))
    j = next(k for k in range(i + 1, len(seq)) if seq[k].strip() == "")
    return seq[i:j]


def stage_header(seq):
    return next(l for l in seq if l.startswith("stage "))


def rows(seq, pattern):
    return [l for l in seq if re.match(pattern, l)]


command = f'$ crossencoder trace --query "{query}" --doc "{doc}"'
q, d = sequence(fp32, 1), sequence(fp32, 2)
figures = {
    "header": [command] + fp32[:3],
    "query-tokens": [q[0]] + tokens(q),
    "query-layer0": [stage_header(q)] + rows(q, r"(embeddings|layer\.0[ .])") + rows(q, r"  \[CLS\] attends to: .*\(layer 0:"),
    "doc-stream": [stage_header(d)] + rows(d, r"(embeddings|layer\.\d+) "),
    "doc-attention": rows(d, r"  \[CLS\] attends to:"),
    "doc-ffn": [stage_header(d)] + rows(d, r"layer\.\d+\.(attention\.out|ffn\.output) "),
    "head": [stage_header(d)] + rows(d, r"(pooler|head\.hidden|output) ") + rows(d, r"output: "),
    "int8-header": [command + " --precision int8"] + int8[:2],
    "full": [command] + fp32,
}

tour = open(tour_path, encoding="utf-8").read()
for name, lines in figures.items():
    block = f"<!-- trace:{name} -->\n```text\n" + "\n".join(lines) + f"\n```\n<!-- /trace:{name} -->"
    pattern = re.compile(rf"<!-- trace:{re.escape(name)} -->.*?<!-- /trace:{re.escape(name)} -->", re.S)
    if not pattern.search(tour):
        sys.exit(f"docs/tour.md has no <!-- trace:{name} --> ... <!-- /trace:{name} --> markers")
    tour = pattern.sub(lambda _: block, tour)
open(tour_path, "w", encoding="utf-8").write(tour)
