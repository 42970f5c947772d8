/**
 * Claim mapping: a tenant's ordered rules turn the claims of one login (OIDC ID
 * token + userinfo, or SAML attributes) into workspace grants. Rules are evaluated
 * in order; every matching rule adds its grants; a matching rule with `stop` ends
 * the evaluation. Nothing is remembered between logins: grants are recomputed at
 * every login.
 */
import type { Condition, Grant, MappingRule } from './config.js';

export type Claims = Record<string, unknown>;

export type MappingResult =
  | { ok: true; grants: Grant[]; matched: string[] }
  | { ok: false; reason: 'no_rule_matched' | 'groups_overage'; message: string; matched: string[] };

/**
 * The value at a claim path. An exact top-level key wins (claims named by URLs,
 * `https://acme.com/roles`); otherwise the path is split on dots
 * (`realm_access.roles`).
 */
export function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The e-mail address of a login (lower case), from `email` or an e-mail-shaped subject. */
export function emailOf(claims: Claims): string | undefined {
  for (const key of ['email', 'mail', 'upn', 'preferred_username', 'sub']) {
    const v = claims[key];
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && /^[^@\s]+@[^@\s]+$/.test(s)) return s.toLowerCase();
  }
  return undefined;
}

/** Whether a condition holds for these claims. */
export function matches(cond: Condition, claims: Claims): boolean {
  if ('all' in cond) return cond.all.every((c) => matches(c, claims));
  if ('any' in cond) return cond.any.some((c) => matches(c, claims));
  if ('not' in cond) return !matches(cond.not, claims);
  if ('emailDomain' in cond) {
    const email = emailOf(claims);
    if (email === undefined) return false;
    if (claims.email_verified === false) return false;
    const domain = email.slice(email.lastIndexOf('@') + 1);
    return cond.emailDomain.includes(domain);
  }
  const value = claimAt(claims, cond.claim);
  if ('exists' in cond) return (value !== undefined && value !== null) === cond.exists;
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  if ('equals' in cond) return values.length === 1 && values[0] === cond.equals;
  if ('contains' in cond) {
    // Arrays: one element equals it. A space-separated string (OAuth `scope`, some
    // SAML IdPs) counts as a list too.
    if (Array.isArray(value)) return value.some((v) => v === cond.contains);
    return typeof value === 'string' && value.split(/\s+/).includes(cond.contains);
  }
  const re = compiled(cond.regex);
  return values.some((v) => (typeof v === 'string' || typeof v === 'number') && re.test(String(v)));
}

const regexCache = new Map<string, RegExp>();
function compiled(source: string): RegExp {
  let re = regexCache.get(source);
  if (re === undefined) {
    re = new RegExp(source, 'u');
    regexCache.set(source, re);
  }
  return re;
}

/** Top-level claim names that some rule reads (to know whether userinfo is needed). */
export function referencedClaims(rules: readonly MappingRule[]): Set<string> {
  const out = new Set<string>();
  const walk = (c: Condition): void => {
    if ('all' in c) c.all.forEach(walk);
    else if ('any' in c) c.any.forEach(walk);
    else if ('not' in c) walk(c.not);
    else if ('emailDomain' in c) out.add('email');
    else out.add(c.claim.split('.')[0]!);
  };
  for (const r of rules) walk(r.when);
  return out;
}

/**
 * Microsoft Entra ID leaves `groups` out and names it in `_claim_names` when a user
 * is in too many groups ("groups overage"). Mapping that as "no groups" would
 * silently deny (or worse, match a `not` rule); report it instead.
 */
export function overageClaims(claims: Claims, rules: readonly MappingRule[]): string[] {
  const names = claims._claim_names;
  if (typeof names !== 'object' || names === null) return [];
  const used = referencedClaims(rules);
  return Object.keys(names).filter((n) => claims[n] === undefined && (used.has(n) || n === 'groups'));
}

/** Apply the rules; no rule matched (or an overage) gives `ok: false`. */
export function mapClaims(claims: Claims, rules: readonly MappingRule[]): MappingResult {
  const overage = overageClaims(claims, rules);
  if (overage.length > 0) {
    return {
      ok: false,
      reason: 'groups_overage',
      matched: [],
      message: `Your identity provider did not send the ${overage.join(', ')} claim because you belong to too many groups (Entra ID "groups overage": the claim is only referenced in _claim_names). Ask your administrator to emit groups assigned to the application only, or app roles, for Colibri.`,
    };
  }
  const grants: Grant[] = [];
  const matched: string[] = [];
  for (const rule of rules) {
    if (!matches(rule.when, claims)) continue;
    matched.push(rule.name);
    grants.push(...rule.grants);
    if (rule.stop) break;
  }
  if (grants.length === 0) {
    return { ok: false, reason: 'no_rule_matched', matched, message: 'You signed in successfully, but none of this tenant\'s access rules gives you access to Colibri. Ask your administrator for access.' };
  }
  return { ok: true, grants: mergeGrants(grants), matched };
}

/** One entry per workspace, scopes de-duplicated, in first-seen order. */
export function mergeGrants(grants: readonly Grant[]): Grant[] {
  const by = new Map<string, Set<string>>();
  for (const g of grants) {
    const set = by.get(g.workspace) ?? new Set<string>();
    for (const s of g.scopes) set.add(s);
    by.set(g.workspace, set);
  }
  return [...by].map(([workspace, scopes]) => ({ workspace, scopes: [...scopes] }));
}
