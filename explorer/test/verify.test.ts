// Verification against the vectors the Rust tests use:
// fixtures/protocol-vectors.json (a record and claims signed with a fixed
// key, over a fixed model whose files are rebuilt here) and
// fixtures/merkle-vectors.json (roots and leaf chaining values).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blake3 } from '@noble/hashes/blake3.js';
import { derToP1363, fromBase64, keyHint, pae, verifyP256 } from '../src/verify/dsse';
import { ClaimsError, openClaims, type Claims } from '../src/verify/claims';
import { chunkCommitment, fetchChunkHttp, hashRange, leavesOf } from '../src/verify/bytes';
import { verifyTarget } from '../src/verify/index';
import { hex } from '../src/format';

const protocol = JSON.parse(readFileSync(new URL('../../fixtures/protocol-vectors.json', import.meta.url), 'utf8'));
const merkle = JSON.parse(readFileSync(new URL('../../fixtures/merkle-vectors.json', import.meta.url), 'utf8'));
const MODEL_ID: string = protocol.manifest.model_id;
const CLAIMS: string = protocol.record.publication.claims;
const enc = new TextEncoder();

/** Byte `i` is `i % 251`, as the Rust fixtures' `input`. */
function input(len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = i % 251;
  return b;
}

/** The fixed model's files, as `fixtures::protocol::files` writes them. */
function files(): Map<string, Uint8Array> {
  const header = enc.encode('{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}');
  const st = new Uint8Array(8 + header.length + 11);
  new DataView(st.buffer).setBigUint64(0, BigInt(header.length), true);
  st.set(header, 8);
  st.set(input(11), 8 + header.length);
  return new Map([
    ['README.md', enc.encode('---\nlicense: apache-2.0\n---\n# fixed\n')],
    ['config.json', enc.encode('{"dim":4}\n')],
    ['empty.txt', new Uint8Array(0)],
    ['model.safetensors', st],
    ['weights/w.bin', input(2 * 16384 + 1)],
  ]);
}

/** A server holding the fixed model's leaves by commitment (and counting reads). */
async function server(claims: Claims, lie?: (c: string, b: Uint8Array) => Uint8Array) {
  const byCommitment = new Map<string, Uint8Array>();
  const all = files();
  for (const f of claims.files) {
    const bytes = all.get(f.path)!;
    const n = Math.ceil(f.size / f.leaf_size);
    for (let i = 0; i < n; i++) byCommitment.set(chunkCommitment(claims, f, i), bytes.subarray(i * f.leaf_size, (i + 1) * f.leaf_size));
  }
  const reads: string[] = [];
  const fetchChunk = async (c: string, max: number): Promise<Uint8Array> => {
    reads.push(c);
    expect(max).toBeLessThanOrEqual(16384);
    const b = byCommitment.get(c);
    if (!b) throw new Error(`404 ${c}`);
    return lie ? lie(c, b.slice()) : b;
  };
  return { fetchChunk, reads };
}

function withPayload(bundle: string, edit: (statement: Record<string, any>) => void): string {
  const b = JSON.parse(bundle);
  const s = JSON.parse(new TextDecoder().decode(fromBase64(b.dsseEnvelope.payload)));
  edit(s);
  b.dsseEnvelope.payload = Buffer.from(JSON.stringify(s)).toString('base64');
  return JSON.stringify(b);
}

describe('DSSE', () => {
  it('encodes the PAE as the DSSE spec does', () => {
    const out = new TextDecoder().decode(pae('http://example.com/HelloWorld', enc.encode('hello world')));
    expect(out).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });
  it('turns DER signatures into r || s, and refuses malformed DER', () => {
    const der = new Uint8Array([0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x05]);
    const raw = derToP1363(der, 4);
    expect(hex(raw)).toBe('0000008000000005');
    expect(() => derToP1363(new Uint8Array([0x31, 0x00]))).toThrow();
    expect(() => derToP1363(der.subarray(0, 8), 4)).toThrow();
    expect(() => derToP1363(new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01]), 4)).toThrow(/negative/);
    expect(() => derToP1363(new Uint8Array([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]), 4)).toThrow(/minimal/);
    expect(() => derToP1363(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))).toThrow();
  });
  it('verifies the record vector signed by the fixed key, and its hint', async () => {
    const bundle = JSON.parse(protocol.record.bundle);
    const env = bundle.dsseEnvelope;
    const msg = pae(env.payloadType, fromBase64(env.payload));
    const sig = fromBase64(env.signatures[0].sig);
    expect(await verifyP256(protocol.record.public_key, sig, msg)).toBe(true);
    const flipped = msg.slice();
    flipped[flipped.length - 1]! ^= 1;
    expect(await verifyP256(protocol.record.public_key, sig, flipped)).toBe(false);
    expect(await keyHint(protocol.record.public_key)).toBe(bundle.verificationMaterial.publicKey.hint);
  });
});

describe('claims', () => {
  it('open with the signature and subject checked', async () => {
    const c = await openClaims(CLAIMS, MODEL_ID);
    expect(c.modelId).toBe(MODEL_ID);
    expect(c.files.map((f) => f.path)).toEqual(['README.md', 'config.json', 'empty.txt', 'model.safetensors', 'weights/w.bin']);
    expect(c.files[3]!.tensors.map((t) => t.name)).toEqual(['a', 'b']);
    expect(c.leaves.get('weights/w.bin')!.length).toBe(3 * 32);
    expect(c.signerHint).toBe(await keyHint(protocol.record.public_key));
  });
  it('refuse another model id, an edited statement, a bad signature and junk', async () => {
    const step = async (text: string, id = MODEL_ID) => {
      try {
        await openClaims(text, id);
        return 'verified';
      } catch (e) {
        expect(e).toBeInstanceOf(ClaimsError);
        return (e as ClaimsError).step;
      }
    };
    expect(await step(CLAIMS, 'ff'.repeat(32))).toBe('subject');
    expect(await step(withPayload(CLAIMS, (s) => (s.predicate.manifest.files[1].root = 'ff'.repeat(32))))).toBe('signature');
    const b = JSON.parse(CLAIMS);
    const sig = fromBase64(b.dsseEnvelope.signatures[0].sig);
    sig[sig.length - 1]! ^= 1;
    b.dsseEnvelope.signatures[0].sig = Buffer.from(sig).toString('base64');
    expect(await step(JSON.stringify(b))).toBe('signature');
    expect(await step('{')).toBe('format');
    expect(await step('[]')).toBe('format');
    expect(await step(JSON.stringify({ dsseEnvelope: { payloadType: 'text/plain', payload: '', signatures: [] } }))).toBe('format');
  });
});

describe('bytes', () => {
  it('covers a range with the leaves holding it', () => {
    expect(leavesOf(16384, 0, 0)).toBeNull();
    expect(leavesOf(16384, 0, 1)).toEqual({ first: 0, last: 0 });
    expect(leavesOf(16384, 16383, 16385)).toEqual({ first: 0, last: 1 });
    expect(leavesOf(16384, 16384, 32769)).toEqual({ first: 1, last: 2 });
  });
  it('hashes ranges of the merkle vectors to their roots, leaf by leaf', async () => {
    for (const c of merkle.cases.filter((c: { len: number }) => c.len <= 1 << 17)) {
      const bytes = input(c.len);
      const leaves = new Uint8Array(c.leaves.length * 32);
      c.leaves.forEach((l: string, i: number) => leaves.set(Uint8Array.from(Buffer.from(l, 'hex')), i * 32));
      const file = { path: 'f', size: c.len, root: c.root, leaf_size: c.leaf_size, format: 'other', tensors: [] };
      const claims: Claims = { modelId: '', files: [file], leaves: new Map([['f', leaves]]), publicKeyPem: '', signerHint: '' };
      const fetchChunk = async (cv: string) => {
        const i = c.leaves.length === 1 ? 0 : c.leaves.indexOf(cv);
        expect(i).toBeGreaterThanOrEqual(0);
        return bytes.subarray(i * c.leaf_size, (i + 1) * c.leaf_size);
      };
      const whole = await hashRange(claims, file, 0, c.len, c.root, fetchChunk);
      expect(whole.ok, `len ${c.len} leaf ${c.leaf_size}`).toBe(true);
      if (c.len > 2) {
        const [a, b] = [1, c.len - 1];
        const part = await hashRange(claims, file, a, b, hex(blake3(bytes.subarray(a, b))), fetchChunk);
        expect(part.ok).toBe(true);
      }
    }
  });
});

describe('verification of the fixed model', () => {
  it('passes for a tensor, a multi-leaf file, a one-leaf file and an empty file', async () => {
    const claims = await openClaims(CLAIMS, MODEL_ID);
    const { fetchChunk, reads } = await server(claims);
    for (const t of [
      { file: 'model.safetensors', tensor: 'a' },
      { file: 'model.safetensors', tensor: 'b' },
      { file: 'weights/w.bin' },
      { file: 'config.json' },
      { file: 'empty.txt' },
    ]) {
      const o = await verifyTarget(CLAIMS, { modelId: MODEL_ID, ...t }, fetchChunk);
      expect(o.ok, JSON.stringify(o.steps)).toBe(true);
      expect(o.steps.map((s) => s.label)).toEqual(['Signature', 'Subject', 'Bytes']);
      expect(o.signerHint).toBe(claims.signerHint);
    }
    expect(reads.length).toBe(1 + 1 + 3 + 1);
  });
  it('fails when the server alters a byte, sends a short leaf, or lies about the claims', async () => {
    const claims = await openClaims(CLAIMS, MODEL_ID);
    const flip = await server(claims, (_, b) => {
      b[b.length >> 1]! ^= 1;
      return b;
    });
    const o = await verifyTarget(CLAIMS, { modelId: MODEL_ID, file: 'weights/w.bin' }, flip.fetchChunk);
    expect(o.ok).toBe(false);
    expect(o.steps.at(-1)).toMatchObject({ label: 'Bytes', ok: false });
    const long = await server(claims, (_, b) => new Uint8Array(b.length + 1));
    expect((await verifyTarget(CLAIMS, { modelId: MODEL_ID, file: 'config.json' }, long.fetchChunk)).ok).toBe(false);
    const short = await server(claims, (_, b) => b.subarray(0, b.length - 1));
    expect((await verifyTarget(CLAIMS, { modelId: MODEL_ID, file: 'model.safetensors', tensor: 'a' }, short.fetchChunk)).ok).toBe(false);
    const honest = await server(claims);
    const forged = withPayload(CLAIMS, (s) => (s.predicate.manifest.files[3].tensors[0].blake3 = 'ab'.repeat(32)));
    const f = await verifyTarget(forged, { modelId: MODEL_ID, file: 'model.safetensors', tensor: 'a' }, honest.fetchChunk);
    expect(f.ok).toBe(false);
    expect(f.steps[0]).toMatchObject({ label: 'Signature', ok: false });
    const other = await verifyTarget(CLAIMS, { modelId: 'cd'.repeat(32), file: 'config.json' }, honest.fetchChunk);
    expect(other.steps.map((s) => [s.label, s.ok])).toEqual([
      ['Signature', true],
      ['Subject', false],
    ]);
    const missing = await verifyTarget(CLAIMS, { modelId: MODEL_ID, file: 'model.safetensors', tensor: 'zz' }, honest.fetchChunk);
    expect(missing.ok).toBe(false);
  });
});

describe('chunk reads', () => {
  it('never hold more than one byte past the longest genuine leaf', async () => {
    const huge = new Uint8Array(1 << 20);
    const real = globalThis.fetch;
    globalThis.fetch = (async () => new Response(huge)) as typeof fetch;
    try {
      expect((await fetchChunkHttp('ab'.repeat(32), 1000)).length).toBe(1001);
      globalThis.fetch = (async () => new Response('gone', { status: 404 })) as typeof fetch;
      await expect(fetchChunkHttp('ab'.repeat(32), 1000)).rejects.toThrow(/404/);
    } finally {
      globalThis.fetch = real;
    }
  });
});
