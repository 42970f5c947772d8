/**
 * Endpoint benchmark (issue 4): throughput and latency (p50, p99) of a published pipe
 * endpoint under concurrency, for a small aggregate query (top 10 pages by hits in a
 * date range, from a template with two parameters), against sending the same compiled
 * SQL directly with @clickhouse/client to the same host, in the same run.
 * Targets: throughput >= 0.9x direct; added latency p50 <= 0.5 ms, p99 <= 2 ms.
 *
 * - The server runs in this process (`startServer`, embedded host in a temporary
 *   directory) with a data source of 100k rows, a pipe with a template node, and a
 *   pipe-scoped read token (PIPES:READ:<pipe>), as a client application would use.
 * - (a) Colibri: autocannon, in a child process (endpoints-load.ts), runs
 *   `GET /v0/pipes/<pipe>.json?start=..&end=..` over N keep-alive connections
 *   (closed loop, one request in flight each) for a fixed duration after a warm-up.
 * - (b) direct: the SQL the endpoint compiles for those parameters (compilePipe via
 *   the in-process services, with the token's row filters), in the same format and
 *   with the same settings, sent with @clickhouse/client (`exec`, as the engine's
 *   reader user: TenantHost.embeddedConnection) to the same engine, from a child
 *   process as well (endpoints-load.ts), so that both paths have their client in a
 *   process of its own. Colibri itself reaches its embedded engine with plain
 *   node:http (src/clickhouse/transport.ts). The driver is the same closed loop (N
 *   concurrent callers, each awaiting its full response before the next request)
 *   with the same duration and warm-up; latencies are kept exactly (no histogram
 *   rounding), as for (a).
 * - Both paths are warmed up, then measured alternately (A B A B A B); medians of
 *   the rounds are reported. Before measuring, the endpoint's rows must equal the
 *   direct query's rows.
 * - Throughput comes from the closed loop (every connection always busy: the host
 *   saturated). Latency is measured again with a paced load at 70% of the direct
 *   path's closed-loop throughput, same connections (open loop: request k due at
 *   t0 + k / rate): in a saturated closed loop, latency is connections / throughput
 *   plus queueing noise of tens of milliseconds at p99, which says nothing about what
 *   Colibri adds. The added-latency targets are checked on the paced figures (all
 *   rounds pooled, so that a p99 rests on more than a dozen samples); the
 *   closed loop's latencies are printed too.
 *
 * Run alone: `npm run build && node dist/test/bench/endpoints.js`.
 * Knobs (environment): COLIBRI_BENCH_ENDPOINTS_CONNECTIONS (default 8),
 * COLIBRI_BENCH_ENDPOINTS_SECONDS (per measurement, default 5),
 * COLIBRI_BENCH_ENDPOINTS_WARMUP (seconds, default 2), COLIBRI_BENCH_ENDPOINTS_ROUNDS
 * (default 3), COLIBRI_BENCH_ENDPOINTS_ROWS (default 100000),
 * COLIBRI_BENCH_ENDPOINTS_CPUPROF=<file.cpuprofile> (CPU profile of this process
 * during the endpoint rounds; open it in Chrome DevTools or speedscope).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../../src/server/config.js';
import { startServer } from '../../src/server/start.js';
import type { RunningServer } from '../../src/server/start.js';
import { setLogLevel } from '../../src/ops/log.js';
import { findWorkspace, getTenant } from '../../src/tenancy/model.js';
import { qualified } from '../../src/catalog/datasources.js';
import { compilePipe, endpointNode, requirePipe } from '../../src/catalog/pipes.js';
import { rowFilters } from '../../src/catalog/sql-query.js';
import { resolveToken } from '../../src/auth/context.js';
import { readSettings } from '../../src/api/respond.js';
import type { QuerySettings } from '../../src/clickhouse/host.js';
import type { ClickHouseSettings } from '@clickhouse/client';
import { engineClient } from './engine-client.js';
import type { EngineConnection } from '../../src/clickhouse/embedded-host.js';
import { percentile, type EndpointLoadJob, type EndpointLoadResult } from './endpoints-load.js';
import { cpuNow, envInt, median, runJsonChild } from './measure.js';
import { rng } from '../helpers/rng.js';

const LOAD_SCRIPT = fileURLToPath(new URL('./endpoints-load.js', import.meta.url));
const runLoad = (job: EndpointLoadJob, jobFile: string): Promise<EndpointLoadResult> => runJsonChild<EndpointLoadResult>(LOAD_SCRIPT, jobFile, job);

const TARGET_RATIO = 0.9;
const TARGET_ADDED_P50_MS = 0.5;
const TARGET_ADDED_P99_MS = 2;
/** The paced latency measurement runs at this share of the direct path's closed-loop throughput. */
const PACED_SHARE = 0.7;

const DS = 'bench_hits';
const PIPE = 'bench_top_pages';
const SCHEMA = [
  '`timestamp` DateTime',
  '`pathname` String',
  '`action` LowCardinality(String)',
  '`user_id` UInt32',
  '`duration_ms` UInt32',
].join(', ');
const NODE_SQL = [
  '%',
  'SELECT pathname, count() AS hits, uniq(user_id) AS visitors, avg(duration_ms) AS avg_duration',
  `FROM ${DS}`,
  "WHERE timestamp >= {{ DateTime(start, '2024-05-01 00:00:00', description='Range start') }}",
  "  AND timestamp < {{ DateTime(end, '2024-06-01 00:00:00', description='Range end') }}",
  "  {% if defined(action) %} AND action = {{ String(action) }} {% end %}",
  'GROUP BY pathname',
  'ORDER BY hits DESC, pathname',
  'LIMIT 10',
].join('\n');
/** The endpoint's parameters in every request. */
const PARAMS = { start: '2024-05-08 00:00:00', end: '2024-05-22 00:00:00' };

/** `rows` page hits over May 2024 as JSONEachRow, 60 paths with a skewed popularity. */
function makeRows(rows: number): Buffer {
  const r = rng(42);
  const base = Date.UTC(2024, 4, 1) / 1000;
  const actions = ['page_hit', 'page_hit', 'page_hit', 'click', 'scroll'];
  const lines = new Array<string>(rows);
  for (let i = 0; i < rows; i++) {
    const ts = new Date((base + Math.floor(r() * 86_400 * 31)) * 1000).toISOString().slice(0, 19).replace('T', ' ');
    const page = Math.floor(60 * r() * r());
    lines[i] = JSON.stringify({
      timestamp: ts,
      pathname: page === 0 ? '/' : `/docs/page-${page}`,
      action: actions[Math.floor(r() * actions.length)],
      user_id: Math.floor(r() * 20_000),
      duration_ms: Math.floor(r() * 5000),
    });
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

async function api(server: RunningServer, method: string, pathAndQuery: string, body?: string, contentType?: string): Promise<unknown> {
  const res = await fetch(new URL(pathAndQuery, server.url), {
    method,
    headers: { Authorization: `Bearer ${server.adminToken}`, ...(contentType !== undefined ? { 'Content-Type': contentType } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathAndQuery.split('?')[0]}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return text === '' ? null : JSON.parse(text);
}

/** The baseline's settings: what Colibri sends for an endpoint read (format JSON, 64-bit integers unquoted, the workspace's limits). */
function directSettings(settings: QuerySettings): Record<string, string | number | boolean> {
  return { ...settings, default_format: 'JSON', output_format_json_quote_64bit_integers: 0 };
}

/** One request of the baseline, in this process: to check that both paths answer the same rows. */
async function directOnce(engine: EngineConnection, sql: string, settings: QuerySettings): Promise<string> {
  const client = engineClient(engine, 1);
  try {
    const result = await client.exec({ query: sql, clickhouse_settings: directSettings(settings) as ClickHouseSettings });
    let text = '';
    for await (const chunk of result.stream) text += (chunk as Buffer).toString('utf8');
    return text;
  } finally {
    await client.close();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(2);
const verdict = (ok: boolean): string => (ok ? 'MET' : 'MISSED');

export async function benchEndpoints(): Promise<void> {
  const levels = (process.env.COLIBRI_BENCH_ENDPOINTS_CONNECTIONS ?? '1,8').split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n <= 0) throw new Error('COLIBRI_BENCH_ENDPOINTS_CONNECTIONS: expected positive integers');
    return n;
  });
  const seconds = envInt('COLIBRI_BENCH_ENDPOINTS_SECONDS', 5);
  const warmup = envInt('COLIBRI_BENCH_ENDPOINTS_WARMUP', 2);
  const rounds = envInt('COLIBRI_BENCH_ENDPOINTS_ROUNDS', 3);
  const rows = envInt('COLIBRI_BENCH_ENDPOINTS_ROWS', 100_000);
  const cpuprof = process.env.COLIBRI_BENCH_ENDPOINTS_CPUPROF;

  setLogLevel('warn');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'colibri-bench-endpoints-'));
  const server = await startServer({ ...defaultConfig(), port: 0, dataDir: path.join(tmp, 'data') });
  try {
    const { store, hosts, config } = server.services;
    const tenant = getTenant(store, 'local');
    const ws = tenant === undefined ? undefined : findWorkspace(store, tenant.slug, 'default');
    if (tenant === undefined || ws === undefined) throw new Error('default tenant/workspace not provisioned');
    const host = hosts.hostFor(tenant);

    // Data source, rows, pipe, endpoint, and a read token for it.
    const q = new URLSearchParams({ name: DS, schema: SCHEMA, engine: 'MergeTree', engine_sorting_key: 'timestamp, pathname' });
    await api(server, 'POST', `/v0/datasources?${q.toString()}`);
    await host.insert(qualified(ws, DS), makeRows(rows), 'JSONEachRow');
    await host.command(`OPTIMIZE TABLE ${qualified(ws, DS)} FINAL`);
    await api(server, 'POST', '/v0/pipes', JSON.stringify({ name: PIPE, nodes: [{ name: 'top_pages', sql: NODE_SQL }] }), 'application/json');
    await api(server, 'POST', `/v0/pipes/${PIPE}/nodes/top_pages/endpoint`);
    const token = (await api(server, 'POST', `/v0/tokens?${new URLSearchParams({ name: 'bench_reader', scope: `PIPES:READ:${PIPE}` }).toString()}`) as { token: string }).token;

    // The SQL the endpoint runs for these parameters, as the server compiles it for this token.
    const ctx = resolveToken(store, token, Date.now());
    const pipe = requirePipe(store, ws.id, PIPE);
    const compiled = compilePipe({ store, workspace: ctx.workspace, filters: rowFilters(store, ctx) }, pipe, endpointNode(pipe)!.name, { ...PARAMS });
    const settings = readSettings(config.limits, {});
    const url = `${server.url}/v0/pipes/${PIPE}.json?${new URLSearchParams(PARAMS).toString()}`;

    // Same answer both ways.
    const viaEndpoint = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    if (viaEndpoint.status !== 200) throw new Error(`endpoint: HTTP ${viaEndpoint.status}: ${(await viaEndpoint.text()).slice(0, 500)}`);
    const endpointBody = JSON.parse(await viaEndpoint.text()) as { data: unknown[]; rows: number };
    const engine = host.embeddedConnection('reader');
    if (engine === undefined) throw new Error('the embedded engine is not running');
    const directBody = JSON.parse(await directOnce(engine, compiled.sql, settings)) as { data: unknown[]; rows: number };
    if (JSON.stringify(endpointBody.data) !== JSON.stringify(directBody.data) || endpointBody.rows !== 10) {
      throw new Error(`the endpoint and the direct query disagree (${endpointBody.rows} vs ${directBody.rows} rows)`);
    }

    console.log(`  ${rows.toLocaleString('en-US')} rows; top 10 pages by hits over 2 weeks (count, uniq, avg); closed-loop connections: ${levels.join(', ')}; ` +
      `${seconds} s per measurement after ${warmup} s warm-up; ${rounds} alternating rounds per path (medians); server in-process on an embedded host`);
    console.log(`  (a) Colibri: GET /v0/pipes/${PIPE}.json?start=..&end=.. with a PIPES:READ token, autocannon in a child process`);
    console.log('  (b) direct: the same compiled SQL, format and settings with @clickhouse/client (exec, as the engine\'s reader user) in a child process to the same engine, same concurrency');

    const jobFile = path.join(tmp, 'job.json');
    const enginePid = host.embeddedPid();
    let misses = 0;
    for (const connections of levels) {
      console.log(`  ${connections} connection${connections === 1 ? '' : 's'}:`);
      const job: EndpointLoadJob = { kind: 'http', url, headers: { Authorization: `Bearer ${token}` }, connections, seconds, warmupSeconds: warmup };
      const directJob: EndpointLoadJob = {
        kind: 'clickhouse', url: engine.url, user: engine.user, password: engine.password, sql: compiled.sql, settings: directSettings(settings),
        connections, seconds, warmupSeconds: warmup,
      };

      const a: EndpointLoadResult[] = [];
      const b: EndpointLoadResult[] = [];
      const cpu = { a: { server: 0, engine: 0, load: 0, requests: 0 }, b: { client: 0, engine: 0, requests: 0 } };
      let session: Session | undefined;
      if (cpuprof !== undefined && cpuprof !== '') {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 100 });
      }
      for (let round = 0; round < rounds; round++) {
        if (session !== undefined) await session.post('Profiler.start');
        const c0 = cpuNow(enginePid);
        const r = await runLoad(job, jobFile);
        const c1 = cpuNow(enginePid);
        if (session !== undefined) {
          const { profile } = await session.post('Profiler.stop');
          const file = cpuprof!.replace(/(\.cpuprofile)?$/, `-c${connections}-r${round + 1}.cpuprofile`);
          await writeFile(file, JSON.stringify(profile));
          console.log(`    CPU profile of the server during endpoint round ${round + 1}: ${file}`);
        }
        a.push(r);
        // Server and engine CPU cover the warm-up too: scale to the measured share of requests.
        const share = seconds / (seconds + warmup);
        cpu.a.server += (c1.self - c0.self) * share;
        cpu.a.engine += (c1.engine - c0.engine) * share;
        cpu.a.load += r.cpuSeconds;
        cpu.a.requests += r.requests;

        const d0 = cpuNow(enginePid);
        const d = await runLoad(directJob, jobFile);
        const d1 = cpuNow(enginePid);
        b.push(d);
        cpu.b.client += d.cpuSeconds;
        cpu.b.engine += (d1.engine - d0.engine) * share;
        cpu.b.requests += d.requests;
        console.log(`    round ${round + 1}: Colibri ${fmt(r.rps)} req/s p50 ${ms(r.p50)} p99 ${ms(r.p99)} ms | direct ${fmt(d.rps)} req/s p50 ${ms(d.p50)} p99 ${ms(d.p99)} ms`);
      }
      session?.disconnect();

      const rpsA = median(a.map((x) => x.rps));
      const rpsB = median(b.map((x) => x.rps));
      const ratio = rpsA / rpsB;
      const okRatio = ratio >= TARGET_RATIO;
      console.log(`    closed loop: Colibri ${fmt(rpsA).padStart(5)} req/s   p50 ${ms(median(a.map((x) => x.p50))).padStart(6)} ms   p99 ${ms(median(a.map((x) => x.p99))).padStart(6)} ms   (${fmt(median(a.map((x) => x.bytesPerResponse)))} B/response)`);
      console.log(`                 direct  ${fmt(rpsB).padStart(5)} req/s   p50 ${ms(median(b.map((x) => x.p50))).padStart(6)} ms   p99 ${ms(median(b.map((x) => x.p99))).padStart(6)} ms`);
      console.log(`    throughput ratio   ${ratio.toFixed(2).padStart(7)}         target >= ${TARGET_RATIO}  ${verdict(okRatio)}`);
      const perK = (s: number, n: number): string => ((s / n) * 1e6).toFixed(0);
      console.log(`    CPU µs per request: Colibri server ${perK(cpu.a.server, cpu.a.requests)} + engine ${perK(cpu.a.engine, cpu.a.requests)} + load generator ${perK(cpu.a.load, cpu.a.requests)}; ` +
        `direct client ${perK(cpu.b.client, cpu.b.requests)} + engine ${perK(cpu.b.engine, cpu.b.requests)}`);

      // Latency under the same concurrency at a paced load below saturation: in a
      // saturated closed loop, latency is connections / throughput plus queueing noise.
      const rate = Math.max(1, Math.round(PACED_SHARE * rpsB));
      const pacedJob: EndpointLoadJob = { ...job, rate, warmupSeconds: 1 };
      const pacedDirectJob: EndpointLoadJob = { ...directJob, rate, warmupSeconds: 1 };
      const pa: EndpointLoadResult[] = [];
      const pb: EndpointLoadResult[] = [];
      for (let round = 0; round < rounds; round++) {
        const r = await runLoad(pacedJob, jobFile);
        const d = await runLoad(pacedDirectJob, jobFile);
        pa.push(r);
        pb.push(d);
        console.log(`    paced round ${round + 1} (${rate} req/s): Colibri p50 ${ms(r.p50)} p99 ${ms(r.p99)} ms, ${r.late ?? 0} late | direct p50 ${ms(d.p50)} p99 ${ms(d.p99)} ms, ${d.late ?? 0} late`);
      }
      // Percentiles of all paced rounds pooled (a p99 of one 5 s round rests on a few samples).
      const pooled = (xs: Array<{ latencies?: number[] }>): Float64Array => Float64Array.from(xs.flatMap((x) => x.latencies ?? [])).sort();
      const allA = pooled(pa);
      const allB = pooled(pb);
      const p50A = percentile(allA, 50);
      const p50B = percentile(allB, 50);
      const p99A = percentile(allA, 99);
      const p99B = percentile(allB, 99);
      const added50 = p50A - p50B;
      const added99 = p99A - p99B;
      const ok50 = added50 <= TARGET_ADDED_P50_MS;
      const ok99 = added99 <= TARGET_ADDED_P99_MS;
      console.log(`    paced at ${rate} req/s (${Math.round(PACED_SHARE * 100)}% of direct's closed-loop throughput), ${connections} connection${connections === 1 ? '' : 's'}, ` +
        `${allA.length} + ${allB.length} requests pooled over the rounds:`);
      console.log(`      Colibri endpoint   p50 ${ms(p50A).padStart(6)} ms   p99 ${ms(p99A).padStart(6)} ms`);
      console.log(`      direct (baseline)  p50 ${ms(p50B).padStart(6)} ms   p99 ${ms(p99B).padStart(6)} ms`);
      console.log(`      added latency p50  ${ms(added50).padStart(7)} ms      target <= ${TARGET_ADDED_P50_MS} ms  ${verdict(ok50)}`);
      console.log(`      added latency p99  ${ms(added99).padStart(7)} ms      target <= ${TARGET_ADDED_P99_MS} ms  ${verdict(ok99)}`);
      if (!okRatio || !ok50 || !ok99) misses++;
    }
    if (misses > 0) console.log(`  ${misses} concurrency level(s) missed a target (figures are noisy on a shared machine: rerun before concluding)`);
  } finally {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchEndpoints().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
