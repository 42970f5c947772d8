/**
 * A Host over ClickHouse's HTTP interface: two transports per endpoint (internal +
 * reader user), failover to the next endpoint when one refuses connections, and error
 * mapping to HostQueryError / HostUnavailableError. Both host kinds use it:
 * remote-host.ts for real servers (through @clickhouse/client), embedded-host.ts for
 * the loopback interface of the chdb child process (plain node:http); see transport.ts.
 *
 * Every request goes through `exec`, which sees the HTTP status and headers itself
 * (503 + Retry-After, X-ClickHouse-Exception-Code) and parses error texts of both old
 * (18.16) and new servers the same way.
 */
import { PassThrough, type Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { HostQueryError, HostUnavailableError } from './host.js';
import type {
  Host, HostHealth, HostKind, HostState, InsertFormat, InsertOptions, InsertSummary, QueryOptions, QuerySettings, StreamResult,
} from './host.js';
import { quoteIdentifier, quoteString } from './sql.js';
import { clickhouseClientTransport, httpTransport } from './transport.js';
import type { Credentials, Transport, TransportOptions, TransportSettings } from './transport.js';

export type { Credentials } from './transport.js';

/** How to reach a host over HTTP. */
export interface ClientHostOptions {
  kind: HostKind;
  /** Stable name for logs and errors (never a URL or credential). */
  name: string;
  /** Endpoint URLs without credentials, tried in order on connection failure (replicas). */
  urls: readonly string[];
  /** The connection for DDL, inserts and Colibri's own reads. */
  internal: Credentials;
  /**
   * The connection for tenant reads. When null, reads use the internal user with
   * `readonly=1` sent as the last URL setting (see remote-host.ts for what that protects).
   */
  reader: Credentials | null;
  /** Default database for unqualified names when a query gives none. */
  database?: string;
  /** Socket idle timeout per request (default 300 s). */
  requestTimeoutMs?: number;
  /** Retry-After suggested while the host is unreachable (default 5 s). */
  retryAfterSeconds?: number;
  /**
   * 'clickhouse-client' (default): @clickhouse/client, for real servers; 'http': plain
   * node:http, for the embedded engine's loopback interface (see transport.ts).
   */
  transport?: 'clickhouse-client' | 'http';
}

/** Largest error body read from the host. */
const MAX_ERROR_BYTES = 64 * 1024;

const INSERT_FORMATS = new Set<string>(['JSONEachRow', 'CSV', 'CSVWithNames', 'TSV', 'TabSeparated', 'RowBinary']);

/** A table name accepted by insert(): `table` or `db.table`, each part plain or backtick-quoted. */
const TABLE_NAME = /^(?:`(?:[^`\\]|\\.)+`|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:`(?:[^`\\]|\\.)+`|[A-Za-z_][A-Za-z0-9_]*))?$/;

/** Socket errors raised before a request reached the server: safe to retry on another endpoint. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

interface Endpoint {
  internal: Transport;
  reader: Transport;
}

interface ExecRequest {
  role: 'internal' | 'reader';
  sql: string;
  settings: TransportSettings;
  options: QueryOptions | undefined;
  values?: Buffer | readonly Buffer[];
}

interface ExecResponse {
  stream: Readable;
  queryId: string;
  headers: Record<string, string>;
}

/** Reads a stream as text, at most `limit` bytes. */
async function readText(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** ClickHouse's error code in an error text ("Code: 60. DB::Exception" or the 18.x "Code: 60, e.displayText()"). */
export function parseErrorCode(text: string): number | undefined {
  const m = /Code: (\d+)[.,]/.exec(text);
  return m ? Number(m[1]) : undefined;
}

function settingsOf(options: QueryOptions | undefined, database: string | undefined, extra: QuerySettings): TransportSettings {
  const out: Record<string, string | number | boolean> = {};
  const db = options?.database ?? database;
  if (db !== undefined) out['database'] = db;
  for (const [k, v] of Object.entries(options?.settings ?? {})) out[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    delete out[k];
    out[k] = v;
  }
  return out;
}

/** A Host over one or more HTTP endpoints of the same ClickHouse data. */
/** Bytes held back at the end of a streamed result, to spot an exception written there. */
const TAIL_BYTES = 4096;
const EXCEPTION_AT_END = /(?:^|\n)(Code: \d+[.,] (?:e\.displayText\(\) = )?DB::Exception:[^\n]*)\n?$/;

/** The exception text ClickHouse wrote as the last line of a result body, if any. */
export function exceptionAtEnd(tail: string): string | undefined {
  return EXCEPTION_AT_END.exec(tail)?.[1]?.trim();
}

export class ClientHost implements Host {
  readonly kind: HostKind;
  readonly name: string;
  private readonly endpoints: Endpoint[];
  private readonly readAsInternal: boolean;
  private readonly retryAfter: number;
  private readonly database: string | undefined;
  private active = 0;
  private state: HostState = 'starting';
  private lastError: string | undefined;
  private closed = false;

  constructor(options: ClientHostOptions) {
    if (options.urls.length === 0) throw new Error(`host ${options.name}: no URL`);
    this.kind = options.kind;
    this.name = options.name;
    this.retryAfter = options.retryAfterSeconds ?? 5;
    this.readAsInternal = options.reader === null;
    this.database = options.database;
    const transportOptions: TransportOptions = { timeoutMs: options.requestTimeoutMs ?? 300_000, maxSockets: 16 };
    const transport = options.transport === 'http' ? httpTransport : clickhouseClientTransport;
    const make = (url: string, c: Credentials): Transport => transport(url, c, transportOptions);
    this.endpoints = options.urls.map((url) => ({
      internal: make(url, options.internal),
      reader: make(url, options.reader ?? options.internal),
    }));
  }

  async start(): Promise<void> {
    await this.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.endpoints.flatMap((e) => [e.internal.close(), e.reader.close()]));
  }

  health(): HostHealth {
    const h: HostHealth = { state: this.state, retryAfterSeconds: this.state === 'up' ? 0 : this.retryAfter };
    if (this.lastError !== undefined) h.lastError = this.lastError;
    return h;
  }

  async ping(): Promise<boolean> {
    try {
      await this.queryRows('SELECT 1 AS ok');
      return true;
    } catch {
      return false;
    }
  }

  async command(sql: string, options?: QueryOptions): Promise<void> {
    const r = await this.exec({ role: 'internal', sql, settings: settingsOf(options, this.database, { wait_end_of_query: 1 }), options });
    await readText(r.stream, 0);
  }

  async queryRows<T = Record<string, unknown>>(sql: string, options?: QueryOptions): Promise<T[]> {
    const settings = settingsOf(options, this.database, { default_format: 'JSONEachRow', output_format_json_quote_64bit_integers: 0, wait_end_of_query: 1 });
    const r = await this.exec({ role: 'internal', sql, settings, options });
    const text = await readText(r.stream, Number.MAX_SAFE_INTEGER);
    const rows: T[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() !== '') rows.push(JSON.parse(line) as T);
    }
    return rows;
  }

  async insert(table: string, payload: Buffer | string | readonly Buffer[], format: InsertFormat, options?: InsertOptions): Promise<InsertSummary> {
    if (!TABLE_NAME.test(table)) throw new Error(`insert: invalid table name`);
    if (!INSERT_FORMATS.has(format)) throw new Error(`insert: unsupported format`);
    const cols = options?.columns !== undefined && options.columns.length > 0 ? ` (${options.columns.map(quoteIdentifier).join(', ')})` : '';
    const values = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const r = await this.exec({ role: 'internal', sql: `INSERT INTO ${table}${cols} FORMAT ${format}`, settings: settingsOf(options, this.database, {}), options, values });
    await readText(r.stream, 0);
    let rowsWritten = 0;
    let bytesWritten = 0;
    const summary = r.headers['x-clickhouse-summary'];
    if (summary !== undefined) {
      try {
        const s = JSON.parse(summary) as { written_rows?: string; written_bytes?: string };
        rowsWritten = Number(s.written_rows ?? 0);
        bytesWritten = Number(s.written_bytes ?? 0);
      } catch {
        // a malformed summary only loses the counters
      }
    }
    return { rowsWritten, bytesWritten };
  }

  async read(sql: string, format: string, options?: QueryOptions): Promise<StreamResult> {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(format)) throw new Error('read: invalid format name');
    // Without a reader user, readonly=1 goes last: settings before it still apply, any later
    // change is refused. A reader user's profile governs by itself (18.x refuses to
    // override readonly=2), and the embedded child forces readonly=1 for its reader.
    const extra: QuerySettings = { default_format: format, output_format_json_quote_64bit_integers: 0 };
    if (this.readAsInternal) extra['readonly'] = 1;
    const settings = settingsOf(options, this.database, extra);
    const r = await this.exec({ role: 'reader', sql, settings, options });
    return { stream: this.withErrorTail(r.stream), queryId: r.queryId, headers: r.headers };
  }

  async killQuery(queryId: string): Promise<void> {
    await this.command(`KILL QUERY WHERE query_id = ${quoteString(queryId)}`);
  }

  /**
   * Passes `src` through, holding back its last bytes until the end. ClickHouse reports
   * an error that happens after the first block was sent by writing the exception text
   * into the body: older servers then end the response normally, newer ones cut it.
   * Either way the stream errors with a HostQueryError carrying that text (never a
   * silently truncated result), or a HostUnavailableError when the transfer broke.
   */
  private withErrorTail(src: Readable): Readable {
    const out = new PassThrough();
    let held: Buffer = Buffer.alloc(0);
    src.on('data', (chunk: Buffer) => {
      const all = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      if (all.length <= TAIL_BYTES) {
        held = all;
        return;
      }
      held = Buffer.from(all.subarray(all.length - TAIL_BYTES));
      if (!out.write(all.subarray(0, all.length - TAIL_BYTES))) src.pause();
    });
    out.on('drain', () => src.resume());
    src.on('end', () => {
      const exception = exceptionAtEnd(held.toString('utf8'));
      if (exception !== undefined) {
        out.destroy(new HostQueryError(exception, parseErrorCode(exception)));
        return;
      }
      out.end(held);
    });
    src.on('error', () => {
      const text = held.toString('utf8');
      const at = text.lastIndexOf('Code: ');
      out.destroy(at >= 0
        ? new HostQueryError(text.slice(at).trim(), parseErrorCode(text.slice(at)))
        : new HostUnavailableError(`host ${this.name}: result transfer interrupted`, this.retryAfter));
    });
    out.on('close', () => {
      if (!src.destroyed) src.destroy();
    });
    return out;
  }

  /** Marks the host unreachable and returns the error to throw. */
  private unavailable(what: string): HostUnavailableError {
    this.state = 'down';
    this.lastError = `${this.name}: ${what}`;
    return new HostUnavailableError(`host ${this.name} is unavailable: ${what}`, this.retryAfter);
  }

  private async exec(req: ExecRequest): Promise<ExecResponse> {
    if (this.closed) throw new HostUnavailableError(`host ${this.name} is closed`, this.retryAfter);
    const queryId = req.options?.queryId ?? randomUUID();
    let lastConnectError = 'connection refused';
    for (let attempt = 0; attempt < this.endpoints.length; attempt += 1) {
      const index = (this.active + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[index] as Endpoint;
      const transport = req.role === 'reader' && !this.readAsInternal ? endpoint.reader : endpoint.internal;
      let result;
      try {
        result = await transport.exec({
          sql: req.sql,
          queryId,
          settings: req.settings,
          ...(req.options?.signal !== undefined ? { signal: req.options.signal } : {}),
          ...(req.values !== undefined ? { values: req.values } : {}),
        });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (req.options?.signal?.aborted === true) {
          const abort = new Error('request aborted');
          abort.name = 'AbortError';
          throw abort;
        }
        if (e.code !== undefined && CONNECT_ERRORS.has(e.code)) {
          lastConnectError = `cannot connect (${e.code})`;
          continue;
        }
        if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || /socket hang up/i.test(e.message ?? '')) {
          throw this.unavailable('connection lost');
        }
        if (/timeout/i.test(e.message ?? '')) throw this.unavailable('request timed out');
        throw this.unavailable('request failed');
      }
      this.active = index;
      const { headers, status } = result;
      if (status === 503) {
        await readText(result.stream, MAX_ERROR_BYTES).catch(() => '');
        const retry = Number(headers['retry-after']);
        const err = this.unavailable('service unavailable (503)');
        throw new HostUnavailableError(err.message, Number.isFinite(retry) && retry > 0 ? retry : this.retryAfter);
      }
      if (status < 200 || status >= 300 || headers['x-clickhouse-exception-code'] !== undefined) {
        this.markUp();
        const text = (await readText(result.stream, MAX_ERROR_BYTES).catch(() => '')).trim();
        const headerCode = Number(headers['x-clickhouse-exception-code']);
        const code = Number.isFinite(headerCode) && headers['x-clickhouse-exception-code'] !== undefined ? headerCode : parseErrorCode(text);
        throw new HostQueryError(text === '' ? `HTTP ${status}` : text, code);
      }
      this.markUp();
      return { stream: result.stream, queryId, headers };
    }
    throw this.unavailable(lastConnectError);
  }

  private markUp(): void {
    this.state = 'up';
  }
}
