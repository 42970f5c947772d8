/**
 * `colibri login <server> --tenant <t> [--workspace <w>]`: SSO from a terminal.
 * A loopback listener on 127.0.0.1 receives a one-time code after the browser
 * login (`/auth/cli`), bound to a PKCE challenge; the code is exchanged at
 * `POST /auth/token` for a workspace JWT, stored in the credentials file
 * (`COLIBRI_CREDENTIALS` or `~/.colibri/credentials.json`, mode 0600) for later
 * CLI calls.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface CliLoginOptions {
  server: string;
  tenant: string;
  workspace?: string;
  /** Where the URL to open is shown. */
  print: (line: string) => void;
  timeoutMs?: number;
}

export interface StoredCredential {
  token: string;
  tenant: string;
  workspace: string;
  scopes: string[];
  expiresAt: string;
}

/** The credentials file path. */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.COLIBRI_CREDENTIALS ?? path.join(os.homedir(), '.colibri', 'credentials.json');
}

/** Run the login; resolves with the stored credential. */
export async function cliLogin(o: CliLoginOptions): Promise<StoredCredential> {
  const server = o.server.replace(/\/+$/, '');
  const state = randomBytes(24).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  let resolveCode!: (code: string) => void;
  let rejectCode!: (err: Error) => void;
  const codeP = new Promise<string>((res, rej) => {
    resolveCode = res;
    rejectCode = rej;
  });
  const listener = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname !== '/callback') return void res.writeHead(404).end();
    if (u.searchParams.get('state') !== state || u.searchParams.get('code') === null) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Login state mismatch.');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Colibri: you are signed in. You can close this window.');
    resolveCode(u.searchParams.get('code')!);
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as AddressInfo).port;
  const timer = setTimeout(() => rejectCode(new Error('login timed out')), o.timeoutMs ?? 300_000);
  try {
    const ret = `/auth/cli?${new URLSearchParams({ port: String(port), state, challenge })}`;
    o.print(`Open this URL in your browser to sign in:\n${server}/auth/${encodeURIComponent(o.tenant)}/login?${new URLSearchParams({ redirect: ret })}`);
    const code = await codeP;
    const body = new URLSearchParams({ grant_type: 'cli_code', code, code_verifier: verifier });
    if (o.workspace !== undefined) body.set('workspace', o.workspace);
    const res = await fetch(`${server}/auth/token`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const json = (await res.json()) as { token?: string; workspace?: string; scopes?: string[]; expires_in?: number; error?: string };
    if (res.status !== 200 || json.token === undefined) throw new Error(`token exchange failed: ${res.status} ${json.error ?? ''}`);
    const cred: StoredCredential = { token: json.token, tenant: o.tenant, workspace: json.workspace!, scopes: json.scopes ?? [], expiresAt: new Date(Date.now() + (json.expires_in ?? 0) * 1000).toISOString() };
    const file = credentialsFile();
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    let all: Record<string, StoredCredential> = {};
    try {
      all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, StoredCredential>;
    } catch {
      all = {};
    }
    all[server] = cred;
    writeFileSync(file, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
    return cred;
  } finally {
    clearTimeout(timer);
    listener.closeAllConnections();
    listener.close();
  }
}
