#!/bin/sh
# Regenerates the committed byte-level BPE fixtures in tests/CrossEncoder.Native.Tests/Fixtures/tokenization/.
# Needs ../shared/ir and ../shared/models (ModernBERT-base's tokenizer.json) and the .NET 10 SDK (file-based app with the
# Tokenizers.DotNet packages). Run from the repo root:
#     sh tools/bpe/make_fixtures.sh ../shared
# Outputs: bpe-texts.json (make_texts.py), modernbert.tokenizer.json.gz (ModernBERT-base's real tokenizer.json, gzipped:
# NFC + ByteLevel + BPE with "a b" merges + TemplateProcessing, 116 added tokens) and bpe-modernbert-ids.json (Hugging Face
# tokenizers' ids of every text under it).
set -eu
SHARED=${1:-../shared}
OUT=tests/CrossEncoder.Native.Tests/Fixtures/tokenization
MODEL="$SHARED/models/answerdotai--ModernBERT-base/tokenizer.json"
python3 tools/bpe/make_texts.py "$SHARED/ir" "$OUT/bpe-texts.json"
gzip -9 -n -c "$MODEL" > "$OUT/modernbert.tokenizer.json.gz"
dotnet run tools/bpe/make_oracle_ids.cs -- "$MODEL" "$OUT/bpe-texts.json" "$OUT/bpe-modernbert-ids.json"
