/**
 * Coalesces concurrent Events API requests for the same table into fewer, larger
 * inserts. Each submitted payload resolves when the insert that carries it has been
 * acknowledged by ClickHouse (or rejects with that insert's error).
 *
 * A pending batch is flushed when it is full (maxBatchRows / maxBatchBytes), when its
 * first payload has waited flushIntervalMs, or — group commit — as soon as it holds
 * minFlushRows rows, fewer than maxInFlight inserts of the same table are in flight
 * and no request announced for the table (`arriving`) is still being received and
 * encoded. So large requests are not held back by the timer (clients waiting with
 * `wait=true` would otherwise be paced by it), while a table's inserts stay at least
 * minFlushRows rows each (or one per flushIntervalMs) and, under load, grow to
 * whatever arrives while the previous one runs plus the requests already at the door.
 * Fewer, larger inserts are what the engine wants: each insert costs it about 12 ms
 * of CPU whatever its size, on top of the cost per row (measured by
 * test/bench/events.ts).
 *
 * Batches are kept per table *group* (host + table, given by the caller) and format:
 * one insert carries one format.
 */
import type { Host, InsertFormat } from '../clickhouse/host.js';
import { HttpError } from '../server/errors.js';

export interface BatcherOptions {
  /** How long the first payload of a batch waits for company. */
  flushIntervalMs: number;
  maxBatchRows: number;
  maxBatchBytes: number;
  /** Pending bytes (all tables) above which new payloads are refused with 503. */
  maxPendingBytes: number;
  /**
   * A batch of at least this many rows does not wait for the timer: it is flushed
   * as soon as no insert of the same table is in flight (default 1000).
   */
  minFlushRows?: number;
  /** Inserts of one table (and format) that may run at once (default 1). */
  maxInFlight?: number;
}

/** Default of BatcherOptions.minFlushRows. */
export const DEFAULT_MIN_FLUSH_ROWS = 1000;
/** Default of BatcherOptions.maxInFlight. */
export const DEFAULT_MAX_IN_FLIGHT = 1;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Pending {
  group: string;
  host: Host;
  table: string;
  format: InsertFormat;
  chunks: Buffer[];
  rows: number;
  bytes: number;
  waiters: Waiter[];
  timer: NodeJS.Timeout | undefined;
}

export class InsertBatcher {
  readonly #options: BatcherOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Inserts in flight per key. */
  readonly #busy = new Map<string, number>();
  /** Requests announced per group and not yet submitted. */
  readonly #arriving = new Map<string, number>();
  readonly #minFlushRows: number;
  readonly #maxInFlight: number;
  #pendingBytes = 0;
  #closed = false;

  constructor(options: BatcherOptions) {
    this.#options = options;
    this.#minFlushRows = options.minFlushRows ?? DEFAULT_MIN_FLUSH_ROWS;
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  /** Bytes accepted but not yet acknowledged by a host. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Announce a request for `group` that will submit shortly (its body is being read
   * and encoded): a batch of the group that could go now waits for it, up to
   * flushIntervalMs. Call the returned function once the request has submitted (or
   * failed); calling it again does nothing.
   */
  arriving(group: string): () => void {
    this.#arriving.set(group, (this.#arriving.get(group) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#arriving.get(group) ?? 1) - 1;
      if (left > 0) {
        this.#arriving.set(group, left);
        return;
      }
      this.#arriving.delete(group);
      for (const [key, batch] of [...this.#pending]) if (batch.group === group && this.#groupCommitReady(key, batch)) this.#flush(key);
    };
  }

  /**
   * Queue `payload` (already encoded in `format`; one buffer or consecutive pieces of
   * it) for `table` on `host`. The group must identify host + table uniquely (e.g.
   * tenant/database.table). The buffers must not change until the promise settles.
   */
  submit(group: string, host: Host, table: string, format: InsertFormat, payload: Buffer | readonly Buffer[], rows: number): Promise<void> {
    if (this.#closed) return Promise.reject(new HttpError(503, 'Server is shutting down', { 'Retry-After': '1' }));
    if (rows === 0) return Promise.resolve();
    const pieces: readonly Buffer[] = Buffer.isBuffer(payload) ? [payload] : payload;
    let size = 0;
    for (const b of pieces) size += b.length;
    if (this.#pendingBytes + size > this.#options.maxPendingBytes) {
      return Promise.reject(new HttpError(503, 'Ingestion is backed up; retry shortly', { 'Retry-After': '1' }));
    }
    const key = `${group}#${format}`;
    let batch = this.#pending.get(key);
    if (batch !== undefined && (batch.bytes + size > this.#options.maxBatchBytes || batch.rows + rows > this.#options.maxBatchRows)) {
      this.#flush(key);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { group, host, table, format, chunks: [], rows: 0, bytes: 0, waiters: [], timer: undefined };
      this.#pending.set(key, batch);
      const b = batch;
      b.timer = setTimeout(() => {
        if (this.#pending.get(key) === b) this.#flush(key);
      }, this.#options.flushIntervalMs);
    }
    for (const b of pieces) if (b.length > 0) batch.chunks.push(b);
    batch.rows += rows;
    batch.bytes += size;
    this.#pendingBytes += size;
    const promise = new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    if (batch.bytes >= this.#options.maxBatchBytes || batch.rows >= this.#options.maxBatchRows) this.#flush(key);
    else if (this.#groupCommitReady(key, batch)) this.#flush(key);
    return promise;
  }

  /** Whether `batch` (pending under `key`) may go before its timer. */
  #groupCommitReady(key: string, batch: Pending): boolean {
    return batch.rows >= this.#minFlushRows && (this.#busy.get(key) ?? 0) < this.#maxInFlight && !this.#arriving.has(batch.group);
  }

  #flush(key: string): void {
    const batch = this.#pending.get(key);
    if (batch === undefined) return;
    this.#pending.delete(key);
    if (batch.timer !== undefined) clearTimeout(batch.timer);
    // The pieces go to the host as they are (no copy into one buffer).
    const payload = batch.chunks.length === 1 ? batch.chunks[0]! : batch.chunks;
    this.#busy.set(key, (this.#busy.get(key) ?? 0) + 1);
    const done = batch.host
      .insert(batch.table, payload, batch.format)
      .then(
        () => batch.waiters.forEach((w) => w.resolve()),
        (err: unknown) => batch.waiters.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        this.#pendingBytes -= batch.bytes;
        this.#inFlight.delete(done);
        const busy = (this.#busy.get(key) ?? 1) - 1;
        if (busy > 0) this.#busy.set(key, busy);
        else this.#busy.delete(key);
        // Group commit: what accumulated during the inserts in flight goes now if it is ready.
        const next = this.#pending.get(key);
        if (next !== undefined && this.#groupCommitReady(key, next)) this.#flush(key);
      });
    this.#inFlight.add(done);
  }

  /** Flush everything pending and wait for every insert in flight. */
  async drain(): Promise<void> {
    for (const key of [...this.#pending.keys()]) this.#flush(key);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Refuse new payloads, then drain. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }
}
