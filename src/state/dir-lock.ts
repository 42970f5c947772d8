/**
 * An exclusive lock on a state directory: a `lock` file created with O_EXCL that
 * holds the owner's pid. A lock whose pid is no longer alive (the owner crashed) is
 * taken over: it is first renamed aside (atomic: of two processes racing for the same
 * stale lock, only one rename succeeds) and its pid checked again.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** Another live process holds the state directory. */
export class StateLockedError extends Error {
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(
      pid === process.pid
        ? `state directory ${dir} is already open in this process (pid ${pid})`
        : `state directory ${dir} is locked by running process pid ${pid}; stop it first or use another directory`,
    );
    this.name = 'StateLockedError';
    this.pid = pid;
  }
}

/** True if a process with this pid exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A held lock. */
export class DirLock {
  private released = false;
  private constructor(private readonly file: string) {}

  /** Take the lock on `dir` or throw StateLockedError. */
  static async acquire(dir: string): Promise<DirLock> {
    const file = path.join(dir, 'lock');
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fh = await fsp.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
        try {
          await fh.writeFile(`${process.pid}\n`);
          await fh.sync();
        } finally {
          await fh.close();
        }
        return new DirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = await readPid(file);
      if (owner === undefined) continue; // vanished, or being written right now: retry
      if (pidAlive(owner)) throw new StateLockedError(dir, owner);
      await takeOverStale(dir, file, owner);
    }
    throw new Error(`could not take the lock of state directory ${dir} (contended)`);
  }

  /** Remove the lock file if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if ((await readPid(this.file)) === process.pid) await fsp.rm(this.file, { force: true });
  }
}

async function readPid(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (Number.isSafeInteger(pid) && pid > 0) return pid;
  // Empty or garbage: a writer that is between create and write, or one that died
  // there. Treat as stale once it is old enough for any writer to have finished.
  const st = await fsp.stat(file).catch(() => undefined);
  if (st && Date.now() - st.mtimeMs > 5000) return 0x7fffffff; // no such pid: taken over as stale
  await new Promise((r) => setTimeout(r, 50));
  return undefined;
}

async function takeOverStale(dir: string, file: string, stalePid: number): Promise<void> {
  const aside = path.join(dir, `lock.stale.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await fsp.rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it
    throw err;
  }
  const moved = await readPid(aside).catch(() => undefined);
  if (moved !== undefined && moved !== stalePid && pidAlive(moved)) {
    // We raced and moved a fresh lock of a live process: put it back.
    await fsp.link(aside, file).catch(() => undefined);
  }
  await fsp.rm(aside, { force: true });
}
