// Formatting of the numbers, hashes and names the API returns. Pure.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `1536` -> `1.5 KiB`; takes the API's BigInt strings too. */
export function bytes(n: number | string | bigint): string {
  let v = Number(n);
  if (!Number.isFinite(v) || v < 0) return String(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${v} B`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[u]}`;
}

/** `1234567` -> `1,234,567`. */
export function count(n: number | string | bigint): string {
  const s = String(n);
  if (!/^\d+$/.test(s)) return s;
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** The first `n` hex digits and an ellipsis. */
export function short(hash: string, n = 12): string {
  return hash.length > n + 1 ? `${hash.slice(0, n)}…` : hash;
}

/** A share from 0 to 1 as a percentage: `0.5` -> `50%`, `0.9999` -> `99.9%`. */
export function percent(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const p = x * 100;
  if (p === 0 || p === 100) return `${p}%`;
  if (p > 99.9) return '99.9%';
  if (p < 0.1) return '<0.1%';
  return `${p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** A tensor shape: `[1000, 1024]` -> `1000 × 1024`; a scalar is `scalar`. */
export function shape(dims: readonly (number | string)[]): string {
  return dims.length === 0 ? 'scalar' : dims.join(' × ');
}

/** `FINETUNE` -> `finetune`. */
export function relation(r: string): string {
  return r.toLowerCase();
}

/** A byte range `[start, end)` as text. */
export function range(start: number | string, end: number | string): string {
  return `${count(start)} – ${count(end)}`;
}

/** A publication id `HEIGHT.INDEX` as text (height 0: registered by locator). */
export function publicationPlace(id: string): string {
  const [height, index] = id.split('.');
  if (height === '0') return `registered #${index ?? '?'}`;
  return `height ${count(height ?? '?')} #${index ?? '?'}`;
}

/** Whether `s` is 64 hex digits (a model id, key hint, tensor hash or commitment). */
export function isHash(s: string): boolean {
  return /^[0-9a-fA-F]{64}$/.test(s);
}

/** Hex of bytes. */
export function hex(b: Uint8Array): string {
  let out = '';
  for (const x of b) out += x.toString(16).padStart(2, '0');
  return out;
}

/** Posted bytes per model byte: `1.27` -> `1.27× the model bytes`. */
export function overhead(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio <= 0) return '–';
  return `${ratio.toFixed(2)}× the model bytes`;
}
