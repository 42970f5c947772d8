/** Tokenizer of template expressions (inside `{{ }}` and `{% %}`). */
import { syntaxError } from './errors.js';

/** A token; `pos` is an offset in the original text. */
export interface Token {
  t: 'num' | 'str' | 'name' | 'op' | 'end';
  v: string;
  pos: number;
  /** For 'num': the numeric value. */
  n?: number | bigint;
}

const OPS3 = new Set(['//=']);
const OPS2 = new Set(['==', '!=', '<=', '>=', '//', '**']);
const OPS1 = new Set(['<', '>', '+', '-', '*', '/', '%', '(', ')', '[', ']', '{', '}', ',', ':', '=', '.']);

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Tokenizes `text.slice(start, end)`. Errors carry line/column in `text`.
 */
export function tokenize(text: string, start: number, end: number): Token[] {
  const out: Token[] = [];
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) { i++; continue; }
    if (isNameStart(c)) {
      let j = i + 1;
      while (j < end && isNameChar(text.charCodeAt(j))) j++;
      out.push({ t: 'name', v: text.slice(i, j), pos: i });
      i = j;
      continue;
    }
    if (isDigit(c) || (c === 46 && i + 1 < end && isDigit(text.charCodeAt(i + 1)))) {
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i, Math.min(end, i + 400)));
      const s = m![0];
      if (i + s.length < end && isNameChar(text.charCodeAt(i + s.length))) throw syntaxError(text, i, 'invalid number');
      const isInt = /^\d+$/.test(s);
      let n: number | bigint = Number(s);
      if (isInt && !Number.isSafeInteger(n)) n = BigInt(s);
      out.push({ t: 'num', v: s, pos: i, n });
      i += s.length;
      continue;
    }
    if (c === 39 || c === 34) {
      const [value, next] = readString(text, i, end);
      out.push({ t: 'str', v: value, pos: i });
      i = next;
      continue;
    }
    const three = text.slice(i, i + 3);
    if (OPS3.has(three)) throw syntaxError(text, i, `unsupported operator ${three}`);
    const two = text.slice(i, i + 2);
    if (OPS2.has(two) && i + 2 <= end) { out.push({ t: 'op', v: two, pos: i }); i += 2; continue; }
    const one = text[i]!;
    if (OPS1.has(one)) { out.push({ t: 'op', v: one, pos: i }); i++; continue; }
    throw syntaxError(text, i, `unexpected character ${JSON.stringify(one)}`);
  }
  out.push({ t: 'end', v: '', pos: end });
  return out;
}

/** Reads a Python string literal ('...' or "...") starting at `i`; returns its value and the next offset. */
function readString(text: string, i: number, end: number): [string, number] {
  const q = text.charCodeAt(i);
  let j = i + 1;
  let s = '';
  while (j < end) {
    const c = text.charCodeAt(j);
    if (c === q) return [s, j + 1];
    if (c === 10) break;
    if (c === 92 && j + 1 < end) {
      const e = text[j + 1]!;
      j += 2;
      switch (e) {
        case 'n': s += '\n'; break;
        case 't': s += '\t'; break;
        case 'r': s += '\r'; break;
        case '0': s += '\0'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case '\\': s += '\\'; break;
        case "'": s += "'"; break;
        case '"': s += '"'; break;
        case '\n': break;
        case 'x': case 'u': {
          const w = e === 'x' ? 2 : 4;
          const h = text.slice(j, j + w);
          if (!new RegExp(`^[0-9a-fA-F]{${w}}$`).test(h)) throw syntaxError(text, j - 2, 'invalid escape in string');
          s += String.fromCharCode(parseInt(h, 16));
          j += w;
          break;
        }
        default: s += '\\' + e;
      }
      continue;
    }
    s += text[j];
    j++;
  }
  throw syntaxError(text, i, 'unterminated string');
}
