/**
 * Token scopes, as in Tinybird: a type, and for resource scopes the data source or
 * pipe they apply to. `DATASOURCES:READ:<ds>:<sql filter>` carries a row filter.
 */
export type GlobalScopeType = 'ADMIN' | 'TOKENS' | 'DATASOURCES:CREATE' | 'PIPES:CREATE';
export type ResourceScopeType = 'DATASOURCES:APPEND' | 'DATASOURCES:READ' | 'DATASOURCES:DROP' | 'PIPES:READ' | 'PIPES:DROP';
export type ScopeType = GlobalScopeType | ResourceScopeType;

export interface Scope {
  readonly [key: string]: unknown;
  type: ScopeType;
  /** Data source or pipe name, for resource scopes. */
  resource?: string;
  /** Row filter (SQL boolean expression), only for DATASOURCES:READ. */
  filter?: string;
}

const GLOBAL: ReadonlySet<string> = new Set<GlobalScopeType>(['ADMIN', 'TOKENS', 'DATASOURCES:CREATE', 'PIPES:CREATE']);
const RESOURCE: ReadonlySet<string> = new Set<ResourceScopeType>(['DATASOURCES:APPEND', 'DATASOURCES:READ', 'DATASOURCES:DROP', 'PIPES:READ', 'PIPES:DROP']);

/** Names of data sources and pipes: letters, digits and '_', starting with a letter or '_'. */
export const RESOURCE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_FILTER = 4096;

export class ScopeError extends Error {}

/** Parse `TYPE` or `TYPE:resource` or `DATASOURCES:READ:resource:filter`. */
export function parseScope(text: string): Scope {
  const s = text.trim();
  if (GLOBAL.has(s)) return { type: s as GlobalScopeType };
  const m = /^([A-Z]+:[A-Z]+):([^:\s]+)(?:[:\s]([\s\S]*))?$/.exec(s);
  if (m === null || !RESOURCE.has(m[1]!)) {
    throw new ScopeError(`Invalid scope '${truncate(s)}': expected one of ADMIN, TOKENS, DATASOURCES:CREATE, PIPES:CREATE, DATASOURCES:APPEND:<name>, DATASOURCES:READ:<name>[:<filter>], DATASOURCES:DROP:<name>, PIPES:READ:<name>, PIPES:DROP:<name>`);
  }
  const type = m[1] as ResourceScopeType;
  const resource = m[2]!;
  if (!RESOURCE_NAME.test(resource)) throw new ScopeError(`Invalid scope '${truncate(s)}': '${truncate(resource)}' is not a valid name`);
  const filter = m[3]?.trim();
  if (filter !== undefined && filter !== '') {
    if (type !== 'DATASOURCES:READ') throw new ScopeError(`Invalid scope '${truncate(s)}': only DATASOURCES:READ takes a filter`);
    if (filter.length > MAX_FILTER) throw new ScopeError(`Invalid scope: filter longer than ${MAX_FILTER} characters`);
    return { type, resource, filter };
  }
  return { type, resource };
}

/** The scope in its string form (what `parseScope` reads). */
export function formatScope(scope: Scope): string {
  if (scope.resource === undefined) return scope.type;
  return scope.filter === undefined ? `${scope.type}:${scope.resource}` : `${scope.type}:${scope.resource}:${scope.filter}`;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
