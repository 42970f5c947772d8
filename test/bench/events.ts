/**
 * Events API throughput (issue 2): rows/s through `POST /v0/events?wait=true` for
 * web-analytics events of about 250 bytes with three nested JSONPaths, and its ratio
 * to inserting the same rows (already in final column form, JSONEachRow) directly
 * with @clickhouse/client into the same host, in the same run.
 *
 * - The server runs in this process (`startServer`, embedded host); the load
 *   generator (events-load.ts) runs in a child process with keep-alive connections.
 * - The baseline is @clickhouse/client (a client of its own, as the engine's internal
 *   user: TenantHost.embeddedConnection) inserting the payloads over HTTP into the
 *   same chdb child, with the same batch sizes and concurrency, into a second table of
 *   the same schema. Colibri itself reaches its embedded engine with plain node:http
 *   (src/clickhouse/transport.ts).
 * - Both paths are warmed up, then measured alternately (A B A B A B); the median is
 *   reported. Before each measurement the engine is let settle (no background merge
 *   running), so neither path pays for the merges of the other's parts; the CPU
 *   figures run until the merges a measurement caused have ended. After every measurement the table's row count must have grown by the
 *   acknowledged rows exactly, otherwise the bench fails.
 *
 * Run alone: `npm run build && node dist/test/bench/events.js`.
 * Knobs (environment): COLIBRI_BENCH_EVENTS_ROWS (rows per measurement, default
 * 500000), COLIBRI_BENCH_EVENTS_ROUNDS (default 5), COLIBRI_BENCH_EVENTS_BATCHES
 * (events per request, default "1000,5000"), COLIBRI_BENCH_EVENTS_CONNECTIONS
 * (default 4), COLIBRI_BENCH_EVENTS_PROFILE (a directory: CPU profiles of the server
 * during the Events API measurements, for Chrome DevTools).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { defaultConfig } from '../../src/server/config.js';
import { startServer } from '../../src/server/start.js';
import type { RunningServer } from '../../src/server/start.js';
import { setLogLevel } from '../../src/ops/log.js';
import { findWorkspace, getTenant } from '../../src/tenancy/model.js';
import { qualified, requireDataSource } from '../../src/catalog/datasources.js';
import { createNdjsonEncoder } from '../../src/ingest/ndjson.js';
import type { Host } from '../../src/clickhouse/host.js';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { engineClient } from './engine-client.js';
import type { LoadJob, LoadResult } from './events-load.js';
import { cpuNow, envInt, median, runJsonChild } from './measure.js';
import { rng } from '../helpers/rng.js';

const LOAD_SCRIPT = fileURLToPath(new URL('./events-load.js', import.meta.url));
const runLoad = (job: LoadJob, jobFile: string): Promise<LoadResult> => runJsonChild<LoadResult>(LOAD_SCRIPT, jobFile, job);

const TARGET_ROWS_PER_SECOND = 200_000;
const TARGET_RATIO = 0.8;
/** Distinct bodies per batch size (sent round-robin). */
const BODY_POOL = 8;

const SCHEMA = [
  '`timestamp` DateTime `json:$.timestamp`',
  '`session_id` String `json:$.session_id`',
  '`action` LowCardinality(String) `json:$.action`',
  '`version` LowCardinality(String) `json:$.version`',
  '`pathname` String `json:$.payload.pathname`',
  '`referrer` String `json:$.payload.referrer`',
  '`user_agent` String `json:$.payload.user_agent`',
].join(', ');

const PATHS = ['/', '/pricing', '/docs', '/docs/quick-start', '/docs/api/events', '/blog/real-time-analytics', '/about', '/signup', '/docs/api/pipes', '/changelog'];
const REFERRERS = ['https://www.google.com/', 'https://duckduckgo.com/', 'https://news.ycombinator.com/', '', 'https://twitter.com/', 'https://www.bing.com/'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1',
  'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4) Mobile/15E148',
];
const ACTIONS = ['page_hit', 'page_hit', 'page_hit', 'click', 'scroll'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** One NDJSON body of `rows` web-analytics events. */
function makeBody(seed: number, rows: number): Buffer {
  const r = rng(seed);
  const base = Date.UTC(2024, 4, 1) / 1000;
  const lines: string[] = new Array<string>(rows);
  for (let i = 0; i < rows; i++) {
    const ts = new Date((base + Math.floor(r() * 86_400 * 30)) * 1000).toISOString().slice(0, 19).replace('T', ' ');
    const sid = Math.floor(r() * 0xffffffff).toString(16).padStart(8, '0');
    lines[i] = JSON.stringify({
      timestamp: ts,
      session_id: `${sid}-3f41-4e6b-9a7c-${String(seed * rows + i).padStart(12, '0')}`,
      action: pick(r, ACTIONS),
      version: '1',
      payload: { pathname: pick(r, PATHS), referrer: pick(r, REFERRERS), user_agent: pick(r, AGENTS) },
    });
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

async function api(server: RunningServer, method: string, pathAndQuery: string, body?: string): Promise<unknown> {
  const res = await fetch(new URL(pathAndQuery, server.url), {
    method,
    headers: { Authorization: `Bearer ${server.adminToken}` },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathAndQuery.split('?')[0]}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return text === '' ? null : JSON.parse(text);
}

async function createDataSource(server: RunningServer, name: string): Promise<void> {
  const q = new URLSearchParams({ name, schema: SCHEMA, engine: 'MergeTree', engine_sorting_key: 'action, timestamp' });
  await api(server, 'POST', `/v0/datasources?${q.toString()}`);
}

async function countRows(host: Host, table: string): Promise<number> {
  const rows = await host.queryRows<{ n: number }>(`SELECT count() AS n FROM ${table}`);
  return Number(rows[0]?.n ?? 0);
}

/** Waits until the engine runs no background merge (at most 60 s). */
async function settle(host: Host): Promise<void> {
  const deadline = Date.now() + 60_000;
  let quiet = 0;
  while (quiet < 2 && Date.now() < deadline) {
    const rows = await host.queryRows<{ n: number }>('SELECT count() AS n FROM system.merges');
    quiet = Number(rows[0]?.n ?? 0) === 0 ? quiet + 1 : 0;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Inserts `requests` payloads (round-robin) into `table` over `connections` concurrent
 * callers with @clickhouse/client: `exec` of `INSERT ... FORMAT JSONEachRow` with the
 * payload bytes as they are (the client's `insert` would take objects and serialize
 * them again: more work for the baseline).
 */
async function runDirect(client: ClickHouseClient, table: string, payloads: Buffer[], requests: number, connections: number): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, async () => {
    for (;;) {
      const i = next++;
      if (i >= requests) return;
      const r = await client.exec({ query: `INSERT INTO ${table} FORMAT JSONEachRow`, values: Readable.from([payloads[i % payloads.length]!]) });
      for await (const _chunk of r.stream) {
        // the (empty) answer, read to the end so the connection is reused
      }
    }
  }));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export async function benchEvents(): Promise<void> {
  const rowsPerRun = envInt('COLIBRI_BENCH_EVENTS_ROWS', 500_000);
  const rounds = envInt('COLIBRI_BENCH_EVENTS_ROUNDS', 5);
  const connections = envInt('COLIBRI_BENCH_EVENTS_CONNECTIONS', 4);
  const batches = (process.env.COLIBRI_BENCH_EVENTS_BATCHES ?? '1000,5000').split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n <= 0) throw new Error('COLIBRI_BENCH_EVENTS_BATCHES: expected positive integers');
    return n;
  });

  setLogLevel('warn');
  // COLIBRI_BENCH_EVENTS_PROFILE=<dir>: a CPU profile of the server during each Events API measurement.
  const profileDir = process.env.COLIBRI_BENCH_EVENTS_PROFILE;
  let profiler: Session | undefined;
  if (profileDir !== undefined && profileDir !== '') {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'colibri-bench-events-'));
  const server = await startServer({ ...defaultConfig(), port: 0, dataDir: path.join(tmp, 'data') });
  try {
    const { store, hosts } = server.services;
    const tenant = getTenant(store, 'local');
    const ws = tenant === undefined ? undefined : findWorkspace(store, tenant.slug, 'default');
    if (tenant === undefined || ws === undefined) throw new Error('default tenant/workspace not provisioned');
    const host = hosts.hostFor(tenant);
    await createDataSource(server, 'bench_events');
    await createDataSource(server, 'bench_direct');
    const eventsTable = qualified(ws, 'bench_events');
    const directTable = qualified(ws, 'bench_direct');
    const columns = requireDataSource(store, ws.id, 'bench_events').columns;
    const engine = host.embeddedConnection('internal');
    if (engine === undefined) throw new Error('the embedded engine is not running');
    const client = engineClient(engine, connections);

    console.log(`  ${connections} concurrent keep-alive connections, wait=true, ${rowsPerRun.toLocaleString('en-US')} rows per measurement, ` +
      `${rounds} alternating rounds per path (median), server in-process on an embedded host, load generator in a child process; ` +
      'the engine settles (no merge running) before each measurement; CPU includes the merges a measurement caused');
    let failures = 0;
    for (const batch of batches) {
      const requests = Math.max(1, Math.round(rowsPerRun / batch));
      const pool = Math.min(BODY_POOL, requests);
      const bodies: Buffer[] = [];
      const files: string[] = [];
      const payloads: Buffer[] = [];
      for (let p = 0; p < pool; p++) {
        const body = makeBody(batch * 1000 + p, batch);
        bodies.push(body);
        const file = path.join(tmp, `body-${batch}-${p}.ndjson`);
        await writeFile(file, body);
        files.push(file);
        // The baseline's payload: the same rows in final column form, as the server writes them.
        const enc = createNdjsonEncoder(columns, { importId: 'bench', now: new Date() });
        const a = enc.push(body);
        const b = enc.end();
        if (a.quarantineRows + b.quarantineRows !== 0 || a.goodRows + b.goodRows !== batch) throw new Error('bench data does not fit the schema');
        payloads.push(Buffer.concat([a.good, b.good]));
      }
      const avgBytes = bodies.reduce((s, b) => s + b.length, 0) / (pool * batch);
      const jobFile = path.join(tmp, `job-${batch}.json`);
      const job = (n: number): LoadJob => ({ url: server.url, token: server.adminToken, name: 'bench_events', bodies: files, requests: n, connections });

      // Warm-up of both paths (JIT, connections, first parts on disk).
      const warm = Math.max(connections * 2, Math.round(requests / 5));
      await runLoad(job(warm), jobFile);
      await runDirect(client, directTable, payloads, warm, connections);

      const eventsRates: number[] = [];
      const directRates: number[] = [];
      const enginePid = host.embeddedPid();
      if (enginePid === undefined) console.log('    (engine child pid not found: engine CPU not measured)');
      const cpu = { events: { server: 0, engine: 0, load: 0 }, direct: { server: 0, engine: 0 } };
      for (let round = 0; round < rounds; round++) {
        await settle(host);
        const before = await countRows(host, eventsTable);
        const c0 = cpuNow(enginePid);
        if (profiler !== undefined) await profiler.post('Profiler.start');
        const r = await runLoad(job(requests), jobFile);
        if (profiler !== undefined) {
          const { profile } = await profiler.post('Profiler.stop');
          await writeFile(path.join(profileDir!, `events-${batch}-${round}.cpuprofile`), JSON.stringify(profile));
        }
        await settle(host);
        const c1 = cpuNow(enginePid);
        cpu.events.server += c1.self - c0.self;
        cpu.events.engine += c1.engine - c0.engine;
        cpu.events.load += r.cpuSeconds;
        const after = await countRows(host, eventsTable);
        if (r.quarantined !== 0) throw new Error(`events: ${r.quarantined} rows were quarantined`);
        if (r.rows !== requests * batch) throw new Error(`events: ${r.rows} rows acknowledged, ${requests * batch} sent`);
        if (after - before !== r.rows) throw new Error(`events: ${r.rows} rows acknowledged but the table grew by ${after - before}: rows were lost`);
        eventsRates.push(r.rows / r.seconds);

        const dBefore = await countRows(host, directTable);
        const d0 = cpuNow(enginePid);
        const seconds = await runDirect(client, directTable, payloads, requests, connections);
        await settle(host);
        const d1 = cpuNow(enginePid);
        cpu.direct.server += d1.self - d0.self;
        cpu.direct.engine += d1.engine - d0.engine;
        const dAfter = await countRows(host, directTable);
        if (dAfter - dBefore !== requests * batch) throw new Error(`direct: ${requests * batch} rows inserted but the table grew by ${dAfter - dBefore}`);
        directRates.push((requests * batch) / seconds);
      }
      const ev = median(eventsRates);
      const di = median(directRates);
      const ratio = ev / di;
      const okRate = ev >= TARGET_ROWS_PER_SECOND;
      const okRatio = ratio >= TARGET_RATIO;
      if (!okRate || !okRatio) failures++;
      console.log(`  batch ${batch.toLocaleString('en-US')} events/request (${avgBytes.toFixed(0)} B/event, ${requests} requests):`);
      console.log(`    Events API            ${fmt(ev).padStart(9)} rows/s  (runs: ${eventsRates.map(fmt).join(', ')})  target >= ${fmt(TARGET_ROWS_PER_SECOND)}  ${okRate ? 'MET' : 'MISSED'}`);
      console.log(`    baseline direct insert ${fmt(di).padStart(8)} rows/s  (runs: ${directRates.map(fmt).join(', ')})  @clickhouse/client JSONEachRow, same host`);
      const perM = (x: number): string => (x / ((rounds * requests * batch) / 1e6)).toFixed(2);
      console.log(`    CPU s per 1M rows: Events API server ${perM(cpu.events.server)} + engine ${perM(cpu.events.engine)} + load generator ${perM(cpu.events.load)}; ` +
        `baseline client ${perM(cpu.direct.server)} + engine ${perM(cpu.direct.engine)}`);
      console.log(`    ratio Events/baseline  ${ratio.toFixed(2).padStart(8)}         target >= ${TARGET_RATIO}  ${okRatio ? 'MET' : 'MISSED'}`);
      if (!okRate && di < TARGET_ROWS_PER_SECOND) {
        console.log(`    (at ${batch.toLocaleString('en-US')} events/request the baseline itself stays under ${fmt(TARGET_ROWS_PER_SECOND)} rows/s: the engine's cost per insert bounds both paths)`);
      }
    }
    // The JSONPaths really extracted the nested values.
    const check = await host.queryRows<{ empty: number }>(`SELECT countIf(pathname = '' OR user_agent = '') AS empty FROM ${eventsTable}`);
    if (Number(check[0]?.empty ?? 1) !== 0) throw new Error('events: some rows have empty JSONPath columns');
    if (failures > 0) console.log(`  ${failures} batch size(s) missed a target (figures are noisy on a shared machine: rerun before concluding)`);
    await client.close();
  } finally {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchEvents().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
