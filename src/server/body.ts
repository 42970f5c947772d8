/**
 * Request bodies: read as a stream of chunks, gzip decoded when the client says so
 * (Content-Encoding: gzip) or when the body starts with the gzip magic bytes, and
 * limited in size after decoding (a gzip bomb gets a 413 like any large body).
 */
import type { Request } from 'express';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { badRequest, tooLarge } from './errors.js';

/** The decoded body as chunks; throws 413 past `maxBytes`, 400 on a broken gzip stream. */
export async function* bodyChunks(req: Request, maxBytes: number): AsyncGenerator<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase().trim();
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') throw badRequest(`Unsupported Content-Encoding '${encoding.slice(0, 40)}': use gzip or none`);
  const iterator = (req as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  if (first.done === true) return;
  const head = first.value;
  const gzip = encoding === 'gzip' || (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b);
  const raw = (async function* (): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      yield next.value;
    }
  })();
  let source: AsyncIterable<Buffer> = raw;
  if (gzip) {
    const gunzip = createGunzip();
    source = Readable.from(raw).pipe(gunzip);
  }
  let total = 0;
  try {
    for await (const chunk of source) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(`Request body too large: the limit is ${maxBytes} bytes${gzip ? ' (after gzip decoding)' : ''}`);
      yield chunk;
    }
  } catch (err) {
    if (gzip && (err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw badRequest('Invalid gzip body');
    throw err;
  } finally {
    if (gzip) (source as Readable).destroy();
  }
}

/**
 * Hands the decoded body to `onChunk` chunk by chunk as it arrives, straight from the
 * stream's 'data' events (no async iterator, no promise per chunk: the Events API hot
 * path). Same decoding, limits and errors as bodyChunks; resolves after the last
 * chunk, rejects with what `onChunk` throws. On an error the request is left paused
 * (the HTTP server discards the rest once the response is sent).
 */
export function consumeBody(req: Request, maxBytes: number, onChunk: (chunk: Buffer) => void): Promise<void> {
  const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase().trim();
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') {
    return Promise.reject(badRequest(`Unsupported Content-Encoding '${encoding.slice(0, 40)}': use gzip or none`));
  }
  if (encoding === 'gzip') return consumeChunks(req, maxBytes, onChunk);
  return new Promise<void>((resolve, reject) => {
    let total = 0;
    let first = true;
    let settled = false;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      if (first) {
        first = false;
        if (chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
          // A gzip body without the header: the generic path decodes it.
          settled = true;
          cleanup();
          req.pause();
          req.unshift(chunk);
          consumeChunks(req, maxBytes, onChunk).then(resolve, reject);
          return;
        }
      }
      total += chunk.length;
      if (total > maxBytes) {
        fail(tooLarge(`Request body too large: the limit is ${maxBytes} bytes`));
        return;
      }
      try {
        onChunk(chunk);
      } catch (err) {
        fail(err);
      }
    };
    const onEnd = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve();
    };
    const onError = (err: unknown): void => fail(err);
    const onClose = (): void => {
      if (!req.readableEnded) fail(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

async function consumeChunks(req: Request, maxBytes: number, onChunk: (chunk: Buffer) => void): Promise<void> {
  for await (const chunk of bodyChunks(req, maxBytes)) onChunk(chunk);
}

/** The whole decoded body in one buffer. */
export async function readBody(req: Request, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of bodyChunks(req, maxBytes)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface MultipartPart {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

/** Parse a multipart/form-data body; 400 when it is malformed. */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const m = /boundary=(?:"([^"]{1,200})"|([^;\s]{1,200}))/i.exec(contentType);
  if (m === null) throw badRequest('multipart/form-data body without a boundary');
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(boundary);
  if (pos < 0) throw badRequest('Malformed multipart body: boundary not found');
  for (;;) {
    pos += boundary.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing boundary "--"
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    else if (body[pos] === 0x0a) pos += 1;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw badRequest('Malformed multipart body: part without headers');
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(boundary, headerEnd + 4);
    if (next < 0) throw badRequest('Malformed multipart body: missing closing boundary');
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2;
    else if (body[end - 1] === 0x0a) end -= 1;
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers);
    if (disposition === null) throw badRequest('Malformed multipart body: part without Content-Disposition');
    const name = /\bname="([^"]*)"/i.exec(disposition[1]!)?.[1];
    if (name === undefined) throw badRequest('Malformed multipart body: part without a name');
    const filename = /\bfilename="([^"]*)"/i.exec(disposition[1]!)?.[1];
    const ct = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim();
    parts.push({ name, filename, contentType: ct, data: body.subarray(headerEnd + 4, end) });
    pos = next;
  }
  return parts;
}
