/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial), table driven. Our own because
 * `zlib.crc32` only exists from Node 20.15 and we support Node 20.10+.
 */
const TABLE: Uint32Array = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 of `buf[start, end)` as an unsigned 32-bit integer. */
export function crc32(buf: Uint8Array, start = 0, end: number = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
