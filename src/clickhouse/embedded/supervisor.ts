/**
 * Parent side of an embedded host: forks the chdb child (child.ts), hands it fresh
 * random passwords over IPC, waits (bounded) for its port, and restarts it with
 * exponential backoff when it dies. The child exits by itself if this process dies
 * (IPC disconnect), so no orphan keeps the data directory locked.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { HostState } from '../host.js';
import type { ChildMessage, InitMessage } from './protocol.js';

/** Credentials and port of a running child, given to onReady. */
export interface ChildEndpoint {
  port: number;
  internalPassword: string;
  readerPassword: string;
}

/** Options of a Supervisor. */
export interface SupervisorOptions {
  /** Host name, for error messages only. */
  name: string;
  /** Data directory of the chdb engine (must exist). */
  dataDir: string;
  /** Called each time a child is ready (after a start or a restart). */
  onReady: (endpoint: ChildEndpoint) => void;
  /** Called when the running child goes away. */
  onDown: () => void;
  /** Bound on the wait for a child to become ready (default 30 s). */
  readyTimeoutMs?: number;
  /** First restart delay (default 200 ms); doubles up to maxBackoffMs (default 5 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Bound on the graceful stop before SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
}

const CHILD_PATH = fileURLToPath(new URL('./child.js', import.meta.url));

/** A child that stayed up this long resets the backoff. */
const STABLE_MS = 30_000;

/** Keeps one chdb child process running for one data directory. */
export class Supervisor {
  private child: ChildProcess | undefined;
  private stateValue: HostState = 'starting';
  private lastErrorValue: string | undefined;
  private backoffMs: number;
  private nextStartAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private upSince = 0;
  private closing = false;
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(private readonly options: SupervisorOptions) {
    this.backoffMs = options.minBackoffMs ?? 200;
  }

  /** 'starting' until the first ready, 'up' while a child serves, 'down' between a death and the next ready. */
  get state(): HostState {
    return this.stateValue;
  }

  /** Why the last child went away (no secrets). */
  get lastError(): string | undefined {
    return this.lastErrorValue;
  }

  /** Pid of the running child, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Seconds until the host should be back, for Retry-After (at least 1). */
  retryAfterSeconds(): number {
    if (this.stateValue === 'up') return 0;
    const waitMs = Math.max(0, this.nextStartAt - Date.now());
    return Math.max(1, Math.ceil(waitMs / 1000) + 1);
  }

  /** Spawns the child if needed and resolves once it is ready (bounded by readyTimeoutMs). */
  start(): Promise<void> {
    if (this.stateValue === 'up') return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.child === undefined && this.restartTimer === undefined) this.spawn();
    return p;
  }

  /** Stops the child: SIGTERM, bounded wait, then SIGKILL. No restart afterwards. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.settleWaiters(new Error(`embedded host ${this.options.name} closed`));
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs ?? 5000);
    await exited;
    clearTimeout(timer);
  }

  private settleWaiters(err?: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }

  private spawn(): void {
    this.restartTimer = undefined;
    if (this.closing) return;
    reapOrphan(this.options.dataDir);
    const endpoint: ChildEndpoint = {
      port: 0,
      internalPassword: randomBytes(24).toString('base64url'),
      readerPassword: randomBytes(24).toString('base64url'),
    };
    const child = fork(CHILD_PATH, [this.options.dataDir], {
      // Inserts pass through the child as large Buffers: a small V8 old generation
      // would run a full GC every few of them (see docs/operations.md, "Memory").
      execArgv: ['--initial-old-space-size=64'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    child.on('message', (msg: ChildMessage) => {
      if (msg?.type === 'ready' && this.child === child) {
        if (this.readyTimer !== undefined) clearTimeout(this.readyTimer);
        endpoint.port = msg.port;
        this.stateValue = 'up';
        this.upSince = Date.now();
        this.options.onReady(endpoint);
        this.settleWaiters();
      } else if (msg?.type === 'fatal') {
        this.lastErrorValue = `${this.options.name}: ${msg.message}`;
      }
    });
    child.on('error', (err) => {
      this.lastErrorValue = `${this.options.name}: child process error: ${err.message}`;
    });
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    const init: InitMessage = { type: 'init', internalPassword: endpoint.internalPassword, readerPassword: endpoint.readerPassword, port: 0 };
    child.send(init);
    this.readyTimer = setTimeout(() => {
      this.lastErrorValue = `${this.options.name}: child not ready after ${this.options.readyTimeoutMs ?? 30_000} ms`;
      this.settleWaiters(new Error(this.lastErrorValue));
      child.kill('SIGKILL');
    }, this.options.readyTimeoutMs ?? 30_000);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    if (this.readyTimer !== undefined) clearTimeout(this.readyTimer);
    this.child = undefined;
    const wasUp = this.stateValue === 'up';
    this.stateValue = 'down';
    if (this.closing) return;
    if (wasUp) this.lastErrorValue = `${this.options.name}: engine process exited (${signal ?? `code ${code}`})`;
    if (wasUp) this.options.onDown();
    const minBackoff = this.options.minBackoffMs ?? 200;
    if (wasUp && Date.now() - this.upSince > STABLE_MS) this.backoffMs = minBackoff;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 5000);
    this.nextStartAt = Date.now() + delay;
    this.restartTimer = setTimeout(() => this.spawn(), delay);
  }
}

/**
 * An engine child left behind by a previous server process (killed with -9 while
 * its child was stuck in exit) keeps the data directory locked. ClickHouse's
 * `status` file names the owning pid: if that process is still alive and is our
 * engine child for this very directory, kill it so this server can take over.
 */
export function reapOrphan(dataDir: string): void {
  let status: string;
  try {
    status = readFileSync(path.join(dataDir, 'status'), 'utf8');
  } catch {
    return;
  }
  const pid = Number(/PID:\s*(\d+)/.exec(status)?.[1] ?? NaN);
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // not running (or not Linux)
  }
  const args = cmdline.split('\0');
  if (!args.some((a) => a.endsWith(path.join('embedded', 'child.js'))) || !args.includes(dataDir)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
