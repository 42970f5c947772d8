/**
 * Events API (Tinybird v0): `POST /v0/events?name=<ds>&wait=true|false` with NDJSON
 * (gzip too). Rows are validated against the data source's schema (JSONPaths
 * applied); rows that do not fit go to `<ds>_quarantine` with the reason. Concurrent
 * requests for the same data source are coalesced into fewer inserts.
 *
 * `wait=true` answers 200 only once the rows are in ClickHouse; `wait=false` (the
 * default) answers 202 once the rows are validated and queued.
 *
 * Good rows go to ClickHouse as TabSeparated (cheap for the engine to parse) when the
 * schema allows it, and as JSONEachRow otherwise (see ingest/tsv.ts); rows that leave a
 * column to its server-side DEFAULT go as JSONEachRow. One request may so produce two
 * payloads for the table: the batcher keeps one batch per table and format.
 */
import { Router } from 'express';
import { randomUUID } from 'node:crypto';
import type { Services } from '../server/services.js';
import { authenticate, hasGlobal, hasResource, requireAny } from '../auth/context.js';
import { consumeBody } from '../server/body.js';
import { QUARANTINE_SUFFIX, qualified, requireDataSource } from '../catalog/datasources.js';
import { createNdjsonEncoder } from '../ingest/ndjson.js';
import { GOOD_FORMAT, QUARANTINE_FORMAT, type EncodeResult, type GoodFormat } from '../ingest/encode.js';
import { log } from '../ops/log.js';
import { Params } from './params.js';

export function eventsRouter(services: Services): Router {
  const router = Router();
  const { store, hosts, config, batcher } = services;

  router.post('/', async (req, res) => {
    const ctx = authenticate(store, req);
    const params = new Params(req);
    const name = params.require('name');
    requireAny(ctx, [
      [hasGlobal(ctx, 'DATASOURCES:CREATE'), 'DATASOURCES:CREATE'],
      [hasResource(ctx, 'DATASOURCES:APPEND', name), `DATASOURCES:APPEND:${name}`],
    ]);
    const wait = params.bool('wait', false);
    const ds = requireDataSource(store, ctx.workspace.id, name);
    const host = hosts.hostFor(ctx.tenant);

    // Announce the request to the batcher: a batch of this table that could go now
    // waits for these rows rather than leaving them for a later, separate insert.
    const groupBase = `${ctx.tenant.slug}/${ctx.workspace.database}.`;
    const group = groupBase + ds.name;
    const arrived = batcher.arriving(group);
    const writes: Promise<void>[] = [];
    let goodRows = 0;
    let fallbackRows = 0;
    let badRows = 0;
    try {
      // Validate the whole body before queueing anything: a body that is too large
      // is refused whole (413), never half-ingested.
      const encoder = createNdjsonEncoder(ds.columns, { importId: randomUUID(), now: new Date() }, { format: 'TabSeparated' });
      const good: Buffer[] = [];
      const fallback: Buffer[] = [];
      const bad: Buffer[] = [];
      let goodFormat: GoodFormat = GOOD_FORMAT;
      const take = (r: EncodeResult): void => {
        goodFormat = r.goodFormat;
        if (r.goodRows > 0) {
          good.push(r.good);
          goodRows += r.goodRows;
        }
        if (r.fallbackRows > 0) {
          fallback.push(r.fallback);
          fallbackRows += r.fallbackRows;
        }
        if (r.quarantineRows > 0) {
          bad.push(r.quarantine);
          badRows += r.quarantineRows;
        }
      };
      await consumeBody(req, config.maxEventsBodyBytes, (chunk) => take(encoder.push(chunk)));
      take(encoder.end());

      // The pieces go as they are: the batcher hands them to the host without a copy.
      const table = qualified(ctx.workspace, ds.name);
      if (goodRows > 0) writes.push(batcher.submit(group, host, table, goodFormat, good, goodRows));
      if (fallbackRows > 0) writes.push(batcher.submit(group, host, table, GOOD_FORMAT, fallback, fallbackRows));
      if (badRows > 0) {
        const q = ds.name + QUARANTINE_SUFFIX;
        writes.push(batcher.submit(groupBase + q, host, qualified(ctx.workspace, q), QUARANTINE_FORMAT, bad, badRows));
      }
    } finally {
      arrived();
    }
    const body = { successful_rows: goodRows + fallbackRows, quarantined_rows: badRows };
    if (wait) {
      await Promise.all(writes);
      res.status(200).json(body);
      return;
    }
    for (const w of writes) {
      w.catch((err: unknown) => log('error', 'queued events could not be written', { requestId: res.locals.requestId, datasource: ds.name, error: err }));
    }
    res.status(202).json(body);
  });

  return router;
}
