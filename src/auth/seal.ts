/**
 * Secrets at rest: the HS256 signing key of each workspace (its admin token) and the
 * private keys of the per-tenant signing keys are kept in the state store encrypted
 * with AES-256-GCM under a master key. The master key lives in
 * `<data-dir>/master.key` (mode 0600), created on first start. The state store alone
 * (a snapshot, a journal, a Redis dump) therefore never reveals a signing key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync, fsyncSync } from 'node:fs';
import path from 'node:path';

export class SealError extends Error {}

const VERSION = 'v1';

/** Read `<dataDir>/master.key`, creating it (32 random bytes, base64, mode 0600) if missing. */
export function loadMasterKey(dataDir: string): Buffer {
  const file = path.join(dataDir, 'master.key');
  if (!existsSync(file)) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, randomBytes(32).toString('base64') + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new SealError(`${file} must not be readable by group or others (mode ${mode.toString(8)}); run chmod 600`);
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new SealError(`${file} does not hold a 32-byte base64 key`);
  return key;
}

/** Encrypt `plain`, binding it to `context` (authenticated, not encrypted). */
export function seal(masterKey: Buffer, plain: Buffer | string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(context));
  const ct = Buffer.concat([cipher.update(typeof plain === 'string' ? Buffer.from(plain) : plain), cipher.final()]);
  return `${VERSION}.${iv.toString('base64url')}.${ct.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** Decrypt what `seal` produced with the same key and context; throws SealError otherwise. */
export function unseal(masterKey: Buffer, sealed: string, context: string): Buffer {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new SealError('sealed value: unknown format');
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(parts[1]!, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(parts[3]!, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(parts[2]!, 'base64url')), decipher.final()]);
  } catch {
    throw new SealError('sealed value: wrong master key, wrong context or tampered');
  }
}
