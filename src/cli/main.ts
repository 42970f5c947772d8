#!/usr/bin/env -S node --initial-old-space-size=64
/**
 * The `colibri` command.
 *   colibri server [--port P] [--host H] [--data-dir D] [--config FILE]
 *   colibri login <server> --tenant T [--workspace W]
 */
import { ConfigError, loadConfig } from '../server/config.js';
import { startServer } from '../server/start.js';
import { log } from '../ops/log.js';
import { runTenantCommand, TENANT_USAGE, TenantUsageError } from './tenant.js';
import { cliLogin, credentialsFile } from '../auth/sso/cli-login.js';

const USAGE = `Usage: colibri <command> [options]

Commands:
  server     Run the Colibri server
             --port P        port to listen on (env COLIBRI_PORT, default 7181)
             --host H        address to listen on (default 127.0.0.1)
             --data-dir D    state and embedded data (env COLIBRI_DATA_DIR, default ./.colibri)
             --config FILE   JSON configuration (env COLIBRI_CONFIG), see docs/configuration.md
  login      Sign in with your company's identity provider (SSO) and keep a workspace token
             colibri login <server URL> --tenant T [--workspace W]
             (stored in COLIBRI_CREDENTIALS or ~/.colibri/credentials.json)
${TENANT_USAGE}  help       Show this help
`;

interface Parsed {
  command: string | undefined;
  args: string[];
  flags: Record<string, string>;
}

const FLAGS = new Set(['port', 'host', 'data-dir', 'config', 'tenant', 'workspace']);

function parseArgs(argv: string[]): Parsed {
  const flags: Record<string, string> = {};
  let command: string | undefined;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { command: 'help', args, flags };
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      if (!FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    } else if (command === undefined) {
      command = arg;
    } else if (command === 'login' && args.length === 0) {
      args.push(arg);
    } else {
      throw new UsageError(`unexpected argument '${arg}'`);
    }
  }
  return { command, args, flags };
}

class UsageError extends Error {}

async function runServer(flags: Record<string, string>): Promise<void> {
  const config = loadConfig({
    flags: { port: flags.port, host: flags.host, dataDir: flags['data-dir'], config: flags.config },
    env: process.env,
  });
  const server = await startServer(config);
  process.stdout.write(
    `Colibri is listening on ${server.url}\n` +
      `Workspace admin token (also in ${server.adminTokenFile}):\n${server.adminToken}\n`,
  );
  log('info', 'server started', { url: server.url, dataDir: config.dataDir });
  let signals = 0;
  const stop = (signal: string): void => {
    signals += 1;
    if (signals > 1) {
      log('warn', 'second signal: exiting now', { signal });
      process.exit(1);
    }
    log('info', 'signal received', { signal });
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', 'shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'tenant') {
    process.exitCode = await runTenantCommand(process.argv.slice(3));
    return;
  }
  const { command, args, flags } = parseArgs(process.argv.slice(2));
  switch (command) {
    case 'login': {
      if (args[0] === undefined || flags.tenant === undefined) throw new UsageError('login needs <server URL> and --tenant');
      const cred = await cliLogin({ server: args[0], tenant: flags.tenant, workspace: flags.workspace, print: (l) => process.stdout.write(`${l}\n`) });
      process.stdout.write(`Signed in: workspace ${cred.workspace}, scopes ${cred.scopes.join(' ')}, until ${cred.expiresAt}. Token stored in ${credentialsFile()}\n`);
      return;
    }
    case 'server':
      await runServer(flags);
      return;
    case undefined:
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof TenantUsageError) {
    process.stderr.write(`colibri: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`colibri: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`colibri: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
