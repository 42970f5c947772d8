/** The EncodeResults of an encoder's push()/end() calls joined into one, as one call would give. */
import type { EncodeResult } from '../../src/ingest/encode.js';

export function joinResults(parts: EncodeResult[]): EncodeResult {
  return {
    good: Buffer.concat(parts.map((p) => p.good)),
    goodRows: parts.reduce((a, p) => a + p.goodRows, 0),
    goodFormat: parts[0]!.goodFormat,
    fallback: Buffer.concat(parts.map((p) => p.fallback)),
    fallbackRows: parts.reduce((a, p) => a + p.fallbackRows, 0),
    quarantine: Buffer.concat(parts.map((p) => p.quarantine)),
    quarantineRows: parts.reduce((a, p) => a + p.quarantineRows, 0),
    errors: parts.flatMap((p) => p.errors),
  };
}
