/**
 * Throughput of FileStateStore commits on the local disk (each commit: 2 puts of
 * ~200-byte records). Run: `node dist/test/bench/state-store.js [dir]` (default: a
 * temp dir, removed afterwards). Prints one JSON line per scenario.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileStateStore } from '../../src/state/file-store.js';
import type { Mutation } from '../../src/state/store.js';

function mutations(i: number): Mutation[] {
  const hash = 'h'.repeat(64);
  return [
    { op: 'put', collection: 'tokens', id: `t${i}`, value: { id: `t${i}`, hash, scopes: ['PIPES:READ:x', 'DATASOURCES:APPEND:y'], n: i } },
    { op: 'put', collection: 'meta', id: 'counter', value: { n: i } },
  ];
}

async function run(dir: string, name: string, committers: number, perCommitter: number): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
  const store = new FileStateStore(dir);
  await store.open();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: committers }, async (_, k) => {
      for (let n = 0; n < perCommitter; n++) await store.commit(mutations(k * perCommitter + n));
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const commits = committers * perCommitter;
  const result = { scenario: name, commits, seconds: +seconds.toFixed(3), commitsPerSecond: Math.round(commits / seconds), fsyncs: store.fsyncCount, snapshots: store.snapshotCount };
  await store.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

const base = process.argv[2] ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'colibri-bench-state-')));
try {
  await run(path.join(base, 'seq'), 'sequential', 1, 2000);
  await run(path.join(base, 'conc'), '100 concurrent committers', 100, 50);
} finally {
  if (!process.argv[2]) await fsp.rm(base, { recursive: true, force: true });
}
