/**
 * SSO configuration: the `sso` section of a tenant and the top-level `operators`
 * section of the config file. Parsed and validated here (errors name the key, e.g.
 * `tenants[0].sso.oidc.issuer: expected an http(s) URL`), called from
 * src/server/config.ts. Documented in docs/auth.md and docs/configuration.md.
 */
import { parseScope, ScopeError } from '../scopes.js';

/** A condition on the claims of a login (see claims.ts). */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { claim: string; equals: string | number | boolean }
  | { claim: string; contains: string }
  | { claim: string; regex: string }
  | { claim: string; exists: boolean }
  | { emailDomain: string[] };

/** What a matching rule gives: scopes in one workspace (or every workspace: `*`). */
export interface Grant {
  workspace: string;
  scopes: string[];
}

export interface MappingRule {
  /** Shown in logs and on the 403 page. */
  name: string;
  when: Condition;
  grants: Grant[];
  /** Stop evaluating later rules when this one matches. */
  stop: boolean;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  /** Absent: a public client (PKCE only, `token_endpoint_auth_method: none`). */
  clientSecret?: string;
  scopes: string[];
  clockToleranceSeconds: number;
  /** ID tokens whose `iat` is older than this are refused. */
  maxIdTokenAgeSeconds: number;
  /** Audiences besides the client id that an ID token may also carry. */
  trustedAudiences: string[];
  idTokenAlgorithms: string[];
  discoveryTtlSeconds: number;
  /** JWKS: cache lifetime, and the minimum time between two re-fetches for an unknown `kid`. */
  jwksMaxAgeSeconds: number;
  jwksCooldownSeconds: number;
  /** Allow an `http:` issuer (local development and tests only). */
  allowInsecureHttp: boolean;
  /** Extra authorization request parameters (e.g. `{"prompt": "select_account"}`). */
  extraAuthParams: Record<string, string>;
}

export interface SamlConfig {
  entryPoint: string;
  idpIssuer?: string;
  /** PEM certificates (or their base64 body) of the IdP; several during a rotation. */
  idpCerts: string[];
  /** SP entity id; default `urn:colibri:<tenant>`. */
  spEntityId?: string;
  /** Which signature is required: `assertion`, `response`, `both`, or `either`. */
  signed: 'assertion' | 'response' | 'both' | 'either';
  allowIdpInitiated: boolean;
  clockSkewSeconds: number;
  /** Attribute holding the e-mail address (default: email, mail, or the NameID if it is an e-mail). */
  emailAttribute?: string;
}

export interface SsoConfig {
  /** E-mail domains routed to this tenant by `/auth/login?email=`. */
  domains: string[];
  sessionTtlSeconds: number;
  /** Where a login may return to: path prefixes (`/ui/`) or absolute URL prefixes. */
  allowedRedirects: string[];
  /** The public base URL of Colibri (redirect URIs, ACS); default: from the request. */
  publicUrl?: string;
  oidc?: OidcConfig;
  saml?: SamlConfig;
  rules: MappingRule[];
  /** Lifetime of workspace JWTs issued by `POST /auth/token`. */
  tokenTtlSeconds: number;
}

/** Operators' IdP and the operator scopes their rules may give. */
export interface OperatorsConfig extends SsoConfig {}

/** Scopes an operator session may carry (and nothing else). */
export const OPERATOR_SCOPES = ['OPERATOR:READ', 'OPERATOR:TENANTS', 'OPERATOR:ADMIN'] as const;

type Fail = (message: string) => never;

/** Parse `tenants[i].sso`; `workspaces` are the tenant's names (grants must name one or `*`). */
export function parseSso(value: unknown, at: string, env: NodeJS.ProcessEnv, fail: Fail, workspaces: readonly string[] | 'operators'): SsoConfig {
  const s = obj(value, at, fail);
  allow(s, at, ['domains', 'sessionTtlSeconds', 'allowedRedirects', 'publicUrl', 'oidc', 'saml', 'rules', 'tokenTtlSeconds'], fail);
  if (s.oidc === undefined && s.saml === undefined) fail(`${at}: give oidc, saml, or both`);
  const domains = s.domains === undefined ? [] : strings(s.domains, `${at}.domains`, fail).map((d, i) => {
    const v = d.toLowerCase();
    if (!/^[a-z0-9.-]+\.[a-z]{2,}$/.test(v)) fail(`${at}.domains[${i}]: expected a domain name like acme.com`);
    return v;
  });
  const allowedRedirects = s.allowedRedirects === undefined ? ['/'] : strings(s.allowedRedirects, `${at}.allowedRedirects`, fail);
  allowedRedirects.forEach((r, i) => {
    if (r.startsWith('/') && !r.startsWith('//')) return;
    if (!isHttpUrl(r)) fail(`${at}.allowedRedirects[${i}]: expected a path starting with / or an http(s) URL prefix`);
  });
  const cfg: SsoConfig = {
    domains,
    sessionTtlSeconds: int(s.sessionTtlSeconds, `${at}.sessionTtlSeconds`, 3600, 1, 7 * 24 * 3600, fail),
    allowedRedirects,
    rules: s.rules === undefined ? [] : parseRules(s.rules, `${at}.rules`, fail, workspaces),
    tokenTtlSeconds: int(s.tokenTtlSeconds, `${at}.tokenTtlSeconds`, 3600, 60, 7 * 24 * 3600, fail),
  };
  if (s.publicUrl !== undefined) {
    if (!isHttpUrl(s.publicUrl)) fail(`${at}.publicUrl: expected an http(s) URL`);
    cfg.publicUrl = (s.publicUrl as string).replace(/\/+$/, '');
  }
  if (s.oidc !== undefined) cfg.oidc = parseOidc(s.oidc, `${at}.oidc`, env, fail);
  if (s.saml !== undefined) cfg.saml = parseSaml(s.saml, `${at}.saml`, fail);
  return cfg;
}

function parseOidc(value: unknown, at: string, env: NodeJS.ProcessEnv, fail: Fail): OidcConfig {
  const o = obj(value, at, fail);
  allow(o, at, ['issuer', 'clientId', 'clientSecret', 'clientSecretEnv', 'scopes', 'clockToleranceSeconds', 'maxIdTokenAgeSeconds', 'trustedAudiences',
    'idTokenAlgorithms', 'discoveryTtlSeconds', 'jwksMaxAgeSeconds', 'jwksCooldownSeconds', 'allowInsecureHttp', 'extraAuthParams'], fail);
  if (!isHttpUrl(o.issuer)) fail(`${at}.issuer: expected an http(s) URL`);
  const allowInsecureHttp = bool(o.allowInsecureHttp, `${at}.allowInsecureHttp`, false, fail);
  if ((o.issuer as string).startsWith('http:') && !allowInsecureHttp) fail(`${at}.issuer: an http: issuer needs allowInsecureHttp: true (local development only)`);
  const cfg: OidcConfig = {
    issuer: o.issuer as string,
    clientId: str(o.clientId, `${at}.clientId`, fail),
    scopes: o.scopes === undefined ? ['openid', 'email', 'profile'] : strings(o.scopes, `${at}.scopes`, fail),
    clockToleranceSeconds: int(o.clockToleranceSeconds, `${at}.clockToleranceSeconds`, 30, 0, 600, fail),
    maxIdTokenAgeSeconds: int(o.maxIdTokenAgeSeconds, `${at}.maxIdTokenAgeSeconds`, 600, 10, 86400, fail),
    trustedAudiences: o.trustedAudiences === undefined ? [] : strings(o.trustedAudiences, `${at}.trustedAudiences`, fail),
    idTokenAlgorithms: o.idTokenAlgorithms === undefined ? ['RS256', 'PS256', 'ES256', 'EdDSA'] : strings(o.idTokenAlgorithms, `${at}.idTokenAlgorithms`, fail),
    discoveryTtlSeconds: int(o.discoveryTtlSeconds, `${at}.discoveryTtlSeconds`, 3600, 0, 7 * 86400, fail),
    jwksMaxAgeSeconds: int(o.jwksMaxAgeSeconds, `${at}.jwksMaxAgeSeconds`, 600, 0, 86400, fail),
    jwksCooldownSeconds: int(o.jwksCooldownSeconds, `${at}.jwksCooldownSeconds`, 30, 0, 3600, fail),
    allowInsecureHttp,
    extraAuthParams: {},
  };
  if (!cfg.scopes.includes('openid')) fail(`${at}.scopes: must include openid`);
  for (const [i, a] of cfg.idTokenAlgorithms.entries()) {
    if (!/^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/.test(a)) fail(`${at}.idTokenAlgorithms[${i}]: '${a}' is not an asymmetric JWS algorithm`);
  }
  if (o.clientSecret !== undefined && o.clientSecretEnv !== undefined) fail(`${at}: give clientSecret or clientSecretEnv, not both`);
  if (o.clientSecret !== undefined) cfg.clientSecret = str(o.clientSecret, `${at}.clientSecret`, fail);
  if (o.clientSecretEnv !== undefined) {
    const name = str(o.clientSecretEnv, `${at}.clientSecretEnv`, fail);
    const v = env[name];
    if (v === undefined || v === '') fail(`${at}.clientSecretEnv: environment variable ${name} is not set`);
    cfg.clientSecret = v;
  }
  if (o.extraAuthParams !== undefined) {
    const p = obj(o.extraAuthParams, `${at}.extraAuthParams`, fail);
    for (const [k, v] of Object.entries(p)) {
      if (typeof v !== 'string') fail(`${at}.extraAuthParams.${k}: expected a string`);
      if (['state', 'nonce', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'client_id', 'response_type', 'scope'].includes(k)) fail(`${at}.extraAuthParams.${k}: set by Colibri, cannot be overridden`);
      cfg.extraAuthParams[k] = v as string;
    }
  }
  return cfg;
}

function parseSaml(value: unknown, at: string, fail: Fail): SamlConfig {
  const o = obj(value, at, fail);
  allow(o, at, ['entryPoint', 'idpIssuer', 'idpCerts', 'spEntityId', 'signed', 'allowIdpInitiated', 'clockSkewSeconds', 'emailAttribute'], fail);
  if (!isHttpUrl(o.entryPoint)) fail(`${at}.entryPoint: expected an http(s) URL`);
  const idpCerts = strings(o.idpCerts, `${at}.idpCerts`, fail);
  if (idpCerts.length === 0) fail(`${at}.idpCerts: expected at least one certificate`);
  idpCerts.forEach((c, i) => {
    const body = c.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+=*$/.test(body) || body.length < 100) fail(`${at}.idpCerts[${i}]: expected a PEM certificate`);
  });
  const signed = o.signed === undefined ? 'either' : o.signed;
  if (signed !== 'assertion' && signed !== 'response' && signed !== 'both' && signed !== 'either') fail(`${at}.signed: expected 'assertion', 'response', 'both' or 'either'`);
  const cfg: SamlConfig = {
    entryPoint: o.entryPoint as string,
    idpCerts,
    signed,
    allowIdpInitiated: bool(o.allowIdpInitiated, `${at}.allowIdpInitiated`, false, fail),
    clockSkewSeconds: int(o.clockSkewSeconds, `${at}.clockSkewSeconds`, 60, 0, 600, fail),
  };
  if (o.idpIssuer !== undefined) cfg.idpIssuer = str(o.idpIssuer, `${at}.idpIssuer`, fail);
  if (o.spEntityId !== undefined) cfg.spEntityId = str(o.spEntityId, `${at}.spEntityId`, fail);
  if (o.emailAttribute !== undefined) cfg.emailAttribute = str(o.emailAttribute, `${at}.emailAttribute`, fail);
  return cfg;
}

function parseRules(value: unknown, at: string, fail: Fail, workspaces: readonly string[] | 'operators'): MappingRule[] {
  if (!Array.isArray(value)) fail(`${at}: expected an array of rules`);
  return (value as unknown[]).map((item, i) => {
    const r = obj(item, `${at}[${i}]`, fail);
    allow(r, `${at}[${i}]`, ['name', 'when', 'grants', 'stop'], fail);
    const grantsAt = `${at}[${i}].grants`;
    if (!Array.isArray(r.grants) || r.grants.length === 0) fail(`${grantsAt}: expected a non-empty array`);
    const grants = (r.grants as unknown[]).map((g, j) => parseGrant(g, `${grantsAt}[${j}]`, fail, workspaces));
    return {
      name: r.name === undefined ? `rule ${i + 1}` : str(r.name, `${at}[${i}].name`, fail),
      when: r.when === undefined ? { all: [] } : parseCondition(r.when, `${at}[${i}].when`, fail),
      grants,
      stop: bool(r.stop, `${at}[${i}].stop`, false, fail),
    };
  });
}

function parseGrant(value: unknown, at: string, fail: Fail, workspaces: readonly string[] | 'operators'): Grant {
  const g = obj(value, at, fail);
  if (workspaces === 'operators') {
    allow(g, at, ['scopes'], fail);
    const scopes = strings(g.scopes, `${at}.scopes`, fail);
    scopes.forEach((s, k) => {
      if (!(OPERATOR_SCOPES as readonly string[]).includes(s)) fail(`${at}.scopes[${k}]: operators get operator scopes only (${OPERATOR_SCOPES.join(', ')})`);
    });
    return { workspace: '*', scopes };
  }
  allow(g, at, ['workspace', 'scopes'], fail);
  const workspace = str(g.workspace, `${at}.workspace`, fail);
  if (workspace !== '*' && !workspaces.includes(workspace)) fail(`${at}.workspace: '${workspace}' is not a workspace of this tenant (or '*')`);
  const scopes = strings(g.scopes, `${at}.scopes`, fail);
  if (scopes.length === 0) fail(`${at}.scopes: expected at least one scope`);
  scopes.forEach((s, k) => {
    try {
      parseScope(s);
    } catch (err) {
      if (err instanceof ScopeError) fail(`${at}.scopes[${k}]: ${err.message}`);
      throw err;
    }
  });
  return { workspace, scopes };
}

/** Conditions: `all`, `any`, `not`, or one test on a claim path or the e-mail domain. */
export function parseCondition(value: unknown, at: string, fail: Fail): Condition {
  const c = obj(value, at, fail);
  const keys = Object.keys(c);
  if (c.all !== undefined || c.any !== undefined) {
    const k = c.all !== undefined ? 'all' : 'any';
    allow(c, at, [k], fail);
    if (!Array.isArray(c[k])) fail(`${at}.${k}: expected an array of conditions`);
    const list = (c[k] as unknown[]).map((x, i) => parseCondition(x, `${at}.${k}[${i}]`, fail));
    return k === 'all' ? { all: list } : { any: list };
  }
  if (c.not !== undefined) {
    allow(c, at, ['not'], fail);
    return { not: parseCondition(c.not, `${at}.not`, fail) };
  }
  if (c.emailDomain !== undefined) {
    allow(c, at, ['emailDomain'], fail);
    const d = typeof c.emailDomain === 'string' ? [c.emailDomain] : strings(c.emailDomain, `${at}.emailDomain`, fail);
    return { emailDomain: d.map((x) => x.toLowerCase()) };
  }
  if (c.claim === undefined) fail(`${at}: expected one of all, any, not, emailDomain, or claim with equals/contains/regex/exists (got ${keys.join(', ') || 'nothing'})`);
  const claim = str(c.claim, `${at}.claim`, fail);
  const tests = ['equals', 'contains', 'regex', 'exists'].filter((k) => c[k] !== undefined);
  if (tests.length !== 1) fail(`${at}: give exactly one of equals, contains, regex, exists`);
  allow(c, at, ['claim', tests[0]!], fail);
  if (c.equals !== undefined) {
    if (!['string', 'number', 'boolean'].includes(typeof c.equals)) fail(`${at}.equals: expected a string, number or boolean`);
    return { claim, equals: c.equals as string | number | boolean };
  }
  if (c.contains !== undefined) return { claim, contains: str(c.contains, `${at}.contains`, fail) };
  if (c.exists !== undefined) return { claim, exists: bool(c.exists, `${at}.exists`, true, fail) };
  const regex = str(c.regex, `${at}.regex`, fail);
  try {
    new RegExp(regex, 'u');
  } catch (err) {
    fail(`${at}.regex: ${(err as Error).message}`);
  }
  return { claim, regex };
}

function obj(value: unknown, at: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${at}: expected an object`);
  return value as Record<string, unknown>;
}

function allow(o: Record<string, unknown>, at: string, keys: string[], fail: Fail): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${at}.${k}: unknown key`);
}

function str(value: unknown, at: string, fail: Fail): string {
  if (typeof value !== 'string' || value.trim() === '') fail(`${at}: expected a non-empty string`);
  return value as string;
}

function strings(value: unknown, at: string, fail: Fail): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) fail(`${at}: expected an array of non-empty strings`);
  return value as string[];
}

function bool(value: unknown, at: string, dflt: boolean, fail: Fail): boolean {
  if (value === undefined) return dflt;
  if (typeof value !== 'boolean') fail(`${at}: expected true or false`);
  return value as boolean;
}

function int(value: unknown, at: string, dflt: number, min: number, max: number, fail: Fail): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(`${at}: expected an integer from ${min} to ${max}`);
  return value as number;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}
