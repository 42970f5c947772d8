/**
 * Child process for the write-failure test of FileStateStore, started under
 * `ulimit -f` so that the journal hits the file size limit (EFBIG after a partial
 * write). Opens the store in argv[2] (empty dir), commits ~300-byte records until the
 * journal is close to argv[3] bytes, then one 8 KiB commit (must fail), then one small
 * commit (must succeed: the partial write was cut off). Prints one JSON line:
 * {acked, bigError, bigVisible, smallOk, listed} and exits without close().
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FileStateStore } from '../../src/state/file-store.js';

process.on('SIGXFSZ', () => undefined); // get EFBIG from write() instead of being killed

const [dir, limitArg] = process.argv.slice(2);
if (!dir || !limitArg) throw new Error('usage: state-write-fail-child dir limitBytes');
const limit = Number(limitArg);
const store = new FileStateStore(dir, { snapshotEvery: 1_000_000 });
await store.open();
const journal = path.join(dir, 'journal.1.log');
const acked: string[] = [];
for (let n = 0; (await fsp.stat(journal)).size < limit - 2000; n++) {
  await store.commit([{ op: 'put', collection: 'tokens', id: `s${n}`, value: { pad: 'x'.repeat(250) } }]);
  acked.push(`s${n}`);
}
let bigError = '';
try {
  await store.commit([
    { op: 'put', collection: 'tokens', id: 'big', value: { pad: 'y'.repeat(8192) } },
    { op: 'delete', collection: 'tokens', id: 's0' },
  ]);
} catch (err) {
  bigError = (err as NodeJS.ErrnoException).code ?? String(err);
}
const bigVisible = store.get('tokens', 'big') !== undefined || store.get('tokens', 's0') === undefined;
let smallOk = false;
try {
  await store.commit([{ op: 'put', collection: 'tokens', id: 'small', value: { ok: true } }]);
  smallOk = true;
} catch {
  smallOk = false;
}
process.stdout.write(JSON.stringify({ acked, bigError, bigVisible, smallOk, listed: store.list('tokens').length }) + '\n');
process.exit(0);
