/**
 * Tokens end to end on an embedded host: the scope × endpoint matrix (table-driven:
 * add a row per new endpoint or scope), the Tokens API (update, refresh and delete
 * take effect at once; TOKENS manages non-admin tokens only), and row-level security
 * through /v0/sql for static and JWT filters.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { Api, removeDir, startColibri, tempDir, type ApiResponse, type Colibri } from '../helpers/colibri.js';

const DS = 'm';
const PIPE = 'p';
const SCHEMA = '`k` UInt32, `v` String';
let seq = 0;
const unique = (p: string): string => `${p}_${++seq}`;

/** One endpoint: how to call it with a token, and the status that means "allowed". */
interface Operation {
  name: string;
  call(api: Api): Promise<ApiResponse>;
  /** Status of an allowed call; a refused one is 403 unless `refused` says otherwise. */
  ok: number;
  /** For endpoints that always answer 200 (listing): did the answer grant access? */
  granted?: (r: ApiResponse) => boolean;
}

const OPERATIONS: Operation[] = [
  { name: 'datasources.create', call: (a) => a.form('/v0/datasources', { name: unique('mx'), schema: SCHEMA }), ok: 200 },
  { name: 'datasources.append', call: (a) => a.post(`/v0/datasources?name=${DS}&mode=append&format=csv`, '1,a\n'), ok: 200 },
  { name: 'datasources.replace', call: (a) => a.post(`/v0/datasources?name=${DS}&mode=replace&format=csv`, '1,a\n2,b\n'), ok: 200 },
  { name: 'datasources.read', call: (a) => a.get(`/v0/datasources/${DS}`), ok: 200 },
  {
    name: 'datasources.list',
    call: (a) => a.get('/v0/datasources'),
    ok: 200,
    granted: (r) => r.status === 200 && r.json.datasources.some((d: { name: string }) => d.name === DS),
  },
  { name: 'datasources.truncate', call: (a) => a.post(`/v0/datasources/${DS}/truncate`), ok: 205 },
  { name: 'datasources.delete', call: (a) => a.form(`/v0/datasources/${DS}/delete`, { delete_condition: 'k = 99' }), ok: 200 },
  { name: 'events', call: (a) => a.post(`/v0/events?name=${DS}&wait=true`, '{"k":1,"v":"e"}\n'), ok: 200 },
  { name: 'sql', call: (a) => a.post('/v0/sql', `SELECT count() AS c FROM ${DS} FORMAT JSON`), ok: 200 },
  { name: 'tokens.list', call: (a) => a.get('/v0/tokens'), ok: 200 },
  { name: 'tokens.create', call: (a) => a.post(`/v0/tokens?name=${unique('t')}&scope=DATASOURCES:READ:${DS}`), ok: 200 },
  { name: 'workspace', call: (a) => a.get('/v0/workspace'), ok: 200 },
  { name: 'pipes.create', call: (a) => a.form('/v0/pipes', { name: unique('px'), sql: 'SELECT 1 AS one' }), ok: 200 },
  { name: 'pipes.read', call: (a) => a.get(`/v0/pipes/${PIPE}`), ok: 200 },
  {
    name: 'pipes.list',
    call: (a) => a.get('/v0/pipes'),
    ok: 200,
    granted: (r) => r.status === 200 && r.json.pipes.some((p: { name: string }) => p.name === PIPE),
  },
  { name: 'pipes.endpoint', call: (a) => a.get(`/v0/pipes/${PIPE}.json`), ok: 200 },
  { name: 'pipes.node.add', call: (a) => a.post(`/v0/pipes/${PIPE}/nodes?name=${unique('n')}`, 'SELECT 2 AS two'), ok: 200 },
  { name: 'pipes.drop', call: (a) => a.delete(`/v0/pipes/${PIPE}`), ok: 204 },
  // Last: it drops the data source (recreated after an allowed call).
  { name: 'datasources.drop', call: (a) => a.delete(`/v0/datasources/${DS}`), ok: 204 },
];

const ALL = OPERATIONS.map((o) => o.name);
const SEE = ['datasources.read', 'datasources.list'];
const SEE_PIPE = ['pipes.read', 'pipes.list'];

/** One token kind: its scopes (static) or JWT claims, and what it may do. */
interface Grant {
  label: string;
  scopes?: string[];
  jwt?: Record<string, unknown>;
  allowed: string[];
}

const GRANTS: Grant[] = [
  { label: 'ADMIN', scopes: ['ADMIN'], allowed: ALL },
  { label: 'TOKENS', scopes: ['TOKENS'], allowed: ['tokens.list', 'tokens.create'] },
  {
    label: 'DATASOURCES:CREATE',
    scopes: ['DATASOURCES:CREATE'],
    allowed: ['datasources.create', 'datasources.append', 'datasources.replace', ...SEE, 'datasources.truncate', 'datasources.delete', 'events'],
  },
  { label: 'DATASOURCES:APPEND:m', scopes: [`DATASOURCES:APPEND:${DS}`], allowed: ['datasources.append', ...SEE, 'events'] },
  { label: 'DATASOURCES:READ:m', scopes: [`DATASOURCES:READ:${DS}`], allowed: [...SEE, 'sql'] },
  { label: 'DATASOURCES:READ:m:filter', scopes: [`DATASOURCES:READ:${DS}:k > 0`], allowed: [...SEE, 'sql'] },
  { label: 'DATASOURCES:DROP:m', scopes: [`DATASOURCES:DROP:${DS}`], allowed: [...SEE, 'datasources.truncate', 'datasources.delete', 'datasources.drop'] },
  { label: 'scopes on another data source', scopes: ['DATASOURCES:READ:other', 'DATASOURCES:APPEND:other', 'DATASOURCES:DROP:other'], allowed: [] },
  { label: 'PIPES:CREATE', scopes: ['PIPES:CREATE'], allowed: ['pipes.create', ...SEE_PIPE, 'pipes.node.add'] },
  { label: 'PIPES:READ:p', scopes: ['PIPES:READ:p'], allowed: [...SEE_PIPE, 'pipes.endpoint'] },
  { label: 'PIPES:DROP:p', scopes: ['PIPES:DROP:p'], allowed: [...SEE_PIPE, 'pipes.drop'] },
  { label: 'scopes on another pipe', scopes: ['PIPES:READ:other', 'PIPES:DROP:other'], allowed: [] },
  { label: 'JWT DATASOURCES:READ:m', jwt: { scopes: [{ type: 'DATASOURCES:READ', resource: DS }] }, allowed: [...SEE, 'sql'] },
  { label: 'JWT DATASOURCES:READ:m filter', jwt: { scopes: [{ type: 'DATASOURCES:READ', resource: DS, filter: 'k > 0' }] }, allowed: [...SEE, 'sql'] },
  { label: 'JWT PIPES:READ:p', jwt: { scopes: [{ type: 'PIPES:READ', resource: 'p', fixed_params: { org: 'a' } }] }, allowed: [...SEE_PIPE, 'pipes.endpoint'] },
];

describe('tokens on an embedded host', () => {
  let server: Colibri;
  let admin: Api;
  let dataDir: string;
  let workspaceId: string;

  const signHs = (claims: Record<string, unknown>, key = server.token): Promise<string> =>
    new SignJWT({ workspace_id: workspaceId, name: 'test-jwt', ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
      .sign(new TextEncoder().encode(key));

  const staticToken = async (scopes: string[]): Promise<string> => {
    const q = scopes.map((s) => `scope=${encodeURIComponent(s)}`).join('&');
    const r = await admin.post(`/v0/tokens?name=${unique('tok')}&${q}`);
    assert.equal(r.status, 200, r.text);
    return r.json.token as string;
  };

  const ensureDs = async (): Promise<void> => {
    if ((await admin.get(`/v0/datasources/${DS}`)).status !== 200) {
      const r = await admin.form('/v0/datasources', { name: DS, schema: SCHEMA });
      assert.equal(r.status, 200, r.text);
    }
    // A published pipe with a template parameter (reads no data source, so dropping `m` stays possible).
    if ((await admin.get(`/v0/pipes/${PIPE}`)).status !== 200) {
      const p = await admin.form('/v0/pipes', { name: PIPE, sql: "%\nSELECT {{String(org, 'x')}} AS org" });
      assert.equal(p.status, 200, p.text);
      const e = await admin.post(`/v0/pipes/${PIPE}/nodes/${PIPE}_0/endpoint`);
      assert.equal(e.status, 200, e.text);
    }
  };

  before(async () => {
    dataDir = tempDir('tokens');
    server = await startColibri({ dataDir });
    admin = new Api(server.url, server.token);
    const ws = await admin.get('/v0/workspace');
    assert.equal(ws.status, 200, ws.text);
    workspaceId = ws.json.id;
    await ensureDs();
  });

  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  it('enforces the scope × endpoint matrix for static tokens and JWTs', async () => {
    const failures: string[] = [];
    for (const grant of GRANTS) {
      const token = grant.jwt !== undefined ? await signHs(grant.jwt) : await staticToken(grant.scopes!);
      const api = admin.withToken(token);
      for (const op of OPERATIONS) {
        await ensureDs();
        const r = await op.call(api);
        const expected = grant.allowed.includes(op.name);
        const granted = op.granted !== undefined ? op.granted(r) : r.status === op.ok;
        const refusedProperly = op.granted !== undefined ? r.status === 200 : r.status === 403;
        if (expected && !granted) failures.push(`${grant.label} × ${op.name}: expected ${op.ok}, got ${r.status} ${r.text.slice(0, 200)}`);
        if (!expected && (granted || !refusedProperly)) failures.push(`${grant.label} × ${op.name}: expected refusal, got ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('names the missing scope in a 403 and answers 401 to unknown tokens', async () => {
    const reader = admin.withToken(await staticToken([`DATASOURCES:READ:${DS}`]));
    const r = await reader.post(`/v0/events?name=${DS}&wait=true`, '{"k":1,"v":"x"}\n');
    assert.equal(r.status, 403);
    assert.match(r.json.error, /DATASOURCES:APPEND:m/);
    for (const bad of ['p.eyJ1IjoieCIsImlkIjoieSJ9.AAAA', 'eyJhbGciOiJIUzI1NiJ9.e30.AAAA', 'x'.repeat(5000)]) {
      assert.equal((await admin.withToken(bad).get('/v0/datasources')).status, 401, bad.slice(0, 40));
    }
  });

  it('updates, refreshes and deletes tokens with immediate effect', async () => {
    const created = await admin.post(`/v0/tokens?name=life&scope=DATASOURCES:READ:${DS}&description=first`);
    assert.equal(created.status, 200, created.text);
    const first = admin.withToken(created.json.token);
    assert.equal((await first.get(`/v0/datasources/${DS}`)).status, 200);

    const refreshed = await admin.post('/v0/tokens/life/refresh');
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(refreshed.json.id, created.json.id);
    assert.deepEqual(refreshed.json.scopes, created.json.scopes);
    assert.notEqual(refreshed.json.token, created.json.token);
    assert.equal((await first.get(`/v0/datasources/${DS}`)).status, 401, 'the old secret dies at once');
    const second = admin.withToken(refreshed.json.token);
    assert.equal((await second.get(`/v0/datasources/${DS}`)).status, 200);

    const put = await admin.form(`/v0/tokens/${created.json.id}`, {});
    assert.equal(put.status, 404, 'POST to a token is not an update');
    const updated = await admin.request('PUT', `/v0/tokens/life?name=life2&description=second&scope=${encodeURIComponent(`DATASOURCES:APPEND:${DS}`)}`);
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.json.name, 'life2');
    assert.equal(updated.json.description, 'second');
    assert.deepEqual(updated.json.scopes, [{ type: 'DATASOURCES:APPEND', resource: DS }]);
    assert.equal((await second.post('/v0/sql', `SELECT 1 FROM ${DS}`)).status, 403, 'scopes replaced at once');
    assert.equal((await second.post(`/v0/events?name=${DS}&wait=true`, '{"k":3,"v":"u"}\n')).status, 200);
    assert.equal((await admin.get('/v0/tokens/life2')).json.id, created.json.id);
    assert.equal((await admin.get('/v0/tokens/life')).status, 404);

    assert.equal((await admin.delete('/v0/tokens/life2')).status, 204);
    assert.equal((await second.get(`/v0/datasources/${DS}`)).status, 401, 'a deleted token dies at once');
    assert.equal((await admin.delete('/v0/tokens/life2')).status, 404);
    assert.equal((await admin.post('/v0/tokens/life2/refresh')).status, 404);
  });

  it('lets TOKENS manage non-admin tokens only, and only ADMIN grant ADMIN', async () => {
    const mgr = admin.withToken(await staticToken(['TOKENS']));
    const adm2 = await admin.post('/v0/tokens?name=second_admin&scope=ADMIN');
    assert.equal(adm2.status, 200, adm2.text);
    assert.equal((await mgr.post('/v0/tokens?name=esc&scope=ADMIN')).status, 403);
    assert.equal((await mgr.post(`/v0/tokens?name=esc2&scope=ADMIN&scope=DATASOURCES:READ:${DS}`)).status, 403);
    const list = await mgr.get('/v0/tokens');
    assert.equal(list.status, 200);
    const names = list.json.tokens.map((t: { name: string }) => t.name);
    assert.ok(!names.includes('admin token') && !names.includes('second_admin'), names.join(','));
    for (const target of ['second_admin', 'admin token', adm2.json.id]) {
      assert.equal((await mgr.get(`/v0/tokens/${encodeURIComponent(target)}`)).status, 404);
      assert.equal((await mgr.delete(`/v0/tokens/${encodeURIComponent(target)}`)).status, 404);
      assert.equal((await mgr.post(`/v0/tokens/${encodeURIComponent(target)}/refresh`)).status, 404);
      assert.equal((await mgr.request('PUT', `/v0/tokens/${encodeURIComponent(target)}?scope=TOKENS`)).status, 404);
    }
    const plain = await mgr.post(`/v0/tokens?name=plain&scope=DATASOURCES:READ:${DS}`);
    assert.equal(plain.status, 200);
    assert.equal((await mgr.request('PUT', '/v0/tokens/plain?scope=ADMIN')).status, 403, 'no escalation through an update');
    assert.equal((await mgr.post('/v0/tokens/plain/refresh')).status, 200);
    assert.equal((await mgr.delete('/v0/tokens/plain')).status, 204);
    assert.equal((await admin.withToken(adm2.json.token).get('/v0/tokens/admin%20token')).status, 200);
    assert.equal((await admin.delete('/v0/tokens/admin%20token')).status, 400, "the workspace admin token can't be deleted");
    assert.equal((await admin.request('PUT', '/v0/tokens/admin%20token?scope=TOKENS')).status, 400);
  });

  it('validates row filters with the compiler when a token is created', async () => {
    for (const filter of ["1) UNION ALL SELECT * FROM system.one WHERE (1", 'k IN (SELECT k FROM other)', "k > 0; DROP TABLE m", 'k > (SELECT count() FROM system.one)', "k > 0 SETTINGS readonly = 0", "k > 0 FORMAT CSV", '']) {
      const r = await admin.post(`/v0/tokens?name=${unique('f')}&scope=${encodeURIComponent(`DATASOURCES:READ:${DS}:${filter}`)}`);
      if (filter === '') assert.equal(r.status, 200, 'an empty filter is no filter');
      else assert.equal(r.status, 400, `${filter}: ${r.text}`);
    }
    const jwt = await admin.request('POST', `/v0/tokens?name=j&expiration_time=${Math.floor(Date.now() / 1000) + 60}`, JSON.stringify({ scopes: [{ type: 'DATASOURCES:READ', resource: DS, filter: '1) UNION ALL SELECT * FROM m WHERE (1' }] }), { 'content-type': 'application/json' });
    assert.equal(jwt.status, 400, jwt.text);
    const signed = await signHs({ scopes: [{ type: 'DATASOURCES:READ', resource: DS, filter: '1) UNION ALL SELECT * FROM system.one WHERE (1' }] });
    assert.equal((await admin.withToken(signed).post('/v0/sql', `SELECT count() FROM ${DS}`)).status, 401);
  });

  describe('row-level security through /v0/sql', () => {
    const SECRET_SCHEMA = '`k` UInt32, `org` String, `secret` String';
    const attempts = [
      'SELECT secret FROM rls',
      'SELECT x.secret FROM rls AS x',
      'SELECT secret FROM rls AS org WHERE 1',
      "SELECT 'a' AS org, secret FROM rls",
      "SELECT secret FROM rls WHERE org = 'b' OR 1 = 1",
      'SELECT secret FROM rls PREWHERE 1',
      'SELECT secret FROM `rls`',
      'SELECT secret FROM/**/rls',
      'SELECT b.secret FROM rls AS a ALL INNER JOIN rls AS b ON a.k = b.k',
      'SELECT b.secret FROM rls AS a ALL INNER JOIN rls AS b USING k',
      'SELECT t2.secret FROM (SELECT * FROM rls) AS t1, (SELECT * FROM rls) AS t2',
      'SELECT secret FROM (SELECT * FROM rls)',
      'SELECT secret FROM (SELECT * FROM (SELECT * FROM rls) AS inner_alias)',
      "SELECT if('LE' || 'AK' IN (SELECT secret FROM rls), 'LEAK', 'no') AS r",
      "SELECT 1 FROM numbers(1) WHERE 'LEAK' GLOBAL IN (SELECT secret FROM rls)",
      'SELECT secret FROM rls UNION ALL SELECT secret FROM rls',
      'SELECT secret FROM rls UNION DISTINCT SELECT secret FROM rls',
      'WITH t AS (SELECT * FROM rls) SELECT secret FROM t',
      'WITH (SELECT groupArray(secret) FROM rls) AS s SELECT s',
      'SELECT secret, x FROM rls ARRAY JOIN [1, 2] AS x',
      'SELECT arrayJoin([secret]) AS s FROM rls',
      'SELECT secret FROM rls FINAL',
      'SELECT secret FROM rlsr FINAL',
      "SELECT * FROM merge(currentDatabase(), '^rls')",
      "SELECT secret FROM remote('127.0.0.1', currentDatabase(), 'rls')",
      'SELECT secret FROM rls SETTINGS additional_table_filters = {}',
      'SELECT secret FROM rls LIMIT 1 BY org',
      'SELECT any(secret) FROM rls GROUP BY org WITH TOTALS',
    ];

    const seed = async (name: string, engine: string): Promise<void> => {
      const c = await admin.form('/v0/datasources', { name, schema: SECRET_SCHEMA, engine, engine_sorting_key: 'k' });
      assert.equal(c.status, 200, c.text);
      const rows = [];
      for (let k = 1; k <= 20; k++) rows.push(JSON.stringify({ k, org: k % 2 === 0 ? 'a' : 'b', secret: k % 2 === 0 ? `ok${k}` : 'LEAK' }));
      rows.push(JSON.stringify({ k: 'not a number', org: 'b', secret: 'LEAK' })); // lands in quarantine
      const r = await admin.post(`/v0/events?name=${name}&wait=true`, rows.join('\n') + '\n');
      assert.deepEqual(r.json, { successful_rows: 20, quarantined_rows: 1 });
    };

    before(async () => {
      await seed('rls', 'MergeTree');
      await seed('rlsr', 'ReplacingMergeTree');
    });

    const check = async (label: string, api: Api): Promise<void> => {
      const all = await api.post('/v0/sql', 'SELECT count() AS c, countIf(org = \'a\') AS a FROM rls FORMAT JSON');
      assert.equal(all.status, 200, all.text);
      assert.deepEqual(all.json.data, [{ c: 10, a: 10 }], `${label}: the filter keeps org a only`);
      const leaks: string[] = [];
      for (const sql of attempts) {
        const r = await api.post('/v0/sql', `${sql} FORMAT JSON`);
        if (![200, 400, 403].includes(r.status) || r.text.includes('LEAK')) leaks.push(`${label}: ${sql} -> ${r.status} ${r.text.slice(0, 160)}`);
      }
      assert.deepEqual(leaks, []);
    };

    it('static DATASOURCES:READ:<ds>:<filter> never returns a row outside the filter', async () => {
      const t = await staticToken(["DATASOURCES:READ:rls:org = 'a'", "DATASOURCES:READ:rlsr:org = 'a'"]);
      await check('static', admin.withToken(t));
    });

    it('a JWT filter never returns a row outside the filter', async () => {
      const t = await signHs({ scopes: [{ type: 'DATASOURCES:READ', resource: 'rls', filter: "org = 'a'" }, { type: 'DATASOURCES:READ', resource: 'rlsr', filter: "org = 'a'" }] });
      await check('jwt', admin.withToken(t));
    });

    // Known gap (src/catalog/sql-query.ts, not owned here): a filtered READ scope also makes
    // `<ds>_quarantine` readable without the filter. This test stays red until that is fixed.
    it('the quarantine table of a filtered data source never leaks rows', async () => {
      const st = admin.withToken(await staticToken(["DATASOURCES:READ:rls:org = 'a'"]));
      const jwt = admin.withToken(await signHs({ scopes: [{ type: 'DATASOURCES:READ', resource: 'rls', filter: "org = 'a'" }] }));
      const leaks: string[] = [];
      for (const [label, api] of [['static', st], ['jwt', jwt]] as const) {
        for (const sql of ['SELECT * FROM rls_quarantine', 'SELECT q.* FROM rls_quarantine AS q', 'SELECT * FROM (SELECT * FROM rls_quarantine)']) {
          const r = await api.post('/v0/sql', `${sql} FORMAT JSON`);
          if (![200, 400, 403].includes(r.status) || r.text.includes('LEAK')) leaks.push(`${label}: ${sql} -> ${r.status}`);
        }
      }
      assert.deepEqual(leaks, []);
    });

    it('an unfiltered admin still sees every row (the attempts are meaningful)', async () => {
      const r = await admin.post('/v0/sql', 'SELECT countIf(secret = \'LEAK\') AS c FROM rls FORMAT JSON');
      assert.deepEqual(r.json.data, [{ c: 10 }]);
      const q = await admin.post('/v0/sql', 'SELECT count() AS c FROM rls_quarantine FORMAT JSON');
      assert.deepEqual(q.json.data, [{ c: 1 }]);
    });
  });
});
