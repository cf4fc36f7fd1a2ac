//! Reuse of a parent publication's leaves and parity: which shards of this
//! model a parent already holds, and in which of its blobs.

use std::collections::HashMap;

use modelda_da::Locator;
use modelda_manifest::ModelId;

use super::SignedModel;
use crate::plan::{FileStripes, Geometry, ReuseMap, Reused, ShardRef};
use crate::record::OpenedRecord;

/// What parents give a publish: which shards to reference, the parent blobs
/// they are in, the parent models, and the reused parity shards' digests.
pub(super) struct Reuse {
    pub(super) map: ReuseMap,
    pub(super) parent_blobs: Vec<Locator>,
    pub(super) reused_from: Vec<ModelId>,
    pub(super) parity: Vec<Vec<Option<[u8; 32]>>>,
}

/// Builds the reuse map of `model` against parent records.
pub(super) fn reuse_map(
    model: &SignedModel,
    geometry: Geometry,
    parents: &[OpenedRecord],
) -> Reuse {
    let mut map: ReuseMap = Vec::new();
    let mut parity_digests = Vec::new();
    let mut parent_blobs: Vec<Locator> = Vec::new();
    let mut index: HashMap<Locator, u32> = HashMap::new();
    let mut used_parents = Vec::new();
    for (fi, entry) in model.manifest.files.iter().enumerate() {
        let fs = FileStripes::of(entry, geometry);
        let mut shards: Vec<Option<Reused>> = Vec::new();
        let mut digests: Vec<Option<[u8; 32]>> = Vec::new();
        let mut found_any = false;
        for s in 0..fs.count() {
            let leaves = fs.leaves_of(s);
            let mut stripe: Vec<Option<Reused>> = Vec::new();
            let mut stripe_parent: Option<(usize, usize)> = None; // parent, parent file
            for leaf in leaves.clone() {
                let mut hit = None;
                for (pi, p) in parents.iter().enumerate() {
                    let Some(pf_i) = p.files.iter().position(|f| f.entry.path == entry.path) else {
                        continue;
                    };
                    let pf = &p.files[pf_i];
                    if pf.entry.leaf_size != entry.leaf_size || leaf >= pf.stripes.leaves() {
                        continue;
                    }
                    let same = match (&pf.commitment, &model.leaves[fi]) {
                        (Some(pc), Some(ours)) => pc.leaves()[leaf as usize] == ours[leaf as usize],
                        (None, None) => pf.entry.root == entry.root,
                        _ => false,
                    };
                    if same {
                        let pk = u64::from(p.geometry().data);
                        let ps = leaf / pk;
                        let r = pf.refs[pf.stripe_starts[ps as usize] + (leaf % pk) as usize];
                        hit = Some((pi, pf_i, r));
                        break;
                    }
                }
                match hit {
                    Some((pi, pf_i, r)) => {
                        let p = &parents[pi];
                        stripe.push(Some(parent_ref(&p.blobs, r, &mut parent_blobs, &mut index)));
                        if !used_parents.contains(&p.model_id()) {
                            used_parents.push(p.model_id());
                        }
                        stripe_parent = match stripe_parent {
                            None if leaf == leaves.start => Some((pi, pf_i)),
                            Some(x) if x == (pi, pf_i) => Some(x),
                            _ => Some((usize::MAX, 0)),
                        };
                        found_any = true;
                    }
                    None => {
                        stripe.push(None);
                        stripe_parent = Some((usize::MAX, 0));
                    }
                }
            }
            // Parity too, when the parent's stripe is the same stripe.
            let mut parity: Vec<Option<Reused>> = vec![None; usize::from(geometry.parity)];
            let mut pdig: Vec<Option<[u8; 32]>> = vec![None; usize::from(geometry.parity)];
            if let Some((pi, pf_i)) = stripe_parent.filter(|x| x.0 != usize::MAX) {
                let p = &parents[pi];
                let pf = &p.files[pf_i];
                if p.geometry() == geometry
                    && s < pf.stripes.count()
                    && pf.stripes.leaves_of(s) == leaves
                    && pf.stripes.width(s) == fs.width(s)
                {
                    let start = pf.stripe_starts[s as usize] + (leaves.end - leaves.start) as usize;
                    for j in 0..usize::from(geometry.parity) {
                        parity[j] = Some(parent_ref(
                            &p.blobs,
                            pf.refs[start + j],
                            &mut parent_blobs,
                            &mut index,
                        ));
                        pdig[j] = Some(pf.parity[s as usize * usize::from(geometry.parity) + j]);
                    }
                }
            }
            shards.extend(stripe);
            shards.extend(parity);
            digests.extend(pdig);
        }
        map.push(if found_any { shards } else { Vec::new() });
        parity_digests.push(digests);
    }
    Reuse {
        map,
        parent_blobs,
        reused_from: used_parents,
        parity: parity_digests,
    }
}

fn parent_ref(
    blobs: &[Locator],
    r: ShardRef,
    parent_blobs: &mut Vec<Locator>,
    index: &mut HashMap<Locator, u32>,
) -> Reused {
    let loc = blobs[r.blob as usize].clone();
    let n = parent_blobs.len() as u32;
    let parent_blob = *index.entry(loc.clone()).or_insert_with(|| {
        parent_blobs.push(loc);
        n
    });
    Reused {
        parent_blob,
        offset: r.offset,
    }
}
