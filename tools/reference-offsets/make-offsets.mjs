// Writes Hugging Face tokenizers' (the Rust library, through its Node binding) ids and character offsets of many texts
// under four real tokenizers, for tests/CrossEncoder.Native.Tests/Tokenization/OffsetsReferenceTests.cs.
//
//   npm install && node make-offsets.mjs MINILM_TOKENIZER_JSON MODERNBERT_TOKENIZER_JSON QWEN3_TOKENIZER_JSON OUT.json
//
// (see README.md for where each tokenizer.json comes from). The texts: every text of the committed fixtures
// (minilm-reference.json singles, bpe-texts.json, unigram-texts.json, qwen3-texts.json) plus EXTRA below (accents,
// combining marks, CJK, emoji, whitespace runs, compatibility characters). Encoded with add_special_tokens false.
// Hugging Face's offsets count Unicode scalar values ("chars" in Rust); .NET strings count UTF-16 units, so every offset is
// converted here to UTF-16 units of the same text (an astral character is 2 units). Output: per tokenizer, a list of
// { text, ids, offsets: [start0, end0, start1, end1, ...] }.
import { Tokenizer } from 'tokenizers';
import fs from 'fs';
import path from 'path';
import { fileURLToPath } from 'url';

const [minilm, modernbert, qwen3, out] = process.argv.slice(2);
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../tests/CrossEncoder.Native.Tests/Fixtures/tokenization');
const read = f => JSON.parse(fs.readFileSync(path.join(fixtures, f), 'utf8'));

export const EXTRA = [
  'Café naïve résumé Ångström Øre façade',
  'cafe\u0301 nai\u0308ve e\u0301\u0302 a\u0300\u0301\u0302\u0303 Z\u0351\u0352\u0353',
  'İstanbul ǅemal ŉ ß ﬁ ﬃ Ⅻ ½ ㎏ ｆｕｌｌ　ｗｉｄｔｈ',
  '北京大学 東京 서울 ひらがな カタカナ 中文和English混合',
  '😀 👍🏽 👨‍👩‍👧 🇫🇷 x😀y 𝐀𝐁𝐂 𠀀𠀁',
  '  leading and trailing  ',
  'runs   of\t\tspaces\n\n\nand\r\nnewlines \u00a0nbsp \u2003em \u3000ideographic',
  'The answer is 42. Really?! (Yes) — "quoted" «guillemets» [brackets] {braces}',
  'tab\there, zero\u200bwidth, soft\u00adhyphen, bidi\u202emark, bom\ufeffhere',
  'control\u0001chars\u007f and \ufffd replacement',
  'supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic',
  'https://example.com/path?q=1&r=2 user@example.org $100 +33 1 23 45 67 89',
  'Ελληνικά Русский текст العربية עברית हिन्दी ไทย',
  'A sentence. Another sentence! A third one? And the end',
  'x',
  ' ',
];

const texts = {
  minilm: [...read('minilm-reference.json').singles.map(s => s.text), ...EXTRA],
  modernbert: [...read('bpe-texts.json').texts, ...EXTRA],
  unigram: [...read('unigram-texts.json').texts, ...EXTRA],
  qwen3: [...read('qwen3/qwen3-texts.json').texts, ...EXTRA],
};

function load(file) {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  // The test helper's BERT template lists no special_tokens table, which tokenizers' TemplateProcessing requires; it adds
  // only [CLS]/[SEP] (no offset trimming), so it is dropped: add_special_tokens is false anyway.
  if (json.post_processor?.type === 'TemplateProcessing' && !json.post_processor.special_tokens) json.post_processor = null;
  const temporary = path.join(process.env.TMPDIR ?? '/tmp', `offsets-${process.pid}-${path.basename(file)}`);
  fs.writeFileSync(temporary, JSON.stringify(json));
  try { return Tokenizer.fromFile(temporary); } finally { fs.unlinkSync(temporary); }
}

function utf16Positions(text) {
  const at = [0];   // at[c] = UTF-16 index of code point c
  for (const ch of text) at.push(at[at.length - 1] + ch.length);
  return at;
}

const tokenizers = {
  minilm: load(minilm),
  modernbert: load(modernbert),
  unigram: load(path.join(fixtures, 'unigram-ir.tokenizer.json')),
  qwen3: load(qwen3),
};
const result = { comment: 'Made by tools/reference-offsets/make-offsets.mjs with tokenizers (npm) 0.23.2; offsets in UTF-16 units.' };
for (const [name, tokenizer] of Object.entries(tokenizers)) {
  const cases = [];
  for (const text of texts[name]) {
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const at = utf16Positions(text);
    cases.push({ text, ids: encoding.getIds(), offsets: encoding.getOffsets().flatMap(([s, e]) => [at[s], at[e]]) });
  }
  result[name] = cases;
}
fs.writeFileSync(out, JSON.stringify(result));
console.log(Object.entries(texts).map(([k, v]) => `${k}: ${v.length} texts`).join(', '), '->', out);
