/**
 * Starts the real Colibri server (the compiled CLI) as a child process for
 * end-to-end tests, and talks to it over HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/helpers → repository root */
export const ROOT = path.resolve(here, '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface StartOptions {
  /** Reuse a data directory (restart tests); a fresh temporary one otherwise. */
  dataDir?: string;
  /** Configuration object written to a temporary JSON file and passed with --config. */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Max time to wait for the server to listen. */
  timeoutMs?: number;
}

export interface Colibri {
  url: string;
  token: string;
  dataDir: string;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM and wait for exit (graceful). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `colibri-${prefix}-`));
}

export async function startColibri(options: StartOptions = {}): Promise<Colibri> {
  const dataDir = options.dataDir ?? tempDir('data');
  const args = [CLI, 'server', '--port', '0', '--data-dir', dataDir];
  if (options.config !== undefined) {
    const file = path.join(dataDir, 'test-config.json');
    writeFileSync(file, JSON.stringify(options.config, null, 2));
    args.push('--config', file);
  }
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, COLIBRI_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in time:\n${out}`));
    }, options.timeoutMs ?? 60_000);
    const check = (): void => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  const token = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    url,
    token,
    dataDir,
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return withTimeout(exited, 30_000, 'graceful stop');
    },
    kill9: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await withTimeout(exited, 10_000, 'kill -9');
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a test may send as a body. */
export type RequestBody = string | Buffer | Uint8Array | FormData | URLSearchParams;

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** A small HTTP client for the API. */
export class Api {
  constructor(
    readonly url: string,
    readonly token: string | undefined,
  ) {}

  withToken(token: string | undefined): Api {
    return new Api(this.url, token);
  }

  async request(method: string, pathAndQuery: string, body?: RequestBody, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const h: Record<string, string> = { ...headers };
    if (this.token !== undefined) h.authorization = `Bearer ${this.token}`;
    const res = await fetch(this.url + pathAndQuery, { method, body, headers: h } as RequestInit);
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  get(p: string): Promise<ApiResponse> {
    return this.request('GET', p);
  }

  post(p: string, body?: RequestBody, headers?: Record<string, string>): Promise<ApiResponse> {
    return this.request('POST', p, body, headers);
  }

  form(p: string, fields: Record<string, string | string[]>): Promise<ApiResponse> {
    const f = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
    return this.request('POST', p, f.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
  }

  delete(p: string): Promise<ApiResponse> {
    return this.request('DELETE', p);
  }

  /** Rows of a data source, read straight from the host through Colibri's own API (GET /v0/datasources/<name>). */
  async rowCount(ds: string): Promise<number> {
    const r = await this.get(`/v0/datasources/${ds}`);
    if (r.status !== 200) throw new Error(`rowCount(${ds}): ${r.status} ${r.text}`);
    return r.json.statistics.row_count as number;
  }
}
