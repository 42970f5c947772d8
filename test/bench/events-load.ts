/**
 * Load generator of the Events API benchmark (events.ts), run in its own process so
 * that the server's event loop is not shared with the client:
 *   node dist/test/bench/events-load.js <job.json>
 * The job file names the server URL, the token, the data source, the NDJSON bodies
 * (one file each, sent round-robin), how many requests to send and over how many
 * keep-alive connections. Every request is `POST /v0/events?name=<ds>&wait=true`.
 * Prints one JSON line: {"requests", "rows", "seconds"} where rows counts the
 * acknowledged rows (`successful_rows`); exits 1 on the first failed request.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';

export interface LoadJob {
  url: string;
  token: string;
  name: string;
  bodies: string[];
  requests: number;
  connections: number;
}

export interface LoadResult {
  requests: number;
  rows: number;
  quarantined: number;
  seconds: number;
  /** CPU seconds (user + system) this process used while sending. */
  cpuSeconds: number;
}

function post(agent: http.Agent, target: URL, token: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: 'POST',
      agent,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson', 'Content-Length': body.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const jobFile = process.argv[2];
  if (jobFile === undefined) throw new Error('usage: events-load.js <job.json>');
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as LoadJob;
  const bodies = job.bodies.map((f) => readFileSync(f));
  const target = new URL(`/v0/events?name=${encodeURIComponent(job.name)}&wait=true`, job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  let next = 0;
  let rows = 0;
  let quarantined = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: job.connections }, async () => {
    for (;;) {
      const i = next++;
      if (i >= job.requests) return;
      const r = await post(agent, target, job.token, bodies[i % bodies.length]!);
      if (r.status !== 200) throw new Error(`request ${i}: HTTP ${r.status}: ${r.text.slice(0, 500)}`);
      const answer = JSON.parse(r.text) as { successful_rows: number; quarantined_rows: number };
      rows += answer.successful_rows;
      quarantined += answer.quarantined_rows;
    }
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  const result: LoadResult = { requests: job.requests, rows, quarantined, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`events-load: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
