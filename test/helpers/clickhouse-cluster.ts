/**
 * A real ClickHouse cluster for tests: a ZooKeeper (Debian `zookeeperd`, run as our own
 * process on a free port with a temp data directory) and N clickhouse-server processes,
 * one shard each, that name each other in `remote_servers` and use ZooKeeper for
 * distributed DDL (ON CLUSTER).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, usersXml, waitForPing } from './clickhouse-server.js';

const CH_BINARY = '/usr/sbin/clickhouse-server';
const ZK_JAR = '/usr/share/java/zookeeper.jar';

export interface ZooKeeper {
  port: number;
  stop(): Promise<void>;
}

export interface ClusterNode {
  url: string;
  httpPort: number;
  tcpPort: number;
  kill9(): void;
  restart(): Promise<void>;
}

export interface ClickHouseCluster {
  name: string;
  nodes: ClusterNode[];
  user: string;
  password: string;
  readUser: string;
  readPassword: string;
  /** Rows of `sql` run directly on one node (JSONEachRow), bypassing Colibri. */
  query(node: number, sql: string): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

async function stopProcess(p: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function zkAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('srvr'));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(/Mode: standalone/.test(out)));
    s.setTimeout(1000, () => s.destroy());
  });
}

/** Starts a standalone ZooKeeper; throws (never skips) when the package is missing. */
export async function startZooKeeper(): Promise<ZooKeeper> {
  if (!existsSync(ZK_JAR)) throw new Error(`${ZK_JAR} not found: install the Debian package zookeeperd (apt-get install zookeeperd)`);
  const dir = await mkdtemp(join(tmpdir(), 'colibri-zk-'));
  const port = await freePort();
  await writeFile(join(dir, 'zoo.cfg'), `tickTime=500\ndataDir=${dir}/data\nclientPort=${port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr,ruok\n`);
  const proc = spawn('java', ['-Xmx128m', '-cp', `/etc/zookeeper/conf:${ZK_JAR}`, 'org.apache.zookeeper.server.ZooKeeperServerMain', join(dir, 'zoo.cfg')], { cwd: dir, stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    await stopProcess(proc, 5000);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!(await zkAnswers(port))) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      await stop();
      throw new Error('ZooKeeper did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, stop };
}

interface NodePorts {
  http: number;
  tcp: number;
  inter: number;
}

function configXml(dir: string, ports: NodePorts, all: NodePorts[], shard: number, cluster: string, zkPort: number | undefined, password: string): string {
  const shards = all
    .map((p) => `<shard><internal_replication>false</internal_replication><replica><host>127.0.0.1</host><port>${p.tcp}</port><user>default</user><password>${password}</password></replica></shard>`)
    .join('');
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/err.log</errorlog><console>0</console></logger>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.inter}</interserver_http_port>
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
  <remote_servers><${cluster}>${shards}</${cluster}></remote_servers>
${zkPort === undefined ? '' : `  <zookeeper><node><host>127.0.0.1</host><port>${zkPort}</port></node><session_timeout_ms>10000</session_timeout_ms></zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
`}  <macros><shard>${String(shard + 1).padStart(2, '0')}</shard><replica>r1</replica></macros>
</yandex>
`;
}

/**
 * Starts `shards` clickhouse-server processes forming cluster `name` over `zk`, with the
 * same users and passwords. Without `zk` (no distributed DDL) they serve as a set of
 * interchangeable servers, e.g. replica URLs of one tenant.
 */
export async function startClickHouseCluster(zk: ZooKeeper | undefined, shards: number, name = 'colibri_test'): Promise<ClickHouseCluster> {
  if (!existsSync(CH_BINARY)) throw new Error(`${CH_BINARY} not found: install the Debian package clickhouse-server`);
  const password = randomBytes(12).toString('hex');
  const readPassword = randomBytes(12).toString('hex');
  const ports: NodePorts[] = [];
  for (let i = 0; i < shards; i++) ports.push({ http: await freePort(), tcp: await freePort(), inter: await freePort() });
  const dirs: string[] = [];
  const procs: Array<ChildProcess | undefined> = [];
  const launch = async (i: number): Promise<void> => {
    const p = spawn(CH_BINARY, [`--config-file=${join(dirs[i]!, 'config.xml')}`], { cwd: dirs[i]!, stdio: 'ignore' });
    procs[i] = p;
    await waitForPing(`http://127.0.0.1:${ports[i]!.http}`, p, 30_000);
  };
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => stopProcess(p, 10_000)));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  };
  try {
    for (let i = 0; i < shards; i++) {
      const dir = await mkdtemp(join(tmpdir(), `colibri-chc${i}-`));
      dirs.push(dir);
      for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) await mkdir(join(dir, sub), { recursive: true });
      await writeFile(join(dir, 'config.xml'), configXml(dir, ports[i]!, ports, i, name, zk?.port, password));
      await writeFile(join(dir, 'users.xml'), usersXml(password, readPassword));
    }
    await Promise.all(ports.map((_, i) => launch(i)));
  } catch (err) {
    await stop();
    throw err;
  }
  const auth = 'Basic ' + Buffer.from(`default:${password}`).toString('base64');
  return {
    name,
    user: 'default',
    password,
    readUser: 'reader',
    readPassword,
    nodes: ports.map((p, i) => ({
      url: `http://127.0.0.1:${p.http}`,
      httpPort: p.http,
      tcpPort: p.tcp,
      kill9: () => procs[i]?.kill('SIGKILL'),
      restart: async () => {
        await stopProcess(procs[i], 10_000);
        await launch(i);
      },
    })),
    async query(node, sql) {
      const res = await fetch(`http://127.0.0.1:${ports[node]!.http}/?default_format=JSONEachRow`, { method: 'POST', body: sql, headers: { authorization: auth }, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      if (!res.ok) throw new Error(`node ${node}: ${res.status} ${text}`);
      return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    stop,
  };
}

/** Rows of `sql` run directly on a clickhouse-server (bypassing Colibri). */
export async function queryDirect(url: string, user: string, password: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${url}/?default_format=JSONEachRow`, {
    method: 'POST',
    body: sql,
    headers: { authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${text}`);
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}
