/**
 * A tenant's host as the API sees it: one Host over the tenant's replicas that adds
 * - health: a circuit breaker per replica fed by heartbeats and connection failures,
 *   failover to the next healthy replica, fast 503s when none is left;
 * - limits: a concurrency gate with a bounded queue per tenant (and per workspace
 *   when it has its own), time / result / memory limits sent outside the SQL, and a
 *   watchdog that KILLs a query on the host when it runs over its time;
 * - lifecycle: embedded engines start on first use and stop after an idle period;
 *   every (re)started replica is provisioned (databases, internal tables) first.
 * Nothing here can be chosen by a client: the registry builds it from the tenant
 * record of the authenticated identity.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { EmbeddedHost, type EngineConnection } from '../clickhouse/embedded-host.js';
import { RemoteHost } from '../clickhouse/remote-host.js';
import { HostUnavailableError } from '../clickhouse/host.js';
import type { Host, HostHealth, InsertFormat, InsertOptions, InsertSummary, QueryOptions, QuerySettings, StreamResult } from '../clickhouse/host.js';
import { CircuitBreaker } from '../clickhouse/health.js';
import { ConcurrencyGate, ErrorRate, LimitError, type Release } from '../clickhouse/limits.js';
import type { HostConfig, HostsConfig, QueryLimits, TenantLimitsConfig } from '../server/config.js';
import { HttpError } from '../server/errors.js';
import { currentScope } from './request-scope.js';
import { log } from '../ops/log.js';
import { workspaceOverrides } from './limits.js';

/** What provisioning may use: DDL on one replica, and the cluster name when there is one. */
export interface ProvisionTarget {
  cluster: string | undefined;
  command(sql: string, options?: QueryOptions): Promise<void>;
}

export interface TenantHostOptions {
  slug: string;
  config: HostConfig;
  /** Data directory of an embedded engine. */
  dataDir: string;
  health: HostsConfig;
  /** The tenant's effective limits, and its raw limits for workspace overrides. */
  limits: QueryLimits;
  tenantLimits: TenantLimitsConfig | undefined;
  /** Idempotent provisioning, run on each replica before it takes traffic. */
  provision: (target: ProvisionTarget) => Promise<void>;
}

interface Replica {
  index: number;
  /** Operator-visible label: `embedded` or the URL (never credentials). */
  label: string;
  make: () => Host;
  host: Host | undefined;
  breaker: CircuitBreaker;
  provisioned: boolean;
  starting: Promise<Host> | undefined;
  beating: boolean;
}

/** ClickHouse's own time limit is set this much above ours: ours (with KILL QUERY) acts first. */
const BACKSTOP_SECONDS = 2;
/** Seconds ON CLUSTER DDL may wait for the other hosts. */
const DDL_TIMEOUT_SECONDS = 60;

export class TenantHost implements Host {
  readonly kind: 'embedded' | 'remote';
  readonly name: string;
  readonly cluster: string | undefined;
  readonly fingerprint: string;
  readonly errors = new ErrorRate();
  #limits: QueryLimits;
  #tenantLimits: TenantLimitsConfig | undefined;
  readonly #health: HostsConfig;
  readonly #replicas: Replica[];
  readonly #gate: ConcurrencyGate;
  readonly #workspaceGates = new Map<string, ConcurrencyGate>();
  readonly #provision: (target: ProvisionTarget) => Promise<void>;
  /** In-flight reads: the replica host each runs on, and how to end it with a 503 (hung host). */
  readonly #reads = new Map<symbol, { on: () => Host | undefined; abort: (err: HostUnavailableError) => void }>();
  #clusterProvisioned = false;
  #active = 0;
  #inflight = 0;
  #lastUsedAt = Date.now();
  #closed = false;

  constructor(options: TenantHostOptions) {
    this.name = options.slug;
    this.kind = options.config.kind;
    this.fingerprint = JSON.stringify(options.config);
    this.cluster = options.config.kind === 'remote' ? options.config.cluster : undefined;
    this.#health = options.health;
    this.#limits = options.limits;
    this.#tenantLimits = options.tenantLimits;
    this.#provision = options.provision;
    const l = options.limits;
    this.#gate = new ConcurrencyGate(`tenant '${options.slug}'`, l.maxConcurrentQueries, l.maxQueuedQueries, l.maxQueueWaitMs);
    const retry = Math.max(1, Math.ceil(options.health.heartbeatIntervalMs / 1000));
    const config = options.config;
    if (config.kind === 'embedded') {
      this.#replicas = [this.#replica(0, 'embedded', () => new EmbeddedHost({ name: options.slug, dataDir: options.dataDir }), retry)];
    } else {
      const many = config.urls.length > 1;
      this.#replicas = config.urls.map((url, i) => {
        const name = many ? `${options.slug}/replica-${i + 1}` : options.slug;
        const make = (): Host =>
          new RemoteHost({
            name,
            urls: [url],
            user: config.user,
            password: config.password,
            ...(config.readUser !== undefined ? { readUser: config.readUser, readPassword: config.readPassword ?? '' } : {}),
          });
        const r = this.#replica(i, url, make, retry);
        r.host = make(); // remote clients are cheap; heartbeats watch every replica from the start
        return r;
      });
    }
  }

  #replica(index: number, label: string, make: () => Host, retry: number): Replica {
    return { index, label, make, host: undefined, breaker: new CircuitBreaker(this.name, this.#health.failureThreshold, retry), provisioned: false, starting: undefined, beating: false };
  }

  /** New limits after an operator update; running and queued queries are not affected. */
  configure(limits: QueryLimits, tenantLimits: TenantLimitsConfig | undefined): void {
    this.#limits = limits;
    this.#tenantLimits = tenantLimits;
    this.#gate.configure(limits.maxConcurrentQueries, limits.maxQueuedQueries, limits.maxQueueWaitMs);
    this.#workspaceGates.clear();
  }

  /** Provision again before the next use of each replica (e.g. a workspace was added). */
  reprovision(): void {
    this.#clusterProvisioned = false;
    for (const r of this.#replicas) r.provisioned = false;
  }

  get limits(): QueryLimits {
    return this.#limits;
  }

  /** Limits for a workspace of this tenant (its overrides over the tenant's). */
  limitsFor(workspace: string | undefined): QueryLimits {
    const ws = workspace === undefined ? undefined : workspaceOverrides(this.#tenantLimits, workspace);
    return ws === undefined ? this.#limits : { ...this.#limits, ...ws };
  }

  /**
   * Start and provision every reachable replica (so that a failover target is ready);
   * fails when none is. Used when an operator adds the tenant, and at server start.
   */
  async start(): Promise<void> {
    if (this.kind === 'embedded' || this.#replicas.length === 1) {
      await this.#route(true, async () => undefined);
      return;
    }
    const results = await Promise.allSettled(this.#replicas.map((r) => this.#ready(r)));
    results.forEach((res, i) => {
      if (res.status === 'rejected') this.#fail(this.#replicas[i]!, asUnavailable(this.name, res.reason, this.#retryAfter()).message, true);
    });
    const failed = results.find((res): res is PromiseRejectedResult => res.status === 'rejected');
    if (results.every((res) => res.status === 'rejected')) throw asUnavailable(this.name, failed?.reason, this.#retryAfter());
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#replicas.map((r) => r.host?.close()));
  }

  /** True while no replica has been started (embedded engines not yet used, or stopped when idle). */
  get idle(): boolean {
    return this.kind === 'embedded' && this.#replicas.every((r) => r.host === undefined);
  }

  health(): HostHealth {
    if (this.idle) return { state: 'up', retryAfterSeconds: 0 };
    const up = this.#replicas.some((r) => r.breaker.state === 'closed');
    const h: HostHealth = { state: up ? 'up' : 'down', retryAfterSeconds: up ? 0 : this.#retryAfter() };
    const err = this.#replicas.find((r) => r.breaker.lastError !== undefined)?.breaker.lastError;
    if (err !== undefined && !up) h.lastError = err;
    return h;
  }

  /** An idle embedded host counts as available: it starts on the next request. */
  async ping(): Promise<boolean> {
    if (this.idle) return true;
    for (const r of this.#replicas) if (await this.#beat(r)) return true;
    return false;
  }

  command(sql: string, options?: QueryOptions): Promise<void> {
    const o = this.cluster === undefined ? options : withSettings(options, { distributed_ddl_task_timeout: DDL_TIMEOUT_SECONDS });
    return this.#route(false, (h) => h.command(sql, o));
  }

  queryRows<T = Record<string, unknown>>(sql: string, options?: QueryOptions): Promise<T[]> {
    return this.#route(true, (h) => h.queryRows<T>(sql, options));
  }

  insert(table: string, payload: Buffer | string | readonly Buffer[], format: InsertFormat, options?: InsertOptions): Promise<InsertSummary> {
    // On a cluster, acknowledge only once the Distributed table has handed the rows to every shard.
    const o = this.cluster === undefined ? options : withSettings(options, { insert_distributed_sync: 1 });
    return this.#route(false, (h) => h.insert(table, payload, format, o));
  }

  killQuery(queryId: string): Promise<void> {
    return this.#route(false, (h) => h.killQuery(queryId));
  }

  /**
   * A tenant read: admitted by the concurrency gates (429 + Retry-After when the queue
   * is full or the wait too long), sent with the limits, killed on the host when it
   * runs over max_execution_time (408).
   */
  async read(sql: string, format: string, options: QueryOptions = {}): Promise<StreamResult> {
    const scope = currentScope();
    const workspace = scope !== undefined && scope.tenant === this.name ? scope.workspace : undefined;
    const limits = this.limitsFor(workspace);
    this.#failFast();
    const release = await this.#admit(workspace, limits);
    const requested = Number(options.settings?.max_execution_time);
    const seconds = Number.isFinite(requested) && requested > 0 ? Math.min(requested, limits.maxExecutionTime) : limits.maxExecutionTime;
    const settings: QuerySettings = {
      ...options.settings,
      max_execution_time: Math.ceil(seconds) + BACKSTOP_SECONDS,
      max_result_rows: limits.maxResultRows,
      ...(limits.maxResultBytes > 0 ? { max_result_bytes: limits.maxResultBytes } : {}),
      result_overflow_mode: 'throw',
      max_memory_usage: limits.maxMemoryUsage,
    };
    const queryId = options.queryId ?? randomUUID();
    // One signal for the host: aborted by the watchdog, or when the caller's signal aborts
    // (a listener, not AbortSignal.any, which costs a weak reference per read).
    const watchdog = new AbortController();
    const callerSignal = options.signal;
    const onCallerAbort = (): void => watchdog.abort(callerSignal?.reason);
    if (callerSignal !== undefined) {
      if (callerSignal.aborted) watchdog.abort(callerSignal.reason);
      else callerSignal.addEventListener('abort', onCallerAbort, { once: true });
    }
    const signal = watchdog.signal;
    let ranOn: Host | undefined;
    let timedOut = false;
    let hung: HostUnavailableError | undefined;
    const readId = Symbol('read');
    // Each attempt on a replica gets its own signal: a replica whose breaker opens
    // aborts the attempts running on it, and the read fails over to the next replica.
    let attempt: AbortController | undefined;
    this.#reads.set(readId, {
      on: () => ranOn,
      abort: (err) => {
        hung = err;
        attempt?.abort(err);
      },
    });
    const timer = setTimeout(() => {
      timedOut = true;
      watchdog.abort();
      void ranOn?.killQuery(queryId).catch(() => undefined);
    }, seconds * 1000);
    this.#inflight += 1;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
      release();
      this.#inflight -= 1;
      this.#reads.delete(readId);
    };
    try {
      const result = await this.#route(true, async (h) => {
        ranOn = h;
        hung = undefined;
        const a = new AbortController();
        attempt = a;
        if (signal.aborted) a.abort(signal.reason);
        else signal.addEventListener('abort', () => a.abort(signal.reason), { once: true });
        try {
          return await h.read(sql, format, { ...options, settings, queryId, signal: a.signal });
        } catch (err) {
          // Stopped because this replica went down: a HostUnavailableError, so the route tries the next one.
          if (hung !== undefined && !signal.aborted) throw hung;
          throw err;
        }
      });
      onDone(result.stream, finish);
      return result;
    } catch (err) {
      finish();
      if (hung !== undefined) throw hung;
      if (timedOut) throw new HttpError(408, `Query exceeded the time limit (max_execution_time = ${seconds} s) and was killed on the host`);
      throw err;
    }
  }

  /** Queue depth and running queries (operator view). */
  load(): { running: number; queued: number } {
    let queued = this.#gate.queued;
    for (const g of this.#workspaceGates.values()) queued += g.queued;
    return { running: this.#gate.active, queued };
  }

  /** Per-replica state for the operator view (URLs, never credentials). */
  replicas(): Array<{ url: string; state: 'up' | 'down' | 'idle'; lastError?: string; lastOkAt?: string }> {
    return this.#replicas.map((r) => ({
      url: r.label,
      state: r.host === undefined && this.kind === 'embedded' ? 'idle' : r.breaker.state === 'closed' ? 'up' : 'down',
      ...(r.breaker.lastError !== undefined && r.breaker.state === 'open' ? { lastError: r.breaker.lastError } : {}),
      ...(r.breaker.lastOkAt > 0 ? { lastOkAt: new Date(r.breaker.lastOkAt).toISOString() } : {}),
    }));
  }

  /**
   * The embedded engine's loopback URL and a user's credentials while it runs (see
   * EmbeddedHost.connectionFor: for benchmarks and tests in this process only).
   */
  embeddedConnection(role: 'internal' | 'reader'): EngineConnection | undefined {
    const h = this.#replicas[0]?.host;
    return h instanceof EmbeddedHost ? h.connectionFor(role) : undefined;
  }

  /** Pid of the embedded engine's process while it runs (benchmarks and tests). */
  embeddedPid(): number | undefined {
    const h = this.#replicas[0]?.host;
    return h instanceof EmbeddedHost ? h.pid : undefined;
  }

  /** One heartbeat round over the started replicas (called by the registry's timer). */
  async heartbeat(): Promise<void> {
    await Promise.all(this.#replicas.filter((r) => r.host !== undefined).map((r) => this.#beat(r)));
  }

  /** Stops an embedded engine unused for `idleMs` (it starts again on the next request). */
  stopIfIdle(now: number, idleMs: number): boolean {
    if (this.kind !== 'embedded' || idleMs === 0 || this.#inflight > 0 || now - this.#lastUsedAt < idleMs) return false;
    const r = this.#replicas[0]!;
    if (r.host === undefined || r.starting !== undefined) return false;
    const h = r.host;
    r.host = undefined;
    r.provisioned = false;
    r.breaker.success(now);
    void h.close();
    return true;
  }

  async #beat(r: Replica): Promise<boolean> {
    const h = r.host;
    if (h === undefined || r.beating || r.starting !== undefined || this.#closed) return r.breaker.state === 'closed';
    r.beating = true;
    try {
      if (h.kind === 'embedded') {
        // The supervisor knows whether its engine child is up; a SQL ping would compete
        // with the tenant's queries for the engine's single session.
        const state = h.health();
        if (state.state !== 'up') throw new HostUnavailableError(state.lastError ?? `${this.name}: engine ${state.state}`, state.retryAfterSeconds);
        r.breaker.success();
        return true;
      }
      await h.queryRows('SELECT 1 AS ok', { signal: AbortSignal.timeout(this.#health.heartbeatTimeoutMs) });
      r.breaker.success();
      // A replica that answers but was never provisioned (down when the tenant was added) gets ready for failover.
      if (!r.provisioned && r.starting === undefined) void this.#ready(r).catch(() => undefined);
      return true;
    } catch (err) {
      this.#fail(r, err instanceof HostUnavailableError ? err.message : `${this.name}: heartbeat failed (${err instanceof Error ? err.name : 'error'})`, false);
      return false;
    } finally {
      r.beating = false;
    }
  }

  #fail(r: Replica, reason: string, hard: boolean): void {
    const before = r.breaker.state;
    r.breaker.failure(reason, hard);
    if (before === 'closed' && r.breaker.state === 'open') {
      log('warn', 'host replica marked down (circuit open)', { tenant: this.name, replica: r.index + 1, reason });
      // A hung (not dead) replica holds its reads open: end them now (503) instead of letting them pile up.
      for (const read of this.#reads.values()) if (read.on() === r.host) read.abort(new HostUnavailableError(`host ${this.name} is unavailable (${reason.replace(/^host \S+ is unavailable:? ?/, '')}); the query was stopped`, this.#retryAfter()));
    }
  }

  #retryAfter(): number {
    return Math.max(1, Math.ceil(this.#health.heartbeatIntervalMs / 1000));
  }

  #downError(): HostUnavailableError {
    const last = this.#replicas.map((r) => r.breaker.lastError).find((e) => e !== undefined);
    return new HostUnavailableError(`host ${this.name} is unavailable${last !== undefined ? ` (${last.replace(/^host \S+ is unavailable:? ?/, '')})` : ''}`, this.#retryAfter());
  }

  /** Every replica's breaker open: fail at once, before queueing. */
  #failFast(): void {
    if (this.#closed) throw new HostUnavailableError(`host ${this.name} is closed`, this.#retryAfter());
    if (!this.idle && this.#replicas.every((r) => r.breaker.state === 'open')) throw this.#downError();
  }

  async #admit(workspace: string | undefined, limits: QueryLimits): Promise<Release> {
    const releases: Release[] = [];
    try {
      const ws = workspace === undefined ? undefined : workspaceOverrides(this.#tenantLimits, workspace);
      if (workspace !== undefined && ws?.maxConcurrentQueries !== undefined) {
        let g = this.#workspaceGates.get(workspace);
        if (g === undefined) {
          g = new ConcurrencyGate(`workspace '${workspace}'`, limits.maxConcurrentQueries, limits.maxQueuedQueries, limits.maxQueueWaitMs);
          this.#workspaceGates.set(workspace, g);
        }
        releases.push(await g.acquire());
      }
      releases.push(await this.#gate.acquire());
    } catch (err) {
      for (const r of releases) r();
      if (err instanceof LimitError) throw new HttpError(err.status, err.message, { 'Retry-After': String(err.retryAfterSeconds) });
      throw err;
    }
    return () => {
      for (const r of releases) r();
    };
  }

  /** A started and provisioned Host for the replica. */
  async #ready(r: Replica): Promise<Host> {
    if (r.host !== undefined && r.provisioned) return r.host;
    r.starting ??= (async () => {
      const h = r.host ?? r.make();
      r.host = h;
      await h.start();
      if (!(this.cluster !== undefined && this.#clusterProvisioned)) {
        await this.#provision({ cluster: this.cluster, command: (sql, o) => h.command(sql, this.cluster === undefined ? o : withSettings(o, { distributed_ddl_task_timeout: DDL_TIMEOUT_SECONDS })) });
        this.#clusterProvisioned = true;
      }
      r.provisioned = true;
      return h;
    })().finally(() => {
      r.starting = undefined;
    });
    return r.starting;
  }

  /** Healthy replicas, the last one that worked first. */
  #order(): Replica[] {
    const n = this.#replicas.length;
    const out: Replica[] = [];
    for (let i = 0; i < n; i++) {
      const r = this.#replicas[(this.#active + i) % n]!;
      if (r.breaker.state === 'closed') out.push(r);
    }
    return out;
  }

  /**
   * Runs `fn` on the first healthy replica; on a connection refused (or, when
   * `retryable`, any transport failure) marks that replica and tries the next.
   * Errors ClickHouse returned (HostQueryError) go straight back: the host is up.
   */
  async #route<R>(retryable: boolean, fn: (h: Host) => Promise<R>): Promise<R> {
    this.#failFast();
    this.#lastUsedAt = Date.now();
    this.#inflight += 1;
    try {
      let last: HostUnavailableError | undefined;
      for (const r of this.#order()) {
        let h: Host;
        try {
          h = await this.#ready(r);
        } catch (err) {
          last = asUnavailable(this.name, err, this.#retryAfter());
          this.#fail(r, last.message, true);
          continue;
        }
        try {
          const v = await fn(h);
          r.breaker.success();
          this.#active = r.index;
          return v;
        } catch (err) {
          if (!(err instanceof HostUnavailableError)) throw err;
          const refused = /cannot connect|engine (starting|down)|is closed/.test(err.message);
          this.#fail(r, err.message, refused);
          last = err;
          if (refused || retryable) continue;
          throw err;
        }
      }
      throw last ?? this.#downError();
    } finally {
      this.#inflight -= 1;
    }
  }
}

function withSettings(options: QueryOptions | undefined, extra: QuerySettings): QueryOptions {
  return { ...options, settings: { ...options?.settings, ...extra } };
}

function asUnavailable(name: string, err: unknown, retryAfter: number): HostUnavailableError {
  if (err instanceof HostUnavailableError) return err;
  return new HostUnavailableError(`host ${name} is unavailable: ${err instanceof Error ? err.message : 'start failed'}`, retryAfter);
}

/** Calls `done` once when the stream ends, fails or is destroyed. */
function onDone(stream: Readable, done: () => void): void {
  stream.once('close', done);
  stream.once('end', done);
  stream.once('error', done);
}
