import type { Session } from 'chdb';
import { cteNamesFromFormatted, parseAstDump, tablesFromAst, type AstTableReport } from './ast-tables.js';

/**
 * ClickHouse's own parser, through chdb, without executing the statement.
 *
 * chdb runs every `;`-separated statement it is given, so `EXPLAIN AST <stmt>`
 * is only sent after `formatQuerySingleLine(<stmt>)` has parsed the text as
 * exactly one statement (that function refuses multi-statements and executes
 * nothing). The statement travels as a bound String parameter, never spliced.
 *
 * Query parameters `{name:Type}` parse fine, but EXPLAIN AST substitutes them
 * and fails with UNKNOWN_QUERY_PARAMETER when unset, so each is bound to a
 * sample value of its type (substitution replaces only that node with a
 * `_CAST(literal, 'Type')`, which changes no table reference).
 */
export type ParseResult =
  | { ok: true; formatted: string; dump: string; report: AstTableReport }
  | { ok: false; error: string };

export async function formatWithClickHouse(session: Session, sql: string): Promise<{ ok: true; formatted: string } | { ok: false; error: string }> {
  try {
    const r = await session.queryBindAsync('SELECT formatQuerySingleLine({q:String})', { q: sql }, { format: 'TSVRaw' });
    return { ok: true, formatted: r.text().replace(/\n$/, '') };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

export async function parseWithClickHouse(session: Session, sql: string): Promise<ParseResult> {
  const f = await formatWithClickHouse(session, sql);
  if (!f.ok) return f;
  const params = sampleParams(sql);
  let dump: string;
  try {
    const q = 'EXPLAIN AST ' + sql;
    const r = Object.keys(params).length > 0
      ? await session.queryBindAsync(q, params, { format: 'TSVRaw' })
      : await session.queryAsync(q, { format: 'TSVRaw' });
    dump = r.text();
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  const report = tablesFromAst(parseAstDump(dump), cteNamesFromFormatted(f.formatted));
  return { ok: true, formatted: f.formatted, dump, report };
}

/** `{name:Type}` placeholders of a statement, each with a sample value of its type. */
export function sampleParams(sql: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/g;
  for (const m of sql.matchAll(re)) {
    const name = m[1];
    const type = m[2];
    if (name !== undefined && type !== undefined) out[name] = sampleValue(type);
  }
  return out;
}

function sampleValue(type: string): string {
  const t = type.replace(/^(Nullable|LowCardinality)\((.*)\)$/, '$2').trim();
  if (t.startsWith('Array(')) return '[]';
  if (t.startsWith('Map(')) return '{}';
  if (/^(String|FixedString\(\d+\))$/.test(t)) return 'x';
  if (/^Date(32)?$/.test(t)) return '2024-01-01';
  if (/^DateTime(64)?(\(.*\))?$/.test(t)) return '2024-01-01 00:00:00';
  if (t === 'UUID') return '00000000-0000-0000-0000-000000000000';
  if (t === 'Bool') return 'true';
  if (/^(U?Int\d+|Float\d+|Decimal.*)$/.test(t)) return '1';
  throw new Error(`no sample value for query parameter type ${type}`);
}
