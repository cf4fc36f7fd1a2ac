// The bytes of a file or a tensor, fetched leaf by leaf by commitment and
// hashed with BLAKE3 in the page. Nothing the server says is trusted: the
// result is compared with the hash in the signed claims.

import { blake3 } from '@noble/hashes/blake3.js';
import type { Claims, FileClaim } from './claims';
import { hex } from '../format';

/** Largest span verified in the browser (the whole file or one tensor). */
export const MAX_VERIFY_BYTES = 1 << 30;

/** Leaves `[first, last]` holding bytes `[start, end)` of a file (none for an empty range). */
export function leavesOf(leafSize: number, start: number, end: number): { first: number; last: number } | null {
  if (end <= start) return null;
  return { first: Math.floor(start / leafSize), last: Math.floor((end - 1) / leafSize) };
}

/** The number of leaves of a file. */
export function leafCount(size: number, leafSize: number): number {
  return Math.ceil(size / leafSize);
}

/** The chunk commitment of leaf `i` of `file`: its chaining value, or the root of a file of one leaf. */
export function chunkCommitment(claims: Claims, file: FileClaim, i: number): string {
  const n = leafCount(file.size, file.leaf_size);
  if (i < 0 || i >= n) throw new Error(`leaf ${i} is past the file's ${n} leaves`);
  if (n === 1) return file.root;
  const cvs = claims.leaves.get(file.path);
  if (!cvs || cvs.length !== n * 32) throw new Error(`the claims do not list the ${n} leaves of ${file.path}`);
  return hex(cvs.subarray(i * 32, i * 32 + 32));
}

/** Reads a chunk by commitment; `maxBytes` is the most a genuine one can have. */
export type FetchChunk = (commitment: string, maxBytes: number) => Promise<Uint8Array>;

export interface HashResult {
  computed: string;
  expected: string;
  bytes: number;
  ok: boolean;
}

/**
 * BLAKE3 of bytes `[start, end)` of `file`, read leaf by leaf through
 * `fetchChunk`, compared with `expected`. A leaf of the wrong length fails
 * before it is hashed.
 */
export async function hashRange(
  claims: Claims,
  file: FileClaim,
  start: number,
  end: number,
  expected: string,
  fetchChunk: FetchChunk,
  onProgress?: (done: number, total: number) => void,
): Promise<HashResult> {
  if (start < 0 || end > file.size || start > end) throw new Error(`bytes ${start}..${end} are outside ${file.path}`);
  if (end - start > MAX_VERIFY_BYTES) throw new Error('more than 1 GiB: verify it with `modelda fetch` instead');
  const h = blake3.create();
  const span = leavesOf(file.leaf_size, start, end);
  if (span) {
    for (let i = span.first; i <= span.last; i++) {
      const leafStart = i * file.leaf_size;
      const want = Math.min(file.leaf_size, file.size - leafStart);
      const leaf = await fetchChunk(chunkCommitment(claims, file, i), want);
      if (leaf.length !== want) {
        return { computed: `leaf ${i} has ${leaf.length} bytes, not ${want}`, expected, bytes: 0, ok: false };
      }
      const a = Math.max(start, leafStart) - leafStart;
      const b = Math.min(end, leafStart + want) - leafStart;
      h.update(leaf.subarray(a, b));
      onProgress?.(i - span.first + 1, span.last - span.first + 1);
    }
  }
  const computed = hex(h.digest());
  return { computed, expected, bytes: end - start, ok: computed === expected };
}

/**
 * Fetches a chunk's bytes from this server's `/chunks/{commitment}`,
 * reading at most `maxBytes + 1` (a longer answer is cut there and fails
 * the length check: a hostile server cannot make the page hold more).
 */
export async function fetchChunkHttp(commitment: string, maxBytes: number): Promise<Uint8Array> {
  const res = await fetch(`/chunks/${encodeURIComponent(commitment)}`, { cache: 'no-store' });
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw new Error(`GET /chunks/${commitment.slice(0, 12)}… answered ${res.status} ${text.slice(0, 200)}`);
  }
  if (!res.body) return new Uint8Array(await res.arrayBuffer()).subarray(0, maxBytes + 1);
  const cap = maxBytes + 1;
  const out = new Uint8Array(cap);
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, cap - n);
    out.set(value.subarray(0, take), n);
    n += take;
    if (n >= cap) {
      await reader.cancel();
      break;
    }
  }
  return out.subarray(0, n);
}
