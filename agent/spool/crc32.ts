/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib and PNG), in plain code because `zlib.crc32` only
 * arrived in Node 20.15 and the agent runs on any Node 20. It guards each spool record against a
 * torn or damaged write; it is not a defence against tampering.
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let value = byte;
    for (let bit = 0; bit < 8; bit += 1) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
    table[byte] = value >>> 0;
  }
  return table;
})();

export const crc32 = (bytes: Uint8Array): number => {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
};
