/**
 * Journal record framing. A journal file is a sequence of records:
 *
 *   u32 LE payload length | u32 LE CRC-32 of payload | u32 LE CRC-32 of the first 8 bytes | payload
 *
 * The payload is UTF-8 JSON `{"s": <sequence number>, "m": [<mutations>]}`: one
 * commit, all its mutations. The header CRC tells a damaged length field from a
 * record that was simply cut short.
 *
 * Torn tail (ignored on recovery): what a crash leaves at the end of the last
 * write. The file ends inside a record header, or inside a payload whose header is
 * intact, or (after a power loss, when the file size reached the disk before the
 * data) the rest of the file is zero bytes, or the very last record's payload fails
 * its CRC. Anything else that fails a check is corruption in the middle of the file:
 * `JournalCorruptError`, which names the file and the offset.
 */
import { crc32 } from './crc32.js';
import { validateMutations } from './state-maps.js';
import type { Mutation } from './store.js';

/** Bytes of a record header. */
export const HEADER_BYTES = 12;
/** Largest payload accepted (a sanity bound for a length field, and for commits). */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** A journal file that cannot be trusted: the store refuses to open. */
export class JournalCorruptError extends Error {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, reason: string) {
    super(
      `state journal ${file} is corrupt at byte offset ${offset}: ${reason}. ` +
        'Refusing to start: acknowledged commits may follow this point. Restore the state directory from a backup, ' +
        'or truncate the file at this offset to accept the loss.',
    );
    this.name = 'JournalCorruptError';
    this.file = file;
    this.offset = offset;
  }
}

/** One decoded journal record. */
export interface JournalRecord {
  readonly seq: number;
  readonly mutations: readonly Mutation[];
  /** Byte offset of the record header in its file. */
  readonly offset: number;
}

/** What a journal file holds. */
export interface JournalScan {
  readonly records: JournalRecord[];
  /** Length of the valid prefix; bytes after it are a torn tail. */
  readonly validEnd: number;
  /** Bytes of torn tail ignored (0 for a clean file). */
  readonly tornBytes: number;
}

/** Frame one commit: `mutationsJson` is the JSON array of its mutations. */
export function encodeRecord(seq: number, mutationsJson: string): Buffer {
  const payloadText = `{"s":${seq},"m":${mutationsJson}}`;
  const payloadBytes = Buffer.byteLength(payloadText, 'utf8');
  if (payloadBytes > MAX_PAYLOAD_BYTES) throw new RangeError(`commit too large: ${payloadBytes} bytes (max ${MAX_PAYLOAD_BYTES})`);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes);
  buf.write(payloadText, HEADER_BYTES, 'utf8');
  buf.writeUInt32LE(payloadBytes, 0);
  buf.writeUInt32LE(crc32(buf, HEADER_BYTES, HEADER_BYTES + payloadBytes), 4);
  buf.writeUInt32LE(crc32(buf, 0, 8), 8);
  return buf;
}

function allZero(buf: Buffer, start: number): boolean {
  for (let i = start; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Decode a whole journal file. Throws JournalCorruptError on corruption before the tail. */
export function scanJournal(buf: Buffer, file: string): JournalScan {
  const records: JournalRecord[] = [];
  let offset = 0;
  const torn = (): JournalScan => ({ records, validEnd: offset, tornBytes: buf.length - offset });
  while (offset < buf.length) {
    if (buf.length - offset < HEADER_BYTES) return torn();
    if (crc32(buf, offset, offset + 8) !== buf.readUInt32LE(offset + 8)) {
      if (allZero(buf, offset)) return torn();
      throw new JournalCorruptError(file, offset, 'record header checksum mismatch');
    }
    const length = buf.readUInt32LE(offset);
    if (length > MAX_PAYLOAD_BYTES) throw new JournalCorruptError(file, offset, 'record length out of range');
    const start = offset + HEADER_BYTES;
    const end = start + length;
    if (end > buf.length) return torn();
    if (crc32(buf, start, end) !== buf.readUInt32LE(offset + 4)) {
      if (allZero(buf, end)) return torn();
      throw new JournalCorruptError(file, offset, 'record payload checksum mismatch');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      throw new JournalCorruptError(file, offset, 'record payload is not valid JSON');
    }
    const p = parsed as { s?: unknown; m?: unknown } | null;
    if (typeof p !== 'object' || p === null || typeof p.s !== 'number' || !Number.isSafeInteger(p.s) || p.s < 1) {
      throw new JournalCorruptError(file, offset, 'record has no valid sequence number');
    }
    let mutations: Mutation[];
    try {
      mutations = validateMutations(p.m);
    } catch (err) {
      throw new JournalCorruptError(file, offset, `record is malformed (${(err as Error).message})`);
    }
    records.push({ seq: p.s, mutations, offset });
    offset = end;
  }
  return { records, validEnd: offset, tornBytes: 0 };
}
