/**
 * Child process for the crash test of FileStateStore. Opens the store in argv[2]
 * (snapshotEvery argv[3]) and runs argv[5] concurrent committers forever, ids from
 * argv[4] on. Committer k of this run (tag argv[6]) commits, atomically:
 *   tokens/t<i> {i, w}, workspaces/w<i> {i, w}, datasources/d<i> {i, w},
 *   delete datasources/d<previous i of k>, meta/last-<w> {i}
 * where w = `<tag>-<k>`, and prints `ack <i>` once commit resolved. Prints `ready`
 * after open. It never exits on its own: the test kills it with SIGKILL.
 */
import { FileStateStore } from '../../src/state/file-store.js';

const [dir, every, start, workers, tag] = process.argv.slice(2);
if (!dir || !every || !start || !workers || !tag) throw new Error('usage: state-crash-child dir snapshotEvery startId workers tag');

const store = new FileStateStore(dir, { snapshotEvery: Number(every) });
await store.open();
process.stdout.write('ready\n');

const W = Number(workers);
async function committer(k: number): Promise<void> {
  const w = `${tag}-${k}`;
  let prev: number | undefined;
  for (let i = Number(start) + k; ; i += W) {
    const muts = [
      { op: 'put', collection: 'tokens', id: `t${i}`, value: { i, w } },
      { op: 'put', collection: 'workspaces', id: `w${i}`, value: { i, w } },
      { op: 'put', collection: 'datasources', id: `d${i}`, value: { i, w } },
      { op: 'put', collection: 'meta', id: `last-${w}`, value: { i } },
    ] as const;
    await store.commit(prev === undefined ? [...muts] : [...muts, { op: 'delete', collection: 'datasources', id: `d${prev}` }]);
    process.stdout.write(`ack ${i}\n`); // synchronous on a pipe
    prev = i;
  }
}
await Promise.all(Array.from({ length: W }, (_, k) => committer(k)));
