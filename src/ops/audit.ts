/**
 * The audit trail of security-relevant changes (tokens, signing keys). Events are
 * queued in process; a later issue drains the queue into ClickHouse on the
 * tenant's own host. Never put a secret in an event: token values, signing keys and
 * JWTs stay out; names, ids and scopes go in.
 */

export type AuditKind =
  | 'token.created'
  | 'token.updated'
  | 'token.refreshed'
  | 'token.deleted'
  | 'jwt.issued'
  | 'signing_key.created'
  | 'signing_key.rotated'
  | 'signing_key.removed';

/** Who did it: a token (static or JWT) or the server itself. */
export interface AuditActor {
  kind: 'token' | 'jwt' | 'system';
  id?: string;
  name?: string;
}

export interface AuditEvent {
  /** ISO-8601 time of the change. */
  time: string;
  kind: AuditKind;
  tenant: string;
  /** Workspace id; absent for tenant-wide events (signing keys). */
  workspace?: string;
  actor: AuditActor;
  /** What changed: a token id and name, or a key id. */
  target: { id: string; name?: string };
  requestId?: string;
  /** Kind-specific, secret-free details (scopes, expiry, ...). */
  details?: Readonly<Record<string, unknown>>;
}

export type AuditListener = (event: AuditEvent) => void;

/** A bounded in-process queue: the oldest events are dropped (and counted) when full. */
export class AuditQueue {
  readonly #events: AuditEvent[] = [];
  readonly #listeners = new Set<AuditListener>();
  readonly #capacity: number;
  #dropped = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Queue an event and tell the listeners (a listener that throws is ignored). */
  emit(event: AuditEvent): void {
    if (this.#events.length >= this.#capacity) {
      this.#events.shift();
      this.#dropped++;
    }
    this.#events.push(event);
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // a broken listener must not break the change it observes
      }
    }
  }

  /** Take up to `max` queued events, oldest first. */
  drain(max = Number.POSITIVE_INFINITY): AuditEvent[] {
    return this.#events.splice(0, Math.min(max, this.#events.length));
  }

  /** Queued events, oldest first, without taking them. */
  peek(): readonly AuditEvent[] {
    return this.#events.slice();
  }

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Subscribe; returns the unsubscribe function. */
  subscribe(listener: AuditListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The process-wide audit queue. */
export const audit = new AuditQueue(100_000);

/** Convenience: stamp the time and queue. */
export function recordAudit(event: Omit<AuditEvent, 'time'>): void {
  audit.emit({ time: new Date().toISOString(), ...event });
}
