// DSSE signatures checked with WebCrypto: the pre-authentication encoding,
// DER to IEEE P1363 signatures, PEM keys. No DOM, no server.

const enc = new TextEncoder();

/** DSSE v1 pre-authentication encoding of a payload. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = enc.encode(payloadType);
  const head = enc.encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/** Standard (padded) base64 to bytes; throws on anything else. */
export function fromBase64(b64: string): Uint8Array {
  const clean = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    throw new Error('not standard base64');
  }
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The DER body of a PEM block of `label`. */
export function pemBody(pem: string, label: string): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!m || m[1] === undefined) throw new Error(`not a PEM ${label}`);
  return fromBase64(m[1]);
}

/**
 * An ECDSA DER signature (SEQUENCE of two INTEGERs) as the fixed-width
 * r || s that WebCrypto takes. Throws on malformed DER.
 */
export function derToP1363(der: Uint8Array, width = 32): Uint8Array {
  let i = 0;
  const byte = (): number => {
    const b = der[i++];
    if (b === undefined) throw new Error('DER signature cut short');
    return b;
  };
  const len = (): number => {
    const b = byte();
    if (b < 0x80) return b;
    if (b === 0x81) {
      const n = byte();
      if (n < 0x80) throw new Error('DER length not minimal');
      return n;
    }
    throw new Error('DER length too long for a signature');
  };
  if (byte() !== 0x30) throw new Error('DER signature is not a SEQUENCE');
  const total = len();
  if (total !== der.length - i) throw new Error('DER SEQUENCE length does not match');
  const out = new Uint8Array(width * 2);
  for (let k = 0; k < 2; k++) {
    if (byte() !== 0x02) throw new Error('DER signature part is not an INTEGER');
    const n = len();
    if (n === 0 || i + n > der.length) throw new Error('DER INTEGER length out of bounds');
    let v = der.subarray(i, i + n);
    i += n;
    if (v[0]! & 0x80) throw new Error('DER INTEGER is negative');
    if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) throw new Error('DER INTEGER not minimal');
    while (v.length > 0 && v[0] === 0) v = v.subarray(1);
    if (v.length > width) throw new Error('DER INTEGER wider than the curve');
    out.set(v, k * width + (width - v.length));
  }
  if (i !== der.length) throw new Error('bytes after the DER signature');
  return out;
}

/** Checks an ECDSA P-256 / SHA-256 DER signature over `message` with an SPKI PEM key. */
export async function verifyP256(publicKeyPem: string, derSig: Uint8Array, message: Uint8Array): Promise<boolean> {
  const spki = pemBody(publicKeyPem, 'PUBLIC KEY');
  const key = await crypto.subtle.importKey(
    'spki',
    spki as BufferSource,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['verify'],
  );
  let raw: Uint8Array;
  try {
    raw = derToP1363(derSig);
  } catch {
    return false;
  }
  return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, raw as BufferSource, message as BufferSource);
}

/** The key hint: hex SHA-256 of the PEM text, as model signing computes it. */
export async function keyHint(publicKeyPem: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(publicKeyPem)));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}
