/**
 * What the NDJSON and CSV encoders share: the payload formats, the result shape,
 * and the writers of good rows and quarantine rows.
 *
 * Good rows are JSONEachRow (keys by name) by default, or TabSeparated (all columns,
 * positional: much cheaper for ClickHouse to parse) when the encoder is asked for it
 * and the schema allows it (see tsv.ts). A positional row cannot leave a column to
 * its server-side DEFAULT expression, so such rows are written as JSONEachRow into
 * `fallback`. Quarantine rows are always JSONEachRow. ClickHouse 26.x and 18.16 read
 * the values written here identically.
 */
import type { ColumnDef } from '../catalog/schema.js';
import { compileColumn, OMIT, type CompiledColumn, type Encoded, ValueError } from './types.js';
import { jsonString, wellFormed } from './json.js';

/** ClickHouse input format of `EncodeResult.good` by default, and always of `fallback`. */
export const GOOD_FORMAT = 'JSONEachRow' as const;
/** The formats `EncodeResult.good` may be in. */
export type GoodFormat = 'JSONEachRow' | 'TabSeparated';
/** ClickHouse input format of `EncodeResult.quarantine`. */
export const QUARANTINE_FORMAT = 'JSONEachRow' as const;

/** Output of one `push` or `end` call of an encoder. */
export interface EncodeResult {
  /** Rows for the data source table, in `goodFormat`. */
  good: Buffer;
  goodRows: number;
  goodFormat: GoodFormat;
  /**
   * With goodFormat TabSeparated: good rows that leave a column to its server-side
   * DEFAULT, in JSONEachRow (GOOD_FORMAT). Always empty with JSONEachRow.
   */
  fallback: Buffer;
  fallbackRows: number;
  /** Rows for the `_quarantine` table, in QUARANTINE_FORMAT. */
  quarantine: Buffer;
  quarantineRows: number;
  /** A few messages such as `line 3: column 'n': value 'x' is not a valid Int32`. */
  errors: string[];
}

/** Context of one import. */
export interface EncodeContext {
  importId: string;
  now: Date;
  /** Longest accepted line/record, in bytes (default 10 MiB). */
  maxLineBytes?: number;
}

/** An incremental encoder: feed chunks, then call `end` once. */
export interface Encoder {
  push(chunk: Buffer): EncodeResult;
  end(): EncodeResult;
}

/** Default maximum line length. */
export const DEFAULT_MAX_LINE_BYTES = 10 * 1024 * 1024;
/** How many error messages one result carries at most. */
export const MAX_ERRORS = 10;
/** Longest raw text kept in a quarantine row's c__error. */
const MAX_RAW_IN_ERROR = 64 * 1024;

/** Accumulates the rows of one push/end call. */
export class RowSink {
  private good = '';
  private fallback = '';
  private bad = '';
  private goodRows = 0;
  private fallbackRows = 0;
  private badRows = 0;
  private errors: string[] = [];
  private errorsTotal = 0;
  private readonly columns: readonly CompiledColumn[];
  private readonly tail: string;

  readonly format: GoodFormat;

  constructor(columns: readonly CompiledColumn[], ctx: EncodeContext, format: GoodFormat = GOOD_FORMAT) {
    this.columns = columns;
    this.format = format;
    const seconds = Math.floor(ctx.now.getTime() / 1000);
    this.tail = `"c__import_id":${JSON.stringify(ctx.importId)}`;
    this.insertion = `"insertion_date":"${seconds}"`;
  }
  private readonly insertion: string;

  /** Appends an encoded JSONEachRow good row (the text between braces). */
  addGood(row: string): void {
    if (this.format === 'JSONEachRow') {
      this.good += `{${row}}\n`;
      this.goodRows++;
    } else {
      this.fallback += `{${row}}\n`;
      this.fallbackRows++;
    }
  }

  /** Appends a TabSeparated good row, its newline included (format TabSeparated only). */
  addTsvLine(line: string): void {
    this.good += line;
    this.goodRows++;
  }

  /** Records an error message (only the first MAX_ERRORS are kept). */
  note(message: string): void {
    this.errorsTotal++;
    if (this.errors.length < MAX_ERRORS) this.errors.push(message);
  }

  /**
   * Appends a quarantine row: `values[i]` is the raw text of column i (or null),
   * `errorColumns`/`errors` the reasons.
   */
  addQuarantine(values: ReadonlyArray<string | null>, errorColumns: readonly string[], errors: readonly string[]): void {
    // Texts go through jsonString / wellFormed: a lone surrogate in a value (or in a
    // message quoting it) must not make ClickHouse refuse the quarantine insert.
    let errText = JSON.stringify(errors);
    if (errText.includes('\\ud')) errText = JSON.stringify(errors.map(wellFormed));
    let row = `{"c__error_column":${JSON.stringify(errorColumns)},"c__error":${errText},${this.tail}`;
    for (let i = 0; i < this.columns.length; i++) {
      const v = values[i];
      row += `,${(this.columns[i] as CompiledColumn).key}${v === null || v === undefined ? 'null' : jsonString(v)}`;
    }
    this.bad += `${row},${this.insertion}}\n`;
    this.badRows++;
  }

  /** Quarantines a row whose columns could not be extracted at all. */
  addRawQuarantine(raw: string, reason: string): void {
    const kept = raw.length > MAX_RAW_IN_ERROR ? `${raw.slice(0, MAX_RAW_IN_ERROR)}... (truncated)` : raw;
    this.addQuarantine([], [], [reason, kept]);
  }

  /** Returns everything accumulated and resets. */
  take(): EncodeResult {
    const r: EncodeResult = {
      good: Buffer.from(this.good, 'utf8'),
      goodRows: this.goodRows,
      goodFormat: this.format,
      fallback: Buffer.from(this.fallback, 'utf8'),
      fallbackRows: this.fallbackRows,
      quarantine: Buffer.from(this.bad, 'utf8'),
      quarantineRows: this.badRows,
      errors: this.errors,
    };
    if (this.errorsTotal > this.errors.length) r.errors.push(`... and ${this.errorsTotal - this.errors.length} more errors`);
    this.good = '';
    this.fallback = '';
    this.bad = '';
    this.goodRows = 0;
    this.fallbackRows = 0;
    this.badRows = 0;
    this.errors = [];
    this.errorsTotal = 0;
    return r;
  }
}

/** Compiles every column once. */
export function compileColumns(columns: readonly ColumnDef[]): CompiledColumn[] {
  if (columns.length === 0) throw new Error('a data source needs at least one column');
  return columns.map(compileColumn);
}

/** Appends `key:value` to a row text, handling OMIT. */
export function appendField(row: string, col: CompiledColumn, enc: string): string {
  if (enc === OMIT) return row;
  return row === '' ? col.key + enc : `${row},${col.key}${enc}`;
}

export { ValueError, type Encoded };

/**
 * The value errors of one row, collected column by column (allocated only when a row
 * has one): each is noted in the sink's messages with its line, and the row goes to
 * quarantine with every failing column and reason.
 */
export class RowErrors {
  readonly columns: string[] = [];
  readonly messages: string[] = [];

  add(sink: RowSink, line: number, column: string, message: string): void {
    this.columns.push(column);
    this.messages.push(`column '${column}': ${message}`);
    sink.note(`line ${line}: column '${column}': ${message}`);
  }
}
