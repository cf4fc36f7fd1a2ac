// Advisories: the banner of a model whose status a believed advisory
// decides (or that an ancestor's reaches through lineage), the list of a
// model's advisories with third-party reports marked, and a page per
// advisory.

import { gql } from '../api';
import { copyable, facts, h, mount, type Child } from '../dom';
import { short } from '../format';
import { errorBox, loading, modelLink, notFound, publisherLink, section, table, type PageResult } from './common';

export interface AdvisoryBrief {
  id: string;
  status: string;
  standing: string;
  stands: boolean;
  summary: string | null;
  signerKey: string;
  withdrawn: string | null;
  replacedBy: string | null;
  supersededBy: string | null;
}

export interface ModelAdvisories {
  status: { status: string; denies: boolean; standing: string; advisory: AdvisoryBrief } | null;
  advisories: AdvisoryBrief[];
  affectedThrough: { path: string[]; standing: string; advisory: AdvisoryBrief }[];
}

const BRIEF = 'id status standing stands summary signerKey withdrawn replacedBy supersededBy';

/** The fields of a model query that this module renders. */
export const MODEL_FIELDS = `status { status denies standing advisory { ${BRIEF} } }
    advisories { ${BRIEF} }
    affectedThrough { path standing advisory { ${BRIEF} } }`;

/** `POISONED_DATA` -> `poisoned data`. */
export function statusText(s: string): string {
  return s.toLowerCase().replace(/_/g, ' ');
}

function whose(standing: string): string {
  switch (standing) {
    case 'PUBLISHER':
      return 'its publisher';
    case 'TRUSTED':
      return 'a key this node trusts';
    default:
      return 'a third party (not believed)';
  }
}

export function advisoryLink(id: string, text?: string): HTMLElement {
  return h('a', { href: `/advisory/${encodeURIComponent(id)}`, class: 'hash', title: id }, text ?? id);
}

/** The banners of a model page: its own status, and what reaches it through lineage. */
export function banners(modelId: string, a: ModelAdvisories): HTMLElement | null {
  const out: HTMLElement[] = [];
  if (a.status) {
    const s = a.status;
    out.push(
      h(
        'div',
        { class: `advisory-banner ${s.denies ? 'deny' : 'warn'}`, id: 'advisory-banner', role: 'alert', 'data-status': s.status },
        h('strong', null, `${statusText(s.status).toUpperCase()}`),
        ` — says ${whose(s.standing)}`,
        s.advisory.summary ? `: ${s.advisory.summary}` : '',
        '. ',
        s.advisory.supersededBy ? h('span', null, 'Use ', modelLink(s.advisory.supersededBy), ' instead. ') : null,
        advisoryLink(s.advisory.id, 'Read the advisory'),
      ),
    );
  }
  for (const t of a.affectedThrough) {
    const ancestor = t.path[t.path.length - 1] ?? '';
    out.push(
      h(
        'div',
        { class: 'advisory-banner deny lineage', id: out.length === 0 ? 'advisory-banner' : undefined, role: 'alert', 'data-status': t.advisory.status },
        h('strong', null, 'AFFECTED THROUGH LINEAGE'),
        ' — ancestor ',
        modelLink(ancestor),
        ` is ${statusText(t.advisory.status)} (says ${whose(t.standing)}), and this model shares its tensors or leaves: `,
        h('span', { class: 'path' }, t.path.map((m, i) => [i > 0 ? ' → ' : '', modelLink(m, m === modelId ? 'this model' : null)])),
        '. ',
        advisoryLink(t.advisory.id, 'Read the advisory'),
      ),
    );
  }
  return out.length > 0 ? h('div', { class: 'banners' }, out) : null;
}

/** The advisories section of a model page. */
export function advisoriesSection(a: ModelAdvisories): HTMLElement | null {
  if (a.advisories.length === 0) return null;
  return section(
    `Advisories (${a.advisories.length})`,
    'adv-h',
    table(
      'Advisories',
      ['Advisory', 'Status', 'From', 'Standing', 'Summary'],
      a.advisories.map((x) => [
        advisoryLink(x.id, short(x.id, 16)),
        statusText(x.status),
        publisherLink(x.signerKey),
        x.standing === 'THIRD_PARTY'
          ? h('span', { class: 'badge third-party', title: 'Signed by a key that did not publish this model: shown, never deciding its status' }, 'third-party report')
          : h('span', { class: 'badge believed' }, x.standing === 'PUBLISHER' ? 'publisher' : 'trusted key'),
        [x.summary ?? '', x.withdrawn ? h('span', { class: 'muted' }, ` (withdrawn ${x.withdrawn})`) : !x.stands ? h('span', { class: 'muted' }, ' (replaced by a later advisory of the same key)') : null],
      ]),
    ),
    h('p', { class: 'muted' }, 'Only advisories signed by the key that published the model, or by a key this node trusts, decide its status. Anyone can post a report; reports are listed here and decide nothing.'),
  );
}

interface AdvisoryData extends AdvisoryBrief {
  modelId: string;
  model: { name: string } | null;
  denies: boolean;
  details: string | null;
  severity: string | null;
  references: string[];
  published: string | null;
  pending: boolean;
  readAt: string;
  locator: string;
  publicKey: string;
  osv: unknown;
  statement: string;
}

const ADVISORY_QUERY = `query($id: ID!) {
  advisory(id: $id) {
    ${BRIEF} modelId model { name } denies details severity references published pending readAt locator publicKey osv statement
  }
}`;

/** The page of one advisory. */
export async function advisoryPage(main: HTMLElement, id: string): Promise<PageResult> {
  mount(main, loading('the advisory'));
  let a: AdvisoryData | null;
  try {
    a = (await gql<{ advisory: AdvisoryData | null }>(ADVISORY_QUERY, { id })).advisory;
  } catch (e) {
    mount(main, errorBox(e, 'the advisory'));
    return;
  }
  if (!a) {
    mount(main, notFound(`Advisory ${id}`));
    return;
  }
  document.title = `${a.id} · modelda`;
  const third = a.standing === 'THIRD_PARTY';
  const state: Child = a.withdrawn
    ? `withdrawn ${a.withdrawn}`
    : !a.stands
      ? 'replaced by a later advisory of the same key'
      : a.pending
        ? 'stands; its model is not indexed yet'
        : 'stands';
  mount(
    main,
    h(
      'header',
      { class: 'page-head' },
      h('p', { class: 'kind' }, 'Advisory'),
      h('h1', null, `${statusText(a.status)}: ${a.summary ?? a.id}`),
      h('p', null, copyable(a.id, 'Copy id')),
      third
        ? h('p', { class: 'badge third-party', id: 'standing' }, 'Third-party report: signed by a key that did not publish this model. It decides nothing.')
        : h('p', { class: `badge ${a.denies ? 'unproven' : 'pending'}`, id: 'standing' }, `Believed: signed by ${whose(a.standing)}.`),
    ),
    section(
      'What it says',
      'what-h',
      facts([
        ['Model', a.model ? modelLink(a.modelId, a.model.name) : h('code', null, a.modelId)],
        ['Status', statusText(a.status)],
        ['State', state],
        ['Successor', a.supersededBy ? modelLink(a.supersededBy) : null],
        ['Severity', a.severity ? h('code', null, a.severity) : null],
        ['Published', a.published],
        ['Signer', publisherLink(a.signerKey)],
        ['Read at', a.readAt],
        ['Blob', h('code', null, a.locator)],
      ]),
      a.details ? h('pre', { class: 'details' }, a.details) : null,
      a.references.length > 0 ? h('ul', null, a.references.map((r) => h('li', null, h('a', { href: r, rel: 'noopener noreferrer' }, r)))) : null,
    ),
    section(
      'OSV document',
      'osv-h',
      h('pre', null, JSON.stringify(a.osv, null, 2)),
      h('p', { class: 'muted' }, 'Believed advisories of every model, as OSV 1.7: ', h('a', { href: '/advisories/osv.json' }, '/advisories/osv.json'), '.'),
    ),
    section(
      'Signed statement',
      'st-h',
      h('p', { class: 'muted' }, 'A DSSE in-toto statement signed by the key below: check it without trusting this server.'),
      h('details', null, h('summary', null, 'Statement (Sigstore bundle)'), h('pre', null, a.statement)),
      h('details', null, h('summary', null, 'Public key (PEM)'), h('pre', null, a.publicKey)),
    ),
  );
}
