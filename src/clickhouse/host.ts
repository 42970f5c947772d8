/**
 * A tenant's ClickHouse host. Two kinds sit behind this one interface:
 * - embedded: a supervised child process running the chdb engine on its own data
 *   directory, serving ClickHouse's HTTP interface on a loopback port;
 * - remote: a real ClickHouse server (or cluster endpoint) over HTTP(S).
 * Both are reached through @clickhouse/client, so every query Colibri sends takes
 * the same code path whatever the host kind.
 *
 * Two connections per host, never mixed:
 * - `internal`: DDL, inserts and Colibri's own reads. Tenant SQL never reaches it.
 * - `reader`: tenant reads, with readonly enforced outside the SQL text (a readonly
 *   user/profile on remote hosts, a readonly session on embedded hosts).
 */
import type { Readable } from 'node:stream';

export type HostKind = 'embedded' | 'remote';

/** ClickHouse settings sent with a query (URL parameters on the HTTP interface). */
export type QuerySettings = Record<string, string | number | boolean>;

export interface QueryOptions {
  /** Settings sent alongside the query, outside of its text. */
  settings?: QuerySettings;
  /** Query id on the host, so a query can be found in its logs and killed. */
  queryId?: string;
  /** Aborts the HTTP request (the host may still run the query; see killQuery). */
  signal?: AbortSignal;
  /** Default database for unqualified names. */
  database?: string;
}

export interface InsertOptions extends QueryOptions {
  /** Explicit column list for the INSERT. */
  columns?: readonly string[];
}

export interface InsertSummary {
  rowsWritten: number;
  bytesWritten: number;
}

/** A streamed query result: raw bytes in the requested format. */
export interface StreamResult {
  stream: Readable;
  queryId: string;
  /** Response headers from the host (e.g. x-clickhouse-summary), lower-cased names. */
  headers: Record<string, string>;
}

export type HostState = 'starting' | 'up' | 'down';

export interface HostHealth {
  state: HostState;
  /** When state is not 'up': seconds a client should wait before retrying. */
  retryAfterSeconds: number;
  /** Last error seen talking to the host; never contains credentials. */
  lastError?: string;
}

export interface Host {
  readonly kind: HostKind;
  /** Stable name for logs and metrics (the tenant slug); never a URL or credential. */
  readonly name: string;

  /** Start the host (spawn the embedded child, or check the remote one). Idempotent. */
  start(): Promise<void>;
  /** Stop the host and release its connections. Idempotent. */
  close(): Promise<void>;
  health(): HostHealth;
  /** A cheap round trip (SELECT 1). Resolves false instead of throwing. */
  ping(): Promise<boolean>;

  /** internal: run a statement that returns no rows (DDL, ALTER, TRUNCATE...). */
  command(sql: string, options?: QueryOptions): Promise<void>;
  /** internal: run a SELECT and return its rows parsed from JSONEachRow. */
  queryRows<T = Record<string, unknown>>(sql: string, options?: QueryOptions): Promise<T[]>;
  /** internal: insert a payload already encoded in `format` into a fully qualified table. */
  insert(table: string, payload: Buffer | string | readonly Buffer[], format: InsertFormat, options?: InsertOptions): Promise<InsertSummary>;

  /** reader: run tenant SQL (already compiled and checked) read-only, streaming the raw result in `format`. */
  read(sql: string, format: string, options?: QueryOptions): Promise<StreamResult>;
  /** internal: kill a running query by id on the host (used when a query runs over its time). */
  killQuery(queryId: string): Promise<void>;
}

export type InsertFormat = 'JSONEachRow' | 'CSV' | 'CSVWithNames' | 'TSV' | 'TabSeparated' | 'RowBinary';

/** Thrown when the host cannot take requests right now; the API answers 503 + Retry-After. */
export class HostUnavailableError extends Error {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'HostUnavailableError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** An error ClickHouse itself returned for a query (bad SQL, unknown table, ...). */
export class HostQueryError extends Error {
  /** ClickHouse's numeric error code, when known (e.g. 60 = UNKNOWN_TABLE). */
  readonly code: number | undefined;
  constructor(message: string, code: number | undefined) {
    super(message);
    this.name = 'HostQueryError';
    this.code = code;
  }
}
