/**
 * Health of one ClickHouse endpoint: a circuit breaker fed by heartbeats (a cheap
 * query on an interval) and by connection failures of real requests.
 *
 * closed → (failureThreshold consecutive failures) → open: calls fail at once with
 * HostUnavailableError (503 + Retry-After), nothing piles up on a dead host.
 * open → (a heartbeat succeeds) → closed: traffic recovers by itself.
 */
import { HostUnavailableError } from './host.js';

export type BreakerState = 'closed' | 'open';

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #lastError: string | undefined;
  /** Time of the last successful heartbeat or call. */
  lastOkAt = 0;

  constructor(
    readonly name: string,
    public failureThreshold: number,
    /** Retry-After suggested while open. */
    public retryAfterSeconds: number,
  ) {}

  get state(): BreakerState {
    return this.#state;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  get openedAt(): number {
    return this.#openedAt;
  }

  /** Throws HostUnavailableError while open. */
  check(): void {
    if (this.#state === 'open') {
      throw new HostUnavailableError(`host ${this.name} is unavailable (circuit open: ${this.#lastError ?? 'failing'})`, this.retryAfterSeconds);
    }
  }

  success(now: number = Date.now()): void {
    this.#failures = 0;
    this.lastOkAt = now;
    this.#state = 'closed';
  }

  /** A failure; `hard` (connection refused, host reported down) opens at once. */
  failure(reason: string, hard = false, now: number = Date.now()): void {
    this.#failures += 1;
    this.#lastError = reason;
    if (this.#state === 'closed' && (hard || this.#failures >= this.failureThreshold)) {
      this.#state = 'open';
      this.#openedAt = now;
    }
  }
}

/** Resolves `p`, or false after `ms`. */
export function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
