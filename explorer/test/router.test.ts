import { describe, expect, it } from 'vitest';
import { href, isServerPath, parse, type Route } from '../src/router';

const ID = 'ab'.repeat(32);

describe('router', () => {
  it('parses every page from its URL', () => {
    expect(parse('/', '')).toEqual({ page: 'home' });
    expect(parse('/search', '?q=llama')).toEqual({ page: 'search', q: 'llama' });
    expect(parse(`/model/${ID}`, '')).toEqual({ page: 'model', id: ID });
    expect(parse(`/model/${ID.toUpperCase()}`, '?file=a%2Fb.safetensors&tensor=w.0')).toEqual({
      page: 'model',
      id: ID,
      file: 'a/b.safetensors',
      tensor: 'w.0',
    });
    expect(parse(`/model/${ID}/lineage`, '')).toEqual({ page: 'lineage', id: ID });
    expect(parse(`/publisher/${ID}`, '?after=xyz')).toEqual({ page: 'publisher', key: ID, after: 'xyz' });
    expect(parse('/rejections', '?code=signature_invalid')).toEqual({ page: 'rejections', code: 'signature_invalid' });
    expect(parse(`/advisory/x_MDA-${'0f'.repeat(16)}`, '')).toEqual({ page: 'advisory', id: `x_MDA-${'0f'.repeat(16)}` });
    expect(parse('/advisory/MDA-xyz', '').page).toBe('notfound');
  });
  it('sends anything else to the not-found page', () => {
    expect(parse('/model/abc', '').page).toBe('notfound');
    expect(parse(`/model/${ID}/other`, '').page).toBe('notfound');
    expect(parse('/nope', '').page).toBe('notfound');
  });
  it('round-trips URLs', () => {
    const routes: Route[] = [
      { page: 'home' },
      { page: 'search', q: 'a b&c' },
      { page: 'model', id: ID, file: 'dir/x y.gguf', tensor: 'blk.0.attn_q.weight' },
      { page: 'lineage', id: ID },
      { page: 'publisher', key: ID },
      { page: 'rejections', code: 'envelope_malformed', after: 'c1' },
      { page: 'advisory', id: `x_MDA-${'ab'.repeat(16)}` },
    ];
    for (const r of routes) {
      const u = new URL(href(r), 'http://x');
      expect(parse(u.pathname, u.search)).toEqual(r);
    }
  });
  it('leaves the server its own paths', () => {
    expect(isServerPath('/graphql')).toBe(true);
    expect(isServerPath(`/chunks/${ID}`)).toBe(true);
    expect(isServerPath('/metrics')).toBe(true);
    expect(isServerPath('/advisories/osv.json')).toBe(true);
    expect(isServerPath('/model/x')).toBe(false);
  });
});
