import { after, before } from 'node:test';
import { pipesSuite } from './pipes-suite.js';
import { startClickHouseServer } from '../helpers/clickhouse-server.js';

let ch: Awaited<ReturnType<typeof startClickHouseServer>> | undefined;

before(async () => {
  ch = await startClickHouseServer();
});

after(async () => {
  await ch?.stop();
});

pipesSuite('remote clickhouse-server', {
  config: () => ({
    tenants: [
      {
        slug: 'local',
        host: { kind: 'remote', urls: [ch!.url], user: ch!.user, password: ch!.password, readUser: ch!.readUser, readPassword: ch!.readPassword },
      },
    ],
  }),
});
