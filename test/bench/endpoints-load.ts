/**
 * Load generator of the endpoint benchmark (endpoints.ts), run in its own process so
 * that neither path shares an event loop with the server:
 *   node dist/test/bench/endpoints-load.js <job.json>
 *
 * Two targets:
 * - `http`: GET `url` (the Colibri endpoint). Closed loop with autocannon
 *   (`connections` keep-alive connections, one request in flight on each, no
 *   pipelining).
 * - `clickhouse`: the baseline, `sql` sent with @clickhouse/client (`exec`, raw body
 *   read to the end) to the engine as its reader user with the given settings. Closed
 *   loop with `connections` callers, each awaiting its whole response.
 * Each runs for `seconds` after `warmupSeconds` of the same load whose figures are
 * dropped.
 *
 * With `rate`, the load is paced instead (open loop, both targets): request k is due
 * at t0 + k / rate and sent as soon as it is due by one of `connections` callers (at
 * most one request in flight each; node:http keep-alive for `http`). autocannon's own
 * rate option releases each connection's quota at the start of every second, which
 * turns a paced load into bursts of a saturating one. Requests sent more than 1 ms
 * after they were due (every caller busy) are counted as `late`.
 *
 * Latency is measured from the moment a request is sent to its last byte, in float
 * milliseconds (autocannon's histogram keeps whole milliseconds, too coarse for a
 * 0.5 ms target); percentiles are exact. Prints one JSON line (EndpointLoadResult);
 * exits 1 when any request failed or answered other than 200.
 */
import autocannon from 'autocannon';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseSettings } from '@clickhouse/client';
import { engineClient } from './engine-client.js';

interface JobBase {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Requests per second over all callers (paced load); absent: closed loop. */
  rate?: number;
}

export interface HttpTarget {
  kind: 'http';
  url: string;
  headers: Record<string, string>;
}

export interface ClickHouseTarget {
  kind: 'clickhouse';
  url: string;
  user: string;
  password: string;
  sql: string;
  settings: Record<string, string | number | boolean>;
}

export type EndpointLoadJob = JobBase & (HttpTarget | ClickHouseTarget);

export interface EndpointLoadResult {
  requests: number;
  seconds: number;
  /** Completed 200 responses per second. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** Response bytes per response (the body; autocannon counts headers too). */
  bytesPerResponse: number;
  /** CPU seconds (user + system) this process used during the measured part. */
  cpuSeconds: number;
  /** Paced load only: requests sent more than 1 ms after they were due. */
  late?: number;
  /** Paced load only: every latency (ms), so that rounds can be pooled. */
  latencies?: number[];
}

/** Exact percentile (nearest rank) of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

interface Round {
  latencies: number[];
  seconds: number;
  bytes: number;
  failures: number;
  firstFailure: string | undefined;
  late?: number;
}

/** One request: resolves with the body size, rejects when it failed or was not a 200. */
type Send = () => Promise<number>;

/** autocannon, closed loop, against an http target. */
function autocannonRound(target: HttpTarget, connections: number, seconds: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let failures = 0;
    let bytes = 0;
    let firstFailure: string | undefined;
    const t0 = process.hrtime.bigint();
    const instance = autocannon({ url: target.url, headers: target.headers, connections, pipelining: 1, duration: seconds, timeout: 10 }, (err) => {
      if (err !== null && err !== undefined) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      resolve({ latencies, seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes, failures, firstFailure });
    });
    instance.on('response', (_client: unknown, statusCode: number, resBytes: number, responseTime: number) => {
      if (statusCode !== 200) {
        failures += 1;
        firstFailure ??= `HTTP ${statusCode}`;
        return;
      }
      latencies.push(responseTime);
      bytes += resBytes;
    });
    instance.on('reqError', (err: Error) => {
      failures += 1;
      firstFailure ??= err.message;
    });
  });
}

/** Latencies, bytes and failures of one round. */
class Recorder {
  readonly latencies: number[] = [];
  bytes = 0;
  failures = 0;
  firstFailure: string | undefined;
  readonly t0 = process.hrtime.bigint();

  /** Sends one request now and records how it went. */
  async time(send: Send): Promise<void> {
    const sent = process.hrtime.bigint();
    try {
      this.bytes += await send();
      this.latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
    } catch (err) {
      this.failures += 1;
      this.firstFailure ??= (err as Error).message;
    }
  }

  round(late?: number): Round {
    const r: Round = { latencies: this.latencies, seconds: Number(process.hrtime.bigint() - this.t0) / 1e9, bytes: this.bytes, failures: this.failures, firstFailure: this.firstFailure };
    if (late !== undefined) r.late = late;
    return r;
  }
}

/** `connections` callers, each sending and awaiting one request after the other. */
async function closedRound(send: Send, connections: number, seconds: number): Promise<Round> {
  const rec = new Recorder();
  const deadline = rec.t0 + BigInt(Math.round(seconds * 1e9));
  await Promise.all(Array.from({ length: connections }, async () => {
    while (process.hrtime.bigint() < deadline) await rec.time(send);
  }));
  return rec.round();
}

/** Paced (open-loop) load at `rate` requests per second: see the header. */
async function pacedRound(send: Send, connections: number, rate: number, seconds: number): Promise<Round> {
  const rec = new Recorder();
  const total = Math.max(1, Math.round(rate * seconds));
  let next = 0;
  let late = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    for (;;) {
      const k = next++;
      if (k >= total) return;
      const due = rec.t0 + BigInt(Math.round((k / rate) * 1e9));
      const wait = Number(due - process.hrtime.bigint()) / 1e6;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (Number(process.hrtime.bigint() - due) / 1e6 > 1) late += 1;
      await rec.time(send);
    }
  }));
  return rec.round(late);
}

/** GET over a keep-alive agent; the body is read to the end. */
function httpSender(target: HttpTarget, connections: number): { send: Send; close: () => Promise<void> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const send: Send = () =>
    new Promise((resolve, reject) => {
      const req = http.get(target.url, { agent, headers: target.headers }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  return { send, close: async () => agent.destroy() };
}

/** @clickhouse/client `exec` of the SQL; the raw body is read to the end. */
function clickhouseSender(target: ClickHouseTarget, connections: number): { send: Send; close: () => Promise<void> } {
  const client = engineClient(target, connections);
  const settings = target.settings as ClickHouseSettings;
  const send: Send = async () => {
    const result = await client.exec({ query: target.sql, query_id: randomUUID(), clickhouse_settings: settings });
    let n = 0;
    for await (const chunk of result.stream) n += (chunk as Buffer).length;
    return n;
  };
  return { send, close: () => client.close() };
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: endpoints-load.js <job.json>');
  const job = JSON.parse(readFileSync(file, 'utf8')) as EndpointLoadJob;
  const sender = job.kind === 'http' ? httpSender(job, job.connections) : clickhouseSender(job, job.connections);
  const rate = job.rate;
  const once = (seconds: number): Promise<Round> => {
    if (rate !== undefined) return pacedRound(sender.send, job.connections, rate, seconds);
    return job.kind === 'http' ? autocannonRound(job, job.connections, seconds) : closedRound(sender.send, job.connections, seconds);
  };
  if (job.warmupSeconds > 0) await once(job.warmupSeconds);
  const c0 = process.cpuUsage();
  const r = await once(job.seconds);
  const c1 = process.cpuUsage(c0);
  await sender.close();
  if (r.failures > 0) throw new Error(`${r.failures} requests failed (first: ${r.firstFailure ?? '?'})`);
  const sorted = Float64Array.from(r.latencies).sort();
  const result: EndpointLoadResult = {
    requests: sorted.length,
    seconds: r.seconds,
    rps: sorted.length / r.seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    bytesPerResponse: sorted.length === 0 ? 0 : r.bytes / sorted.length,
    cpuSeconds: (c1.user + c1.system) / 1e6,
    ...(r.late !== undefined ? { late: r.late, latencies: r.latencies } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
