/**
 * Tenancy bench: request overhead with 100 tenants registered against 1 (target: no
 * measurable difference), and the idle server's memory with 100 tenants registered
 * (target ≤ 200 MB RSS; embedded tenants spawn no engine until used).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';

const REQUESTS = 3000;
const CONCURRENCY = 8;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) / 1024;
}

/** Child processes of `pid` (embedded engines). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

async function measure(api: Api): Promise<{ rps: number; p50: number; p99: number }> {
  const q = '/v0/sql?q=' + encodeURIComponent('SELECT 1 AS x');
  for (let i = 0; i < 200; i++) await api.get(q); // warm-up
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next += 1;
        const s = performance.now();
        const r = await api.get(q);
        if (r.status !== 200) throw new Error(`bench request failed: ${r.status} ${r.text}`);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: lat.length / secs, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

async function withServer<T>(fn: (s: Colibri, dataDir: string) => Promise<T>): Promise<T> {
  const dataDir = tempDir('bench-tenants');
  const s = await startColibri({ dataDir });
  try {
    return await fn(s, dataDir);
  } finally {
    await s.stop();
    removeDir(dataDir);
  }
}

export async function benchTenants(): Promise<void> {
  const one = await withServer(async (s) => measure(new Api(s.url, s.token)));
  const many = await withServer(async (s, dataDir) => {
    const op = new Api(s.url, readFileSync(path.join(dataDir, 'operator.token'), 'utf8').trim());
    for (let i = 1; i < 100; i++) {
      const r = await op.post('/v0/admin/tenants', JSON.stringify({ slug: `t${i}`, host: { kind: 'embedded' }, workspaces: ['default', 'staging'] }), { 'content-type': 'application/json' });
      if (r.status !== 201) throw new Error(`add tenant: ${r.status} ${r.text}`);
    }
    await new Promise((r) => setTimeout(r, 1500));
    const pid = s.proc.pid!;
    const idleRss = rssMb(pid);
    const idleChildren = children(pid).length;
    const m = await measure(new Api(s.url, s.token));
    const engines = children(pid);
    const total = rssMb(pid) + engines.reduce((sum, c) => sum + rssMb(c), 0);
    return { ...m, idleRss, idleChildren, engines: engines.length, total };
  });
  const f = (n: number): string => n.toFixed(2);
  console.log(`  /v0/sql SELECT 1, ${REQUESTS} requests, ${CONCURRENCY} concurrent, on the embedded tenant 'local':`);
  console.log(`    1 tenant:     ${one.rps.toFixed(0)} req/s   p50 ${f(one.p50)} ms   p99 ${f(one.p99)} ms`);
  console.log(`    100 tenants:  ${many.rps.toFixed(0)} req/s   p50 ${f(many.p50)} ms   p99 ${f(many.p99)} ms   (ratio ${(many.rps / one.rps).toFixed(2)}; target: no measurable difference)`);
  console.log(`  idle server with 100 tenants (200 workspaces) registered: RSS ${many.idleRss.toFixed(0)} MB (target <= 200 MB), engine children ${many.idleChildren} (lazy: 0 until used)`);
  console.log(`  after the load on one tenant: ${many.engines} engine child(ren), server + engines RSS ${many.total.toFixed(0)} MB`);
}
