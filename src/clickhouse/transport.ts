/**
 * How ClientHost reaches one ClickHouse HTTP endpoint as one user: a request is the SQL
 * (or, for an insert, the SQL in the URL and the data as the body), a query id and URL
 * settings; the answer is the HTTP status, the headers and the body as a stream, error
 * statuses included (ClientHost reads and maps them). Two implementations behind this
 * one interface:
 *
 * - `clickhouseClientTransport`: @clickhouse/client, for real ClickHouse servers
 *   (TLS, its connection pool, its protocol care);
 * - `httpTransport`: plain node:http with a keep-alive agent, for the embedded engine's
 *   loopback interface (src/clickhouse/embedded/child.ts). One write per request with a
 *   Content-Length: @clickhouse/client streams every body chunked from a Readable, which
 *   costs about 1.3 ms of latency and 0.3 ms of CPU per request on loopback (measured;
 *   see docs/operations.md, "Transports").
 *
 * Connection errors are thrown with their `code` (ECONNREFUSED, ...); a request that
 * passes its time limit fails with a message containing "timeout"; an aborted one with
 * an AbortError. ClientHost classifies them.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';

/** A ClickHouse user and its password. */
export interface Credentials {
  user: string;
  password: string;
}

export type TransportSettings = Record<string, string | number | boolean>;

export interface TransportRequest {
  sql: string;
  queryId: string;
  settings: TransportSettings;
  signal?: AbortSignal;
  /** Insert data: the SQL then goes in the URL, the data as the body. */
  values?: Buffer | readonly Buffer[];
}

export interface TransportResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The body; the caller reads it to the end or destroys it. */
  stream: Readable;
}

export interface Transport {
  exec(req: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}

export interface TransportOptions {
  /** Socket idle time limit of a request, response included. */
  timeoutMs: number;
  /** Connections kept per endpoint and user. */
  maxSockets: number;
}

export function headerMap(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** A setting's text in a URL, as ClickHouse reads it (booleans as 1/0). */
function settingText(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

function abortError(): Error {
  const err = new Error('request aborted');
  err.name = 'AbortError';
  return err;
}

/** How long an idle keep-alive connection of httpTransport is kept. */
const IDLE_SOCKET_MS = 4000;

/** @clickhouse/client over one endpoint and user. */
export function clickhouseClientTransport(url: string, credentials: Credentials, options: TransportOptions): Transport {
  const client: ClickHouseClient = createClient({
    url,
    username: credentials.user,
    password: credentials.password,
    request_timeout: options.timeoutMs,
    compression: { request: false, response: false },
    log: { level: ClickHouseLogLevel.OFF },
    keep_alive: { enabled: true },
    max_open_connections: options.maxSockets,
    application: 'colibri',
  });
  return {
    async exec(req: TransportRequest): Promise<TransportResponse> {
      const base = {
        query: req.sql,
        query_id: req.queryId,
        clickhouse_settings: req.settings as ClickHouseSettings,
        ignore_error_response: true,
        ...(req.signal !== undefined ? { abort_signal: req.signal } : {}),
      };
      const result = req.values !== undefined
        ? await client.exec({ ...base, values: Readable.from(Buffer.isBuffer(req.values) ? [req.values] : req.values) })
        : await client.exec(base);
      return { status: result.http_status_code ?? 0, headers: headerMap(result.response_headers), stream: result.stream as Readable };
    },
    close: () => client.close(),
  };
}

/** Plain node:http over one `http:` endpoint and user (the embedded engine's loopback interface). */
export function httpTransport(url: string, credentials: Credentials, options: TransportOptions): Transport {
  const base = new URL(url);
  if (base.protocol !== 'http:') throw new Error('httpTransport: only http: URLs');
  // Idle connections are dropped after IDLE_SOCKET_MS, well before the engine closes
  // them (its keep-alive timeout is 10 s): a request never races a closing socket.
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets, scheduling: 'lifo', timeout: IDLE_SOCKET_MS });
  const authorization = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
  const pathBase = base.pathname === '' ? '/' : base.pathname;
  return {
    exec(req: TransportRequest): Promise<TransportResponse> {
      if (req.signal?.aborted === true) return Promise.reject(abortError());
      const params = new URLSearchParams();
      params.set('query_id', req.queryId);
      for (const [k, v] of Object.entries(req.settings)) params.set(k, settingText(v));
      let pieces: readonly Buffer[];
      if (req.values !== undefined) {
        params.set('query', req.sql);
        pieces = Buffer.isBuffer(req.values) ? [req.values] : req.values;
      } else {
        pieces = [Buffer.from(req.sql, 'utf8')];
      }
      let length = 0;
      for (const p of pieces) length += p.length;
      return new Promise<TransportResponse>((resolve, reject) => {
        const request = http.request({
          host: base.hostname,
          port: base.port,
          path: `${pathBase}?${params.toString()}`,
          method: 'POST',
          agent,
          headers: { Authorization: authorization, 'Content-Length': length, 'Content-Type': 'text/plain; charset=UTF-8', 'User-Agent': 'colibri' },
        });
        const signal = req.signal;
        const onAbort = (): void => {
          request.destroy(abortError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        request.setTimeout(options.timeoutMs, () => request.destroy(new Error(`request timeout after ${options.timeoutMs} ms`)));
        request.once('response', (res) => {
          // Later errors (timeout, abort, a broken transfer) surface on the body stream.
          res.once('close', () => signal?.removeEventListener('abort', onAbort));
          resolve({ status: res.statusCode ?? 0, headers: headerMap(res.headers), stream: res });
        });
        request.on('error', (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        });
        if (pieces.length === 1) {
          request.end(pieces[0]);
        } else {
          request.cork();
          for (const p of pieces) if (p.length > 0) request.write(p);
          request.end();
        }
      });
    },
    async close(): Promise<void> {
      agent.destroy();
    },
  };
}
