/**
 * The benchmarks' baseline client: @clickhouse/client connected to the embedded engine
 * as one of its users (TenantHost.embeddedConnection), configured as a careful user
 * would for loopback: keep-alive, no compression.
 */
import { createClient, type ClickHouseClient } from '@clickhouse/client';

export interface EngineConnectionInfo {
  url: string;
  user: string;
  password: string;
}

export function engineClient(engine: EngineConnectionInfo, maxConnections: number): ClickHouseClient {
  return createClient({
    url: engine.url,
    username: engine.user,
    password: engine.password,
    compression: { request: false, response: false },
    keep_alive: { enabled: true },
    max_open_connections: maxConnections,
  });
}
