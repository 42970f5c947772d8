/**
 * What the benchmarks share: knobs from the environment, medians, CPU time of this
 * process and of the embedded engine, and running a load generator in a child process.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

/** A positive integer from the environment, or `fallback` when unset. */
export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: expected a positive integer`);
  return n;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** CPU seconds used so far by process `pid` (Linux /proc; undefined elsewhere). */
function procCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined;
  }
}

/** CPU seconds of this process and of the engine (NaN when its pid is unknown or not on Linux). */
export function cpuNow(enginePid: number | undefined): { self: number; engine: number } {
  const u = process.cpuUsage();
  return { self: (u.user + u.system) / 1e6, engine: procCpuSeconds(enginePid) ?? Number.NaN };
}

/**
 * Runs `node <script> <jobFile>` with `job` written to `jobFile`; resolves with the one
 * JSON line it prints, rejects with its stderr when it exits non-zero.
 */
export async function runJsonChild<T>(script: string, jobFile: string, job: unknown): Promise<T> {
  await writeFile(jobFile, JSON.stringify(job));
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, [script, jobFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}: ${err.trim().slice(0, 1000)}`));
      else resolve(JSON.parse(out.trim()) as T);
    });
  });
}
