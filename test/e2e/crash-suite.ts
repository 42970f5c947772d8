/**
 * Durability end-to-end suite (issue 2), run once per host kind by
 * crash-embedded.test.ts and crash-remote.test.ts, against the real server process:
 *
 *  - kill -9 of the server in the middle of a stream of acknowledged writes (Events
 *    API wait=true, Data Sources appends, token and data source creations), restart
 *    on the same data directory, nothing acknowledged is lost (several rounds);
 *  - loss of the ClickHouse engine while requests flow (the embedded host's chdb
 *    child killed with SIGKILL, or the remote clickhouse-server killed and restarted):
 *    every request answers fast (2xx or 503 + Retry-After, never a hang), the server
 *    recovers, acknowledged rows are intact and writes work again;
 *  - graceful shutdown (SIGTERM) with requests in flight: they complete, the process
 *    exits 0, and after a restart every acknowledged write, including wait=false
 *    events answered 202 before the signal, is there.
 *
 * Rows carry a unique `id` per data source (a Ledger hands out contiguous ranges, one
 * per request). A request is acknowledged when it got a 2xx with every row counted as
 * successful; any other outcome (network error, 503) leaves its rows "maybe written".
 * After recovery: acknowledged ≤ rows ≤ acknowledged + maybe; when the exact ids can be
 * read (GET /v0/sql when the server has it, or the remote clickhouse-server directly),
 * every acknowledged id is present exactly once and no id was invented. Otherwise, at
 * the end, a delete of exactly the acknowledged ids must affect exactly that many rows.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';

/** What differs between host kinds. */
export interface CrashTarget {
  /** Extra server configuration (e.g. the tenant on a remote host). */
  config?: () => Record<string, unknown> | undefined;
  /** Remote kind: the clickhouse-server behind the tenant. */
  engine?: () => {
    kill9(): void;
    restart(): Promise<void>;
    /** The ids of table `name` (unique on the server), read straight from ClickHouse. */
    ids(name: string): Promise<number[]>;
  };
}

const SCHEMA = '`id` UInt32, `w` UInt8, `payload` String';
/** Bound on any single request of the suite: a hang is a failure, never a stuck test. */
const REQUEST_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------
// Requests and their outcomes

interface Outcome {
  op: string;
  start: number;
  end: number;
  /** HTTP status when a response came back. */
  status?: number;
  retryAfter?: string | null;
  text?: string;
  json?: any;
  /** Network-level failure (no HTTP response). */
  error?: string;
}

function describeError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e?.cause !== undefined ? ` (${e.cause.code ?? e.cause.message ?? String(e.cause)})` : '';
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}${cause}`;
}

async function call(
  url: string,
  op: string,
  method: string,
  pathAndQuery: string,
  token: string | undefined,
  body?: string | ReadableStream<Uint8Array>,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const start = Date.now();
  const h: Record<string, string> = { ...headers };
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  try {
    const init: RequestInit & { duplex?: 'half' } = { method, headers: h, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
    if (body !== undefined) init.body = body;
    if (body instanceof ReadableStream) init.duplex = 'half';
    const res = await fetch(url + pathAndQuery, init);
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { op, start, end: Date.now(), status: res.status, retryAfter: res.headers.get('retry-after'), text, json };
  } catch (err) {
    return { op, start, end: Date.now(), error: describeError(err) };
  }
}

function show(o: Outcome): string {
  const what = o.status !== undefined ? `${o.status}${o.retryAfter ? ` Retry-After=${o.retryAfter}` : ''} ${(o.text ?? '').slice(0, 160)}` : o.error;
  return `${o.op} @${o.start} (${o.end - o.start} ms): ${what}`;
}

/** Asserts that `check` returns nothing for every outcome; lists the first offenders. */
function expectAll(outcomes: readonly Outcome[], what: string, check: (o: Outcome) => string | undefined): void {
  const bad: string[] = [];
  for (const o of outcomes) {
    const problem = check(o);
    if (problem !== undefined) bad.push(`${problem}: ${show(o)}`);
  }
  assert.equal(bad.length, 0, `${what}: ${bad.length} of ${outcomes.length} requests\n${bad.slice(0, 12).join('\n')}`);
}

// ---------------------------------------------------------------------------
// What was written

type Range = [number, number];

/** Ids of one data source: contiguous ranges, one per request. */
class Ledger {
  private next = 1;
  readonly acked: Range[] = [];
  readonly maybe: Range[] = [];
  ackedRows = 0;
  maybeRows = 0;

  constructor(readonly ds: string) {}

  take(n: number): Range {
    const r: Range = [this.next, this.next + n - 1];
    this.next += n;
    return r;
  }

  ack(r: Range): void {
    this.acked.push(r);
    this.ackedRows += r[1] - r[0] + 1;
  }

  unsure(r: Range): void {
    this.maybe.push(r);
    this.maybeRows += r[1] - r[0] + 1;
  }

  /** Highest id handed out. */
  get sent(): number {
    return this.next - 1;
  }
}

function within(ranges: readonly Range[], id: number): boolean {
  return ranges.some(([a, b]) => id >= a && id <= b);
}

/** A token created by the test. */
interface TokenLedger {
  acked: Array<{ name: string; token: string }>;
  maybe: string[];
}

// ---------------------------------------------------------------------------
// Writers

interface Run {
  url: string;
  token: string;
  stopped: () => boolean;
  log: Outcome[];
  /** Pause between two requests of one writer. */
  pauseMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function ndjsonRows(r: Range, w: number, tag: string): string {
  let s = '';
  for (let id = r[0]; id <= r[1]; id++) s += `{"id":${id},"w":${w},"payload":"${tag}-${id}"}\n`;
  return s;
}

function csvRows(r: Range, w: number, tag: string): string {
  let s = '';
  for (let id = r[0]; id <= r[1]; id++) s += `${id},${w},"${tag}, ${id}"\n`;
  return s;
}

/** Settles a request's rows in the ledger: acknowledged only on the expected 2xx with every row successful. */
function settle(ledger: Ledger, r: Range, o: Outcome, okStatus: number): void {
  const rows = r[1] - r[0] + 1;
  if (o.status === okStatus && o.json?.successful_rows === rows) ledger.ack(r);
  else ledger.unsure(r);
}

async function eventsWriter(run: Run, ledger: Ledger, w: number, rows: number, wait: boolean): Promise<void> {
  while (!run.stopped()) {
    const r = ledger.take(rows);
    const o = await call(run.url, `events:${ledger.ds}:wait=${wait}`, 'POST', `/v0/events?name=${ledger.ds}&wait=${wait}`, run.token, ndjsonRows(r, w, 'e'));
    run.log.push(o);
    settle(ledger, r, o, wait ? 200 : 202);
    if (run.pauseMs > 0) await sleep(run.pauseMs);
  }
}

async function appendWriter(run: Run, ledger: Ledger, w: number, rows: number): Promise<void> {
  while (!run.stopped()) {
    const r = ledger.take(rows);
    const o = await call(run.url, `append:${ledger.ds}`, 'POST', `/v0/datasources?mode=append&name=${ledger.ds}&format=csv`, run.token, csvRows(r, w, 'a'), { 'content-type': 'text/csv' });
    run.log.push(o);
    settle(ledger, r, o, 200);
    if (run.pauseMs > 0) await sleep(run.pauseMs);
  }
}

async function tokenWriter(run: Run, tokens: TokenLedger, prefix: string, scope: string): Promise<void> {
  for (let i = 0; !run.stopped(); i++) {
    const name = `${prefix}_${i}`;
    const o = await call(run.url, 'token', 'POST', `/v0/tokens?name=${encodeURIComponent(name)}&scope=${encodeURIComponent(scope)}`, run.token);
    run.log.push(o);
    if (o.status === 200 && typeof o.json?.token === 'string') tokens.acked.push({ name, token: o.json.token });
    else tokens.maybe.push(name);
    if (run.pauseMs > 0) await sleep(run.pauseMs);
  }
}

async function createWriter(run: Run, created: string[], prefix: string): Promise<void> {
  for (let i = 0; !run.stopped(); i++) {
    const name = `${prefix}_${i}`;
    const o = await call(run.url, 'create', 'POST', `/v0/datasources?name=${name}&schema=${encodeURIComponent('`id` UInt32')}`, run.token);
    run.log.push(o);
    if (o.status === 200 && o.json?.datasource?.name === name) created.push(name);
    if (run.pauseMs > 0) await sleep(run.pauseMs);
  }
}

async function readerLoop(run: Run, op: string, pathAndQuery: string, token: string | undefined): Promise<void> {
  while (!run.stopped()) {
    run.log.push(await call(run.url, op, 'GET', pathAndQuery, token));
    if (run.pauseMs > 0) await sleep(run.pauseMs);
  }
}

// ---------------------------------------------------------------------------
// Processes

/** Direct children of `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') out.push(Number(c));
    } catch {
      // the thread went away
    }
  }
  return out;
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitUntil(what: string, timeoutMs: number, fn: () => boolean | Promise<boolean>, everyMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * SIGKILLs whatever is left of `pids`, and any process whose command line names
 * `dataDir` (a server whose start timed out, or its engine child): cleanup after a failure.
 */
function killLeftovers(pids: Iterable<number>, dataDir: string): void {
  const all = new Set(pids);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dataDir)) all.add(Number(entry));
    } catch {
      // gone
    }
  }
  for (const pid of all) {
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Checks after recovery

interface Checker {
  /** 'exact' when every id could be compared, 'count' when only counts. */
  rows(api: Api, ledger: Ledger): Promise<'exact' | 'count'>;
}

function makeChecker(target: CrashTarget): Checker {
  let sqlEndpoint: boolean | undefined;
  const exactIds = async (api: Api, ds: string): Promise<number[] | undefined> => {
    if (sqlEndpoint !== false) {
      const r = await api.get(`/v0/sql?q=${encodeURIComponent(`SELECT id FROM ${ds} FORMAT JSON`)}`);
      if (r.status === 404 && /^Not found: GET \/v0\/sql/.test(String(r.json?.error ?? ''))) {
        sqlEndpoint = false;
      } else {
        assert.equal(r.status, 200, `GET /v0/sql: ${r.text.slice(0, 300)}`);
        assert.ok(Array.isArray(r.json?.data), `GET /v0/sql: no data array: ${r.text.slice(0, 300)}`);
        sqlEndpoint = true;
        return (r.json.data as Array<{ id: number | string }>).map((x) => Number(x.id));
      }
    }
    const engine = target.engine?.();
    return engine === undefined ? undefined : engine.ids(ds);
  };
  return {
    async rows(api, ledger) {
      const count = await api.rowCount(ledger.ds);
      assert.ok(
        count >= ledger.ackedRows && count <= ledger.ackedRows + ledger.maybeRows,
        `${ledger.ds}: ${count} rows, expected between ${ledger.ackedRows} (acknowledged) and ${ledger.ackedRows + ledger.maybeRows} (+ unacknowledged)`,
      );
      const ids = await exactIds(api, ledger.ds);
      if (ids === undefined) return 'count';
      assert.equal(ids.length, count, `${ledger.ds}: ids read vs row_count`);
      const seen = new Set<number>();
      const dup: number[] = [];
      const invented: number[] = [];
      for (const id of ids) {
        if (seen.has(id)) dup.push(id);
        seen.add(id);
        if (!within(ledger.acked, id) && !within(ledger.maybe, id)) invented.push(id);
      }
      const missing: number[] = [];
      for (const [a, b] of ledger.acked) for (let id = a; id <= b; id++) if (!seen.has(id)) missing.push(id);
      assert.deepEqual({ missing: missing.slice(0, 20), duplicated: dup.slice(0, 20), invented: invented.slice(0, 20) }, { missing: [], duplicated: [], invented: [] }, `${ledger.ds}: acknowledged ids`);
      return 'exact';
    },
  };
}

/**
 * Without an id listing: delete exactly the acknowledged ids and require the delete to
 * affect exactly that many rows, then what is left to fit in the unacknowledged ones.
 * Destructive: the last check of a test.
 */
async function deleteAcknowledged(api: Api, ledger: Ledger): Promise<void> {
  const before = await api.rowCount(ledger.ds);
  // Acknowledged = [1, sent] minus the unacknowledged ranges (few: those in flight at a failure).
  const parts = [`id >= 1`, `id <= ${ledger.sent}`, ...ledger.maybe.map(([a, b]) => `NOT (id >= ${a} AND id <= ${b})`)];
  const d = await api.form(`/v0/datasources/${ledger.ds}/delete`, { delete_condition: parts.join(' AND ') });
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json.rows_affected, ledger.ackedRows, `${ledger.ds}: rows with acknowledged ids (of ${before} rows)`);
  const rest = await api.rowCount(ledger.ds);
  assert.ok(rest <= ledger.maybeRows, `${ledger.ds}: ${rest} rows left that are not acknowledged ids, at most ${ledger.maybeRows} were sent unacknowledged`);
}

async function checkTokens(api: Api, tokens: TokenLedger, useFrom: number, readPath: string): Promise<void> {
  const list = await api.get('/v0/tokens');
  assert.equal(list.status, 200, list.text);
  const names = new Set<string>((list.json.tokens as Array<{ name: string }>).map((t) => t.name));
  const lost = tokens.acked.filter((t) => !names.has(t.name)).map((t) => t.name);
  assert.deepEqual(lost, [], 'acknowledged tokens missing after restart');
  // Each token created since `useFrom` still authenticates with its own secret.
  const toUse = tokens.acked.slice(useFrom);
  for (let i = 0; i < toUse.length; i += 16) {
    const batch = toUse.slice(i, i + 16);
    const results = await Promise.all(batch.map((t) => api.withToken(t.token).get(readPath)));
    results.forEach((r, j) => assert.equal(r.status, 200, `token ${batch[j]!.name}: ${r.text}`));
  }
}

async function checkCreated(api: Api, created: readonly string[], appendFrom: number): Promise<void> {
  const list = await api.get('/v0/datasources');
  assert.equal(list.status, 200, list.text);
  const names = new Set<string>((list.json.datasources as Array<{ name: string }>).map((d) => d.name));
  assert.deepEqual(created.filter((n) => !names.has(n)), [], 'acknowledged data sources missing after restart');
  // Their tables exist on the host: an append works.
  const toUse = created.slice(appendFrom);
  for (let i = 0; i < toUse.length; i += 8) {
    const batch = toUse.slice(i, i + 8);
    const results = await Promise.all(batch.map((n) => api.post(`/v0/datasources?mode=append&name=${n}&format=csv`, '1\n', { 'content-type': 'text/csv' })));
    results.forEach((r, j) => {
      assert.equal(r.status, 200, `append to ${batch[j]}: ${r.text}`);
      assert.equal(r.json.successful_rows, 1, `append to ${batch[j]}: ${r.text}`);
    });
  }
}

async function createDs(api: Api, name: string): Promise<void> {
  const r = await api.form('/v0/datasources', { name, schema: SCHEMA, engine_sorting_key: 'id' });
  assert.equal(r.status, 200, r.text);
}

function uniquePrefix(): string {
  return `x${randomBytes(3).toString('hex')}`;
}

function count(log: readonly Outcome[], op: RegExp, pred: (o: Outcome) => boolean): number {
  return log.filter((o) => op.test(o.op) && pred(o)).length;
}

// ---------------------------------------------------------------------------

export function crashSuite(kind: 'embedded' | 'remote', target: CrashTarget): void {
  describe(`durability on ${kind} host`, () => {
    const checker = makeChecker(target);
    const configOf = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ ...(target.config?.() ?? {}), ...extra });

    it('keeps every acknowledged write across kill -9 of the server in mid-stream (3 rounds)', async (t: TestContext) => {
      const dataDir = tempDir(`crash-${kind}`);
      const config = configOf();
      const pids = new Set<number>();
      let server: Colibri | undefined;
      const P = uniquePrefix();
      const ev = new Ledger(`${P}_ev`);
      const ap = new Ledger(`${P}_ap`);
      const tokens: TokenLedger = { acked: [], maybe: [] };
      const created: string[] = [];
      const start = async (): Promise<Colibri> => {
        const s = await startColibri({ dataDir, config });
        pids.add(s.proc.pid!);
        for (const c of childPids(s.proc.pid!)) pids.add(c);
        return s;
      };
      try {
        server = await start();
        let api = new Api(server.url, server.token);
        await createDs(api, ev.ds);
        await createDs(api, ap.ds);
        let exact = true;
        for (let round = 1; round <= 3; round++) {
          let stop = false;
          const log: Outcome[] = [];
          const run: Run = { url: server.url, token: server.token, stopped: () => stop, log, pauseMs: 0 };
          const tokensBefore = tokens.acked.length;
          const createdBefore = created.length;
          const writers = [
            eventsWriter(run, ev, 1, 20, true),
            eventsWriter(run, ev, 2, 20, true),
            appendWriter(run, ap, 1, 25),
            appendWriter(run, ap, 2, 25),
            tokenWriter(run, tokens, `${P}_t${round}`, `DATASOURCES:READ:${ap.ds}`),
            createWriter(run, created, `${P}_c${round}`),
          ];
          const killAfter = 700 + Math.floor(Math.random() * 1500);
          await sleep(killAfter);
          const children = childPids(server.proc.pid!);
          children.forEach((c) => pids.add(c));
          const killedAt = Date.now();
          stop = true;
          await server.kill9();
          await Promise.all(writers);
          t.diagnostic(`round ${round}: kill -9 after ${killAfter} ms; ${log.length} requests, ${count(log, /./, (o) => o.error !== undefined)} cut by the kill`);

          // Until the kill, the server answered every request with a 2xx; the kill only cuts requests.
          expectAll(log, 'responses before the kill', (o) => (o.status === undefined || (o.status >= 200 && o.status < 300) ? undefined : 'not 2xx'));
          expectAll(log, 'network errors only from the kill', (o) => (o.error !== undefined && o.end < killedAt ? 'failed before the kill' : undefined));
          for (const op of [/^events/, /^append/, /^token$/, /^create$/]) {
            assert.ok(count(log, op, (o) => o.status !== undefined && o.status < 300) > 0, `round ${round}: no acknowledged ${op} before the kill`);
          }
          assert.ok(count(log, /./, (o) => o.error !== undefined) > 0, `round ${round}: no request was in flight at the kill`);
          // The embedded engine child does not outlive the server (it would hold the data directory).
          if (kind === 'embedded') assert.equal(children.length, 1, `one engine child, found ${JSON.stringify(children)}`);
          for (const c of children) {
            await waitUntil(`engine child ${c} exits after its server was killed (an orphan keeps the chdb data directory locked: the restarted server cannot open it)`, 10_000, () => !alive(c));
          }

          server = await start();
          api = new Api(server.url, server.token);
          for (const l of [ev, ap]) if ((await checker.rows(api, l)) !== 'exact') exact = false;
          await checkTokens(api, tokens, tokensBefore, `/v0/datasources/${ap.ds}`);
          await checkCreated(api, created, createdBefore);
          t.diagnostic(
            `round ${round}: ${ev.ds} ${ev.ackedRows} acknowledged (+${ev.maybeRows} unsure), ${ap.ds} ${ap.ackedRows} (+${ap.maybeRows}), ` +
              `${tokens.acked.length} tokens, ${created.length} data sources: all there`,
          );
        }
        // Writes work after the last restart.
        const r = await api.post(`/v0/events?name=${ev.ds}&wait=true`, ndjsonRows(ev.take(3), 9, 'final'));
        assert.equal(r.status, 200, r.text);
        ev.ack([ev.sent - 2, ev.sent]);
        if (!exact) {
          t.diagnostic('no id listing available (no GET /v0/sql): checking acknowledged ids with a delete');
          await deleteAcknowledged(api, ev);
          await deleteAcknowledged(api, ap);
        }
        assert.equal(await server.stop(), 0);
      } finally {
        await server?.kill9();
        killLeftovers(pids, dataDir);
        removeDir(dataDir);
      }
    });

    if (kind === 'embedded') {
      it('recovers by itself when the embedded engine child is killed, answering 503 + Retry-After meanwhile', async (t: TestContext) => {
        const dataDir = tempDir(`crash-child-${kind}`);
        const pids = new Set<number>();
        let server: Colibri | undefined;
        try {
          server = await startColibri({ dataDir, config: configOf() });
          pids.add(server.proc.pid!);
          const serverPid = server.proc.pid!;
          const api = new Api(server.url, server.token);
          const P = uniquePrefix();
          const ev = new Ledger(`${P}_ev`);
          const ap = new Ledger(`${P}_ap`);
          await createDs(api, ev.ds);
          await createDs(api, ap.ds);
          const before = childPids(serverPid);
          assert.equal(before.length, 1, `one engine child, found ${JSON.stringify(before)}`);
          const child = before[0]!;
          pids.add(child);
          const result = await outage(t, server, api, ev, ap, {
            kill: async () => {
              process.kill(child, 'SIGKILL');
              await waitUntil('killed child gone', 5000, () => !alive(child), 10);
            },
          });
          const after = childPids(serverPid);
          after.forEach((c) => pids.add(c));
          assert.equal(after.length, 1, `one new engine child, found ${JSON.stringify(after)}`);
          assert.notEqual(after[0], child, 'the engine child was restarted');
          assert.ok(alive(serverPid) && server.proc.exitCode === null, 'the server itself stayed up');
          t.diagnostic(`child ${child} → ${after[0]}; recovered in ${result.recoveryMs} ms; ${result.unavailable} answers were 503`);
          await checkRowsThenDelete(t, api, [ev, ap], checker);
          assert.equal(await server.stop(), 0);
        } finally {
          await server?.kill9();
          killLeftovers(pids, dataDir);
          removeDir(dataDir);
        }
      });
    }

    if (kind === 'remote') {
      it('answers fast 503s while the clickhouse-server is killed, and recovers after its restart', async (t: TestContext) => {
        const engine = target.engine?.();
        assert.ok(engine !== undefined, 'the remote suite needs its clickhouse-server');
        const dataDir = tempDir(`crash-chs-${kind}`);
        let server: Colibri | undefined;
        let engineDown = false;
        try {
          server = await startColibri({ dataDir, config: configOf() });
          const api = new Api(server.url, server.token);
          const P = uniquePrefix();
          const ev = new Ledger(`${P}_ev`);
          const ap = new Ledger(`${P}_ap`);
          await createDs(api, ev.ds);
          await createDs(api, ap.ds);
          const result = await outage(t, server, api, ev, ap, {
            kill: async () => {
              engineDown = true;
              engine.kill9();
            },
            downMs: 1500,
            restore: async () => {
              await engine.restart();
              engineDown = false;
            },
          });
          t.diagnostic(`recovered ${result.recoveryMs} ms after the restart began; ${result.unavailable} answers were 503`);
          await checkRowsThenDelete(t, api, [ev, ap], checker);
          assert.equal(await server.stop(), 0);
        } finally {
          await server?.kill9();
          if (engineDown) await engine.restart().catch(() => undefined);
          removeDir(dataDir);
        }
      });
    }

    it('shuts down gracefully on SIGTERM: in-flight requests complete, queued events are written, exit 0', async (t: TestContext) => {
      const dataDir = tempDir(`crash-term-${kind}`);
      // A long flush interval keeps wait=false events queued (and wait=true requests in
      // flight) when the signal comes: shutdown must drain them.
      const flushIntervalMs = 1500;
      const config = configOf({ ingest: { flushIntervalMs } });
      const pids = new Set<number>();
      let server: Colibri | undefined;
      try {
        server = await startColibri({ dataDir, config });
        pids.add(server.proc.pid!);
        childPids(server.proc.pid!).forEach((c) => pids.add(c));
        let api = new Api(server.url, server.token);
        const P = uniquePrefix();
        const wait = new Ledger(`${P}_wait`);
        const nowait = new Ledger(`${P}_nowait`);
        const ap = new Ledger(`${P}_ap`);
        const slow = new Ledger(`${P}_slow`);
        for (const l of [wait, nowait, ap, slow]) await createDs(api, l.ds);
        const tokens: TokenLedger = { acked: [], maybe: [] };

        let stop = false;
        const log: Outcome[] = [];
        const run: Run = { url: server.url, token: server.token, stopped: () => stop, log, pauseMs: 5 };
        const writers = [
          eventsWriter(run, wait, 1, 10, true),
          eventsWriter(run, wait, 2, 10, true),
          eventsWriter(run, nowait, 1, 10, false),
          eventsWriter(run, nowait, 2, 10, false),
          appendWriter(run, ap, 1, 20),
          tokenWriter(run, tokens, `${P}_t`, `DATASOURCES:READ:${ap.ds}`),
        ];
        // An upload that is still streaming its body when the signal arrives.
        const slowRange = slow.take(200);
        const chunks = Array.from({ length: 10 }, (_, i) => csvRows([slowRange[0] + i * 20, slowRange[0] + i * 20 + 19], 7, 'slow'));
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const next = chunks.shift();
            if (next === undefined) {
              controller.close();
              return;
            }
            await sleep(150);
            controller.enqueue(new TextEncoder().encode(next));
          },
        });
        const slowUpload = call(server.url, 'slow-append', 'POST', `/v0/datasources?mode=append&name=${slow.ds}&format=csv`, server.token, body, { 'content-type': 'text/csv' });

        await sleep(900);
        const sigtermAt = Date.now();
        const exitCode = await server.stop(); // SIGTERM, bounded wait for the exit
        const shutdownMs = Date.now() - sigtermAt;
        stop = true;
        await Promise.all(writers);
        const s = await slowUpload;
        log.push(s);
        t.diagnostic(`SIGTERM after 900 ms; exit ${exitCode} after ${shutdownMs} ms; ${log.length} requests`);
        assert.equal(exitCode, 0, server.output().slice(-2000));
        assert.ok(shutdownMs < 8000, `shutdown took ${shutdownMs} ms`);

        // The upload in flight completed.
        assert.equal(s.status, 200, show(s));
        assert.equal(s.json.successful_rows, 200, show(s));
        slow.ack(slowRange);
        // Every answer is a success or a clean 503 with Retry-After.
        expectAll(log, 'answers during shutdown', (o) => {
          if (o.status === undefined) return undefined;
          if (o.status === 200 || o.status === 202) return undefined;
          if (o.status === 503 && /^\d+$/.test(o.retryAfter ?? '')) return undefined;
          return 'neither 2xx nor 503 + Retry-After';
        });
        // Requests already in the server when the signal came were answered (not cut);
        // only those racing with the close of the listener may fail at the socket.
        expectAll(log, 'in-flight requests cut by the shutdown', (o) => (o.error !== undefined && o.start < sigtermAt - 300 ? 'no answer' : undefined));
        // wait=true requests were sitting in the batcher (flush interval 1.5 s) at the signal: answered 200.
        const inFlightWait = log.filter((o) => o.op.startsWith(`events:${wait.ds}`) && o.start < sigtermAt - 300 && o.end > sigtermAt);
        assert.ok(inFlightWait.length > 0, 'no wait=true request was in flight at the signal');
        expectAll(inFlightWait, 'wait=true requests in flight at SIGTERM', (o) => (o.status === 200 ? undefined : 'not 200'));
        // Some wait=false events were still queued (accepted less than a flush interval before the signal).
        const queued = log.filter((o) => o.op.startsWith(`events:${nowait.ds}`) && o.status === 202 && o.end > sigtermAt - flushIntervalMs);
        assert.ok(queued.length > 0, 'no wait=false events were queued at the signal');

        server = await startColibri({ dataDir, config });
        pids.add(server.proc.pid!);
        childPids(server.proc.pid!).forEach((c) => pids.add(c));
        api = new Api(server.url, server.token);
        for (const l of [wait, nowait, ap, slow]) await checker.rows(api, l);
        assert.equal(await api.rowCount(slow.ds), 200);
        await checkTokens(api, tokens, 0, `/v0/datasources/${ap.ds}`);
        t.diagnostic(`after restart: ${nowait.ackedRows} wait=false rows (202) and ${wait.ackedRows} wait=true rows all written; ${tokens.acked.length} tokens work`);
        assert.equal(await server.stop(), 0);
      } finally {
        await server?.kill9();
        killLeftovers(pids, dataDir);
        removeDir(dataDir);
      }
    });
  });
}

/** Exact ids when they can be read; otherwise counts, then the delete check. */
async function checkRowsThenDelete(t: TestContext, api: Api, ledgers: Ledger[], checker: Checker): Promise<void> {
  let exact = true;
  for (const l of ledgers) if ((await checker.rows(api, l)) !== 'exact') exact = false;
  if (!exact) {
    t.diagnostic('no id listing available (no GET /v0/sql): checking acknowledged ids with a delete');
    for (const l of ledgers) await deleteAcknowledged(api, l);
  }
}

interface OutageOptions {
  /** Takes the engine down. */
  kill: () => Promise<void>;
  /** How long to leave it down before restore (remote). */
  downMs?: number;
  /** Brings it back (remote); the embedded host comes back by itself. */
  restore?: () => Promise<void>;
}

/**
 * Writers and readers run while the engine is killed; every request must answer
 * fast with a 2xx or a 503 + Retry-After; the server must come back (readyz and an
 * append), bounded; writes must work afterwards.
 */
async function outage(
  t: TestContext,
  server: Colibri,
  api: Api,
  ev: Ledger,
  ap: Ledger,
  options: OutageOptions,
): Promise<{ recoveryMs: number; unavailable: number }> {
  let stop = false;
  const log: Outcome[] = [];
  const run: Run = { url: server.url, token: server.token, stopped: () => stop, log, pauseMs: 20 };
  const loops = [
    eventsWriter(run, ev, 1, 10, true),
    appendWriter(run, ap, 1, 10),
    readerLoop(run, 'read', `/v0/datasources/${ev.ds}`, server.token),
    readerLoop(run, 'readyz', '/readyz', undefined),
  ];
  let recoveryMs = 0;
  try {
    await sleep(600);
    const killedAt = Date.now();
    await options.kill();
    if (options.downMs !== undefined) await sleep(options.downMs);
    const restoreAt = Date.now();
    if (options.restore !== undefined) await options.restore();
    // Recovery: ready again and an append goes through, without any help from the test.
    await waitUntil('recovery after the engine was killed', 30_000, async () => {
      const ready = await call(server.url, 'readyz-poll', 'GET', '/readyz', undefined);
      log.push(ready);
      if (ready.status !== 200) return false;
      const r = ap.take(1);
      const o = await call(server.url, `append:${ap.ds}`, 'POST', `/v0/datasources?mode=append&name=${ap.ds}&format=csv`, server.token, csvRows(r, 3, 'probe'), { 'content-type': 'text/csv' });
      log.push(o);
      settle(ap, r, o, 200);
      return o.status === 200;
    }, 100);
    recoveryMs = Date.now() - restoreAt;
    t.diagnostic(`engine killed at +600 ms; down ${restoreAt - killedAt} ms before restore`);
    await sleep(500);
  } finally {
    stop = true;
    await Promise.all(loops);
  }

  expectAll(log, 'no request may hang or lose its connection', (o) => (o.error !== undefined ? 'network error' : undefined));
  expectAll(log, 'every answer under 2 s', (o) => (o.end - o.start >= 2000 ? 'slow' : undefined));
  expectAll(log, 'answers are 2xx or 503 + Retry-After', (o) => {
    if (o.status === 200) return undefined;
    if (o.status === 503 && /^[1-9]\d*$/.test(o.retryAfter ?? '')) return undefined;
    return 'neither 200 nor 503 + Retry-After';
  });
  expectAll(
    log.filter((o) => o.status === 200 && /^(events|append)/.test(o.op)),
    'acknowledged writes count every row',
    (o) => (typeof o.json?.successful_rows === 'number' && o.json.successful_rows > 0 && (o.json.quarantined_rows ?? o.json.quarantine_rows) === 0 ? undefined : 'bad counts'),
  );
  const unavailable = count(log, /^(events|append|read)$|^(events|append):/, (o) => o.status === 503);
  assert.ok(unavailable > 0, 'no write or read saw the outage (503): the engine kill was not observed');
  assert.ok(count(log, /^readyz/, (o) => o.status === 503) > 0, '/readyz never reported the outage');

  // Writes work again.
  const r = ev.take(5);
  const again = await call(server.url, 'after', 'POST', `/v0/events?name=${ev.ds}&wait=true`, server.token, ndjsonRows(r, 4, 'after'));
  assert.equal(again.status, 200, show(again));
  settle(ev, r, again, 200);
  assert.equal(await api.rowCount(ev.ds) >= ev.ackedRows, true);
  return { recoveryMs, unavailable };
}
