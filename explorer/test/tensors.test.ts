import { describe, expect, it } from 'vitest';
import { rowsOf, view } from '../src/pages/tensors';
import type { FileClaim } from '../src/verify/claims';

const files: FileClaim[] = [
  {
    path: 'a.safetensors',
    size: 100,
    root: '0'.repeat(64),
    leaf_size: 65536,
    format: 'safetensors',
    tensors: [
      { name: 'embed', dtype: 'F16', shape: [4, 4], start: 8, end: 40, blake3: 'aa'.repeat(32) },
      { name: 'norm', dtype: 'F32', shape: [4], start: 40, end: 56, blake3: 'bb'.repeat(32) },
    ],
  },
  {
    path: 'b.gguf',
    size: 100,
    root: '1'.repeat(64),
    leaf_size: 65536,
    format: 'gguf',
    tensors: [{ name: 'blk.0.attn_q.weight', dtype: 'Q4_K', shape: [256], start: 32, end: 176, blake3: 'cc'.repeat(32) }],
  },
];

describe('tensor table', () => {
  const rows = rowsOf(files);
  it('has a row per tensor with its size', () => {
    expect(rows.map((r) => [r.file, r.name, r.size])).toEqual([
      ['a.safetensors', 'embed', 32],
      ['a.safetensors', 'norm', 16],
      ['b.gguf', 'blk.0.attn_q.weight', 144],
    ]);
  });
  it('sorts by any column either way', () => {
    expect(view(rows, '', 'size', false).map((r) => r.size)).toEqual([144, 32, 16]);
    expect(view(rows, '', 'name', true).map((r) => r.name)).toEqual(['blk.0.attn_q.weight', 'embed', 'norm']);
    expect(view(rows, '', 'start', true).map((r) => r.name)).toEqual(['embed', 'norm', 'blk.0.attn_q.weight']);
    expect(view(rows, '', 'dtype', false).map((r) => r.dtype)).toEqual(['Q4_K', 'F32', 'F16']);
  });
  it('filters on every word, case ignored, over name, file, dtype and hash', () => {
    expect(view(rows, 'F32', 'start', true).map((r) => r.name)).toEqual(['norm']);
    expect(view(rows, 'gguf q4', 'start', true).map((r) => r.name)).toEqual(['blk.0.attn_q.weight']);
    expect(view(rows, 'aaaa', 'start', true).map((r) => r.name)).toEqual(['embed']);
    expect(view(rows, 'nothing', 'start', true)).toEqual([]);
    expect(view(rows, '  ', 'start', true)).toHaveLength(3);
  });
  it('sorts 10,000 rows without losing any', () => {
    const many = Array.from({ length: 10000 }, (_, i) => ({ ...rows[0]!, name: `t${(i * 7919) % 10000}`, size: i }));
    const v = view(many, '', 'name', true);
    expect(v).toHaveLength(10000);
    expect(new Set(v.map((r) => r.name)).size).toBe(10000);
  });
});
