/**
 * Load generator of the endpoint benchmark (endpoints.ts), run in its own process so
 * that the server's event loop is not shared with the client:
 *   node dist/test/bench/endpoints-load.js <job.json>
 * Runs autocannon (closed loop: `connections` keep-alive connections, one request in
 * flight on each, no pipelining) against `url` for `seconds`, after `warmupSeconds`
 * of the same load whose figures are dropped.
 *
 * With `rate`, the load is paced instead (open loop): request k is due at
 * t0 + k / rate, sent as soon as it is due on one of `connections` keep-alive
 * connections (at most one in flight each), with node:http. autocannon's own rate
 * option releases each connection's quota at the start of every second, which turns
 * a paced load into bursts of a saturating one. Latency is measured from the moment a
 * request is sent, as autocannon does; requests sent more than 1 ms after they were
 * due (every connection busy) are counted as `late`.
 *
 * autocannon's own latency histogram keeps whole milliseconds, too coarse for a
 * 0.5 ms target: every response time (float ms, from process.hrtime) is kept here
 * instead and the percentiles are exact. Prints one JSON line (EndpointLoadResult);
 * exits 1 when any request failed or answered other than 200.
 */
import autocannon from 'autocannon';
import http from 'node:http';
import { readFileSync } from 'node:fs';

export interface EndpointLoadJob {
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Requests per second over all connections (paced load); absent: closed loop. */
  rate?: number;
}

export interface EndpointLoadResult {
  requests: number;
  seconds: number;
  /** Completed 200 responses per second. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** Response bytes of the last round (body + headers, as autocannon counts them). */
  bytesPerResponse: number;
  /** CPU seconds (user + system) this process used during the measured part. */
  cpuSeconds: number;
  /** Paced load only: requests sent more than 1 ms after they were due. */
  late?: number;
  /** Paced load only: every latency (ms), so that rounds can be pooled. */
  latencies?: number[];
}

/** Exact percentile (nearest rank) of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

interface Round {
  latencies: number[];
  seconds: number;
  bytes: number;
  non2xx: number;
  errors: number;
  firstError: string | undefined;
}

function run(job: EndpointLoadJob, seconds: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let non2xx = 0;
    let errors = 0;
    let bytes = 0;
    let firstError: string | undefined;
    const t0 = process.hrtime.bigint();
    const instance = autocannon({
      url: job.url,
      headers: job.headers,
      connections: job.connections,
      pipelining: 1,
      duration: seconds,
      timeout: 10,
      ...(job.rate !== undefined ? { overallRate: job.rate } : {}),
    }, (err, result) => {
      if (err !== null && err !== undefined) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      void result;
      resolve({ latencies, seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes, non2xx, errors, firstError });
    });
    instance.on('response', (_client: unknown, statusCode: number, resBytes: number, responseTime: number) => {
      if (statusCode !== 200) {
        non2xx += 1;
        return;
      }
      latencies.push(responseTime);
      bytes += resBytes;
    });
    instance.on('reqError', (err: Error) => {
      errors += 1;
      firstError ??= err.message;
    });
  });
}

/** Paced (open-loop) load at `rate` requests per second: see the header. */
async function paced(job: EndpointLoadJob & { rate: number }, seconds: number): Promise<Round & { late: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const latencies: number[] = [];
  let bytes = 0;
  let non2xx = 0;
  let errors = 0;
  let late = 0;
  let firstError: string | undefined;
  const total = Math.max(1, Math.round(job.rate * seconds));
  const get = (): Promise<{ status: number; bytes: number }> =>
    new Promise((resolve, reject) => {
      const req = http.get(job.url, { agent, headers: job.headers }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: n }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: job.connections }, async () => {
    for (;;) {
      const k = next++;
      if (k >= total) return;
      const due = t0 + BigInt(Math.round((k / job.rate) * 1e9));
      const wait = Number(due - process.hrtime.bigint()) / 1e6;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const sent = process.hrtime.bigint();
      if (Number(sent - due) / 1e6 > 1) late += 1;
      try {
        const r = await get();
        if (r.status !== 200) non2xx += 1;
        else {
          latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
          bytes += r.bytes;
        }
      } catch (err) {
        errors += 1;
        firstError ??= (err as Error).message;
      }
    }
  }));
  agent.destroy();
  return { latencies, seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes, non2xx, errors, firstError, late };
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: endpoints-load.js <job.json>');
  const job = JSON.parse(readFileSync(file, 'utf8')) as EndpointLoadJob;
  const rate = job.rate;
  const once = (seconds: number): Promise<Round & { late?: number }> => (rate !== undefined ? paced({ ...job, rate }, seconds) : run(job, seconds));
  if (job.warmupSeconds > 0) await once(job.warmupSeconds);
  const c0 = process.cpuUsage();
  const r = await once(job.seconds);
  const c1 = process.cpuUsage(c0);
  if (r.non2xx > 0 || r.errors > 0) {
    throw new Error(`${r.non2xx} responses were not 200 and ${r.errors} requests failed${r.firstError !== undefined ? ` (first: ${r.firstError})` : ''}`);
  }
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

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
