/**
 * `npm run bench`: runs every bench module of test/bench in sequence, one section
 * each, and ends with a summary. A module either exports `bench*` functions (called
 * in turn, awaited) or does its work when imported (the older script-style modules).
 * Modules are imported dynamically, so one that fails to load or throws is reported
 * (with its error) and the others still run; the exit code is then 1.
 *
 * Modules listed in ORDER run first, in that order; any other module found next to
 * this file runs after them, so a new bench is never skipped silently.
 * COLIBRI_BENCH_ONLY=events,compiler runs only the named modules (without `.js`).
 * Figures: each module prints its own; those with a target print it with the
 * baseline measured in the same run and the ratio (figures on a shared machine
 * are noisy, hence ratios).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Section {
  module: string;
  title: string;
  /** The export to call; when absent, every exported `bench*` function (or nothing: the import ran it). */
  entry?: string;
  /** When the module is missing or lacks `entry`, say so instead of failing (work in progress elsewhere). */
  optional?: boolean;
}

const ORDER: Section[] = [
  { module: 'ingest-encoders', title: 'Ingest encoders (NDJSON / CSV, one core)' },
  { module: 'state-store', title: 'State store (FileStateStore commits)' },
  { module: 'compiler', title: 'Query-dependency compiler', entry: 'benchCompiler', optional: true },
  { module: 'events', title: 'Events API throughput (issue 2)', entry: 'benchEvents' },
  { module: 'endpoints', title: 'Pipe endpoint throughput and latency (issue 4)', entry: 'benchEndpoints' },
];

/** Files of this directory that are not bench modules (helpers run as child processes). */
const NOT_MODULES = new Set(['run', 'events-load', 'endpoints-load']);

interface Outcome {
  title: string;
  status: 'ok' | 'FAILED' | 'skipped';
  seconds: number;
  note?: string;
}

async function exists(dir: string, module: string): Promise<boolean> {
  const files = await readdir(dir);
  return files.includes(`${module}.js`);
}

async function runSection(dir: string, s: Section): Promise<Outcome> {
  const t0 = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`\n=== ${s.title} [test/bench/${s.module}.ts] ===`);
  if (!(await exists(dir, s.module))) {
    if (s.optional === true) {
      console.log(`  skipped: test/bench/${s.module}.ts does not exist yet`);
      return { title: s.title, status: 'skipped', seconds: seconds(), note: 'module not present' };
    }
    console.log(`  FAILED: dist/test/bench/${s.module}.js not found (was it built?)`);
    return { title: s.title, status: 'FAILED', seconds: seconds(), note: 'module not found' };
  }
  try {
    const mod = (await import(pathToFileURL(path.join(dir, `${s.module}.js`)).href)) as Record<string, unknown>;
    const fns = s.entry !== undefined
      ? [s.entry]
      : Object.keys(mod).filter((k) => k.startsWith('bench') && typeof mod[k] === 'function');
    for (const name of fns) {
      const fn = mod[name];
      if (typeof fn !== 'function') {
        if (s.optional === true) {
          console.log(`  skipped: the module does not export ${name}() yet`);
          return { title: s.title, status: 'skipped', seconds: seconds(), note: `no ${name}() export` };
        }
        throw new Error(`the module does not export ${name}()`);
      }
      await (fn as () => unknown)();
    }
    const took = seconds();
    console.log(`  (${took.toFixed(1)} s)`);
    return { title: s.title, status: 'ok', seconds: took };
  } catch (err) {
    console.log(`  FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return { title: s.title, status: 'FAILED', seconds: seconds(), note: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

async function main(): Promise<void> {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const known = new Set(ORDER.map((s) => s.module));
  const others = (await readdir(dir))
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .filter((m) => !known.has(m) && !NOT_MODULES.has(m))
    .sort()
    .map((m): Section => ({ module: m, title: `${m}` }));
  let sections = [...ORDER, ...others];
  const only = process.env.COLIBRI_BENCH_ONLY;
  if (only !== undefined && only.trim() !== '') {
    const wanted = new Set(only.split(',').map((s) => s.trim()));
    sections = sections.filter((s) => wanted.has(s.module));
  }
  console.log(`Colibri benchmarks — node ${process.version}, ${process.platform}/${process.arch}, ${(await import('node:os')).cpus().length} CPUs, ${new Date().toISOString()}`);
  const outcomes: Outcome[] = [];
  for (const s of sections) outcomes.push(await runSection(dir, s));
  console.log('\n=== Summary ===');
  for (const o of outcomes) console.log(`  ${o.status.padEnd(7)} ${o.title} (${o.seconds.toFixed(1)} s)${o.note !== undefined ? ` — ${o.note}` : ''}`);
  const failed = outcomes.filter((o) => o.status === 'FAILED').length;
  if (failed > 0) {
    console.log(`${failed} bench module(s) failed`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
