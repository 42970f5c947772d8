import { after, before } from 'node:test';
import { crashSuite } from './crash-suite.js';
import { startClickHouseServer } from '../helpers/clickhouse-server.js';

let ch: Awaited<ReturnType<typeof startClickHouseServer>> | undefined;

before(async () => {
  ch = await startClickHouseServer();
});

after(async () => {
  await ch?.stop();
});

/** One query straight to the clickhouse-server (internal user), TSV lines back. */
async function chQuery(sql: string): Promise<string[]> {
  const url = `${ch!.url}/?user=${encodeURIComponent(ch!.user)}&password=${encodeURIComponent(ch!.password)}`;
  const res = await fetch(url, { method: 'POST', body: sql, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`clickhouse-server: ${res.status} ${text.slice(0, 300)}`);
  return text.split('\n').filter((l) => l !== '');
}

crashSuite('remote', {
  config: () => ({
    tenants: [
      {
        slug: 'local',
        name: 'Local on clickhouse-server',
        host: { kind: 'remote', urls: [ch!.url], user: ch!.user, password: ch!.password, readUser: ch!.readUser, readPassword: ch!.readPassword },
      },
    ],
  }),
  engine: () => ({
    kill9: () => ch!.kill9(),
    restart: () => ch!.restart(),
    ids: async (name: string) => {
      if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`bad table name ${name}`);
      const dbs = await chQuery(`SELECT database FROM system.tables WHERE name = '${name}' FORMAT TabSeparated`);
      if (dbs.length !== 1) throw new Error(`table ${name}: found in ${dbs.length} databases`);
      return (await chQuery(`SELECT id FROM \`${dbs[0]}\`.\`${name}\` FORMAT TabSeparated`)).map(Number);
    },
  }),
});
