/**
 * The default StateStore: state in memory, made durable in a local directory as a
 * journal plus a snapshot.
 *
 * Directory layout (dir mode 0700, files 0600):
 *   lock                 pid of the process that has the directory open (see dir-lock.ts)
 *   snapshot.json        whole state as of sequence number `lastSeq` (see SNAPSHOT FORMAT)
 *   snapshot.json.tmp    a snapshot being written; ignored and removed on open
 *   journal.<seq>.log    commits from sequence number <seq> on, one record per commit
 *                        (framing in journal-format.ts)
 *
 * Commit: each commit gets the next sequence number and becomes one journal record.
 * Commits that arrive while a write + fdatasync is in flight are queued and written
 * together by the next write, with one fdatasync (group commit). Memory is updated and
 * the promises resolve, in order, only after that fdatasync returned. A failed write is
 * cut off the file again (ftruncate) and its commits reject with memory unchanged; a
 * failed fdatasync leaves the file in an unknown state, so the store then refuses every
 * further commit until it is reopened (recovery decides what reached the disk).
 *
 * Snapshot (every `snapshotEvery` records, on compact() and on close()): write
 * snapshot.json.tmp, fsync, rename to snapshot.json, fsync the directory, create
 * journal.<lastSeq+1>.log and fsync the directory, and only then delete the older
 * journals. Every intermediate state on disk recovers to the same data: until the
 * rename is durable the old snapshot plus all journals are there; after it, journal
 * records at or below the snapshot's lastSeq are skipped.
 *
 * Recovery: load snapshot.json, replay every journal record with a higher sequence
 * number in order (they must be contiguous), ignore a torn tail of a journal (and cut
 * it off the last one, which gets the next appends), refuse to start on corruption
 * anywhere else with an error naming the file and offset.
 *
 * Values are deep-frozen JSON copies (see state-maps.ts). Record contents are never
 * logged or put in error messages: they can hold token hashes.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from './crc32.js';
import { DirLock } from './dir-lock.js';
import { encodeRecord, JournalCorruptError, MAX_PAYLOAD_BYTES, scanJournal } from './journal-format.js';
import { deepFreeze, prepareMutations, StateMaps, type PreparedMutations } from './state-maps.js';
import type { Collection, Mutation, StateStore, StateValue } from './store.js';
import { log } from '../ops/log.js';

export { JournalCorruptError } from './journal-format.js';
export { StateLockedError } from './dir-lock.js';

/** Options of FileStateStore. */
export interface FileStateStoreOptions {
  /** Write a snapshot and start a new journal after this many records. Default 1000. */
  snapshotEvery?: number;
}

/** What `open()` found on disk. */
export interface RecoveryInfo {
  /** `lastSeq` of the snapshot loaded (0: none). */
  readonly snapshotSeq: number;
  /** Journal records applied on top of the snapshot. */
  readonly replayedRecords: number;
  /** Journal files read. */
  readonly journalFiles: number;
  /** Bytes of torn tail ignored (and cut off). */
  readonly tornBytes: number;
}

/** Thrown when snapshot.json fails its checks. */
export class SnapshotCorruptError extends Error {
  constructor(file: string, reason: string) {
    super(`state snapshot ${file} is corrupt: ${reason}. Refusing to start; restore the state directory from a backup.`);
    this.name = 'SnapshotCorruptError';
  }
}

const SNAPSHOT = 'snapshot.json';
const SNAPSHOT_TMP = 'snapshot.json.tmp';
const SNAPSHOT_FORMAT = 'colibri-state-snapshot';
const JOURNAL_RE = /^journal\.(\d+)\.log$/;

/** File name of the journal generation whose first record is `seq`. */
export function journalName(seq: number): string {
  return `journal.${seq}.log`;
}

interface Pending {
  readonly prepared: PreparedMutations;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

type Status = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/** Durable StateStore on a local directory: journal + snapshot, group commit, dir lock. */
export class FileStateStore implements StateStore {
  /** The state directory. */
  readonly dir: string;
  private readonly snapshotEvery: number;
  private readonly state = new StateMaps();
  private status: Status = 'new';
  private lock: DirLock | undefined;
  private journal: FileHandle | undefined;
  private journalFirstSeq = 0;
  private journalSize = 0;
  private lastSeq = 0;
  private snapshotSeq = 0;
  private snapshotDueAt = 0;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private io: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private syncs = 0;
  private snapshots = 0;
  private recoveryInfo: RecoveryInfo | undefined;

  /** `dir` is created (mode 0700) by open() if missing. */
  constructor(dir: string, options: FileStateStoreOptions = {}) {
    const every = options.snapshotEvery ?? 1000;
    if (!Number.isSafeInteger(every) || every < 1) throw new RangeError('snapshotEvery must be a positive integer');
    this.dir = path.resolve(dir);
    this.snapshotEvery = every;
  }

  /** Journal fdatasyncs done by commits since open (for tests of group commit). */
  get fsyncCount(): number {
    return this.syncs;
  }

  /** Snapshots written since open. */
  get snapshotCount(): number {
    return this.snapshots;
  }

  /** Sequence number of the last durable commit. */
  get sequence(): number {
    return this.lastSeq;
  }

  /** What open() recovered; undefined before open(). */
  get recovery(): RecoveryInfo | undefined {
    return this.recoveryInfo;
  }

  /** Lock the directory, load the snapshot, replay the journals. */
  async open(): Promise<void> {
    if (this.status !== 'new') throw new Error('FileStateStore.open() may be called only once');
    this.status = 'opening';
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.lock = await DirLock.acquire(this.dir);
      await fsp.rm(path.join(this.dir, SNAPSHOT_TMP), { force: true });
      await this.recover();
      this.status = 'open';
    } catch (err) {
      await this.journal?.close().catch(() => undefined);
      this.journal = undefined;
      await this.lock?.release().catch(() => undefined);
      this.status = 'closed';
      throw err;
    }
  }

  /** Changes with every change of the state in memory. */
  get revision(): number {
    return this.state.revision;
  }

  /** The frozen record, or undefined. Allowed until and after close(). */
  get<T extends StateValue>(collection: Collection, id: string): T | undefined {
    this.assertReadable();
    return this.state.get(collection, id) as T | undefined;
  }

  /** The collection's frozen records in insertion order (a new array each call). */
  list<T extends StateValue>(collection: Collection): T[] {
    this.assertReadable();
    return this.state.list(collection) as T[];
  }

  /** Append one journal record with all the mutations; resolves once it is on disk and applied. */
  commit(mutations: readonly Mutation[]): Promise<void> {
    if (this.status !== 'open') return Promise.reject(new Error(`state store is ${this.status === 'new' ? 'not open' : this.status}`));
    if (this.failure) return Promise.reject(this.failure);
    let prepared: PreparedMutations;
    try {
      prepared = prepareMutations(mutations);
      if (Buffer.byteLength(prepared.json) > MAX_PAYLOAD_BYTES - 64) throw new RangeError('commit too large');
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ prepared, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        this.io = this.io.then(() => this.flush()).catch(() => undefined);
      }
    });
  }

  /** Write a snapshot now and drop the journals it covers. */
  compact(): Promise<void> {
    if (this.status !== 'open') return Promise.reject(new Error(`state store is ${this.status === 'new' ? 'not open' : this.status}`));
    if (this.failure) return Promise.reject(this.failure);
    const done = this.io.then(() => this.snapshot());
    this.io = done.catch(() => undefined);
    return done;
  }

  /** Finish queued commits, snapshot if anything changed, release files and lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.status !== 'open') {
      this.status = 'closed';
      return;
    }
    this.status = 'closing';
    try {
      await this.io;
      if (!this.failure && this.lastSeq > this.snapshotSeq) await this.snapshot();
    } finally {
      await this.journal?.close().catch(() => undefined);
      this.journal = undefined;
      await this.lock?.release();
      this.status = 'closed';
    }
  }

  private assertReadable(): void {
    if (this.status === 'new' || this.status === 'opening') throw new Error('state store is not open: call open() first');
  }

  // ---- commit path -------------------------------------------------------

  /** Write every queued commit with one write + fdatasync. Never throws. */
  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return;
    }
    let seq = this.lastSeq;
    try {
      const frames: Buffer[] = [];
      for (const p of batch) {
        if (p.prepared.mutations.length > 0) frames.push(encodeRecord(++seq, p.prepared.json));
      }
      if (frames.length > 0) await this.appendDurably(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
      return;
    }
    this.lastSeq = seq;
    for (const p of batch) this.state.apply(p.prepared.mutations);
    for (const p of batch) p.resolve();
    if (this.lastSeq >= this.snapshotDueAt) {
      try {
        await this.snapshot();
      } catch (err) {
        this.snapshotDueAt = this.lastSeq + this.snapshotEvery; // retry later, not after every commit
        log('warn', 'state snapshot failed; the journal keeps growing', { dir: this.dir, error: (err as Error).message });
      }
    }
  }

  private async appendDurably(data: Buffer): Promise<void> {
    const fh = this.journal;
    if (!fh) throw new Error('state journal is not open');
    const before = this.journalSize;
    try {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off);
        if (bytesWritten <= 0) throw new Error('state journal write made no progress');
        off += bytesWritten;
      }
    } catch (err) {
      // Cut a partial write off, or the next record would follow garbage.
      try {
        await fh.truncate(before);
      } catch {
        this.failure = new Error(`state journal ${this.journalPath()} could not be repaired after a failed write; reopen the store`);
      }
      throw err;
    }
    try {
      await fh.datasync();
    } catch (err) {
      this.failure = new Error(
        `state journal ${this.journalPath()} fdatasync failed (${(err as NodeJS.ErrnoException).code ?? 'error'}); ` +
          'refusing further commits: reopen the store to recover',
      );
      await fh.truncate(before).catch(() => undefined);
      throw this.failure;
    }
    this.journalSize = before + data.length;
    this.syncs++;
  }

  private journalPath(): string {
    return path.join(this.dir, journalName(this.journalFirstSeq));
  }

  // ---- snapshot ----------------------------------------------------------

  /** Runs on the io chain only (no concurrent appends). */
  private async snapshot(): Promise<void> {
    const seq = this.lastSeq;
    this.snapshotDueAt = seq + this.snapshotEvery;
    if (seq === this.snapshotSeq && seq === 0) return; // empty state, nothing ever committed
    const body = Buffer.from(JSON.stringify(this.state.dump()), 'utf8');
    const header = JSON.stringify({ format: SNAPSHOT_FORMAT, version: 1, lastSeq: seq, bytes: body.length, crc32: crc32(body) });
    const tmp = path.join(this.dir, SNAPSHOT_TMP);
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(Buffer.concat([Buffer.from(header + '\n', 'utf8'), body]));
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await fh.close();
    await fsp.rename(tmp, path.join(this.dir, SNAPSHOT));
    await this.syncDir();
    this.snapshotSeq = seq;
    this.snapshots++;
    await this.rotateJournal(seq + 1);
  }

  /** Switch appends to journal.<firstSeq>.log, then delete the generations the snapshot covers. */
  private async rotateJournal(firstSeq: number): Promise<void> {
    if (this.journalFirstSeq !== firstSeq) {
      const name = path.join(this.dir, journalName(firstSeq));
      const fh = await fsp.open(name, 'a', 0o600);
      try {
        await this.syncDir(); // the new file's directory entry must be durable before records go in it
      } catch (err) {
        await fh.close().catch(() => undefined);
        await fsp.rm(name, { force: true }).catch(() => undefined);
        throw err;
      }
      const old = this.journal;
      this.journal = fh;
      this.journalFirstSeq = firstSeq;
      this.journalSize = 0;
      await old?.close().catch(() => undefined);
    }
    // Older generations hold only records the snapshot covers when the new one starts
    // right after the snapshot; otherwise (a rotation at open) they must stay.
    if (firstSeq !== this.snapshotSeq + 1) return;
    let removed = 0;
    for (const { seq, file } of await this.listJournals()) {
      if (seq < firstSeq) {
        await fsp.rm(path.join(this.dir, file), { force: true });
        removed++;
      }
    }
    if (removed > 0) await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const fh = await fsp.open(this.dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  // ---- recovery ----------------------------------------------------------

  private async listJournals(): Promise<Array<{ seq: number; file: string }>> {
    const out: Array<{ seq: number; file: string }> = [];
    for (const file of await fsp.readdir(this.dir)) {
      const m = JOURNAL_RE.exec(file);
      if (m) out.push({ seq: Number(m[1]), file });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  private async loadSnapshot(): Promise<number> {
    const file = path.join(this.dir, SNAPSHOT);
    let buf: Buffer;
    try {
      buf = await fsp.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const nl = buf.indexOf(0x0a);
    if (nl < 0) throw new SnapshotCorruptError(file, 'no header line');
    let header: { format?: unknown; version?: unknown; lastSeq?: unknown; bytes?: unknown; crc32?: unknown };
    try {
      header = JSON.parse(buf.toString('utf8', 0, nl)) as typeof header;
    } catch {
      throw new SnapshotCorruptError(file, 'header is not valid JSON');
    }
    if (header.format !== SNAPSHOT_FORMAT || header.version !== 1) throw new SnapshotCorruptError(file, 'unknown format or version');
    if (typeof header.lastSeq !== 'number' || !Number.isSafeInteger(header.lastSeq) || header.lastSeq < 0) {
      throw new SnapshotCorruptError(file, 'bad lastSeq');
    }
    const body = buf.subarray(nl + 1);
    if (header.bytes !== body.length) throw new SnapshotCorruptError(file, `length ${body.length} differs from header`);
    if (header.crc32 !== crc32(body)) throw new SnapshotCorruptError(file, 'checksum mismatch');
    try {
      this.state.load(JSON.parse(body.toString('utf8')));
    } catch (err) {
      throw new SnapshotCorruptError(file, `body is malformed (${(err as Error).message})`);
    }
    return header.lastSeq;
  }

  private async recover(): Promise<void> {
    this.snapshotSeq = await this.loadSnapshot();
    this.lastSeq = this.snapshotSeq;
    const journals = await this.listJournals();
    let replayed = 0;
    let tornBytes = 0;
    let lastValidEnd = 0;
    let lastHasRecords = false;
    for (const { seq: nameSeq, file } of journals) {
      const full = path.join(this.dir, file);
      const scan = scanJournal(await fsp.readFile(full), full);
      let expected = nameSeq;
      for (const rec of scan.records) {
        if (rec.seq !== expected) {
          throw new JournalCorruptError(full, rec.offset, `sequence number ${rec.seq} where ${expected} was expected`);
        }
        expected++;
        if (rec.seq <= this.lastSeq) continue; // covered by the snapshot
        if (rec.seq !== this.lastSeq + 1) {
          throw new JournalCorruptError(full, rec.offset, `records ${this.lastSeq + 1}..${rec.seq - 1} are missing (journal gap)`);
        }
        this.state.apply(deepFreeze(rec.mutations));
        this.lastSeq = rec.seq;
        replayed++;
      }
      if (scan.tornBytes > 0) {
        tornBytes += scan.tornBytes;
        log('warn', 'state journal has a torn tail (an unacknowledged write cut by a crash); ignoring it', {
          file: full,
          offset: scan.validEnd,
          bytes: scan.tornBytes,
        });
      }
      lastValidEnd = scan.validEnd;
      lastHasRecords = scan.records.length > 0;
    }
    const last = journals[journals.length - 1];
    if (last && (lastHasRecords || last.seq === this.lastSeq + 1)) {
      // Keep appending to the last generation, minus any torn tail.
      const fh = await fsp.open(path.join(this.dir, last.file), 'a', 0o600);
      this.journal = fh;
      const size = (await fh.stat()).size;
      if (size > lastValidEnd) {
        await fh.truncate(lastValidEnd);
        await fh.datasync();
      }
      this.journalFirstSeq = last.seq;
      this.journalSize = lastValidEnd;
    } else {
      // No journal, or an empty one left by an interrupted rotation under the wrong name.
      if (last) await fsp.rm(path.join(this.dir, last.file), { force: true });
      this.journalFirstSeq = 0;
      await this.rotateJournal(this.lastSeq + 1);
    }
    this.snapshotDueAt = this.snapshotSeq + this.snapshotEvery;
    this.recoveryInfo = { snapshotSeq: this.snapshotSeq, replayedRecords: replayed, journalFiles: journals.length, tornBytes };
  }
}
