/**
 * Entry point of an embedded host's child process:
 *   node dist/src/clickhouse/embedded/child.js <dataDir>
 * started by the supervisor with `child_process.fork`. It opens one chdb Session on
 * its data directory and serves the subset of ClickHouse's HTTP interface that
 * @clickhouse/client uses, on 127.0.0.1 only. Passwords arrive in the first IPC
 * message (see protocol.ts); the port goes back the same way once listening.
 *
 * Users: `internal` (everything) and `reader` (one SELECT-like statement, readonly=1
 * appended last in the one trailing SETTINGS clause, plus lexical refusals of what
 * readonly=1 does not stop in chdb: subquery `SETTINGS readonly=0`, INTO OUTFILE).
 */
import http from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Session } from 'chdb';
import type { ChdbQueryStream, RawInsertFormat } from 'chdb';
import type { ChildMessage, InitMessage } from './protocol.js';
import { INTERNAL_USER, READER_USER } from './protocol.js';
import { firstKeyword, hasOutfile, isWord, lexQuery, parseInsert, parseKillQuery, readerViolation } from './query-text.js';
import type { InsertShape, Token } from './query-text.js';
import { quoteString } from '../sql.js';

/** Largest request body accepted for a query that is not an INSERT with data. */
const MAX_QUERY_BYTES = 16 * 1024 * 1024;
/** Largest INSERT payload accepted in one request (it is buffered to hand chdb one Buffer). */
const MAX_INSERT_BYTES = 512 * 1024 * 1024;

/** URL parameters of ClickHouse's HTTP interface that are not query settings. */
const NON_SETTING_PARAMS = new Set([
  'query', 'database', 'query_id', 'default_format', 'user', 'password', 'session_id', 'session_timeout',
  'session_check', 'compress', 'decompress', 'buffer_size', 'wait_end_of_query', 'send_progress_in_http_headers',
  'enable_http_compression', 'role', 'quota_key', 'stacktrace', 'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
]);

const RAW_INSERT_FORMATS = new Set<string>([
  'JSONEachRow', 'JSONCompactEachRow', 'CSV', 'CSVWithNames', 'TSV', 'TabSeparated', 'TSVWithNames', 'TabSeparatedWithNames',
]);

/**
 * Formats whose chdb stream chunks concatenate into one valid result. Whole-document
 * formats (JSON, Pretty, XML...) and *WithNames* headers would repeat per chunk, so
 * those results are produced in one piece instead.
 */
const STREAMABLE_FORMATS = new Set<string>([
  'CSV', 'TSV', 'TabSeparated', 'TSVRaw', 'TabSeparatedRaw', 'JSONEachRow', 'JSONCompactEachRow',
  'JSONStringsEachRow', 'JSONCompactStringsEachRow', 'RowBinary',
]);

const SIMPLE_NAME = /^[A-Za-z0-9_]+$/;
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type User = typeof INTERNAL_USER | typeof READER_USER;

/** An error answered the way ClickHouse does: "Code: N. DB::Exception: ... (TYPE)". */
class ChError extends Error {
  constructor(readonly code: number, readonly type: string, text: string, readonly status = 500) {
    super(`Code: ${code}. DB::Exception: ${text}. (${type})`);
  }
}

const dataDir = process.argv[2];
let session: Session | undefined;
let digests: Map<User, Buffer> = new Map();
let streamBusy = false;
const running = new Map<string, AbortController>();

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Identifies the user from X-ClickHouse-User/Key or basic auth; constant-time password check. */
function authenticate(req: http.IncomingMessage): User | null {
  let user = req.headers['x-clickhouse-user'];
  let key = req.headers['x-clickhouse-key'];
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      user = decoded.slice(0, colon);
      key = decoded.slice(colon + 1);
    }
  }
  if (typeof user !== 'string' || typeof key !== 'string') return null;
  const expected = digests.get(user as User);
  const given = digest(key);
  if (expected === undefined) {
    timingSafeEqual(given, given);
    return null;
  }
  return timingSafeEqual(expected, given) ? (user as User) : null;
}

function errorOf(err: unknown): ChError | { code: number; message: string } {
  if (err instanceof ChError) return err;
  const e = err as { clickhouseCode?: number; message?: string };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const m = /Code: (\d+)\./.exec(message);
  const code = e?.clickhouseCode ?? (m ? Number(m[1]) : 1001);
  return { code, message: m ? message : `Code: ${code}. DB::Exception: ${message}. (STD_EXCEPTION)` };
}

function sendError(res: http.ServerResponse, err: unknown): void {
  const e = errorOf(err);
  const status = err instanceof ChError ? err.status : 500;
  if (res.headersSent) {
    // As ClickHouse does: the exception text ends the body, and the chunked response is
    // cut before its terminating chunk so the client sees a failed transfer, not a result.
    res.write(`\n${e.message}\n`, () => res.destroy());
    return;
  }
  const body = `${e.message}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=UTF-8',
    'X-ClickHouse-Exception-Code': String(e.code),
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Reads the body into one Buffer, refusing more than `limit` bytes. */
async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new ChError(202, 'TOO_LARGE_REQUEST_BODY', `request body is larger than ${limit} bytes`, 413);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

function settingValue(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : quoteString(value);
}

/** Query settings from URL parameters, as `name=value` strings; readonly=1 forced last for the reader. */
function settingsFrom(params: URLSearchParams, user: User): { clause: string[]; raw: Record<string, string> } {
  const clause: string[] = [];
  const raw: Record<string, string> = {};
  for (const [name, value] of params) {
    if (NON_SETTING_PARAMS.has(name) || name.startsWith('http_')) continue;
    if (name.startsWith('param_')) throw new ChError(48, 'NOT_IMPLEMENTED', 'query parameters are not supported by the embedded host');
    if (!SETTING_NAME.test(name)) throw new ChError(115, 'UNKNOWN_SETTING', 'invalid setting name');
    if (user === READER_USER && name === 'readonly') continue;
    clause.push(`${name}=${settingValue(value)}`);
    raw[name] = value;
  }
  if (user === READER_USER) clause.push('readonly=1');
  return { clause, raw };
}

function summaryHeader(s: { readRows?: number; readBytes?: number; writtenRows?: number; writtenBytes?: number; elapsedS?: number }): string {
  return JSON.stringify({
    read_rows: String(s.readRows ?? 0),
    read_bytes: String(s.readBytes ?? 0),
    written_rows: String(s.writtenRows ?? 0),
    written_bytes: String(s.writtenBytes ?? 0),
    total_rows_to_read: '0',
    result_rows: '0',
    result_bytes: '0',
    elapsed_ns: String(Math.round((s.elapsedS ?? 0) * 1e9)),
  });
}

function okHeaders(queryId: string, format: string | null, summary: string): http.OutgoingHttpHeaders {
  const h: http.OutgoingHttpHeaders = {
    'Content-Type': 'text/plain; charset=UTF-8',
    'X-ClickHouse-Query-Id': queryId,
    'X-ClickHouse-Summary': summary,
  };
  if (format !== null) h['X-ClickHouse-Format'] = format;
  return h;
}

function requireSession(): Session {
  if (session === undefined) throw new ChError(1002, 'UNKNOWN_EXCEPTION', 'engine not ready');
  return session;
}

async function runInsert(res: http.ServerResponse, shape: InsertShape, body: Buffer, raw: Record<string, string>, queryId: string, sqlText: string): Promise<void> {
  const s = requireSession();
  const simple = SIMPLE_NAME.test(shape.table) && (shape.database === null || SIMPLE_NAME.test(shape.database))
    && (shape.columns === null || shape.columns.every((c) => SIMPLE_NAME.test(c)));
  if (simple && RAW_INSERT_FORMATS.has(shape.format)) {
    const r = await s.insert({
      table: shape.database === null ? shape.table : `${shape.database}.${shape.table}`,
      values: body,
      format: shape.format as RawInsertFormat,
      ...(shape.columns !== null ? { columns: shape.columns } : {}),
      ...(Object.keys(raw).length > 0 ? { settings: raw } : {}),
    });
    res.writeHead(200, okHeaders(queryId, null, summaryHeader({ writtenRows: r.rowsWritten, writtenBytes: r.bytesWritten, elapsedS: r.elapsed })));
    res.end();
    return;
  }
  // Unusual names or formats: let the engine parse the data inline (slower, same result).
  const r = await s.queryAsync(`${sqlText}\n${body.toString('utf8')}`, { format: 'TabSeparated' });
  res.writeHead(200, okHeaders(queryId, null, summaryHeader({ readRows: r.rowsRead, readBytes: r.bytesRead, elapsedS: r.elapsed })));
  res.end();
}

async function runBuffered(res: http.ServerResponse, sql: string, format: string, queryId: string, signal: AbortSignal): Promise<void> {
  const r = await requireSession().queryAsync(sql, { format, signal });
  const bytes = r.bytes();
  const headers = okHeaders(queryId, format, summaryHeader({ readRows: r.rowsRead, readBytes: r.bytesRead, elapsedS: r.elapsed }));
  headers['Content-Length'] = bytes.byteLength;
  res.writeHead(200, headers);
  res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** Streams chunks to the response with backpressure; the caller holds `streamBusy`. */
async function runStream(res: http.ServerResponse, sql: string, format: string, queryId: string, signal: AbortSignal): Promise<void> {
  const stream: ChdbQueryStream = requireSession().queryStream(sql, { format, signal });
  const it = stream[Symbol.asyncIterator]();
  const onClose = (): void => {
    if (!res.writableFinished) stream.cancel();
  };
  res.on('close', onClose);
  try {
    let next = await it.next();
    res.writeHead(200, okHeaders(queryId, format, summaryHeader({})));
    while (next.done !== true) {
      if (signal.aborted) throw new ChError(394, 'QUERY_WAS_CANCELLED', 'Query was cancelled');
      const raw = next.value.raw();
      if (raw.byteLength > 0 && !res.write(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength))) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      if (res.destroyed) break;
      next = await it.next();
    }
    res.end();
  } finally {
    res.off('close', onClose);
    stream.cancel();
  }
}

async function handleQuery(req: http.IncomingMessage, res: http.ServerResponse, url: URL, user: User): Promise<void> {
  const params = url.searchParams;
  const queryId = params.get('query_id') || randomUUID();
  const database = params.get('database');
  if (database !== null && database !== '' && database !== 'default') {
    throw new ChError(48, 'NOT_IMPLEMENTED', 'the database parameter is not supported by the embedded host; qualify table names');
  }
  const { clause, raw } = settingsFrom(params, user);
  const queryParam = params.get('query') ?? '';

  const head = queryParam !== '' ? lexQuery(queryParam) : null;
  const insertShape = head !== null && head.ok ? parseInsert(head.tokens) : null;
  if (insertShape !== null && head !== null && head.ok) {
    if (user === READER_USER) throw new ChError(164, 'READONLY', 'reader: Cannot execute query in readonly mode');
    const body = await readBody(req, MAX_INSERT_BYTES);
    await runInsert(res, insertShape, body, raw, queryId, head.text);
    return;
  }

  const body = (await readBody(req, MAX_QUERY_BYTES)).toString('utf8');
  const full = queryParam !== '' && body !== '' ? `${queryParam}\n${body}` : queryParam + body;
  const lexed = lexQuery(full);
  if (!lexed.ok) throw new ChError(62, 'SYNTAX_ERROR', `Syntax error: ${lexed.reason}`);
  const tokens: Token[] = lexed.tokens;
  if (user === READER_USER) {
    const violation = readerViolation(tokens);
    if (violation !== null) throw new ChError(164, 'READONLY', `reader: Cannot execute query in readonly mode: ${violation}`);
  }
  if (hasOutfile(tokens)) throw new ChError(164, 'READONLY', 'INTO OUTFILE is not allowed on this host');

  const killId = parseKillQuery(tokens);
  if (killId !== null) {
    running.get(killId)?.abort();
    res.writeHead(200, okHeaders(queryId, null, summaryHeader({})));
    res.end();
    return;
  }

  if (running.has(queryId)) throw new ChError(216, 'QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING', `Query with id = ${queryId} is already running`);
  const sql = clause.length > 0 ? `${lexed.text}\nSETTINGS ${clause.join(', ')}` : lexed.text;
  const format = params.get('default_format') || 'TabSeparated';
  const ac = new AbortController();
  running.set(queryId, ac);
  try {
    const selectLike = ['SELECT', 'WITH', '('].includes(firstKeyword(tokens));
    const streamable = STREAMABLE_FORMATS.has(format) && !tokens.some((t) => isWord(t, 'FORMAT'));
    if (selectLike && streamable && !streamBusy && params.get('wait_end_of_query') !== '1') {
      streamBusy = true;
      try {
        await runStream(res, sql, format, queryId, ac.signal);
      } finally {
        streamBusy = false;
      }
    } else {
      await runBuffered(res, sql, format, queryId, ac.signal);
    }
  } finally {
    running.delete(queryId);
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname === '/ping' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' });
    res.end('Ok.\n');
    return;
  }
  if (url.pathname !== '/' || (req.method !== 'GET' && req.method !== 'POST')) {
    throw new ChError(1001, 'STD_EXCEPTION', 'unsupported request', 404);
  }
  const user = authenticate(req);
  if (user === null) {
    throw new ChError(516, 'AUTHENTICATION_FAILED', 'Authentication failed: password is incorrect, or there is no user with such name', 401);
  }
  await handleQuery(req, res, url, user);
}

function send(msg: ChildMessage): void {
  if (process.send !== undefined) process.send(msg);
}

let shuttingDown = false;
function shutdown(server: http.Server | undefined, code: number): void {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const ac of running.values()) ac.abort();
  server?.close();
  server?.closeAllConnections();
  try {
    session?.close();
  } finally {
    // Parts are already on disk. libchdb's exit-time cleanup can deadlock (seen
    // after the parent was killed: a background pool thread stopped inside a
    // signal handler while exit() waited on its lock), and an orphan child keeps
    // the data directory locked. So skip exit handlers entirely.
    if (code === 0) process.kill(process.pid, 'SIGKILL');
    process.exit(code);
  }
}

function start(init: InitMessage): void {
  if (dataDir === undefined || dataDir === '') {
    send({ type: 'fatal', message: 'missing data directory argument' });
    process.exit(2);
  }
  digests = new Map<User, Buffer>([
    [INTERNAL_USER, digest(init.internalPassword)],
    [READER_USER, digest(init.readerPassword)],
  ]);
  try {
    session = new Session(dataDir);
  } catch (err) {
    send({ type: 'fatal', message: `cannot open the engine: ${(err as Error).message}` });
    process.exit(3);
  }
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.destroyed) sendError(res, err);
      req.resume();
    });
  });
  // Longer than Colibri keeps an idle connection to this engine (transport.ts, IDLE_SOCKET_MS).
  server.keepAliveTimeout = 10_000;
  server.listen(init.port, '127.0.0.1', () => {
    const addr = server.address();
    send({ type: 'ready', port: typeof addr === 'object' && addr !== null ? addr.port : init.port });
  });
  server.on('error', (err) => {
    send({ type: 'fatal', message: `cannot listen: ${err.message}` });
    shutdown(server, 4);
  });
  process.on('SIGTERM', () => shutdown(server, 0));
  process.on('SIGINT', () => shutdown(server, 0));
  process.on('disconnect', () => shutdown(server, 0));
}

if (process.send === undefined) {
  process.stderr.write('child.js must be started by the embedded host supervisor (child_process.fork)\n');
  process.exit(2);
}
process.once('message', (msg: InitMessage) => {
  if (msg?.type === 'init') start(msg);
});
process.on('disconnect', () => {
  if (session === undefined) process.exit(0);
});
