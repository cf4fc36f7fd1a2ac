// Verification in the browser of a file or a tensor: the claims' signature,
// their subject, and the BLAKE3 of the bytes, with no trust in the server.

import { ClaimsError, openClaims, type Claims } from './claims';
import { hashRange, type FetchChunk } from './bytes';
import { bytes as fmtBytes, short } from '../format';

export interface Target {
  modelId: string;
  file: string;
  /** A tensor of `file`; the whole file when absent. */
  tensor?: string;
}

export interface Step {
  label: string;
  ok: boolean;
  detail: string;
}

export interface Outcome {
  ok: boolean;
  steps: Step[];
  /** The signer's key hint and PEM, once the claims are read. */
  signerHint?: string;
  publicKeyPem?: string;
}

/**
 * Verifies `target` against the signed claims bundle `claimsText`, reading
 * bytes with `fetchChunk`. Never throws: every failure is a failed step.
 */
export async function verifyTarget(
  claimsText: string,
  target: Target,
  fetchChunk: FetchChunk,
  onProgress?: (done: number, total: number) => void,
): Promise<Outcome> {
  const steps: Step[] = [];
  const fail = (label: string, detail: string, extra: Partial<Outcome> = {}): Outcome => {
    steps.push({ label, ok: false, detail });
    return { ok: false, steps, ...extra };
  };
  let claims: Claims;
  try {
    claims = await openClaims(claimsText, target.modelId);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof ClaimsError && e.step === 'subject') {
      steps.push({ label: 'Signature', ok: true, detail: 'ECDSA P-256 over the DSSE PAE' });
      return fail('Subject', msg);
    }
    return fail('Signature', msg);
  }
  const who = { signerHint: claims.signerHint, publicKeyPem: claims.publicKeyPem };
  steps.push({
    label: 'Signature',
    ok: true,
    detail: `ECDSA P-256 over the DSSE PAE, by key ${short(claims.signerHint, 16)}`,
  });
  steps.push({ label: 'Subject', ok: true, detail: `the signed subject is model ${short(target.modelId, 16)}` });
  const file = claims.files.find((f) => f.path === target.file);
  if (!file) return fail('Bytes', `the claims have no file ${target.file}`, who);
  let start = 0;
  let end = file.size;
  let expected = file.root;
  let what = `file ${file.path}`;
  if (target.tensor !== undefined) {
    const t = file.tensors.find((x) => x.name === target.tensor);
    if (!t) return fail('Bytes', `the claims have no tensor ${target.tensor} in ${file.path}`, who);
    start = t.start;
    end = t.end;
    expected = t.blake3;
    what = `tensor ${t.name}`;
  }
  try {
    const r = await hashRange(claims, file, start, end, expected, fetchChunk, onProgress);
    if (!r.ok) {
      return fail('Bytes', `BLAKE3 of the ${what} read is ${short(r.computed, 16)}; the signed hash is ${short(expected, 16)}`, who);
    }
    steps.push({ label: 'Bytes', ok: true, detail: `BLAKE3 of ${fmtBytes(r.bytes)} of the ${what} equals the signed hash ${short(expected, 16)}` });
  } catch (e) {
    return fail('Bytes', e instanceof Error ? e.message : String(e), who);
  }
  return { ok: true, steps, ...who };
}
