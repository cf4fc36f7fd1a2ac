// What the indexer refused, with stable reason codes.

import { gql } from '../api';
import { h, mount } from '../dom';
import { count, publicationPlace } from '../format';
import { errorBox, loading, table, type PageResult } from './common';

interface Rejection {
  id: string;
  locator: string;
  code: string;
  message: string;
}

export async function rejectionsPage(main: HTMLElement, code?: string, after?: string): Promise<PageResult> {
  mount(main, loading('the rejections'));
  let d: { rejections: { nodes: Rejection[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }; _meta: { rejections: string } };
  try {
    d = await gql(
      `query($code: String, $after: String) {
         _meta { rejections }
         rejections(first: 50, after: $after, code: $code) { nodes { id locator code message } pageInfo { hasNextPage endCursor } }
       }`,
      { code: code ?? null, after: after ?? null },
    );
  } catch (e) {
    mount(main, errorBox(e, 'the rejections'));
    return;
  }
  document.title = 'Rejections · modelda';
  const input = h('input', { type: 'text', name: 'code', id: 'code', value: code ?? '', placeholder: 'e.g. signature_invalid', spellcheck: 'false' });
  const next = d.rejections.pageInfo.hasNextPage && d.rejections.pageInfo.endCursor;
  const q = (extra: Record<string, string>): string => `/rejections?${new URLSearchParams({ ...(code ? { code } : {}), ...extra })}`;
  mount(
    main,
    h('h1', null, 'Rejections'),
    h('p', { class: 'lead' }, `Records the indexer refused: ${count(d._meta.rejections)} in all. Anyone can post to a namespace; these never reach the index.`),
    h('form', { class: 'search', action: '/rejections', method: 'get' }, h('label', { for: 'code' }, 'Reason code '), input, h('button', { type: 'submit' }, 'Filter')),
    d.rejections.nodes.length === 0
      ? h('p', { class: 'empty', role: 'status' }, code ? `No rejection has code ${code}.` : 'Nothing refused.')
      : table(
          'Rejections',
          ['Read at', 'Code', 'Reason', 'Locator'],
          d.rejections.nodes.map((r) => [
            publicationPlace(r.id),
            h('a', { href: q({ code: r.code }), class: 'code' }, r.code),
            r.message,
            h('code', { class: 'locator' }, r.locator),
          ]),
        ),
    next ? h('p', null, h('a', { href: q({ after: next }) }, 'Next page')) : null,
  );
}
