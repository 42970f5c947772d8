/**
 * A small lossless JSON parser for the slow path: numbers are kept as their source
 * text (`JsonNumber`) so that 64-bit and wider integers and long decimals never lose
 * precision; objects have a null prototype so keys such as `__proto__` are plain
 * data. With `singleQuotes` it also reads ClickHouse-style `'text'` strings, as found
 * in CSV array literals (`['a','b']`).
 */

/** A JSON number kept as its exact source text. */
/** A UTF-16 surrogate that is not half of a pair. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` with every lone surrogate replaced by U+FFFD (what UTF-8 encoding makes of it). */
export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * The JSON text of a string for a JSONEachRow payload. A lone surrogate (from a
 * `\ud83d` escape in the input) becomes U+FFFD: JSON.stringify would write the
 * escape `\ud83d`, which ClickHouse refuses (failing the whole insert), while the
 * TabSeparated path stores U+FFFD (Buffer's UTF-8 encoding): so both paths store the
 * same value. Only a text with `\ud` in it takes the slower check.
 */
export function jsonString(s: string): string {
  const out = JSON.stringify(s);
  return out.includes('\\ud') ? JSON.stringify(wellFormed(s)) : out;
}

export class JsonNumber {
  constructor(readonly text: string) {}
}

/** Arrays made by the lossless parser (they may hold JsonNumber values). */
export class LosslessArray extends Array<unknown> {}

/** Whether a container came from the lossless parser (else: from JSON.parse). */
export function isLossless(v: object): boolean {
  return Array.isArray(v) ? v instanceof LosslessArray : Object.getPrototypeOf(v) === null;
}

/** Raised on malformed input. */
export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const MAX_DEPTH = 128;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class LosslessParser {
  private i = 0;
  constructor(private readonly s: string, private readonly singleQuotes: boolean) {}

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  parseAll(): unknown {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) throw new JsonSyntaxError(`unexpected text at position ${this.i}`);
    return v;
  }

  private value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError('nested too deeply');
    const s = this.s;
    const c = s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"' || (c === "'" && this.singleQuotes)) return this.string(c);
    if (s.startsWith('true', this.i)) {
      this.i += 4;
      return true;
    }
    if (s.startsWith('false', this.i)) {
      this.i += 5;
      return false;
    }
    if (s.startsWith('null', this.i)) {
      this.i += 4;
      return null;
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(s);
    if (m !== null && m[0].length > 0) {
      this.i += m[0].length;
      return new JsonNumber(m[0]);
    }
    throw new JsonSyntaxError(`unexpected ${c === undefined ? 'end of input' : `'${c}'`} at position ${this.i}`);
  }

  private object(depth: number): Record<string, unknown> {
    const out = Object.create(null) as Record<string, unknown>;
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      const q = this.s[this.i];
      if (q !== '"' && !(q === "'" && this.singleQuotes)) throw new JsonSyntaxError(`expected a key at position ${this.i}`);
      const key = this.string(q);
      this.ws();
      if (this.s[this.i] !== ':') throw new JsonSyntaxError(`expected ':' at position ${this.i}`);
      this.i++;
      this.ws();
      out[key] = this.value(depth + 1);
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ',') continue;
      if (c === '}') return out;
      throw new JsonSyntaxError(`expected ',' or '}' at position ${this.i - 1}`);
    }
  }

  private array(depth: number): unknown[] {
    const out: unknown[] = new LosslessArray();
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ',') continue;
      if (c === ']') return out;
      throw new JsonSyntaxError(`expected ',' or ']' at position ${this.i - 1}`);
    }
  }

  private string(quote: string): string {
    const s = this.s;
    let i = this.i + 1;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= s.length) throw new JsonSyntaxError('unterminated string');
      const c = s.charCodeAt(i);
      if (c === quote.charCodeAt(0)) {
        if (quote === "'" && s.charCodeAt(i + 1) === 39) {
          // ClickHouse style doubled quote inside a single-quoted string
          out += s.slice(start, i + 1);
          i += 2;
          start = i;
          continue;
        }
        out += s.slice(start, i);
        this.i = i + 1;
        return out;
      }
      if (c < 32) throw new JsonSyntaxError('control character in string');
      if (c === 92) {
        out += s.slice(start, i);
        const e = s[i + 1];
        switch (e) {
          case '"': out += '"'; break;
          case "'": out += "'"; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const hex = s.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonSyntaxError('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            throw new JsonSyntaxError(`bad escape at position ${i}`);
        }
        i += 2;
        start = i;
        continue;
      }
      i++;
    }
  }
}

/** Parses JSON keeping numbers as JsonNumber; objects have a null prototype. */
export function parseJsonLossless(text: string, singleQuotes = false): unknown {
  return new LosslessParser(text, singleQuotes).parseAll();
}

/** JSON text of a value from either parser (JsonNumber written as its source text). */
export function stringifyJson(v: unknown): string {
  if (v instanceof JsonNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : stringifyJson(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const parts: string[] = [];
    for (const k of Object.keys(v)) parts.push(`${JSON.stringify(k)}:${stringifyJson((v as Record<string, unknown>)[k])}`);
    return `{${parts.join(',')}}`;
  }
  const s = JSON.stringify(v);
  return s === undefined ? 'null' : s;
}
