/**
 * Streaming a query result from the tenant's host to the client, in the format the
 * client asked for, without holding it in memory. Used by the Query API (and the
 * pipe endpoints).
 */
import type { Response } from 'express';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { HostQueryError, type Host, type QuerySettings } from '../clickhouse/host.js';
import type { OutputFormat } from '../catalog/sql-query.js';
import type { LimitsConfig } from '../server/config.js';

const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  JSON: 'application/json; charset=utf-8',
  JSONCompact: 'application/json; charset=utf-8',
  JSONEachRow: 'application/x-ndjson; charset=utf-8',
  CSV: 'text/csv; charset=utf-8',
  CSVWithNames: 'text/csv; charset=utf-8',
  TSV: 'text/tab-separated-values; charset=utf-8',
  TSVWithNames: 'text/tab-separated-values; charset=utf-8',
};

/** Settings every tenant read carries: the workspace limits and portable output. */
export function readSettings(limits: LimitsConfig, requested: Record<string, string>): QuerySettings {
  return {
    ...requested,
    max_execution_time: requested.max_execution_time ?? limits.maxExecutionTime,
    max_result_rows: limits.maxResultRows,
    result_overflow_mode: 'throw',
    max_memory_usage: limits.maxMemoryUsage,
    output_format_json_quote_64bit_integers: requested.output_format_json_quote_64bit_integers ?? 0,
  };
}

/**
 * A host error as the tenant should see it: without the workspace database
 * qualifier Colibri added and without the settings it sent along.
 */
export function tenantError(err: HostQueryError, database: string): HostQueryError {
  const escaped = database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const message = err.message
    .replace(new RegExp(`\`?${escaped}\`?\\.`, 'g'), '')
    .replace(/\s*SETTINGS\s[^()]*?readonly\s*=\s*1/g, '');
  return new HostQueryError(message, err.code);
}

/**
 * Results up to this size are read whole before anything is sent: they go out in one
 * write with a Content-Length (no chunked encoding, no stream pipeline per request),
 * and an error the host reports at their end is still answered with an error status.
 * Larger results are streamed with backpressure, holding at most this much.
 */
export const BUFFERED_RESULT_BYTES = 256 * 1024;

/** Run `sql` read-only on the host and stream the result into `res`. */
export async function streamQuery(res: Response, host: Host, sql: string, format: OutputFormat, settings: QuerySettings, queryId: string, database: string): Promise<void> {
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  let stream: Readable | undefined;
  try {
    const result = await host.read(sql, format, { settings, queryId, signal: abort.signal });
    stream = result.stream;
    const { head, size, ended } = await readHead(result.stream, BUFFERED_RESULT_BYTES);
    res.statusCode = 200;
    res.setHeader('Content-Type', CONTENT_TYPES[format]);
    res.setHeader('X-Query-Id', result.queryId);
    if (ended) {
      res.setHeader('Content-Length', size);
      res.end(head.length === 1 ? head[0] : Buffer.concat(head, size));
      return;
    }
    // A large result: stream the rest, waiting for the client when its socket is full.
    for (const chunk of head) res.write(chunk);
    head.length = 0;
    // Read manually (not for-await, which would destroy the stream on an early exit).
    const chunks = result.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    for (;;) {
      const next = await chunks.next();
      if (next.done === true) break;
      if (!res.write(next.value)) await once(res, 'drain', { signal: abort.signal });
    }
    res.end();
  } catch (err) {
    if (abort.signal.aborted) {
      // The client went away: stop the query on the host too.
      await host.killQuery(queryId).catch(() => undefined);
      return;
    }
    if (err instanceof HostQueryError) throw tenantError(err, database);
    throw err;
  } finally {
    res.off('close', onClose);
    // On any failure, release the host connection (a no-op once the result was read whole).
    if (stream !== undefined && !stream.readableEnded) stream.destroy();
  }
}

/**
 * Reads `stream` until it ends or more than `limit` bytes arrived (then it is left
 * paused, positioned after the returned chunks). Listeners rather than an async
 * iterator: a small result costs no iterator and no promise per chunk. Rejects with the
 * stream's error, or ERR_STREAM_PREMATURE_CLOSE when it closes before its end.
 */
function readHead(stream: Readable, limit: number): Promise<{ head: Buffer[]; size: number; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const head: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      head.push(chunk);
      size += chunk.length;
      if (size > limit) {
        stream.pause();
        cleanup();
        resolve({ head, size, ended: false });
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ head, size, ended: true });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      const err = new Error('Premature close') as NodeJS.ErrnoException;
      err.code = 'ERR_STREAM_PREMATURE_CLOSE';
      reject(err);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}
