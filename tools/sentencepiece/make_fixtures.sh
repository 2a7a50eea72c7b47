#!/bin/sh
# Regenerates the committed Unigram / SentencePiece fixtures in tests/CrossEncoder.Native.Tests/Fixtures/tokenization/.
# Needs ../shared/ir and Debian's sentencepiece (apt-get install -y sentencepiece; 0.1.97 was used). Run from the repo root:
#     sh tools/sentencepiece/make_fixtures.sh ../shared/ir
# Outputs: unigram-ir.model (spm_train, Unigram, nmt_nfkc), unigram-ir.tokenizer.json (make_tokenizer_json.py),
# unigram-texts.json (the inputs) and unigram-spm-ids.json (spm_encode's ids for every single-line input).
set -eu
IR=${1:-../shared/ir}
OUT=tests/CrossEncoder.Native.Tests/Fixtures/tokenization
WORK=$(mktemp -d)
python3 tools/sentencepiece/make_corpus_and_texts.py "$IR" "$WORK/corpus.txt" "$OUT/unigram-texts.json"
spm_train --input="$WORK/corpus.txt" --model_prefix="$WORK/unigram-ir" --vocab_size=3000 --model_type=unigram \
  --normalization_rule_name=nmt_nfkc --character_coverage=0.9995 --num_threads=1 --input_sentence_size=20000 \
  --shuffle_input_sentence=false > "$WORK/train.log" 2>&1
cp "$WORK/unigram-ir.model" "$OUT/unigram-ir.model"
python3 tools/sentencepiece/make_tokenizer_json.py "$OUT/unigram-ir.model" "$OUT/unigram-ir.tokenizer.json"
python3 tools/sentencepiece/spm_reference.py "$OUT/unigram-ir.model" "$OUT/unigram-texts.json" "$OUT/unigram-spm-ids.json"
rm -rf "$WORK"
