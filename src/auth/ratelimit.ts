/**
 * Rate limits: fixed one-second windows per key (a token, a JWT name, a workspace).
 * `RateLimiter` is asynchronous so that a shared implementation (Redis: INCR +
 * PEXPIRE on `<key>:<window>`) can replace the in-memory one without changing callers.
 */

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Requests left in the current window (0 when refused). */
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

export interface RateLimiter {
  /** Count one request against `key` (at most `limit` per `windowMs`). */
  hit(key: string, limit: number, windowMs: number, now: number): Promise<RateDecision>;
}

interface Window {
  start: number;
  count: number;
}

/** Counters in this process's memory: right for one instance. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #maxKeys: number;

  constructor(maxKeys = 100_000) {
    this.#maxKeys = maxKeys;
  }

  hit(key: string, limit: number, windowMs: number, now: number): Promise<RateDecision> {
    return Promise.resolve(this.hitSync(key, limit, windowMs, now));
  }

  hitSync(key: string, limit: number, windowMs: number, now: number): RateDecision {
    const start = now - (now % windowMs);
    let w = this.#windows.get(key);
    if (w === undefined || w.start !== start) {
      if (w === undefined && this.#windows.size >= this.#maxKeys) this.#sweep(start);
      w = { start, count: 0 };
      this.#windows.set(key, w);
    }
    w.count++;
    const resetMs = start + windowMs - now;
    if (w.count > limit) return { allowed: false, limit, remaining: 0, resetMs };
    return { allowed: true, limit, remaining: limit - w.count, resetMs };
  }

  /** Drop windows that are over; if still full, drop the oldest keys. */
  #sweep(current: number): void {
    for (const [k, w] of this.#windows) if (w.start < current) this.#windows.delete(k);
    while (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done) break;
      this.#windows.delete(oldest.value);
    }
  }
}
