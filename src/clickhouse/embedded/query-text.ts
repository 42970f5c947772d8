/**
 * A small ClickHouse lexer for the embedded child. It does not parse SQL; it finds
 * what the child must know before handing text to chdb: whether the text is exactly
 * one statement, where it really ends (so a trailing SETTINGS clause cannot land in
 * a comment), its first keyword, the words that disable read-only protection, and the
 * shape of `INSERT INTO t (cols) FORMAT x` so the body can go to chdb's raw insert.
 */

/** One lexical token. `value` is the unquoted text for quoted identifiers and strings. */
export interface Token {
  kind: 'word' | 'qident' | 'string' | 'number' | 'punct';
  value: string;
  start: number;
  end: number;
}

/** Result of lexing a query: its tokens and its text without trailing `;` and comments. */
export type LexResult =
  | { ok: true; tokens: Token[]; text: string }
  | { ok: false; reason: string };

function isWordStart(c: string): boolean {
  return /[A-Za-z_\u0080-\uffff]/.test(c);
}

function isWordPart(c: string): boolean {
  return /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

/** Reads a quoted token starting at `i` (the opening quote); returns its value and end, or null if unterminated. */
function readQuoted(sql: string, i: number, quote: string): { value: string; end: number } | null {
  let value = '';
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j] as string;
    if (c === '\\') {
      if (j + 1 >= sql.length) return null;
      // Keep the escaped character; callers treat any backslash as suspicious anyway.
      value += '\\' + (sql[j + 1] as string);
      j += 2;
      continue;
    }
    if (c === quote) {
      if (sql[j + 1] === quote) {
        value += quote;
        j += 2;
        continue;
      }
      return { value, end: j + 1 };
    }
    value += c;
    j += 1;
  }
  return null;
}

/**
 * Splits `sql` into tokens. Fails on unterminated strings, quoted identifiers or
 * comments, and on more than one statement (a `;` followed by anything but
 * whitespace, comments or more `;`).
 */
export function lexQuery(sql: string): LexResult {
  const tokens: Token[] = [];
  let i = 0;
  let sawSemicolon = false;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if ((c === '-' && next === '-') || c === '#') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close === -1) return { ok: false, reason: 'unterminated comment' };
      i = close + 2;
      continue;
    }
    if (c === ';') {
      sawSemicolon = true;
      i += 1;
      continue;
    }
    if (sawSemicolon) return { ok: false, reason: 'multi-statements are not allowed' };
    if (c === "'" || c === '"' || c === '`') {
      const q = readQuoted(sql, i, c);
      if (q === null) return { ok: false, reason: 'unterminated quoted token' };
      tokens.push({ kind: c === "'" ? 'string' : 'qident', value: q.value, start: i, end: q.end });
      i = q.end;
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < sql.length && isWordPart(sql[j] as string)) j += 1;
      tokens.push({ kind: 'word', value: sql.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[0-9A-Za-z_.]/.test(sql[j] as string)) j += 1;
      tokens.push({ kind: 'number', value: sql.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    tokens.push({ kind: 'punct', value: c, start: i, end: i + 1 });
    i += 1;
  }
  if (tokens.length === 0) return { ok: false, reason: 'empty query' };
  const last = tokens[tokens.length - 1] as Token;
  return { ok: true, tokens, text: sql.slice(0, last.end) };
}

/** True if `t` is the bare word `word` (case-insensitive). */
export function isWord(t: Token | undefined, word: string): boolean {
  return t !== undefined && t.kind === 'word' && t.value.toUpperCase() === word;
}

/** First keyword of the statement, upper-cased ('' if it starts with something else). */
export function firstKeyword(tokens: readonly Token[]): string {
  const t = tokens[0];
  if (t === undefined) return '';
  if (t.kind === 'punct' && t.value === '(') return '(';
  return t.kind === 'word' ? t.value.toUpperCase() : '';
}

/** Statements the reader may run (all of them read-only by nature). */
const READER_FIRST_KEYWORDS = new Set(['SELECT', 'WITH', '(', 'SHOW', 'DESC', 'DESCRIBE', 'EXPLAIN', 'EXISTS']);

/**
 * Reasons to refuse a query from the read-only user before it reaches chdb, or null.
 * `SETTINGS readonly=0` inside a subquery overrides an outer `readonly=1` in chdb,
 * and `INTO OUTFILE` is not blocked by readonly, so both are refused by token here.
 */
export function readerViolation(tokens: readonly Token[]): string | null {
  if (!READER_FIRST_KEYWORDS.has(firstKeyword(tokens))) return 'only SELECT-like statements are allowed';
  for (const t of tokens) {
    if (t.kind === 'word' || t.kind === 'qident') {
      if (t.kind === 'qident' && t.value.includes('\\')) return 'escaped quoted identifiers are not allowed';
      const v = t.value.toLowerCase();
      if (v === 'readonly') return "the 'readonly' setting cannot be changed";
      if (t.kind === 'word' && v === 'outfile') return 'INTO OUTFILE is not allowed';
    }
  }
  return null;
}

/** Any query: refuse INTO OUTFILE (it writes files on the host whatever readonly says). */
export function hasOutfile(tokens: readonly Token[]): boolean {
  return tokens.some((t) => isWord(t, 'OUTFILE'));
}

/** The target and format of an `INSERT INTO [TABLE] db.t [(cols)] FORMAT fmt` whose data is the request body. */
export interface InsertShape {
  database: string | null;
  table: string;
  columns: string[] | null;
  format: string;
}

function identValue(t: Token | undefined): string | null {
  if (t === undefined) return null;
  if (t.kind === 'word' || t.kind === 'qident') return t.value;
  return null;
}

/** Recognises the data-less INSERT shape; anything else (VALUES, SELECT, inline data) returns null. */
export function parseInsert(tokens: readonly Token[]): InsertShape | null {
  let i = 0;
  if (!isWord(tokens[i], 'INSERT')) return null;
  i += 1;
  if (!isWord(tokens[i], 'INTO')) return null;
  i += 1;
  if (isWord(tokens[i], 'TABLE')) i += 1;
  const first = identValue(tokens[i]);
  if (first === null) return null;
  i += 1;
  let database: string | null = null;
  let table = first;
  if (tokens[i]?.kind === 'punct' && tokens[i]?.value === '.') {
    const second = identValue(tokens[i + 1]);
    if (second === null) return null;
    database = first;
    table = second;
    i += 2;
  }
  let columns: string[] | null = null;
  if (tokens[i]?.kind === 'punct' && tokens[i]?.value === '(') {
    columns = [];
    i += 1;
    for (;;) {
      const col = identValue(tokens[i]);
      if (col === null) return null;
      columns.push(col);
      i += 1;
      const sep = tokens[i];
      if (sep?.kind === 'punct' && sep.value === ',') {
        i += 1;
        continue;
      }
      if (sep?.kind === 'punct' && sep.value === ')') {
        i += 1;
        break;
      }
      return null;
    }
  }
  if (!isWord(tokens[i], 'FORMAT')) return null;
  const format = tokens[i + 1];
  if (format === undefined || format.kind !== 'word' || i + 2 !== tokens.length) return null;
  return { database, table, columns, format: format.value };
}

/** Recognises `KILL QUERY WHERE query_id = '...' [SYNC|ASYNC]` and returns the id, or null. */
export function parseKillQuery(tokens: readonly Token[]): string | null {
  if (!isWord(tokens[0], 'KILL') || !isWord(tokens[1], 'QUERY') || !isWord(tokens[2], 'WHERE')) return null;
  if (!isWord(tokens[3], 'QUERY_ID')) return null;
  if (tokens[4]?.kind !== 'punct' || tokens[4].value !== '=') return null;
  const id = tokens[5];
  if (id?.kind !== 'string' || id.value.includes('\\')) return null;
  const rest = tokens.slice(6);
  if (rest.length > 1 || (rest.length === 1 && !isWord(rest[0], 'SYNC') && !isWord(rest[0], 'ASYNC'))) return null;
  return id.value;
}
