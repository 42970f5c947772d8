/**
 * Starting and stopping the server: load state, provision tenants, listen, and on
 * SIGTERM/SIGINT shut down gracefully (stop accepting, finish in-flight requests,
 * flush queued inserts, close hosts, flush state).
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FileStateStore } from '../state/file-store.js';
import { HostRegistry } from '../tenancy/hosts.js';
import { bootstrap } from '../tenancy/bootstrap.js';
import { InsertBatcher } from '../ingest/batcher.js';
import { log } from '../ops/log.js';
import { createApp } from './app.js';
import type { ServerConfig } from './config.js';
import type { Services } from './services.js';

export interface RunningServer {
  url: string;
  adminToken: string;
  adminTokenFile: string;
  /** In-process access for benchmarks and tests (never exposed over HTTP). */
  services: Services;
  /** Graceful stop; resolves when everything is flushed and closed. */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store = new FileStateStore(path.join(config.dataDir, 'state'));
  await store.open();
  const hosts = new HostRegistry(config.dataDir);
  const batcher = new InsertBatcher({
    flushIntervalMs: config.ingest.flushIntervalMs,
    maxBatchRows: config.ingest.maxBatchRows,
    maxBatchBytes: config.ingest.maxBatchBytes,
    maxInFlight: config.ingest.maxConcurrentInserts,
    maxPendingBytes: Math.max(config.ingest.maxBatchBytes * 8, 256 * 1024 * 1024),
  });
  let ready = false;
  const services: Services = { config, store, hosts, batcher, isReady: () => ready };
  let boot;
  try {
    boot = await bootstrap(config, store, hosts);
  } catch (err) {
    await hosts.closeAll();
    await store.close();
    throw err;
  }
  const app = createApp(services);
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0; // large uploads stream; idle sockets are bounded by keepAliveTimeout
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  ready = true;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      // Keep-alive clients would otherwise go on sending requests on their open connections until shutdownTimeoutMs cuts them.
      server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.setHeader('Connection', 'close'));
      log('info', 'shutting down: no new connections, finishing in-flight requests');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await closed;
      clearTimeout(timer);
      await batcher.close();
      await hosts.closeAll();
      await store.close();
      log('info', 'stopped');
    })();
    return closing;
  };
  return { url, adminToken: boot.adminToken, adminTokenFile: boot.adminTokenFile, services, close };
}
