/**
 * Coalesces concurrent Events API requests for the same table into fewer, larger
 * inserts. Each submitted payload resolves when the insert that carries it has been
 * acknowledged by ClickHouse (or rejects with that insert's error).
 *
 * A pending batch is flushed when it is full (maxBatchRows / maxBatchBytes), when its
 * first payload has waited flushIntervalMs, or — group commit — as soon as it holds
 * minFlushRows rows and no insert of the same table is in flight (else when that
 * insert ends). So large requests are not held back by the timer (clients waiting
 * with `wait=true` would otherwise be paced by it: measured by test/bench/events.ts),
 * while a table's inserts stay at least minFlushRows rows each (or one per
 * flushIntervalMs) and, under load, grow to whatever arrives during the previous one.
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
}

/** Default of BatcherOptions.minFlushRows. */
export const DEFAULT_MIN_FLUSH_ROWS = 1000;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Pending {
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
  readonly #minFlushRows: number;
  #pendingBytes = 0;
  #closed = false;

  constructor(options: BatcherOptions) {
    this.#options = options;
    this.#minFlushRows = options.minFlushRows ?? DEFAULT_MIN_FLUSH_ROWS;
  }

  /** Bytes accepted but not yet acknowledged by a host. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Queue `payload` (already encoded in `format`; one buffer or consecutive pieces of
   * it) for `table` on `host`. The key must identify host + table uniquely (e.g.
   * tenant/database.table). The buffers must not change until the promise settles.
   */
  submit(key: string, host: Host, table: string, format: InsertFormat, payload: Buffer | readonly Buffer[], rows: number): Promise<void> {
    if (this.#closed) return Promise.reject(new HttpError(503, 'Server is shutting down', { 'Retry-After': '1' }));
    if (rows === 0) return Promise.resolve();
    const pieces: readonly Buffer[] = Buffer.isBuffer(payload) ? [payload] : payload;
    let size = 0;
    for (const b of pieces) size += b.length;
    if (this.#pendingBytes + size > this.#options.maxPendingBytes) {
      return Promise.reject(new HttpError(503, 'Ingestion is backed up; retry shortly', { 'Retry-After': '1' }));
    }
    let batch = this.#pending.get(key);
    if (batch !== undefined && (batch.bytes + size > this.#options.maxBatchBytes || batch.rows + rows > this.#options.maxBatchRows)) {
      this.#flush(key);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { host, table, format, chunks: [], rows: 0, bytes: 0, waiters: [], timer: undefined };
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
    else if (batch.rows >= this.#minFlushRows && !this.#busy.has(key)) this.#flush(key);
    return promise;
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
        else {
          this.#busy.delete(key);
          // Group commit: what accumulated during this insert goes now if it is large enough.
          const next = this.#pending.get(key);
          if (next !== undefined && next.rows >= this.#minFlushRows) this.#flush(key);
        }
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
