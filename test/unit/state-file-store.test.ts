/**
 * FileStateStore (journal + snapshot on a real directory) and MemoryStateStore.
 * The crash test kill -9s a real child process that commits in a tight loop.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStateStore, JournalCorruptError, StateLockedError } from '../../src/state/file-store.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { encodeRecord } from '../../src/state/journal-format.js';
import type { Mutation, StateStore, StateValue } from '../../src/state/store.js';

const HELPERS = fileURLToPath(new URL('../helpers/', import.meta.url));

async function tempDir(t: TestContext): Promise<string> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'colibri-state-'));
  t.after(() => fsp.rm(base, { recursive: true, force: true }));
  return path.join(base, 'state');
}

function put(id: string, value: StateValue, collection: Mutation['collection'] = 'tokens'): Mutation {
  return { op: 'put', collection, id, value };
}

function ids(store: StateStore, collection: Mutation['collection'] = 'tokens'): string[] {
  return store.list<{ id?: string }>(collection).map((v) => String(v.id));
}

/** Write journal.1.log holding records 1..n (each puts tokens/r<seq>) and return record offsets. */
async function writeJournal(dir: string, n: number): Promise<{ file: string; offsets: number[]; bytes: Buffer }> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const frames: Buffer[] = [];
  const offsets: number[] = [];
  let off = 0;
  for (let s = 1; s <= n; s++) {
    const f = encodeRecord(s, JSON.stringify([put(`r${s}`, { id: `r${s}`, s }), put(`m${s}`, { s }, 'meta')]));
    offsets.push(off);
    off += f.length;
    frames.push(f);
  }
  const file = path.join(dir, 'journal.1.log');
  const bytes = Buffer.concat(frames);
  await fsp.writeFile(file, bytes, { mode: 0o600 });
  return { file, offsets, bytes };
}

async function semantics(store: StateStore): Promise<void> {
  await store.open();
  assert.equal(store.get('tokens', 'nope'), undefined);
  assert.deepEqual(store.list('tokens'), []);
  await store.commit([put('a', { id: 'a', n: 1 }), put('b', { id: 'b', n: 1 }), put('c', { id: 'c', n: 1 })]);
  await store.commit([put('a', { id: 'a', n: 2 })]); // re-put keeps its place
  assert.deepEqual(ids(store), ['a', 'b', 'c']);
  assert.deepEqual(store.get('tokens', 'a'), { id: 'a', n: 2 });
  await store.commit([{ op: 'delete', collection: 'tokens', id: 'b' }, { op: 'delete', collection: 'tokens', id: 'unknown' }]);
  await store.commit([put('b', { id: 'b', n: 3 })]); // deleted then put: goes to the end
  assert.deepEqual(ids(store), ['a', 'c', 'b']);
  assert.deepEqual(store.list('pipes'), []);
  // values are frozen copies: neither the caller's object nor a read value can change memory
  const mine = { id: 'd', nested: { x: 1 } };
  await store.commit([put('d', mine)]);
  mine.nested.x = 99;
  const got = store.get<{ id: string; nested: { x: number } }>('tokens', 'd');
  assert.equal(got?.nested.x, 1);
  assert.throws(() => {
    (got as { nested: { x: number } }).nested.x = 5;
  }, TypeError);
  // atomic: one bad mutation rejects the whole commit, nothing applied
  await assert.rejects(
    store.commit([put('e', { id: 'e' }), { op: 'put', collection: 'nope' as 'tokens', id: 'x', value: {} }]),
    /unknown collection/,
  );
  await assert.rejects(store.commit([put('e', { id: 'e' }), put('f', { big: 1n } as unknown as StateValue)]), TypeError);
  await assert.rejects(store.commit([put('', { id: '' })]), /id/);
  assert.equal(store.get('tokens', 'e'), undefined);
  // memory changes only when the commit resolves
  const p = store.commit([put('g', { id: 'g' })]);
  assert.equal(store.get('tokens', 'g'), undefined);
  await p;
  assert.deepEqual(store.get('tokens', 'g'), { id: 'g' });
  assert.deepEqual(ids(store), ['a', 'c', 'b', 'd', 'g']);
}

test('MemoryStateStore: same semantics', async () => {
  const store = new MemoryStateStore();
  await semantics(store);
  await store.close();
  await store.close();
  await assert.rejects(store.commit([put('z', {})]), /closed/);
});

test('put/get/delete/list, atomic commits, recovery after close and reopen', async (t) => {
  const dir = await tempDir(t);
  const store = new FileStateStore(dir);
  await semantics(store);
  await store.close();
  await store.close(); // idempotent
  await assert.rejects(store.commit([put('z', {})]), /closed/);
  assert.equal((await fsp.stat(dir)).mode & 0o777, 0o700);
  for (const f of await fsp.readdir(dir)) assert.equal((await fsp.stat(path.join(dir, f))).mode & 0o777, 0o600, f);

  const again = new FileStateStore(dir);
  await again.open();
  assert.deepEqual(ids(again), ['a', 'c', 'b', 'd', 'g']);
  assert.deepEqual(again.get('tokens', 'd'), { id: 'd', nested: { x: 1 } });
  assert.equal(again.get('tokens', 'e'), undefined);
  assert.ok(Object.isFrozen(again.get('tokens', 'a')));
  await again.commit([put('h', { id: 'h' })]);
  await again.close();
  const third = new FileStateStore(dir);
  await third.open();
  assert.deepEqual(ids(third), ['a', 'c', 'b', 'd', 'g', 'h']);
  await third.close();
});

test('a torn last record is ignored and cut off; appends continue after it', async (t) => {
  const dir = await tempDir(t);
  const { file, offsets, bytes } = await writeJournal(dir, 4);
  const last = offsets[3]!;
  // cut inside the payload, inside the header, and zero-filled tail (power loss)
  const variants: Array<[string, Buffer]> = [
    ['payload', bytes.subarray(0, bytes.length - 5)],
    ['header', bytes.subarray(0, last + 7)],
    ['zeros', Buffer.concat([bytes.subarray(0, last), Buffer.alloc(bytes.length - last)])],
    ['last payload corrupt', Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from([bytes[bytes.length - 1]! ^ 0xff])])],
  ];
  for (const [name, content] of variants) {
    await fsp.writeFile(file, content);
    const store = new FileStateStore(dir, { snapshotEvery: 100 });
    await store.open();
    assert.deepEqual(ids(store), ['r1', 'r2', 'r3'], name);
    assert.equal(store.recovery?.tornBytes, content.length - last, name);
    assert.equal((await fsp.stat(file)).size, last, `${name}: torn tail cut off`);
    await store.commit([put('r4', { id: 'r4', again: true })]);
    assert.equal(store.sequence, 4);
    // simulate a crash: copy the files as they are, before close() snapshots
    const copy = `${dir}-copy`;
    await fsp.cp(dir, copy, { recursive: true });
    await store.close();
    await fsp.rm(path.join(copy, 'lock'));
    const reopened = new FileStateStore(copy);
    await reopened.open();
    assert.deepEqual(ids(reopened), ['r1', 'r2', 'r3', 'r4'], name);
    assert.equal(reopened.recovery?.replayedRecords, 4);
    await reopened.close();
    await fsp.rm(copy, { recursive: true });
    await fsp.rm(dir, { recursive: true });
    await writeJournal(dir, 4);
  }
});

test('a corrupt record in the middle refuses to start, naming file and offset', async (t) => {
  const dir = await tempDir(t);
  const { file, offsets, bytes } = await writeJournal(dir, 4);
  for (const [what, pos] of [
    ['payload', offsets[1]! + 20],
    ['length', offsets[2]!],
  ] as const) {
    const bad = Buffer.from(bytes);
    bad[pos] = bad[pos]! ^ 0x01;
    await fsp.writeFile(file, bad);
    const store = new FileStateStore(dir);
    await assert.rejects(store.open(), (err: unknown) => {
      assert.ok(err instanceof JournalCorruptError, what);
      assert.equal(err.file, file);
      const expected = what === 'payload' ? offsets[1]! : offsets[2]!;
      assert.equal(err.offset, expected);
      assert.match(err.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt at byte offset ${expected}`));
      assert.doesNotMatch(err.message, /"s":|tokens/); // no record contents
      return true;
    });
    assert.deepEqual(await fsp.readFile(file), bad, 'the journal is left untouched');
  }
  // the lock was released by the failed open: a repaired dir opens
  await fsp.writeFile(file, bytes);
  const store = new FileStateStore(dir);
  await store.open();
  assert.equal(store.list('tokens').length, 4);
  await store.close();
});

test('snapshots rotate the journal; recovery spans snapshot + journal and interrupted rotations', async (t) => {
  const dir = await tempDir(t);
  const store = new FileStateStore(dir, { snapshotEvery: 5 });
  await store.open();
  for (let i = 1; i <= 12; i++) await store.commit([put(`k${i}`, { id: `k${i}` }), put(`c`, { n: i }, 'meta')]);
  assert.equal(store.snapshotCount, 2);
  assert.deepEqual((await fsp.readdir(dir)).sort(), ['journal.11.log', 'lock', 'snapshot.json']);
  // crash image: snapshot at 10 + journal 11..12, a stale tmp, and a leftover older journal
  const crash = `${dir}-crash`;
  await fsp.cp(dir, crash, { recursive: true });
  await fsp.rm(path.join(crash, 'lock'));
  await fsp.writeFile(path.join(crash, 'snapshot.json.tmp'), 'half a snap');
  const old = encodeRecord(9, JSON.stringify([put('k9', { id: 'k9' })]));
  await fsp.writeFile(path.join(crash, 'journal.9.log'), Buffer.concat([old, encodeRecord(10, JSON.stringify([put('k10', { id: 'k10' })]))]));
  // and an empty generation left by a rotation whose directory fsync failed
  await fsp.writeFile(path.join(crash, 'journal.20.log'), '');
  t.after(() => fsp.rm(crash, { recursive: true, force: true }));

  await store.compact();
  assert.deepEqual((await fsp.readdir(dir)).sort(), ['journal.13.log', 'lock', 'snapshot.json']);
  await store.close();
  const again = new FileStateStore(dir, { snapshotEvery: 5 });
  await again.open();
  assert.deepEqual(again.recovery, { snapshotSeq: 12, replayedRecords: 0, journalFiles: 1, tornBytes: 0 });
  assert.equal(again.list('tokens').length, 12);
  await again.close();

  const fromCrash = new FileStateStore(crash, { snapshotEvery: 5 });
  await fromCrash.open();
  assert.deepEqual(fromCrash.recovery, { snapshotSeq: 10, replayedRecords: 2, journalFiles: 3, tornBytes: 0 });
  await fromCrash.commit([put('k13', { id: 'k13' })]);
  assert.deepEqual((await fsp.readdir(crash)).filter((f) => f.startsWith('journal')).sort(), ['journal.11.log', 'journal.13.log', 'journal.9.log']);
  assert.deepEqual(ids(fromCrash), Array.from({ length: 13 }, (_, i) => `k${i + 1}`));
  assert.deepEqual(fromCrash.get('meta', 'c'), { n: 12 });
  assert.equal(await fsp.stat(path.join(crash, 'snapshot.json.tmp')).catch(() => 'gone'), 'gone');
  await fromCrash.close();
  assert.deepEqual((await fsp.readdir(crash)).sort(), ['journal.14.log', 'snapshot.json']);
  const fromCrash2 = new FileStateStore(crash);
  await fromCrash2.open();
  assert.equal(fromCrash2.list('tokens').length, 13);
  await fromCrash2.close();

  // a missing journal (gap after the snapshot) is an error, not silent loss
  await fsp.rm(crash, { recursive: true });
  await fsp.mkdir(crash, { mode: 0o700 });
  await fsp.writeFile(path.join(crash, 'journal.3.log'), encodeRecord(3, JSON.stringify([put('x', { id: 'x' })])));
  await assert.rejects(new FileStateStore(crash).open(), /records 1\.\.2 are missing/);
});

test('group commit: 100 concurrent commits share fsyncs and keep their order', async (t) => {
  const dir = await tempDir(t);
  const store = new FileStateStore(dir);
  await store.open();
  await store.commit([put('first', { id: 'first' })]);
  const before = store.fsyncCount;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 100 }, (_, i) => store.commit([put(`g${i}`, { id: `g${i}` }), put(`x${i}`, { i }, 'pipes')]).then(() => order.push(i))),
  );
  const used = store.fsyncCount - before;
  assert.ok(used >= 1 && used <= 3, `100 concurrent commits used ${used} fsyncs`);
  assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i), 'promises resolve in commit order');
  assert.deepEqual(ids(store), ['first', ...Array.from({ length: 100 }, (_, i) => `g${i}`)]);
  assert.equal(store.sequence, 101);
  await store.close();
  const again = new FileStateStore(dir);
  await again.open();
  assert.equal(again.list('tokens').length, 101);
  await again.close();
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

test('lock: one process at a time; a stale lock is taken over', async (t) => {
  const dir = await tempDir(t);
  const a = new FileStateStore(dir);
  await a.open();
  await assert.rejects(new FileStateStore(dir).open(), (err: unknown) => err instanceof StateLockedError && /already open in this process/.test(err.message));
  await a.close();

  // held by another live process
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  t.after(() => sleeper.kill('SIGKILL'));
  await fsp.writeFile(path.join(dir, 'lock'), `${sleeper.pid}\n`, { mode: 0o600 });
  await assert.rejects(new FileStateStore(dir).open(), (err: unknown) => {
    assert.ok(err instanceof StateLockedError);
    assert.match(err.message, new RegExp(`locked by running process pid ${sleeper.pid}`));
    return true;
  });
  sleeper.kill('SIGKILL');
  await exited(sleeper);

  // the same pid is now dead: stale, taken over
  const b = new FileStateStore(dir);
  await b.open();
  assert.equal((await fsp.readFile(path.join(dir, 'lock'), 'utf8')).trim(), String(process.pid));
  await b.close();
  assert.equal(await fsp.stat(path.join(dir, 'lock')).catch(() => 'gone'), 'gone');
});

test('a failed write (EFBIG under ulimit -f) rejects, leaves memory unchanged and is cut off', async (t) => {
  const dir = await tempDir(t);
  const limit = 64 * 1024;
  const child = spawn('bash', ['-c', `ulimit -f ${limit / 1024}; exec "$0" "$@"`, process.execPath, path.join(HELPERS, 'state-write-fail-child.js'), dir, String(limit)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited(child);
  clearTimeout(timer);
  assert.equal(child.exitCode, 0, out);
  const r = JSON.parse(out) as { acked: string[]; bigError: string; bigVisible: boolean; smallOk: boolean; listed: number };
  assert.equal(r.bigError, 'EFBIG');
  assert.equal(r.bigVisible, false, 'memory unchanged by the failed commit');
  assert.equal(r.smallOk, true, 'the store keeps working after a failed write');
  assert.equal(r.listed, r.acked.length + 1);

  const store = new FileStateStore(dir);
  await store.open(); // no corruption in the middle: the partial write was cut off
  for (const id of [...r.acked, 'small']) assert.ok(store.get('tokens', id), id);
  assert.equal(store.get('tokens', 'big'), undefined);
  assert.equal(store.list('tokens').length, r.acked.length + 1);
  await store.close();
});

interface Round {
  acked: number[];
}

/** Start the crash child, let it commit until it acknowledged `target` ids, kill -9 it. */
async function crashRound(dir: string, every: number, start: number, workers: number, tag: string, target: number): Promise<Round> {
  const child = spawn(process.execPath, [path.join(HELPERS, 'state-crash-child.js'), dir, String(every), String(start), String(workers), tag], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: number[] = [];
  let buf = '';
  const done = exited(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
        }
        if (acked.length >= target && child.signalCode === null) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => resolve());
    });
    await done;
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
  assert.equal(child.signalCode, 'SIGKILL', 'the child was killed, it did not fail');
  return { acked };
}

function workersOf(round: number): number {
  return round % 2 === 0 ? 1 : 8;
}

test('kill -9 at random moments: every acknowledged commit survives, none is half-applied', async (t) => {
  const dir = await tempDir(t);
  const rounds = 10;
  const allAcked: number[] = [];
  let killedInSnapshot = 0;
  let killedInRotation = 0;
  for (let r = 0; r < rounds; r++) {
    const workers = workersOf(r);
    const target = 20 + Math.floor(Math.random() * 400);
    const { acked } = await crashRound(dir, 7, r * 1_000_000, workers, `r${r}`, target);
    assert.ok(acked.length >= Math.min(target, 1), `round ${r}: child acknowledged ${acked.length}`);
    allAcked.push(...acked);
    const files = await fsp.readdir(dir);
    if (files.includes('snapshot.json.tmp')) killedInSnapshot++;
    if (files.filter((f) => f.startsWith('journal.')).length > 1) killedInRotation++;

    const store = new FileStateStore(dir, { snapshotEvery: 7 });
    await store.open(); // takes over the dead child's lock
    for (const i of allAcked) {
      assert.ok(store.get('tokens', `t${i}`), `acknowledged t${i} lost (round ${r})`);
    }
    const tokens = store.list<{ i: number; w: string }>('tokens');
    const workspaces = store.list<{ i: number; w: string }>('workspaces');
    assert.deepEqual(
      workspaces.map((v) => v.i),
      tokens.map((v) => v.i),
      'tokens and workspaces written by the same commits, in the same order',
    );
    const byWorker = new Map<string, number[]>();
    for (const v of tokens) byWorker.set(v.w, [...(byWorker.get(v.w) ?? []), v.i]);
    const datasources = store.list<{ i: number; w: string }>('datasources');
    assert.equal(datasources.length, byWorker.size, 'each committer has exactly one live datasource');
    for (const [w, list] of byWorker) {
      const sorted = [...list].sort((a, b) => a - b);
      assert.deepEqual(list, sorted, `${w}: insertion order is commit order`);
      const max = sorted[sorted.length - 1]!;
      assert.deepEqual(store.get('meta', `last-${w}`), { i: max }, `${w}: meta matches the last commit`);
      assert.deepEqual(store.get('datasources', `d${max}`), { i: max, w });
      // a committer awaits each commit before the next, so what is present is a prefix
      const [round, k] = w.slice(1).split('-').map(Number) as [number, number];
      assert.equal(sorted[0], round * 1_000_000 + k, `${w}: starts at its first id`);
      for (let n = 1; n < sorted.length; n++) assert.equal(sorted[n]! - sorted[n - 1]!, workersOf(round), `${w}: no hole`);
    }
    await store.close(); // snapshots: the next round starts from a snapshot + new journal
  }
  t.diagnostic(
    `${allAcked.length} acknowledged commits over ${rounds} kill -9 rounds; ` +
      `killed while a snapshot.json.tmp existed: ${killedInSnapshot}, with two journal generations: ${killedInRotation}`,
  );
  assert.ok(allAcked.length > rounds * 20);
});
