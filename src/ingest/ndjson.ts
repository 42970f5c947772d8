/**
 * Incremental NDJSON encoder (Events API and Data Sources API `format=ndjson`).
 * Lines may be split anywhere across chunks (including inside a UTF-8 character);
 * empty lines are skipped; a UTF-8 BOM at the start is ignored. Every other line
 * becomes exactly one good row or one quarantine row.
 */
import { StringDecoder } from 'node:string_decoder';
import type { ColumnDef } from '../catalog/schema.js';
import {
  appendField,
  compileColumns,
  DEFAULT_MAX_LINE_BYTES,
  RowErrors,
  RowSink,
  type EncodeContext,
  type EncodeResult,
  type Encoder,
  type GoodFormat,
} from './encode.js';
import { parseJsonLossless, stringifyJson } from './json.js';
import { INEXACT, OMIT, type CompiledColumn, type Encoded } from './types.js';
import { nativeNdjsonTsv, type NativeNdjsonTsv } from './native.js';

/** NDJSON encoder options. */
export interface NdjsonOptions {
  /**
   * Preferred format of the good rows (default JSONEachRow). TabSeparated is used only
   * when every column has a TSV path (not Map, Tuple, nested arrays); the result's
   * `goodFormat` says which was used.
   */
  format?: GoodFormat;
  /**
   * With TabSeparated: use the native encoder (native/ingest/) when it is built and
   * supports the schema (default true); lines it is unsure of still go through the
   * TypeScript code below, so results are the same either way.
   */
  native?: boolean;
}

const compiledCache = new Map<string, CompiledColumn[]>();
const COMPILED_CACHE_MAX = 512;

/**
 * The compiled columns of a schema, reused across requests (compiling parses every
 * type: ~0.1 ms per Events API request otherwise). Keyed by the whole column
 * definitions, so a changed schema compiles anew; compiled columns hold no state.
 */
function compiledColumns(columns: readonly ColumnDef[]): CompiledColumn[] {
  const key = JSON.stringify(columns);
  const hit = compiledCache.get(key);
  if (hit !== undefined) return hit;
  const cols = compileColumns(columns);
  if (compiledCache.size >= COMPILED_CACHE_MAX) compiledCache.delete(compiledCache.keys().next().value as string);
  compiledCache.set(key, cols);
  return cols;
}

/** Creates an NDJSON encoder for `columns`. */
export function createNdjsonEncoder(columns: readonly ColumnDef[], ctx: EncodeContext, options: NdjsonOptions = {}): Encoder {
  const cols = compiledColumns(columns);
  const tsv = options.format === 'TabSeparated' && cols.every((c) => c.encodeJsonTsv !== null);
  const sink = new RowSink(cols, ctx, tsv ? 'TabSeparated' : 'JSONEachRow');
  const maxLine = ctx.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const decoder = new StringDecoder('utf8');
  const n = cols.length;
  const values: unknown[] = new Array<unknown>(n);
  let pending = '';
  let lineNo = 0;
  let first = true;
  /** Inside an over-long line: its start is kept for the error, the rest is dropped. */
  let skipping = false;
  let skippedHead = '';

  const rawValue = (v: unknown): string | null => (v === undefined || v === null ? null : typeof v === 'string' ? v : stringifyJson(v));

  /** Encodes one parsed object; false when a number needs the lossless parser. */
  function encodeObject(obj: unknown, line: number): boolean {
    let row = '';
    let errors: RowErrors | null = null;
    for (let i = 0; i < n; i++) {
      const col = cols[i] as CompiledColumn;
      const v = col.path.extract(obj);
      values[i] = v;
      let enc: Encoded;
      if (v === undefined || v === null) enc = col.missing;
      else {
        enc = col.encodeJson(v);
        if (enc === INEXACT) return false;
      }
      if (typeof enc === 'string') {
        if (errors === null) row = appendField(row, col, enc);
      } else {
        (errors ??= new RowErrors()).add(sink, line, col.name, enc.message);
      }
    }
    if (errors === null) {
      sink.addGood(row);
    } else {
      const raw: Array<string | null> = new Array<string | null>(n);
      for (let i = 0; i < n; i++) raw[i] = rawValue(values[i]);
      sink.addQuarantine(raw, errors.columns, errors.messages);
    }
    return true;
  }

  /**
   * TabSeparated form of encodeObject (same validation, errors and quarantine); a row
   * that leaves a column to its server-side DEFAULT is written by encodeObject instead
   * (JSONEachRow, into the sink's fallback).
   */
  function encodeObjectTsv(obj: unknown, line: number): boolean {
    let row = '';
    let omitted = false;
    let errors: RowErrors | null = null;
    for (let i = 0; i < n; i++) {
      const col = cols[i] as CompiledColumn;
      const v = col.path.extract(obj);
      values[i] = v;
      let enc: Encoded;
      if (v === undefined || v === null) {
        if (col.missing === OMIT) {
          omitted = true;
          continue;
        }
        enc = col.missingTsv;
      } else {
        enc = (col.encodeJsonTsv as (v: unknown) => Encoded)(v);
        if (enc === INEXACT) return false;
      }
      if (typeof enc === 'string') {
        if (errors === null) row = i === 0 ? enc : `${row}\t${enc}`;
      } else {
        (errors ??= new RowErrors()).add(sink, line, col.name, enc.message);
      }
    }
    if (errors !== null) {
      const raw: Array<string | null> = new Array<string | null>(n);
      for (let i = 0; i < n; i++) raw[i] = rawValue(values[i]);
      sink.addQuarantine(raw, errors.columns, errors.messages);
      return true;
    }
    if (omitted) return encodeObject(obj, line);
    sink.addTsvLine(`${row}\n`);
    return true;
  }

  const encode = tsv ? encodeObjectTsv : encodeObject;

  function quarantineRaw(line: number, text: string, reason: string): void {
    sink.note(`line ${line}: ${reason}`);
    sink.addRawQuarantine(text, reason);
  }

  function handleLine(text: string, lineNo: number): void {
    if (text.length === 0) return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      if (text.trim() === '') return;
      quarantineRaw(lineNo, text, 'invalid JSON');
      return;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      quarantineRaw(lineNo, text, 'the line is not a JSON object');
      return;
    }
    if (text.length * 3 > maxLine && Buffer.byteLength(text) > maxLine) {
      quarantineRaw(lineNo, text, `the line is longer than ${maxLine} bytes`);
      return;
    }
    if (encode(obj, lineNo)) return;
    let exact: unknown;
    try {
      exact = parseJsonLossless(text);
    } catch {
      quarantineRaw(lineNo, text, 'invalid JSON');
      return;
    }
    encode(exact, lineNo);
  }

  function feed(text: string, final: boolean): void {
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      if (skipping) {
        skipping = false;
        lineNo++;
        quarantineRaw(lineNo, skippedHead, `the line is longer than ${maxLine} bytes`);
        skippedHead = '';
      } else if (pending !== '') {
        handleLine(pending + text.slice(start, nl), ++lineNo);
        pending = '';
      } else {
        handleLine(text.slice(start, nl), ++lineNo);
      }
      start = nl + 1;
    }
    if (skipping) {
      // drop the rest of the over-long line
    } else if (start < text.length) {
      pending += text.slice(start);
      if (pending.length > maxLine) {
        skipping = true;
        skippedHead = pending.slice(0, 1024);
        pending = '';
      }
    }
    if (final) {
      if (skipping) {
        skipping = false;
        lineNo++;
        quarantineRaw(lineNo, skippedHead, `the line is longer than ${maxLine} bytes`);
        skippedHead = '';
      } else if (pending !== '') {
        const last = pending;
        pending = '';
        handleLine(last, ++lineNo);
      }
    }
  }

  if (tsv && options.native !== false) {
    const nat = nativeNdjsonTsv(columns, cols, maxLine);
    if (nat !== null) return nativeEncoder(nat, sink, maxLine, handleLine, quarantineRaw);
  }

  return {
    push(chunk: Buffer): EncodeResult {
      feed(decoder.write(chunk), false);
      return sink.take();
    },
    end(): EncodeResult {
      feed(decoder.end(), true);
      return sink.take();
    },
  };
}

/**
 * The NDJSON encoder over the native one: lines are cut on the raw bytes, whole lines
 * go to the addon in one call per chunk, and the lines it hands back are decoded and
 * given to `handleLine` (the TypeScript path). Line numbers, the BOM, empty lines and
 * over-long lines behave as in the string-based feed of createNdjsonEncoder.
 */
function nativeEncoder(
  nat: NativeNdjsonTsv,
  sink: RowSink,
  maxLine: number,
  handleLine: (text: string, line: number) => void,
  quarantineRaw: (line: number, text: string, reason: string) => void,
): Encoder {
  let lineNo = 0;
  /** No byte of the stream has been consumed yet (a BOM is only looked for there). */
  let atStart = true;
  /** The start of a line not yet ended by a newline. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingAtStart = false;
  let skipping = false;
  let skippedHead = '';
  let good: Buffer[] = [];
  let goodRows = 0;

  function run(buf: Buffer, bom: boolean): void {
    const [out, rows, lines, fallback] = nat.encode(buf, bom);
    if (rows > 0) {
      good.push(out);
      goodRows += rows;
    }
    for (let i = 0; i < fallback.length; i += 3) {
      handleLine(buf.toString('utf8', fallback[i + 1], fallback[i + 2]), lineNo + (fallback[i] as number) + 1);
    }
    lineNo += lines;
  }

  function tooLong(): void {
    lineNo++;
    quarantineRaw(lineNo, skippedHead, `the line is longer than ${maxLine} bytes`);
    skippedHead = '';
  }

  /** The pending text as the string-based feed holds it (incomplete UTF-8 tail held back). */
  function pendingText(): string {
    let text = new StringDecoder('utf8').write(Buffer.concat(pending, pendingBytes));
    if (pendingAtStart && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return text;
  }

  function result(): EncodeResult {
    const r = sink.take();
    if (goodRows > 0) {
      if (r.goodRows > 0) good.push(r.good);
      r.good = good.length === 1 ? (good[0] as Buffer) : Buffer.concat(good);
      r.goodRows += goodRows;
    }
    good = [];
    goodRows = 0;
    return r;
  }

  return {
    push(chunk: Buffer): EncodeResult {
      if (chunk.length === 0) return result();
      let start = 0;
      const wasAtStart = atStart;
      atStart = false;
      if (skipping) {
        const nl = chunk.indexOf(10);
        if (nl < 0) return result();
        skipping = false;
        tooLong();
        start = nl + 1;
      } else if (pendingBytes > 0) {
        const nl = chunk.indexOf(10);
        if (nl >= 0) {
          pending.push(chunk.subarray(0, nl + 1));
          run(Buffer.concat(pending, pendingBytes + nl + 1), pendingAtStart);
          pending = [];
          pendingBytes = 0;
          start = nl + 1;
        } else {
          start = chunk.length;
          pending.push(Buffer.from(chunk));
          pendingBytes += chunk.length;
        }
      }
      const last = chunk.lastIndexOf(10);
      if (last >= start) {
        run(start === 0 && last === chunk.length - 1 ? chunk : chunk.subarray(start, last + 1), wasAtStart && start === 0);
        start = last + 1;
      }
      if (start < chunk.length) {
        if (pendingBytes === 0) pendingAtStart = wasAtStart && start === 0;
        pending.push(Buffer.from(chunk.subarray(start)));
        pendingBytes += chunk.length - start;
      }
      if (pendingBytes > maxLine) {
        const text = pendingText();
        if (text.length > maxLine) {
          skipping = true;
          skippedHead = text.slice(0, 1024);
          pending = [];
          pendingBytes = 0;
        }
      }
      return result();
    },
    end(): EncodeResult {
      if (skipping) {
        skipping = false;
        tooLong();
      } else if (pendingBytes > 0) {
        const buf = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        run(buf, pendingAtStart);
      }
      return result();
    },
  };
}
