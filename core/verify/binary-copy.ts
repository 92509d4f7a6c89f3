/**
 * COPY ... TO STDOUT (FORMAT binary), read tuple by tuple without decoding a value: a field is
 * int4 length then its bytes (length -1 for NULL), which for text is exactly field(t) of
 * db/AUDIT_HASHING.md, so the hashes are computed from the bytes as they arrive.
 */
import type { Readable } from 'node:stream';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** one tuple: the buffer it lies in and where each field's data starts and how long it is (-1: NULL) */
export interface Tuple {
  buf: Buffer;
  start: Int32Array;
  len: Int32Array;
}

/** calls onTuple for each tuple, reusing one Tuple object: read what is needed before returning */
export async function readBinaryCopy(stream: Readable, fieldCount: number, onTuple: (tuple: Tuple) => void): Promise<void> {
  const tuple: Tuple = { buf: Buffer.alloc(0), start: new Int32Array(fieldCount), len: new Int32Array(fieldCount) };
  let rest: Buffer | null = null;
  let headerRead = false;
  let ended = false;
  // 'data' events rather than async iteration: PostgreSQL sends a message per row, and a promise per row costs
  const onChunk = (chunk: Buffer): void => {
    const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = null;
    let at = 0;
    if (!headerRead) {
      if (buf.length < 19 || buf.length < 19 + buf.readInt32BE(15)) {
        rest = buf;
        return;
      }
      if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
      at = 19 + buf.readInt32BE(15);
      headerRead = true;
    }
    tuple.buf = buf;
    while (!ended && buf.length - at >= 2) {
      const fields = buf.readInt16BE(at);
      if (fields === -1) {
        ended = true;
        at += 2;
        break;
      }
      if (fields !== fieldCount) throw new Error(`a binary COPY tuple has ${fields} fields, expected ${fieldCount}`);
      let next = at + 2;
      let whole = true;
      for (let i = 0; i < fields; i += 1) {
        if (buf.length - next < 4) {
          whole = false;
          break;
        }
        const length = buf.readInt32BE(next);
        next += 4;
        tuple.start[i] = next;
        tuple.len[i] = length;
        if (length > 0) next += length;
        if (next > buf.length) {
          whole = false;
          break;
        }
      }
      if (!whole) break;
      onTuple(tuple);
      at = next;
    }
    if (at < buf.length && !ended) rest = buf.subarray(at);
  };
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      try {
        onChunk(chunk);
      } catch (error) {
        stream.destroy(error as Error);
      }
    });
    stream.once('end', resolve);
    stream.once('error', reject);
    stream.once('close', resolve);
  });
  if (!ended) throw new Error('the binary COPY stream ended without its trailer');
}
