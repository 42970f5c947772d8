/**
 * The embedded host: a supervised chdb child process (embedded/supervisor.ts) reached
 * through ClientHost over its loopback HTTP interface. While the child is down every
 * call fails at once with HostUnavailableError (→ 503 + Retry-After); in-flight
 * requests fail as soon as their connection drops.
 */
import { mkdir } from 'node:fs/promises';
import { ClientHost } from './client-host.js';
import { HostUnavailableError } from './host.js';
import type { Host, HostHealth, InsertFormat, InsertOptions, InsertSummary, QueryOptions, StreamResult } from './host.js';
import { Supervisor } from './embedded/supervisor.js';
import type { ChildEndpoint } from './embedded/supervisor.js';
import { INTERNAL_USER, READER_USER } from './embedded/protocol.js';

/** Options of an EmbeddedHost. */
export interface EmbeddedHostOptions {
  /** Tenant slug, for logs and errors. */
  name: string;
  /** The engine's data directory (created if missing). */
  dataDir: string;
  /** Bound on each child start (default 30 s). */
  readyTimeoutMs?: number;
}

/** A Host running chdb in its own child process. */
/** How to reach a running engine as one of its users (see EmbeddedHost.connectionFor). */
export interface EngineConnection {
  url: string;
  user: string;
  password: string;
}

export class EmbeddedHost implements Host {
  readonly kind = 'embedded' as const;
  readonly name: string;
  private readonly dataDir: string;
  private readonly supervisor: Supervisor;
  private client: ClientHost | undefined;
  private endpoint: ChildEndpoint | undefined;

  constructor(options: EmbeddedHostOptions) {
    this.name = options.name;
    this.dataDir = options.dataDir;
    this.supervisor = new Supervisor({
      name: options.name,
      dataDir: options.dataDir,
      ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      onReady: (endpoint) => this.connect(endpoint),
      onDown: () => this.disconnect(),
    });
  }

  /** Pid of the engine's child process while it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.supervisor.pid;
  }

  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await this.supervisor.start();
  }

  async close(): Promise<void> {
    await this.supervisor.close();
    this.disconnect();
  }

  health(): HostHealth {
    const h: HostHealth = { state: this.supervisor.state, retryAfterSeconds: this.supervisor.retryAfterSeconds() };
    const lastError = this.supervisor.lastError;
    if (lastError !== undefined) h.lastError = lastError;
    return h;
  }

  async ping(): Promise<boolean> {
    const c = this.client;
    return this.supervisor.state === 'up' && c !== undefined ? c.ping() : false;
  }

  command(sql: string, options?: QueryOptions): Promise<void> {
    return this.call((c) => c.command(sql, options));
  }

  queryRows<T = Record<string, unknown>>(sql: string, options?: QueryOptions): Promise<T[]> {
    return this.call((c) => c.queryRows<T>(sql, options));
  }

  insert(table: string, payload: Buffer | string | readonly Buffer[], format: InsertFormat, options?: InsertOptions): Promise<InsertSummary> {
    return this.call((c) => c.insert(table, payload, format, options));
  }

  read(sql: string, format: string, options?: QueryOptions): Promise<StreamResult> {
    return this.call((c) => c.read(sql, format, options));
  }

  killQuery(queryId: string): Promise<void> {
    return this.call((c) => c.killQuery(queryId));
  }

  /**
   * The engine's loopback URL and the credentials of its internal or reader user while
   * it runs, for benchmarks and tests in this process that talk to the engine with
   * their own client (never served nor logged; they change on every start).
   */
  connectionFor(role: 'internal' | 'reader'): EngineConnection | undefined {
    const e = this.endpoint;
    if (e === undefined) return undefined;
    const url = `http://127.0.0.1:${e.port}`;
    return role === 'internal' ? { url, user: INTERNAL_USER, password: e.internalPassword } : { url, user: READER_USER, password: e.readerPassword };
  }

  private connect(endpoint: ChildEndpoint): void {
    this.disconnect();
    this.endpoint = endpoint;
    this.client = new ClientHost({
      kind: 'embedded',
      name: this.name,
      urls: [`http://127.0.0.1:${endpoint.port}`],
      internal: { user: INTERNAL_USER, password: endpoint.internalPassword },
      reader: { user: READER_USER, password: endpoint.readerPassword },
      // Our own engine on loopback: plain node:http (see transport.ts).
      transport: 'http',
    });
  }

  private disconnect(): void {
    const old = this.client;
    this.client = undefined;
    this.endpoint = undefined;
    void old?.close();
  }

  /** Runs `fn` on the current child's client; unavailability carries the supervisor's Retry-After. */
  private async call<R>(fn: (c: ClientHost) => Promise<R>): Promise<R> {
    const c = this.client;
    if (this.supervisor.state !== 'up' || c === undefined) {
      throw new HostUnavailableError(`host ${this.name} is unavailable: engine ${this.supervisor.state}`, this.supervisor.retryAfterSeconds());
    }
    try {
      return await fn(c);
    } catch (err) {
      if (err instanceof HostUnavailableError) {
        throw new HostUnavailableError(err.message, this.supervisor.state === 'up' ? err.retryAfterSeconds : this.supervisor.retryAfterSeconds());
      }
      throw err;
    }
  }
}
