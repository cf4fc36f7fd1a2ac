// The signed claims bundle (Sigstore bundle v0.3, DSSE envelope of an
// in-toto Statement v1, predicate https://modelda.dev/claims/v1): parsed and
// its signature checked, with every size bounded before use.

import { fromBase64, keyHint, pae, verifyP256 } from './dsse';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const CLAIMS_PREDICATE = 'https://modelda.dev/claims/v1';
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Largest claims bundle read: 64 MiB of JSON. */
export const MAX_CLAIMS_CHARS = 64 << 20;

export interface TensorClaim {
  name: string;
  dtype: string;
  shape: number[];
  start: number;
  end: number;
  blake3: string;
}

export interface FileClaim {
  path: string;
  size: number;
  root: string;
  leaf_size: number;
  format: string;
  tensors: TensorClaim[];
}

export interface Claims {
  modelId: string;
  files: FileClaim[];
  /** Leaf chaining values (32 bytes each) of each multi-leaf file. */
  leaves: Map<string, Uint8Array>;
  publicKeyPem: string;
  /** Hex SHA-256 of the PEM. */
  signerHint: string;
}

/** Why the claims do not verify. */
export class ClaimsError extends Error {
  constructor(
    message: string,
    /** The check that failed. */
    readonly step: 'format' | 'signature' | 'subject' = 'format',
  ) {
    super(message);
    this.name = 'ClaimsError';
  }
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ClaimsError(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ClaimsError(`${what} is not a string`);
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ClaimsError(`${what} is not a size`);
  return v;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new ClaimsError(`${what} is not a list`);
  return v;
}

const HEX64 = /^[0-9a-f]{64}$/;

function hash(v: unknown, what: string): string {
  const s = str(v, what);
  if (!HEX64.test(s)) throw new ClaimsError(`${what} is not 64 hex digits`);
  return s;
}

function files(manifest: Record<string, unknown>): FileClaim[] {
  return arr(manifest.files, 'manifest.files').map((f, i) => {
    const o = obj(f, `file ${i}`);
    const path = str(o.path, `file ${i} path`);
    return {
      path,
      size: num(o.size, `${path} size`),
      root: hash(o.root, `${path} root`),
      leaf_size: num(o.leaf_size, `${path} leaf size`),
      format: str(o.format, `${path} format`),
      tensors: arr(o.tensors ?? [], `${path} tensors`).map((t, j) => {
        const x = obj(t, `${path} tensor ${j}`);
        const name = str(x.name, `${path} tensor ${j} name`);
        return {
          name,
          dtype: str(x.dtype, `${name} dtype`),
          shape: arr(x.shape, `${name} shape`).map((d) => num(d, `${name} dimension`)),
          start: num(x.start, `${name} start`),
          end: num(x.end, `${name} end`),
          blake3: hash(x.blake3, `${name} hash`),
        };
      }),
    };
  });
}

/**
 * Parses a claims bundle and checks its signature with the key the
 * statement carries, and that its subject is `modelId`. Throws a
 * `ClaimsError` saying what failed.
 */
export async function openClaims(bundleText: string, modelId: string): Promise<Claims> {
  if (bundleText.length > MAX_CLAIMS_CHARS) throw new ClaimsError('the claims bundle is larger than 64 MiB');
  let bundle: Record<string, unknown>;
  try {
    bundle = obj(JSON.parse(bundleText), 'the bundle');
  } catch (e) {
    throw e instanceof ClaimsError ? e : new ClaimsError('the claims bundle is not JSON');
  }
  const env = obj(bundle.dsseEnvelope, 'dsseEnvelope');
  const payloadType = str(env.payloadType, 'payloadType');
  if (payloadType !== PAYLOAD_TYPE) throw new ClaimsError(`payload type ${payloadType} is not in-toto`);
  let payload: Uint8Array;
  try {
    payload = fromBase64(str(env.payload, 'payload'));
  } catch (e) {
    throw new ClaimsError(`payload: ${e instanceof Error ? e.message : String(e)}`);
  }
  let statement: Record<string, unknown>;
  try {
    statement = obj(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)), 'the statement');
  } catch (e) {
    throw e instanceof ClaimsError ? e : new ClaimsError('the signed statement is not UTF-8 JSON');
  }
  const predicate = obj(statement.predicate, 'predicate');
  const publicKeyPem = str(predicate.public_key, 'public_key');
  const sigs = arr(env.signatures, 'signatures');
  if (sigs.length === 0) throw new ClaimsError('the envelope has no signature', 'signature');
  if (sigs.length > 16) throw new ClaimsError('the envelope has more than 16 signatures');
  const message = pae(payloadType, payload);
  let signed = false;
  for (const [i, s] of sigs.entries()) {
    let der: Uint8Array;
    try {
      der = fromBase64(str(obj(s, `signature ${i}`).sig, `signature ${i}`));
    } catch {
      continue;
    }
    try {
      if (await verifyP256(publicKeyPem, der, message)) {
        signed = true;
        break;
      }
    } catch (e) {
      throw new ClaimsError(`the signer's key is not a P-256 public key (${e instanceof Error ? e.message : String(e)})`, 'signature');
    }
  }
  if (!signed) throw new ClaimsError('the signature does not verify with the key in the claims', 'signature');
  if (statement._type !== STATEMENT_TYPE) throw new ClaimsError('the payload is not an in-toto Statement v1');
  if (statement.predicateType !== CLAIMS_PREDICATE) {
    throw new ClaimsError(`predicate type ${String(statement.predicateType)} is not modelda claims`);
  }
  const subjects = arr(statement.subject, 'subject');
  const subject = obj(obj(subjects[0], 'subject').digest, 'subject digest').blake3;
  if (subjects.length !== 1 || subject !== modelId) {
    throw new ClaimsError(`the signed subject is ${String(subject)}, not the model ${modelId}`, 'subject');
  }
  if (predicate.model_id !== modelId) throw new ClaimsError('the predicate names another model', 'subject');
  const manifest = obj(predicate.manifest, 'manifest');
  const leaves = new Map<string, Uint8Array>();
  for (const [path, b64] of Object.entries(obj(predicate.leaves ?? {}, 'leaves'))) {
    let raw: Uint8Array;
    try {
      raw = fromBase64(str(b64, `leaves of ${path}`));
    } catch {
      throw new ClaimsError(`the leaves of ${path} are not base64`);
    }
    if (raw.length % 32 !== 0) throw new ClaimsError(`the leaves of ${path} are not 32-byte values`);
    leaves.set(path, raw);
  }
  return { modelId, files: files(manifest), leaves, publicKeyPem, signerHint: await keyHint(publicKeyPem) };
}
