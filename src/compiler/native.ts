import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The raw functions of the addon (native/src/addon.cc). */
export interface NativeCompiler {
  setBuffer(buffer: Int32Array): void;
  /** Fills the shared buffer; returns the strings it refers to, or the buffer size it needs. */
  analyze(sql: string): string[] | number;
  rewrite(sql: string, flatMapping: string[]): string;
  stripComments(sql: string): string;
  /** compile() with the whole input in one length-prefixed string; parts in the buffer */
  compileKey(key: string): string | number;
  maxInputBytes: number;
  maxDepth: number;
}

const ADDON = 'colibri_sql.node';

/** The project root: the nearest ancestor holding package.json and native/. */
export function projectRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`colibri: cannot find the project root above ${from}`);
    dir = parent;
  }
}

/** Loads the addon from native/build/Release (or Debug). */
export function loadNative(): NativeCompiler {
  const root = projectRoot();
  const candidates = [join(root, 'native', 'build', 'Release', ADDON), join(root, 'native', 'build', 'Debug', ADDON)];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `colibri: the SQL compiler addon is not built (${candidates[0]}); run \`npm install\` or \`npx node-gyp rebuild --directory native\``,
    );
  }
  const require = createRequire(import.meta.url);
  return require(path) as NativeCompiler;
}
