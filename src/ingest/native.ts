/**
 * Loader of the native NDJSON → TabSeparated encoder (native/ingest/, addon
 * `colibri_ingest.node`) and the translation of a data source's columns into its plan.
 *
 * The native encoder handles the common lines of the Events API hot path; every line
 * it is not certain about is handed back ("fallback") to the TypeScript encoder of
 * ndjson.ts, which then writes the good row or the quarantine row exactly as without
 * the addon. A schema with a column the addon does not know (or a JSONPath other than
 * plain keys) uses the TypeScript encoder for every line.
 *
 * `COLIBRI_NATIVE_INGEST=0` turns the native path off (the addon is then not loaded).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ColumnDef } from '../catalog/schema.js';
import { INT_TYPES, innerTypes, parseType, type TypeNode } from '../catalog/types.js';
import { projectRoot } from '../compiler/native.js';
import { tsvEscape } from './tsv.js';
import { OMIT, type CompiledColumn } from './types.js';

/** One column as the addon reads it (see native/ingest/addon.cc). */
export interface NativeColumn {
  kind: 'String' | 'FixedString' | 'Int' | 'Float' | 'Bool' | 'Date' | 'Date32' | 'DateTime' | 'DateTime64' | 'UUID' | 'Enum';
  path: string[];
  bits?: number;
  signed?: boolean;
  fixedLength?: number;
  precision?: number;
  /** TSV text of a missing or null value; absent: such lines go to the TS encoder. */
  missing?: string;
  enumNames?: string[];
  enumNameOut?: string[];
  enumValues?: string[];
  enumValueOut?: string[];
}

/** The native encoder object of one plan. */
export interface NativeNdjsonTsv {
  /** [TSV rows, good rows, lines, fallback (line index, start, end) triples] */
  encode(buffer: Buffer, bom: boolean): [Buffer, number, number, number[]];
}

interface Addon {
  NdjsonTsv: new (columns: NativeColumn[], maxLineBytes: number) => NativeNdjsonTsv;
  maxDepth: number;
}

const ADDON = 'colibri_ingest.node';
let addon: Addon | null | undefined;

/** The addon, or null when it is not built or turned off. */
export function loadIngestAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.COLIBRI_NATIVE_INGEST === '0') return addon;
  try {
    const root = projectRoot();
    const path = [join(root, 'native', 'build', 'Release', ADDON), join(root, 'native', 'build', 'Debug', ADDON)].find((p) => existsSync(p));
    if (path !== undefined) addon = createRequire(import.meta.url)(path) as Addon;
  } catch {
    addon = null;
  }
  return addon;
}

const KEY_PATH = /^\$((?:\.[A-Za-z0-9_]+)+)$/;

/** The keys of a JSONPath made of plain keys only (`$.a.b`, `$['a b']`), else null. */
export function plainKeyPath(text: string): string[] | null {
  const m = KEY_PATH.exec(text);
  if (m !== null) return (m[1] as string).slice(1).split('.');
  const q = /^\$\['([^'\\]+)'\]$/.exec(text);
  return q === null ? null : [q[1] as string];
}

function unwrap(node: TypeNode): TypeNode {
  let n = node;
  while (n.name === 'Nullable' || n.name === 'LowCardinality') n = innerTypes(n)[0] as TypeNode;
  return n;
}

/** The addon's description of one column, or null when the addon cannot encode it. */
function nativeColumn(def: ColumnDef, compiled: CompiledColumn): NativeColumn | null {
  const path = plainKeyPath(def.jsonpath ?? `$['${def.name}']`);
  if (path === null) return null;
  const node = unwrap(parseType(def.type));
  const col: NativeColumn = { kind: 'String', path };
  if (compiled.missing !== OMIT && typeof compiled.missingTsv === 'string') col.missing = compiled.missingTsv;
  const int = INT_TYPES.get(node.name);
  if (int !== undefined) {
    if (int.bits > 64) return null;
    return { ...col, kind: 'Int', bits: int.bits, signed: int.signed };
  }
  const arg0 = node.args[0];
  const num0 = arg0 !== undefined && arg0.kind === 'number' ? Number(arg0.value) : 0;
  switch (node.name) {
    case 'String':
      return col;
    case 'FixedString':
      return { ...col, kind: 'FixedString', fixedLength: num0 };
    case 'Float32':
    case 'Float64':
      return { ...col, kind: 'Float' };
    case 'Bool':
      return { ...col, kind: 'Bool' };
    case 'Date':
    case 'Date32':
      return { ...col, kind: node.name };
    case 'DateTime':
      return { ...col, kind: 'DateTime' };
    case 'DateTime64':
      if (!Number.isInteger(num0) || num0 < 0 || num0 > 9) return null;
      return { ...col, kind: 'DateTime64', precision: num0 };
    case 'UUID':
      return { ...col, kind: 'UUID' };
    case 'Enum8':
    case 'Enum16': {
      const names: string[] = [];
      const values: string[] = [];
      const out: string[] = [];
      for (const a of node.args) {
        if (a.kind !== 'enum') continue;
        // The first name wins for a repeated value, as in the TS codec's Map (set twice: last wins).
        names.push(a.name);
        values.push(String(a.value));
        out.push(tsvEscape(a.name));
      }
      // Map.set: a later duplicate replaces an earlier one; std::unordered_map::emplace keeps
      // the first. Reverse so that the last one is inserted first.
      return { ...col, kind: 'Enum', enumNames: [...names].reverse(), enumNameOut: [...out].reverse(), enumValues: [...values].reverse(), enumValueOut: [...out].reverse() };
    }
    default:
      return null;
  }
}

const cache = new Map<string, NativeNdjsonTsv | null>();
const CACHE_MAX = 512;

/**
 * The native encoder for these columns (one object per schema, reused across
 * requests), or null when the addon is unavailable or a column is not supported.
 */
export function nativeNdjsonTsv(defs: readonly ColumnDef[], compiled: readonly CompiledColumn[], maxLineBytes: number): NativeNdjsonTsv | null {
  const a = loadIngestAddon();
  if (a === null) return null;
  const key = `${maxLineBytes}\u0000${JSON.stringify(defs.map((d) => [d.name, d.type, d.jsonpath, d.defaultExpr]))}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let enc: NativeNdjsonTsv | null = null;
  const cols: NativeColumn[] = [];
  for (let i = 0; i < defs.length; i++) {
    const c = nativeColumn(defs[i] as ColumnDef, compiled[i] as CompiledColumn);
    if (c === null) break;
    cols.push(c);
  }
  if (cols.length === defs.length) enc = new a.NdjsonTsv(cols, maxLineBytes);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(key, enc);
  return enc;
}
