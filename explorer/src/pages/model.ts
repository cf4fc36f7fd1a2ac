// The model page: card, training manifest, files, tensors, publications,
// lineage in short, the commands to fetch and verify, and verification in
// this browser of a file or a tensor.

import { gql } from '../api';
import { copyable, facts, h, mount, type Child } from '../dom';
import { bytes, count, overhead, publicationPlace, range, relation, shape, short } from '../format';
import { openClaims, type Claims } from '../verify/claims';
import { fetchChunkHttp } from '../verify/bytes';
import { verifyTarget } from '../verify/index';
import { errorBox, loading, modelLink, notFound, publisherLink, section, table, type PageResult } from './common';
import { rowsOf, tensorTable } from './tensors';
import { advisoriesSection, banners, MODEL_FIELDS, type ModelAdvisories } from './advisories';

interface FileInfo {
  index: number;
  path: string;
  size: string;
  root: string;
  leafSize: string;
  leaves: string;
  format: string;
  tensorCount: number;
}

interface Publication {
  id: string;
  record: string;
  layer: string;
  namespace: string | null;
  signerKey: string;
  dataShards: number;
  parityShards: number;
  blobCount: number;
  blobs: string[];
  leaves: string;
  reusedFrom: string[];
  reposts: string;
  cost: {
    ownBlobs: number;
    recordBlobs: number;
    shardBytes: string;
    recordBytes: string;
    postedBytes: string;
    payloadBytes: string;
    overhead: number | null;
    feeUtia: string | null;
    billedBytes: string | null;
    feeNanoAvail: string | null;
  };
}

interface Edge {
  childId: string;
  parentId: string;
  relation: string;
  status: string;
  proven: boolean;
  child: { name: string } | null;
  parent: { name: string } | null;
}

interface ModelData extends ModelAdvisories {
  id: string;
  name: string;
  card: { license: string | null; baseModel: string[]; baseModelRelation: string | null; datasets: string[] };
  training: Record<string, unknown> | null;
  files: FileInfo[];
  publications: Publication[];
  firstPublication: { id: string; claims: string } | null;
  parents: Edge[];
  children: { nodes: Edge[]; pageInfo: { hasNextPage: boolean } };
}

const QUERY = `query($id: ID!) {
  model(id: $id) {
    id name
    card { license baseModel baseModelRelation datasets }
    training
    files { index path size root leafSize leaves format tensorCount }
    publications {
      id record layer namespace signerKey dataShards parityShards blobCount blobs(first: 4)
      leaves reusedFrom reposts
      cost { ownBlobs recordBlobs shardBytes recordBytes postedBytes payloadBytes overhead feeUtia billedBytes feeNanoAvail }
    }
    firstPublication { id claims }
    parents { childId parentId relation status proven parent { name } child { name } }
    children(first: 50) { nodes { childId parentId relation status proven child { name } parent { name } } pageInfo { hasNextPage } }
    ${MODEL_FIELDS}
  }
}`;

function trainingView(t: Record<string, unknown>): HTMLElement {
  const datasets = Array.isArray(t.datasets) ? (t.datasets as Record<string, unknown>[]) : [];
  const hyper = t.hyperparameters && typeof t.hyperparameters === 'object' ? Object.entries(t.hyperparameters as Record<string, unknown>) : [];
  return h(
    'div',
    null,
    facts([
      ['Code revision', typeof t.code_revision === 'string' ? h('code', null, t.code_revision) : null],
      ['Notes', typeof t.notes === 'string' ? t.notes : null],
    ]),
    datasets.length > 0
      ? table(
          'Training datasets',
          ['Dataset', 'Size', 'Root'],
          datasets.map((d) => [String(d.name ?? ''), d.size === undefined || d.size === null ? '–' : bytes(String(d.size)), h('code', { title: String(d.root ?? '') }, short(String(d.root ?? ''), 16))]),
        )
      : null,
    hyper.length > 0
      ? table(
          'Hyperparameters',
          ['Hyperparameter', 'Value'],
          hyper.map(([k, v]) => [h('code', null, k), JSON.stringify(v)]),
        )
      : null,
  );
}

function publicationView(p: Publication, modelId: string): HTMLElement {
  const attestation = p.cost.ownBlobs === 0;
  const fee =
    p.cost.feeUtia !== null
      ? `${count(p.cost.feeUtia)} utia (estimated)`
      : p.cost.billedBytes !== null
        ? `${bytes(p.cost.billedBytes)} billed`
        : p.cost.feeNanoAvail !== null
          ? `${(Number(p.cost.feeNanoAvail) / 1e9).toFixed(4)} AVAIL (estimated, before the chain's multipliers)`
          : '–';
  return h(
    'article',
    { class: 'publication' },
    h('h3', null, attestation ? 'Attestation' : 'Publication', ' ', h('span', { class: 'muted' }, publicationPlace(p.id))),
    facts([
      ['Signer', publisherLink(p.signerKey)],
      ['Layer', p.namespace ? `${p.layer} · namespace ${short(p.namespace, 20)}` : p.layer],
      ['Record', copyable(p.record, 'Copy locator')],
      [
        'Blobs',
        h(
          'span',
          null,
          `${count(p.blobCount)} (${count(p.cost.ownBlobs)} posted by it${p.reusedFrom.length > 0 ? ', the rest reused' : ''})`,
          p.blobs.length > 0 ? h('ul', { class: 'locators' }, p.blobs.map((b) => h('li', null, h('code', null, b)))) : null,
          p.blobCount > p.blobs.length ? h('span', { class: 'muted' }, `and ${count(p.blobCount - p.blobs.length)} more`) : null,
        ),
      ],
      ['Erasure coding', `${p.dataShards} data + ${p.parityShards} parity shards per stripe`],
      ['Posted', `${bytes(p.cost.postedBytes)}: shards ${bytes(p.cost.shardBytes)} carrying ${bytes(p.cost.payloadBytes)} of the model, and a record of ${bytes(p.cost.recordBytes)} in ${count(p.cost.recordBlobs)} blob${p.cost.recordBlobs === 1 ? '' : 's'}`],
      ['Overhead', p.cost.overhead === null ? 'none: it posted only its record' : overhead(p.cost.overhead)],
      ['Fee', fee],
      ['Reused from', p.reusedFrom.length > 0 ? h('span', null, p.reusedFrom.map((id) => [modelLink(id, id === modelId ? 'this model' : undefined), ' '])) : null],
      ['Reposts', p.reposts === '0' ? null : count(p.reposts)],
    ]),
  );
}

function edgeList(edges: Edge[], side: 'parent' | 'child'): HTMLElement {
  return h(
    'ul',
    { class: 'edges' },
    edges.map((e) => {
      const id = side === 'parent' ? e.parentId : e.childId;
      const name = side === 'parent' ? e.parent?.name : e.child?.name;
      const state = e.status === 'PENDING' ? 'pending' : e.proven ? 'proven' : 'unproven';
      return h('li', null, modelLink(id, name), ' ', h('span', { class: `badge ${state}` }, `${relation(e.relation)} · ${state}`));
    }),
  );
}

function commands(origin: string, id: string, sel: { file?: string; tensor?: string }): HTMLElement {
  const fetchAll = `modelda fetch ${id} --index ${origin}`;
  const lines: [string, string][] = [['Fetch the whole model, every leaf verified', fetchAll]];
  if (sel.file) lines.push(['Fetch this file', `${fetchAll} --file '${sel.file}'`]);
  if (sel.file && sel.tensor) {
    lines.push(['Fetch this tensor as a safetensors file', `${fetchAll} --file '${sel.file}' --tensor '${sel.tensor}' --as-safetensors`]);
    const q = JSON.stringify({
      query: 'query($m: ID!, $f: String!, $t: String) { inclusionProof(model: $m, file: $f, tensor: $t) { document } }',
      variables: { m: id, f: sel.file, t: sel.tensor },
    });
    lines.push([
      'Save its inclusion proof and check it against your own DA node',
      `curl -s ${origin}/graphql -H 'content-type: application/json' -d '${q.replace(/'/g, "'\\''")}' > proof.json && modelda verify-proof --inclusion proof.json --da local`,
    ]);
  }
  return h('div', { class: 'commands' }, lines.map(([label, cmd]) => h('div', { class: 'command' }, h('p', null, label), copyable(cmd))));
}

/** The selected file or tensor: its facts, commands and the in-browser verification. */
function selection(
  m: ModelData,
  claimsText: string | null,
  claims: Claims | null,
  sel: { file?: string; tensor?: string },
): HTMLElement | null {
  if (!sel.file && !sel.tensor) return null;
  const file = claims?.files.find((f) => f.path === sel.file) ?? claims?.files.find((f) => f.tensors.some((t) => t.name === sel.tensor));
  const info = m.files.find((f) => f.path === (file?.path ?? sel.file));
  if (!file && !info) return h('div', { class: 'error', role: 'alert' }, `This model has no file ${sel.file ?? ''}.`);
  const tensor = sel.tensor !== undefined ? file?.tensors.find((t) => t.name === sel.tensor) : undefined;
  if (sel.tensor !== undefined && !tensor) return h('div', { class: 'error', role: 'alert' }, `This model has no tensor ${sel.tensor}.`);
  const path = file?.path ?? info!.path;
  const verdict = h('output', { class: 'verdict', id: 'verdict', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', id: 'verify', class: 'primary' }, 'Verify in this browser');
  button.addEventListener('click', () => {
    if (!claimsText) {
      mount(verdict, h('p', { class: 'fail' }, 'The server gave no signed claims for this model.'));
      return;
    }
    button.disabled = true;
    verdict.className = 'verdict running';
    mount(verdict, 'Fetching and hashing…');
    void verifyTarget(claimsText, { modelId: m.id, file: path, ...(tensor ? { tensor: tensor.name } : {}) }, fetchChunkHttp, (done, total) => {
      verdict.textContent = `Fetching and hashing leaf ${done} of ${total}…`;
    }).then((o) => {
      button.disabled = false;
      verdict.className = `verdict ${o.ok ? 'pass' : 'fail'}`;
      verdict.dataset.result = o.ok ? 'pass' : 'fail';
      mount(
        verdict,
        h('p', { class: 'result' }, o.ok ? '✓ Verified: these bytes are what the signer committed to.' : '✗ Verification failed.'),
        h(
          'ol',
          { class: 'steps' },
          o.steps.map((s) => h('li', { class: s.ok ? 'ok' : 'bad' }, h('strong', null, `${s.ok ? '✓' : '✗'} ${s.label}: `), s.detail)),
        ),
        o.signerHint ? h('p', null, 'Signer key: ', publisherLink(o.signerHint)) : null,
        o.publicKeyPem ? h('details', null, h('summary', null, 'Public key (PEM)'), h('pre', null, o.publicKeyPem)) : null,
      );
    });
  });
  const rows: [string, Child][] = tensor
    ? [
        ['Tensor', h('code', null, tensor.name)],
        ['File', path],
        ['Dtype', tensor.dtype],
        ['Shape', shape(tensor.shape)],
        ['Bytes', `${range(tensor.start, tensor.end)} (${bytes(tensor.end - tensor.start)})`],
        ['BLAKE3', copyable(tensor.blake3)],
      ]
    : [
        ['File', path],
        ['Size', file ? `${bytes(file.size)} (${count(file.size)} bytes)` : bytes(info!.size)],
        ['Root', copyable(file?.root ?? info!.root)],
      ];
  return h(
    'section',
    { class: 'selected', id: 'selected', 'aria-labelledby': 'sel-h' },
    h('h2', { id: 'sel-h' }, tensor ? 'Tensor' : 'File'),
    facts(rows),
    h('div', { class: 'verify' }, button, verdict),
    h(
      'p',
      { class: 'muted' },
      'Checks here, with no trust in this server: the ECDSA P-256 signature of the claims, that their subject is this model, and that the BLAKE3 of the bytes read equals the signed hash.',
    ),
  );
}

export async function modelPage(main: HTMLElement, id: string, sel: { file?: string; tensor?: string }): Promise<PageResult> {
  const t0 = performance.now();
  mount(main, loading('the model'));
  let m: ModelData | null;
  try {
    m = (await gql<{ model: ModelData | null }>(QUERY, { id })).model;
  } catch (e) {
    mount(main, errorBox(e, 'the model'));
    return;
  }
  if (!m) {
    mount(main, notFound(`Model ${short(id, 16)}`));
    return;
  }
  document.title = `${m.name} · modelda`;
  const claimsText = m.firstPublication?.claims ?? null;
  let claims: Claims | null = null;
  let claimsProblem: string | null = null;
  if (claimsText) {
    try {
      claims = await openClaims(claimsText, m.id);
    } catch (e) {
      claimsProblem = e instanceof Error ? e.message : String(e);
    }
  }
  const origin = location.origin;
  const c = m.card;
  const tensorLink = (r: { file: string; name: string }): string => `/model/${m.id}?${new URLSearchParams({ file: r.file, tensor: r.name })}#selected`;
  const tensorCount = m.files.reduce((n, f) => n + f.tensorCount, 0);
  mount(
    main,
    h(
      'header',
      { class: 'page-head' },
      h('p', { class: 'kind' }, 'Model'),
      h('h1', null, m.name),
      h('p', null, copyable(m.id, 'Copy id')),
      claims
        ? h('p', { class: 'badge proven', id: 'claims-badge' }, `Signed claims verified in this browser · key ${short(claims.signerHint, 16)}`)
        : h('p', { class: 'badge unproven', id: 'claims-badge', role: 'alert' }, `The signed claims do not verify: ${claimsProblem ?? 'none were served'}`),
      banners(m.id, m),
      h('nav', { class: 'tabs', 'aria-label': 'Model' }, h('a', { href: `/model/${m.id}/lineage` }, 'Lineage graph'), h('a', { href: '#files' }, 'Files'), h('a', { href: '#tensors-h' }, 'Tensors'), h('a', { href: '#pubs' }, 'Publications')),
    ),
    selection(m, claimsText, claims, sel),
    advisoriesSection(m),
    section(
      'Card',
      'card-h',
      facts([
        ['License', c.license ?? '–'],
        ['Base model', c.baseModel.length > 0 ? c.baseModel.join(', ') : '–'],
        ['Relation', c.baseModelRelation ?? null],
        ['Datasets', c.datasets.length > 0 ? c.datasets.join(', ') : '–'],
      ]),
    ),
    m.training ? section('Training manifest', 'train-h', trainingView(m.training)) : null,
    section(
      'Lineage',
      'lin-h',
      m.parents.length > 0 ? h('div', null, h('h3', null, 'Parents'), edgeList(m.parents, 'parent')) : h('p', null, 'Claims no parent.'),
      m.children.nodes.length > 0 ? h('div', null, h('h3', null, 'Children'), edgeList(m.children.nodes, 'child')) : null,
      h('p', null, h('a', { href: `/model/${m.id}/lineage` }, 'Open the lineage graph')),
    ),
    h(
      'section',
      { 'aria-labelledby': 'files-h', id: 'files' },
      h('h2', { id: 'files-h' }, 'Files'),
      table(
        'Files',
        ['Path', 'Format', 'Size', 'Root (b3sum)', 'Leaves', 'Tensors'],
        m.files.map((f) => [
          h('a', { href: `/model/${m.id}?${new URLSearchParams({ file: f.path })}#selected` }, f.path),
          f.format,
          bytes(f.size),
          h('code', { title: f.root }, short(f.root, 16)),
          `${count(f.leaves)} × ${bytes(f.leafSize)}`,
          count(f.tensorCount),
        ]),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'tensors-h' },
      h('h2', { id: 'tensors-h' }, `Tensors (${count(tensorCount)})`),
      claims ? tensorTable(rowsOf(claims.files), tensorLink) : h('p', null, 'The tensor index comes from the signed claims, which did not verify.'),
    ),
    h(
      'section',
      { 'aria-labelledby': 'pubs-h', id: 'pubs' },
      h('h2', { id: 'pubs-h' }, `Publications and attestations (${m.publications.length})`),
      m.publications.map((p) => publicationView(p, m.id)),
    ),
    section('Fetch and verify', 'cmd-h', commands(origin, m.id, sel)),
  );
  if (sel.file || sel.tensor) document.getElementById('selected')?.scrollIntoView();
  document.body.dataset.modelRenderMs = String(Math.round(performance.now() - t0));
}
