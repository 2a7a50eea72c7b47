#!/bin/sh
# Regenerates the committed byte-level BPE fixtures in tests/CrossEncoder.Native.Tests/Fixtures/tokenization/.
# Needs ../shared/ir and ../shared/models (ModernBERT-base's tokenizer.json; Qwen3-Reranker-0.6B's vocab.json, merges.txt and
# tokenizer_config.json), python3 and the .NET 10 SDK (file-based app with the Tokenizers.DotNet packages). Run from the repo root:
#     sh tools/bpe/make_fixtures.sh ../shared
# Outputs:
# * bpe-texts.json (make_texts.py), modernbert.tokenizer.json.gz (ModernBERT-base's real tokenizer.json, gzipped:
#   NFC + ByteLevel + BPE with "a b" merges + TemplateProcessing, 116 added tokens) and bpe-modernbert-ids.json (Hugging Face
#   tokenizers' ids of every text under it).
# * qwen3/: Qwen/Qwen3-Reranker-0.6B's vocab.json and merges.txt (gzipped) and tokenizer_config.json, byte for byte as
#   published at revision e61197ed45024b0ed8a2d74b80b4d909f1255473 (sha256 below, from ../shared/models/SOURCES.md);
#   qwen3-texts.json (make_qwen_texts.py: bpe-texts.json plus Qwen-specific texts and the Qwen3-Reranker / mxbai-rerank-v2
#   prompts) and qwen3-ids.json (Hugging Face tokenizers' ids of every text under the tokenizer.json that
#   make_qwen_tokenizer_json.py builds from those three files, which is Qwen's own tokenizer.json: its sha256 is checked).
set -eu
SHARED=${1:-../shared}
OUT=tests/CrossEncoder.Native.Tests/Fixtures/tokenization
MODEL="$SHARED/models/answerdotai--ModernBERT-base/tokenizer.json"
python3 tools/bpe/make_texts.py "$SHARED/ir" "$OUT/bpe-texts.json"
gzip -9 -n -c "$MODEL" > "$OUT/modernbert.tokenizer.json.gz"
dotnet run tools/bpe/make_oracle_ids.cs -- "$MODEL" "$OUT/bpe-texts.json" "$OUT/bpe-modernbert-ids.json"

# Qwen3 (Qwen2Tokenizer): the three files of the model folder, checked against the published sha256.
QWEN="$SHARED/models/Qwen--Qwen3-Reranker-0.6B"
mkdir -p "$OUT/qwen3"
( cd "$QWEN" && sha256sum -c - ) <<'SUMS'
ca10d7e9fb3ed18575dd1e277a2579c16d108e32f27439684afa0e10b1440910  vocab.json
8831e4f1a044471340f7c0a83d7bd71306a5b867e95fd870f74d0c5308a904d5  merges.txt
253153d0738ceb4c668d2eff957714dd2bea0b56de772a9fdccd96cbf517e6a0  tokenizer_config.json
SUMS
gzip -9 -n -c "$QWEN/vocab.json" > "$OUT/qwen3/vocab.json.gz"
gzip -9 -n -c "$QWEN/merges.txt" > "$OUT/qwen3/merges.txt.gz"
cp "$QWEN/tokenizer_config.json" "$OUT/qwen3/tokenizer_config.json"
python3 tools/bpe/make_qwen_texts.py "$OUT/bpe-texts.json" "$OUT/qwen3/qwen3-texts.json"
# The oracle's tokenizer.json (11 MB, not committed) in a folder named like the model's, which make_oracle_ids.cs quotes.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/Qwen--Qwen3-Reranker-0.6B"
python3 tools/bpe/make_qwen_tokenizer_json.py "$QWEN" "$TMP/Qwen--Qwen3-Reranker-0.6B/tokenizer.json"
echo "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4  $TMP/Qwen--Qwen3-Reranker-0.6B/tokenizer.json" | sha256sum -c -
dotnet run tools/bpe/make_oracle_ids.cs -- "$TMP/Qwen--Qwen3-Reranker-0.6B/tokenizer.json" "$OUT/qwen3/qwen3-texts.json" "$OUT/qwen3/qwen3-ids.json"
