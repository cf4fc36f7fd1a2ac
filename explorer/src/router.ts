// URL <-> page. Every page has a URL, so a person or a test can open it
// directly. Pure: no DOM.

export type Route =
  | { page: 'home' }
  | { page: 'search'; q: string }
  | { page: 'model'; id: string; file?: string; tensor?: string }
  | { page: 'lineage'; id: string }
  | { page: 'publisher'; key: string; after?: string }
  | { page: 'rejections'; code?: string; after?: string }
  | { page: 'advisory'; id: string }
  | { page: 'notfound'; path: string };

const HASH = /^[0-9a-f]{64}$/;
const ADVISORY_ID = /^(x_)?MDA-[0-9a-f]{32}$/;

/** The route of a path and query string. */
export function parse(pathname: string, search: string): Route {
  const q = new URLSearchParams(search);
  const parts = pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  const [first, second, third] = parts;
  if (parts.length === 0) return { page: 'home' };
  if (first === 'search' && parts.length === 1) return { page: 'search', q: q.get('q') ?? '' };
  if (first === 'model' && second !== undefined && HASH.test(second.toLowerCase())) {
    const id = second.toLowerCase();
    if (parts.length === 2) {
      const r: Route = { page: 'model', id };
      const file = q.get('file');
      const tensor = q.get('tensor');
      if (file) r.file = file;
      if (tensor) r.tensor = tensor;
      return r;
    }
    if (parts.length === 3 && third === 'lineage') return { page: 'lineage', id };
  }
  if (first === 'publisher' && second !== undefined && parts.length === 2 && HASH.test(second.toLowerCase())) {
    const r: Route = { page: 'publisher', key: second.toLowerCase() };
    const after = q.get('after');
    if (after) r.after = after;
    return r;
  }
  if (first === 'advisory' && second !== undefined && parts.length === 2 && ADVISORY_ID.test(second)) {
    return { page: 'advisory', id: second };
  }
  if (first === 'rejections' && parts.length === 1) {
    const r: Route = { page: 'rejections' };
    const code = q.get('code');
    const after = q.get('after');
    if (code) r.code = code;
    if (after) r.after = after;
    return r;
  }
  return { page: 'notfound', path: pathname };
}

/** The URL of a route. */
export function href(r: Route): string {
  const withQuery = (path: string, params: Record<string, string | undefined>): string => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    const s = q.toString();
    return s ? `${path}?${s}` : path;
  };
  switch (r.page) {
    case 'home':
      return '/';
    case 'search':
      return withQuery('/search', { q: r.q });
    case 'model':
      return withQuery(`/model/${r.id}`, { file: r.file, tensor: r.tensor });
    case 'lineage':
      return `/model/${r.id}/lineage`;
    case 'publisher':
      return withQuery(`/publisher/${r.key}`, { after: r.after });
    case 'rejections':
      return withQuery('/rejections', { code: r.code, after: r.after });
    case 'advisory':
      return `/advisory/${encodeURIComponent(r.id)}`;
    case 'notfound':
      return r.path;
  }
}

/** Paths the server answers itself: links to them leave the explorer. */
export function isServerPath(pathname: string): boolean {
  return (
    pathname === '/graphql' ||
    pathname.startsWith('/chunks/') ||
    pathname === '/health' ||
    pathname.startsWith('/advisories/') ||
    pathname === '/metrics'
  );
}
