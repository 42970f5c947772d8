/**
 * Starts a real clickhouse-server (Debian's `clickhouse-server` package, 18.16 here)
 * in a temp directory on free loopback ports, for tests. Two users: `default` with a
 * random password (internal) and `reader` (profile readonly=2) with another one.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const BINARY = '/usr/sbin/clickhouse-server';

/** A running test server. */
export interface ClickHouseServer {
  url: string;
  user: string;
  password: string;
  readUser: string;
  readPassword: string;
  httpPort: number;
  tcpPort: number;
  dataDir: string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
  /** SIGKILLs the server (data stays; use restart() or stop()). */
  kill9(): void;
  /** Stops (if running) and starts it again on the same ports and data. */
  restart(): Promise<void>;
  /** Sends a signal to the server process (SIGSTOP: a hung host that still accepts connections; SIGCONT). */
  signal(sig: NodeJS.Signals): void;
}

/** A free loopback TCP port (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function configXml(dir: string, httpPort: number, tcpPort: number): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/err.log</errorlog><console>0</console></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <timezone>UTC</timezone>
</yandex>
`;
}

/** users.xml of a test server: `default` (internal) and `reader` (readonly=2 profile). */
export function usersXml(password: string, readPassword: string): string {
  return `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>1000000000</max_memory_usage><max_threads>2</max_threads></default>
    <reader><readonly>2</readonly><max_memory_usage>1000000000</max_memory_usage><max_threads>2</max_threads></reader>
  </profiles>
  <users>
    <default><password>${password}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <reader><password>${readPassword}</password><networks><ip>127.0.0.1</ip></networks><profile>reader</profile><quota>default</quota></reader>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;
}

/** Wait until the server answers /ping; throws if it exits or the time runs out. */
export async function waitForPing(url: string, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`clickhouse-server exited during startup (${proc.exitCode ?? proc.signalCode})`);
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`clickhouse-server did not answer /ping within ${timeoutMs} ms`);
}

/** Starts a clickhouse-server; throws (never skips) if the binary is missing. */
export async function startClickHouseServer(): Promise<ClickHouseServer> {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} not found: install the Debian package clickhouse-server (apt-get install clickhouse-server)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'colibri-chs-'));
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) await mkdir(join(dir, sub), { recursive: true });
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const password = randomBytes(12).toString('hex');
  const readPassword = randomBytes(12).toString('hex');
  await writeFile(join(dir, 'config.xml'), configXml(dir, httpPort, tcpPort));
  await writeFile(join(dir, 'users.xml'), usersXml(password, readPassword));
  const url = `http://127.0.0.1:${httpPort}`;
  let proc: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const p = spawn(BINARY, [`--config-file=${join(dir, 'config.xml')}`], { cwd: dir, stdio: 'ignore' });
    proc = p;
    try {
      await waitForPing(url, p, 30_000);
    } catch (err) {
      p.kill('SIGKILL');
      throw err;
    }
  };
  const halt = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGCONT'); // a stopped (SIGSTOP) server would not act on SIGTERM
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (err) {
    await halt();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    user: 'default',
    password,
    readUser: 'reader',
    readPassword,
    httpPort,
    tcpPort,
    dataDir: dir,
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    kill9() {
      proc?.kill('SIGKILL');
    },
    signal(sig) {
      proc?.kill(sig);
    },
    async restart() {
      await halt();
      await launch();
    },
  };
}
