/**
 * InsertBatcher: coalescing, the flush timer, and group commit (a batch of at least
 * minFlushRows rows goes as soon as no insert of its table is in flight and no
 * announced request of the table is still arriving), and the in-flight limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InsertBatcher } from '../../src/ingest/batcher.js';
import type { Host, InsertSummary } from '../../src/clickhouse/host.js';

interface Call {
  table: string;
  payload: string;
  finish: (err?: Error) => void;
}

/** A Host whose inserts complete only when the test says so. */
function fakeHost(): { host: Host; calls: Call[] } {
  const calls: Call[] = [];
  const host = {
    kind: 'embedded',
    name: 'fake',
    insert(table: string, payload: Buffer | string | readonly Buffer[]): Promise<InsertSummary> {
      return new Promise<InsertSummary>((resolve, reject) => {
        const text = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload.toString() : Buffer.concat(payload).toString();
        calls.push({ table, payload: text, finish: (err) => (err ? reject(err) : resolve({ rowsWritten: 0, bytesWritten: 0 })) });
      });
    },
  } as unknown as Host;
  return { host, calls };
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

function batcher(flushIntervalMs: number, minFlushRows: number): InsertBatcher {
  return new InsertBatcher({ flushIntervalMs, maxBatchRows: 100_000, maxBatchBytes: 1 << 20, maxPendingBytes: 1 << 24, minFlushRows });
}

test('small payloads wait for the timer and go in one insert', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(30, 1000);
  const p1 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('a\n'), 1);
  const p2 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('b\n'), 1);
  await tick(5);
  assert.equal(calls.length, 0);
  await tick(50);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.payload, 'a\nb\n');
  calls[0]!.finish();
  await Promise.all([p1, p2]);
});

test('a large payload goes at once when its table has no insert in flight (group commit)', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(10_000, 100);
  const p1 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('1\n'), 100);
  assert.equal(calls.length, 1, 'flushed without waiting for the 10 s timer');
  // While it is in flight, further payloads accumulate, even past minFlushRows.
  const p2 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('2\n'), 100);
  const p3 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('3\n'), 100);
  await tick(5);
  assert.equal(calls.length, 1);
  let p2done = false;
  void p2.then(() => (p2done = true));
  calls[0]!.finish();
  await p1;
  await tick(0);
  assert.equal(calls.length, 2, 'the accumulated batch goes when the insert ends');
  assert.equal(calls[1]!.payload, '2\n3\n');
  assert.equal(p2done, false, 'acknowledged only when its own insert ends');
  calls[1]!.finish();
  await Promise.all([p2, p3]);
  await b.drain();
});

test('other tables are not held back by an insert in flight', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(10_000, 10);
  const p1 = b.submit('k1', host, 'db.t1', 'JSONEachRow', Buffer.from('x\n'), 10);
  const p2 = b.submit('k2', host, 'db.t2', 'JSONEachRow', Buffer.from('y\n'), 10);
  assert.deepEqual(calls.map((c) => c.table), ['db.t1', 'db.t2']);
  calls.forEach((c) => c.finish());
  await Promise.all([p1, p2]);
});

test('an insert error rejects every payload of its batch, and the next batch still goes', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(10_000, 10);
  const p1 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('1\n'), 10);
  const p2 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('2\n'), 10);
  calls[0]!.finish(new Error('boom'));
  await assert.rejects(p1, /boom/);
  await tick(0);
  assert.equal(calls.length, 2);
  calls[1]!.finish();
  await p2;
  await b.drain();
  assert.equal(b.pendingBytes, 0);
});

test('below minFlushRows, a batch waits for the timer even when nothing is in flight', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(20, 1000);
  const p = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('1\n'), 999);
  assert.equal(calls.length, 0);
  await tick(40);
  assert.equal(calls.length, 1);
  calls[0]!.finish();
  await p;
});

test('pieces of a payload and of several payloads go in order, without a copy', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(10, 1000);
  const p1 = b.submit('k', host, 'db.t', 'JSONEachRow', [Buffer.from('a\n'), Buffer.alloc(0), Buffer.from('b\n')], 2);
  const p2 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('c\n'), 1);
  await tick(30);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.payload, 'a\nb\nc\n');
  calls[0]!.finish();
  await Promise.all([p1, p2]);
  assert.equal(b.pendingBytes, 0);
});

test('a ready batch waits for requests announced as arriving, then goes with them in one insert', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(10_000, 10);
  const done1 = b.arriving('k');
  const done2 = b.arriving('k');
  const p1 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('1\n'), 10);
  done1();
  assert.equal(calls.length, 0, 'the second announced request is still being received');
  const p2 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('2\n'), 10);
  done2();
  done2(); // a second call does nothing
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.payload, '1\n2\n');
  calls[0]!.finish();
  await Promise.all([p1, p2]);
  // Announcements of another group do not hold this one back.
  const other = b.arriving('other');
  const p3 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('3\n'), 10);
  assert.equal(calls.length, 2);
  calls[1]!.finish();
  await p3;
  other();
  await b.drain();
});

test('a request announced but never submitted holds a batch back only until the timer', async () => {
  const { host, calls } = fakeHost();
  const b = batcher(20, 10);
  const slow = b.arriving('k');
  const p = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('1\n'), 10);
  assert.equal(calls.length, 0);
  await tick(40);
  assert.equal(calls.length, 1, 'flushed by the timer');
  calls[0]!.finish();
  await p;
  slow();
  assert.equal(calls.length, 1, 'nothing pending: releasing the announcement sends nothing');
});

test('maxInFlight inserts of one table run at once; formats are batched apart', async () => {
  const { host, calls } = fakeHost();
  const b = new InsertBatcher({ flushIntervalMs: 10_000, maxBatchRows: 100_000, maxBatchBytes: 1 << 20, maxPendingBytes: 1 << 24, minFlushRows: 10, maxInFlight: 2 });
  const p1 = b.submit('k', host, 'db.t', 'TabSeparated', Buffer.from('1\n'), 10);
  const p2 = b.submit('k', host, 'db.t', 'TabSeparated', Buffer.from('2\n'), 10);
  assert.equal(calls.length, 2, 'two inserts in flight');
  const p3 = b.submit('k', host, 'db.t', 'TabSeparated', Buffer.from('3\n'), 10);
  const p4 = b.submit('k', host, 'db.t', 'JSONEachRow', Buffer.from('{}\n'), 10);
  assert.equal(calls.length, 3, 'the third TSV batch waits; the JSONEachRow one is its own batch');
  assert.equal(calls[2]!.payload, '{}\n');
  calls[0]!.finish();
  await p1;
  await tick(0);
  assert.equal(calls.length, 4);
  assert.equal(calls[3]!.payload, '3\n');
  calls.slice(1).forEach((c) => c.finish());
  await Promise.all([p2, p3, p4]);
  await b.drain();
});
