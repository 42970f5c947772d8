/**
 * Admission control for a tenant's host: a concurrency gate with a bounded queue and
 * a bounded wait (never an unbounded queue), and a per-second rate counter.
 * Refusals are `LimitError`s that carry the HTTP status (429) and Retry-After.
 */

/** A request refused by a limit; the API answers `status` with `Retry-After`. */
export class LimitError extends Error {
  readonly status: 429 | 503;
  readonly retryAfterSeconds: number;
  constructor(message: string, status: 429 | 503, retryAfterSeconds: number) {
    super(message);
    this.name = 'LimitError';
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Releases a slot; calling it more than once has no effect. */
export type Release = () => void;

/**
 * At most `max` holders at once (0: no limit); up to `maxQueued` more wait, each at
 * most `maxWaitMs`. Beyond the queue, or after the wait, `acquire` rejects with 429.
 */
export class ConcurrencyGate {
  #active = 0;
  readonly #queue: Waiter[] = [];

  constructor(
    readonly what: string,
    public max: number,
    public maxQueued: number,
    public maxWaitMs: number,
  ) {}

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Change the limits (tenant updated); waiters already queued keep waiting. */
  configure(max: number, maxQueued: number, maxWaitMs: number): void {
    this.max = max;
    this.maxQueued = maxQueued;
    this.maxWaitMs = maxWaitMs;
    this.#drain();
  }

  acquire(): Promise<Release> {
    if (this.max === 0 || (this.#active < this.max && this.#queue.length === 0)) {
      this.#active += 1;
      return Promise.resolve(this.#releaser());
    }
    if (this.#queue.length >= this.maxQueued) {
      return Promise.reject(new LimitError(`Too many concurrent queries for ${this.what}: ${this.max} running and ${this.#queue.length} queued (the limit); retry later`, 429, 1));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(new LimitError(`Too many concurrent queries for ${this.what}: no slot within ${this.maxWaitMs} ms; retry later`, 429, Math.max(1, Math.ceil(this.maxWaitMs / 1000))));
        }, this.maxWaitMs),
      };
      this.#queue.push(waiter);
    });
  }

  #releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#active -= 1;
      this.#drain();
    };
  }

  #drain(): void {
    while (this.#queue.length > 0 && (this.max === 0 || this.#active < this.max)) {
      const w = this.#queue.shift()!;
      clearTimeout(w.timer);
      this.#active += 1;
      w.resolve(this.#releaser());
    }
  }
}

/** Counts events per one-second window; `take` refuses (429) past `perSecond` (0: no limit). */
export class RateCounter {
  #windowStart = 0;
  #count = 0;

  constructor(
    readonly what: string,
    public perSecond: number,
  ) {}

  take(now: number): void {
    if (this.perSecond === 0) return;
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#count = 0;
    }
    if (this.#count >= this.perSecond) {
      throw new LimitError(`Too many inserts for ${this.what}: the limit is ${this.perSecond} per second`, 429, 1);
    }
    this.#count += 1;
  }
}

/** Requests and errors over the last minute, in one-second buckets (for the operator view). */
export class ErrorRate {
  readonly #requests = new Uint32Array(60);
  readonly #errors = new Uint32Array(60);
  #second = 0;

  record(ok: boolean, now: number = Date.now()): void {
    const i = this.#advance(now);
    this.#requests[i]! += 1;
    if (!ok) this.#errors[i]! += 1;
  }

  /** Requests, errors and the error ratio over the last 60 s. */
  snapshot(now: number = Date.now()): { requests: number; errors: number; errorRate: number } {
    this.#advance(now);
    let requests = 0;
    let errors = 0;
    for (let i = 0; i < 60; i++) {
      requests += this.#requests[i]!;
      errors += this.#errors[i]!;
    }
    return { requests, errors, errorRate: requests === 0 ? 0 : errors / requests };
  }

  #advance(now: number): number {
    const second = Math.floor(now / 1000);
    if (second - this.#second >= 60) {
      this.#requests.fill(0);
      this.#errors.fill(0);
    } else {
      for (let s = this.#second + 1; s <= second; s++) {
        this.#requests[s % 60] = 0;
        this.#errors[s % 60] = 0;
      }
    }
    if (second > this.#second) this.#second = second;
    return second % 60;
  }
}
