/**
 * Incremental CSV encoder (Data Sources API `format=csv`). RFC 4180 quoting: a field
 * starting with `"` is quoted, `""` inside it is a quote, and quoted fields may hold
 * delimiters and newlines. Records end with LF or CRLF. Records may be split
 * anywhere across chunks. Empty records are skipped, a UTF-8 BOM is ignored, and a
 * header row is dropped (`header: true`, or `'auto'` when the first record equals
 * the column names). Fields map to columns by position.
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
} from './encode.js';
import type { CompiledColumn } from './types.js';

/** CSV options. */
export interface CsvOptions {
  /** One character; default `,`. */
  delimiter?: string;
  /** Whether the first record is a header; `'auto'` (default) detects it. */
  header?: 'auto' | boolean;
}

// Scanner states for finding record ends across chunks.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;

/** Splits one complete record into fields; null when the quoting is malformed. */
export function splitCsvRecord(record: string, delim: string): string[] | null {
  const fields: string[] = [];
  const d = delim.charCodeAt(0);
  let i = 0;
  const len = record.length;
  for (;;) {
    if (i < len && record.charCodeAt(i) === 34) {
      let value = '';
      let start = i + 1;
      let j = start;
      for (;;) {
        const q = record.indexOf('"', j);
        if (q < 0) return null;
        if (record.charCodeAt(q + 1) === 34) {
          value += record.slice(start, q + 1);
          j = q + 2;
          start = j;
          continue;
        }
        value += record.slice(start, q);
        i = q + 1;
        break;
      }
      if (i < len && record.charCodeAt(i) === 13 && i + 1 === len) i++;
      fields.push(value);
      if (i >= len) return fields;
      if (record.charCodeAt(i) !== d) return null;
      i++;
    } else {
      const next = record.indexOf(delim, i);
      if (next < 0) {
        let end = len;
        if (end > i && record.charCodeAt(end - 1) === 13) end--;
        fields.push(record.slice(i, end));
        return fields;
      }
      fields.push(record.slice(i, next));
      i = next + 1;
      void d;
    }
  }
}

/** Creates a CSV encoder for `columns`. */
export function createCsvEncoder(columns: readonly ColumnDef[], ctx: EncodeContext, options: CsvOptions = {}): Encoder {
  const delim = options.delimiter ?? ',';
  if (delim.length !== 1 || delim === '"' || delim === '\n' || delim === '\r') {
    throw new Error(`invalid CSV delimiter ${JSON.stringify(delim)}: use a single character other than a quote or newline`);
  }
  const d = delim.charCodeAt(0);
  const header = options.header ?? 'auto';
  const cols = compileColumns(columns);
  const names = cols.map((c) => c.name);
  const n = cols.length;
  const sink = new RowSink(cols, ctx);
  const maxLine = ctx.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const decoder = new StringDecoder('utf8');

  let buf = '';
  let scan = 0;
  let state = FIELD_START;
  let first = true;
  let recordNo = 0;
  let skipping = false;
  let skippedHead = '';
  let headerChecked = header === false;

  function handleRecord(record: string): void {
    recordNo++;
    if (record === '' || record === '\r') return;
    if (record.length * 3 > maxLine && Buffer.byteLength(record) > maxLine) {
      sink.note(`line ${recordNo}: the record is longer than ${maxLine} bytes`);
      sink.addRawQuarantine(record, `the record is longer than ${maxLine} bytes`);
      return;
    }
    const fields = splitCsvRecord(record, delim);
    if (!headerChecked) {
      headerChecked = true;
      if (header === true) return;
      if (fields !== null && fields.length === n && fields.every((f, i) => f.trim() === names[i])) return;
    }
    if (fields === null) {
      sink.note(`line ${recordNo}: malformed quoting`);
      sink.addRawQuarantine(record, 'malformed CSV quoting');
      return;
    }
    if (fields.length !== n) {
      const reason = `expected ${n} fields, got ${fields.length}`;
      sink.note(`line ${recordNo}: ${reason}`);
      if (fields.length < n) sink.addQuarantine(fields, [], [reason]);
      else sink.addRawQuarantine(record, reason);
      return;
    }
    let row = '';
    let errors: RowErrors | null = null;
    for (let i = 0; i < n; i++) {
      const col = cols[i] as CompiledColumn;
      const enc = col.encodeText(fields[i] as string);
      if (typeof enc === 'string') {
        if (errors === null) row = appendField(row, col, enc);
      } else {
        (errors ??= new RowErrors()).add(sink, recordNo, col.name, enc.message);
      }
    }
    if (errors === null) sink.addGood(row);
    else sink.addQuarantine(fields, errors.columns, errors.messages);
  }

  function tooLong(): void {
    recordNo++;
    sink.note(`line ${recordNo}: the record is longer than ${maxLine} bytes`);
    sink.addRawQuarantine(skippedHead, `the record is longer than ${maxLine} bytes`);
    skippedHead = '';
  }

  function feed(text: string, final: boolean): void {
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (skipping) {
      // Look for the end of the over-long record, still honouring quotes.
      buf = text;
      scan = 0;
    } else {
      buf = buf === '' ? text : buf + text;
    }
    let recStart = 0;
    let i = scan;
    const len = buf.length;
    while (i < len) {
      const c = buf.charCodeAt(i);
      switch (state) {
        case FIELD_START:
          if (c === 34) state = QUOTED;
          else if (c === 10) {
            if (skipping) {
              skipping = false;
              tooLong();
            } else handleRecord(buf.slice(recStart, i));
            recStart = i + 1;
          } else if (c !== d) state = UNQUOTED;
          break;
        case UNQUOTED: {
          // fast path: jump to the next newline or delimiter
          if (c === 10) {
            if (skipping) {
              skipping = false;
              tooLong();
            } else handleRecord(buf.slice(recStart, i));
            recStart = i + 1;
            state = FIELD_START;
          } else if (c === d) state = FIELD_START;
          break;
        }
        case QUOTED: {
          const q = buf.indexOf('"', i);
          if (q < 0) {
            i = len;
            continue;
          }
          i = q;
          state = QUOTE_IN_QUOTED;
          break;
        }
        case QUOTE_IN_QUOTED:
          if (c === 34) state = QUOTED;
          else if (c === 10) {
            if (skipping) {
              skipping = false;
              tooLong();
            } else handleRecord(buf.slice(recStart, i));
            recStart = i + 1;
            state = FIELD_START;
          } else if (c === d) state = FIELD_START;
          else state = UNQUOTED;
          break;
      }
      i++;
    }
    if (skipping) {
      buf = '';
      scan = 0;
    } else {
      buf = recStart === 0 ? buf : buf.slice(recStart);
      scan = i - recStart;
      if (buf.length > maxLine) {
        skipping = true;
        skippedHead = buf.slice(0, 1024);
        buf = '';
        scan = 0;
      }
    }
    if (final) {
      if (skipping) {
        skipping = false;
        tooLong();
      } else if (buf !== '') {
        const last = buf;
        buf = '';
        scan = 0;
        if (state === QUOTED) {
          recordNo++;
          sink.note(`line ${recordNo}: unterminated quoted field`);
          sink.addRawQuarantine(last, 'unterminated quoted field');
        } else {
          handleRecord(last);
        }
      }
      state = FIELD_START;
    }
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
