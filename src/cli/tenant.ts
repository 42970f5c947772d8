/**
 * `colibri tenant add|list|show|update|remove`: talks to a running server's operator
 * API (/v0/admin/tenants) with the operator token, taken from COLIBRI_OPERATOR_TOKEN
 * or `<data-dir>/operator.token`.
 *
 *   colibri tenant list   [--server URL] [--data-dir D] [--json]
 *   colibri tenant show   <slug>
 *   colibri tenant add    <slug> [--name N] [--host embedded|URL[,URL...]] [--user U] [--password-env VAR]
 *                         [--read-user U] [--read-password-env VAR] [--cluster NAME]
 *                         [--workspace W]... [--email-domain D]... [--limits JSON] [--sso-file FILE] [--file FILE]
 *   colibri tenant update <slug> [same options; --workspace adds]
 *   colibri tenant remove <slug> --confirm <slug>
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export class TenantUsageError extends Error {}

export const TENANT_USAGE = `  tenant     Manage tenants on a running server (operator API)
             colibri tenant list|show <slug>|add <slug>|update <slug>|remove <slug> --confirm <slug>
             --server URL          server (env COLIBRI_URL, default http://127.0.0.1:7181)
             --data-dir D          where operator.token is (env COLIBRI_DATA_DIR, default ./.colibri);
                                   or set COLIBRI_OPERATOR_TOKEN
             add/update: --name N --host embedded|URL[,URL] --user U --password-env VAR
                         --read-user U --read-password-env VAR --cluster NAME --workspace W (repeat)
                         --email-domain D (repeat) --limits JSON --sso-file FILE --file FILE (whole JSON)
`;

const REPEATED = new Set(['workspace', 'email-domain']);
const VALUE_FLAGS = new Set(['server', 'data-dir', 'name', 'host', 'user', 'password-env', 'read-user', 'read-password-env', 'cluster', 'workspace', 'email-domain', 'limits', 'sso-file', 'file', 'confirm']);

interface Args {
  action: string;
  slug: string | undefined;
  flags: Map<string, string[]>;
  json: boolean;
}

function parse(argv: string[]): Args {
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') {
      json = true;
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      if (!VALUE_FLAGS.has(name)) throw new TenantUsageError(`unknown option --${name}`);
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new TenantUsageError(`--${name} needs a value`);
      if (flags.has(name) && !REPEATED.has(name)) throw new TenantUsageError(`--${name} given twice`);
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else positional.push(arg);
  }
  const [action, slug, extra] = positional;
  if (action === undefined) throw new TenantUsageError('tenant: expected add, list, show, update or remove');
  if (extra !== undefined) throw new TenantUsageError(`unexpected argument '${extra}'`);
  return { action, slug, flags, json };
}

function one(flags: Map<string, string[]>, name: string): string | undefined {
  return flags.get(name)?.[0];
}

function operatorToken(flags: Map<string, string[]>): string {
  const env = process.env.COLIBRI_OPERATOR_TOKEN;
  if (env !== undefined && env !== '') return env.trim();
  const dir = one(flags, 'data-dir') ?? process.env.COLIBRI_DATA_DIR ?? './.colibri';
  const file = path.join(path.resolve(dir), 'operator.token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new TenantUsageError(`no operator token: set COLIBRI_OPERATOR_TOKEN or pass --data-dir of the server (${file} not readable)`);
  }
}

/** The tenant JSON (as in the config file / operator API) from the flags. */
function body(args: Args, forUpdate: boolean): Record<string, unknown> {
  const f = args.flags;
  const file = one(f, 'file');
  const out: Record<string, unknown> = file !== undefined ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  if (!forUpdate && args.slug !== undefined) out.slug = args.slug;
  const name = one(f, 'name');
  if (name !== undefined) out.name = name;
  const host = one(f, 'host');
  if (host !== undefined) {
    if (host === 'embedded') out.host = { kind: 'embedded' };
    else {
      const h: Record<string, unknown> = { kind: 'remote', urls: host.split(',').map((u) => u.trim()).filter((u) => u !== '') };
      const map: Array<[string, string]> = [['user', 'user'], ['read-user', 'readUser'], ['cluster', 'cluster']];
      for (const [flag, key] of map) {
        const v = one(f, flag);
        if (v !== undefined) h[key] = v;
      }
      // Passwords are read here, from this shell's environment, and sent to the server (never on the command line).
      for (const [flag, key] of [['password-env', 'password'], ['read-password-env', 'readPassword']] as const) {
        const name = one(f, flag);
        if (name === undefined) continue;
        const v = process.env[name];
        if (v === undefined) throw new TenantUsageError(`--${flag}: environment variable ${name} is not set`);
        h[key] = v;
      }
      out.host = h;
    }
  }
  const ws = f.get('workspace');
  if (ws !== undefined) out.workspaces = ws;
  const domains = f.get('email-domain');
  if (domains !== undefined) out.emailDomains = domains;
  const limits = one(f, 'limits');
  if (limits !== undefined) out.limits = JSON.parse(limits) as unknown;
  const sso = one(f, 'sso-file');
  if (sso !== undefined) out.sso = JSON.parse(readFileSync(sso, 'utf8')) as unknown;
  return out;
}

async function call(server: string, token: string, method: string, p: string, payload?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(server.replace(/\/+$/, '') + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    json = { error: text.slice(0, 500) };
  }
  return { status: res.status, json };
}

function printTenantLine(t: Record<string, unknown>): string {
  const status = t.status as { health: string; queued_queries: number; running_queries: number; last_minute: { requests: number; errors: number } };
  const host = t.host as { kind: string; urls?: string[]; cluster?: string };
  const where = host.kind === 'embedded' ? 'embedded' : `${(host.urls ?? []).join(',')}${host.cluster !== undefined ? ` (cluster ${host.cluster})` : ''}`;
  return `${String(t.slug).padEnd(20)} ${String(status.health).padEnd(12)} running=${status.running_queries} queued=${status.queued_queries} req/min=${status.last_minute.requests} err/min=${status.last_minute.errors}  ${where}`;
}

/** Runs `colibri tenant ...`; returns the process exit code. */
export async function runTenantCommand(argv: string[]): Promise<number> {
  const args = parse(argv);
  const server = one(args.flags, 'server') ?? process.env.COLIBRI_URL ?? 'http://127.0.0.1:7181';
  const token = operatorToken(args.flags);
  const needSlug = (): string => {
    if (args.slug === undefined) throw new TenantUsageError(`tenant ${args.action}: expected a tenant slug`);
    return encodeURIComponent(args.slug);
  };
  let r;
  switch (args.action) {
    case 'list':
      r = await call(server, token, 'GET', '/v0/admin/tenants');
      if (r.status === 200 && !args.json) {
        for (const t of r.json.tenants as Array<Record<string, unknown>>) process.stdout.write(printTenantLine(t) + '\n');
        return 0;
      }
      break;
    case 'show':
      r = await call(server, token, 'GET', `/v0/admin/tenants/${needSlug()}`);
      break;
    case 'add':
      needSlug();
      r = await call(server, token, 'POST', '/v0/admin/tenants', body(args, false));
      break;
    case 'update':
      r = await call(server, token, 'PATCH', `/v0/admin/tenants/${needSlug()}`, body(args, true));
      break;
    case 'remove': {
      const slug = needSlug();
      const confirm = one(args.flags, 'confirm');
      if (confirm === undefined) throw new TenantUsageError(`tenant remove drops all the tenant's data: repeat its slug with --confirm ${args.slug}`);
      r = await call(server, token, 'DELETE', `/v0/admin/tenants/${slug}?confirm=${encodeURIComponent(confirm)}`);
      if (r.status === 204) {
        process.stdout.write(`tenant ${args.slug} removed\n`);
        return 0;
      }
      break;
    }
    default:
      throw new TenantUsageError(`tenant: unknown action '${args.action}'`);
  }
  if (r.status >= 200 && r.status < 300) {
    process.stdout.write(JSON.stringify(r.json, null, 2) + '\n');
    return 0;
  }
  process.stderr.write(`colibri: ${r.status}: ${String(r.json.error ?? 'request failed')}\n`);
  return 1;
}
