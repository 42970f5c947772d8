/**
 * The plain node:http transport of the embedded engine (src/clickhouse/transport.ts),
 * against a local HTTP server that records what it receives: one request per exec with
 * a Content-Length, the SQL in the body (or in the URL for an insert, with the data as
 * the body), settings and query id in the URL, Basic auth; error statuses passed
 * through; refused connections, time limits and aborts reported as ClientHost expects.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpTransport } from '../../src/clickhouse/transport.js';

interface Seen {
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
let behaviour: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void = (_req, res) => {
  res.writeHead(200, { 'X-ClickHouse-Summary': '{}' });
  res.end('ok');
};
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ url: new URL(req.url ?? '/', 'http://x'), headers: req.headers, body });
    behaviour(req, res, body);
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => server.close());

const read = async (s: NodeJS.ReadableStream): Promise<string> => {
  let out = '';
  for await (const c of s) out += c.toString();
  return out;
};

test('a query: SQL as the body with a Content-Length, settings and query id in the URL, Basic auth', async () => {
  const t = httpTransport(url, { user: 'reader', password: 'p:w' }, { timeoutMs: 5000, maxSockets: 2 });
  seen.length = 0;
  const r = await t.exec({ sql: 'SELECT 1', queryId: 'q-1', settings: { default_format: 'JSON', readonly: 1, flag: true, off: false } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-clickhouse-summary'], '{}');
  assert.equal(await read(r.stream), 'ok');
  const s = seen[0]!;
  assert.equal(s.body, 'SELECT 1');
  assert.equal(s.headers['content-length'], '8');
  assert.equal(s.headers['transfer-encoding'], undefined);
  assert.equal(s.headers.authorization, `Basic ${Buffer.from('reader:p:w').toString('base64')}`);
  assert.equal(s.url.searchParams.get('query_id'), 'q-1');
  assert.equal(s.url.searchParams.get('default_format'), 'JSON');
  assert.equal(s.url.searchParams.get('readonly'), '1');
  assert.equal(s.url.searchParams.get('flag'), '1');
  assert.equal(s.url.searchParams.get('off'), '0');
  assert.equal(s.url.searchParams.get('query'), null);
  await t.close();
});

test('an insert: the SQL in the URL, the pieces of data as one body in order', async () => {
  const t = httpTransport(url, { user: 'internal', password: 'x' }, { timeoutMs: 5000, maxSockets: 2 });
  seen.length = 0;
  const r = await t.exec({ sql: 'INSERT INTO db.t FORMAT TabSeparated', queryId: 'q-2', settings: {}, values: [Buffer.from('a\t1\n'), Buffer.alloc(0), Buffer.from('b\t2\n')] });
  await read(r.stream);
  assert.equal(seen[0]!.url.searchParams.get('query'), 'INSERT INTO db.t FORMAT TabSeparated');
  assert.equal(seen[0]!.body, 'a\t1\nb\t2\n');
  assert.equal(seen[0]!.headers['content-length'], '8');
  await t.close();
});

test('error statuses and headers reach the caller with their body', async () => {
  behaviour = (_req, res) => {
    res.writeHead(500, { 'X-ClickHouse-Exception-Code': '60' });
    res.end('Code: 60. DB::Exception: Table x does not exist');
  };
  const t = httpTransport(url, { user: 'u', password: '' }, { timeoutMs: 5000, maxSockets: 2 });
  const r = await t.exec({ sql: 'SELECT * FROM x', queryId: 'q-3', settings: {} });
  assert.equal(r.status, 500);
  assert.equal(r.headers['x-clickhouse-exception-code'], '60');
  assert.match(await read(r.stream), /Table x does not exist/);
  await t.close();
});

test('a refused connection rejects with its code', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const t = httpTransport(`http://127.0.0.1:${port}`, { user: 'u', password: '' }, { timeoutMs: 5000, maxSockets: 2 });
  await assert.rejects(t.exec({ sql: 'SELECT 1', queryId: 'q-4', settings: {} }), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  await t.close();
});

test('a host that does not answer: the time limit rejects with "timeout"', async () => {
  behaviour = () => {
    // never answers
  };
  const t = httpTransport(url, { user: 'u', password: '' }, { timeoutMs: 100, maxSockets: 2 });
  await assert.rejects(t.exec({ sql: 'SELECT sleep(3)', queryId: 'q-5', settings: {} }), /timeout/);
  await t.close();
});

test('abort: before sending, while waiting, and while the body streams', async () => {
  const t = httpTransport(url, { user: 'u', password: '' }, { timeoutMs: 5000, maxSockets: 2 });
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(t.exec({ sql: 'SELECT 1', queryId: 'q-6', settings: {}, signal: pre.signal }), { name: 'AbortError' });

  behaviour = () => {
    // never answers
  };
  const waiting = new AbortController();
  const p = t.exec({ sql: 'SELECT 1', queryId: 'q-7', settings: {}, signal: waiting.signal });
  setTimeout(() => waiting.abort(), 50);
  await assert.rejects(p, { name: 'AbortError' });

  behaviour = (_req, res) => {
    res.writeHead(200);
    res.write('first chunk\n');
    // the rest never comes
  };
  const streaming = new AbortController();
  const r = await t.exec({ sql: 'SELECT 1', queryId: 'q-8', settings: {}, signal: streaming.signal });
  setTimeout(() => streaming.abort(), 50);
  await assert.rejects(read(r.stream));
  await t.close();
});

test('idle connections are closed by the client before the server would close them', async () => {
  behaviour = (_req, res) => {
    res.writeHead(200);
    res.end('ok');
  };
  const t = httpTransport(url, { user: 'u', password: '' }, { timeoutMs: 5000, maxSockets: 2 });
  let closed = 0;
  const onConnection = (socket: import('node:net').Socket): void => {
    socket.once('close', () => (closed += 1));
  };
  server.on('connection', onConnection);
  const r = await t.exec({ sql: 'SELECT 1', queryId: 'q-9', settings: {} });
  await read(r.stream);
  assert.equal(closed, 0, 'kept alive after the request');
  await new Promise((resolve) => setTimeout(resolve, 4500));
  assert.equal(closed, 1, 'closed after 4 s idle (the engine keeps connections 10 s)');
  server.off('connection', onConnection);
  await t.close();
});
