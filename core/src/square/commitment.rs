//! The share commitment of a version-0 blob, computed without building a
//! tree in memory.
//!
//! It is the same value as celestia-types' `Commitment::from_blob` (the
//! tests check this), following ADR-013 and celestia-app's
//! `inclusion.CreateCommitment`:
//!
//! 1. the blob is split into sparse shares (the first carries the sequence
//!    length), zero-padded;
//! 2. the shares are cut into subtrees of a power-of-two width (the blob's
//!    subtree width, from the subtree root threshold of 64), left to right,
//!    as a Merkle mountain range;
//! 3. each subtree's namespaced Merkle root is computed; all leaves share one
//!    namespace, so every node is `ns || ns || sha256(..)`;
//! 4. the commitment is the RFC 6962 Merkle root of those subtree roots.

use sha2::{Digest, Sha256};

use super::{CONTINUATION_SHARE_PAYLOAD, FIRST_SHARE_PAYLOAD};

const SHARE: usize = 512;
const NS: usize = 29;
/// `SubtreeRootThreshold` of celestia-app.
const SUBTREE_ROOT_THRESHOLD: usize = 64;

/// Bytes of a namespaced node: min namespace, max namespace, SHA-256.
pub const NODE_LEN: usize = 2 * NS + 32;

/// A namespaced Merkle node.
pub type Node = [u8; NODE_LEN];

/// Width of the subtrees a blob of `shares` shares is committed in.
fn subtree_width(shares: usize) -> usize {
    let s = shares.div_ceil(SUBTREE_ROOT_THRESHOLD).next_power_of_two();
    let min_square = ((shares as f64).sqrt().ceil() as usize).next_power_of_two();
    s.min(min_square)
}

/// Share `i` of a blob of `data` in namespace `ns`.
pub fn share(ns: &[u8; NS], data: &[u8], i: usize, out: &mut [u8; SHARE]) {
    share_from(ns, data.len(), 0, data, i, out)
}

/// Share `i` of a blob of `len` bytes in namespace `ns`, of which `part`
/// holds the bytes from `at` on; it must hold those the share carries.
pub fn share_from(
    ns: &[u8; NS],
    len: usize,
    at: usize,
    part: &[u8],
    i: usize,
    out: &mut [u8; SHARE],
) {
    out.fill(0);
    out[..NS].copy_from_slice(ns);
    let (start, payload) = if i == 0 {
        out[NS] = 1; // share version 0, sequence start
        out[NS + 1..NS + 5].copy_from_slice(&(len as u32).to_be_bytes());
        (0, &mut out[NS + 5..])
    } else {
        out[NS] = 0;
        (
            FIRST_SHARE_PAYLOAD + (i - 1) * CONTINUATION_SHARE_PAYLOAD,
            &mut out[NS + 1..],
        )
    };
    let end = (start + payload.len()).min(len);
    if start < end {
        payload[..end - start].copy_from_slice(&part[start - at..end - at]);
    }
}

/// Widths of the subtrees a blob of `total` shares is committed in, left
/// to right: full subtrees of the blob's width, then the rest as a Merkle
/// mountain range of powers of two.
pub fn subtree_sizes(total: usize) -> Vec<usize> {
    let width = subtree_width(total);
    let mut sizes = Vec::with_capacity(total / width + 8);
    let mut i = 0;
    while i < total {
        let remaining = total - i;
        let size = if remaining >= width {
            width
        } else {
            1 << (usize::BITS - 1 - remaining.leading_zeros())
        };
        sizes.push(size);
        i += size;
    }
    sizes
}

/// The subtree roots of `data` as a version-0 blob in namespace `ns`, in
/// order. `data` must not be empty.
pub fn subtree_roots(ns: &[u8; NS], data: &[u8]) -> Vec<Node> {
    let total = super::shares_for(data.len());
    let mut buf = [0u8; SHARE];
    let mut at = 0;
    subtree_sizes(total)
        .into_iter()
        .map(|size| {
            let root = super::nmt_range::tree_root(size, &mut |j| {
                share(ns, data, at + j, &mut buf);
                Ok(super::nmt_range::leaf(ns, &buf))
            })
            .expect("one namespace is in order, and a subtree has leaves");
            at += size;
            root
        })
        .collect()
}

/// The share commitment of blobs whose subtree roots are `roots`.
pub fn roots_commitment(roots: &[Node]) -> [u8; 32] {
    rfc6962_root(roots)
}

/// The share commitment of `data` as a version-0 blob in namespace `ns`
/// (its 29 bytes). `data` must not be empty.
pub fn share_commitment(ns: &[u8; NS], data: &[u8]) -> [u8; 32] {
    rfc6962_root(&subtree_roots(ns, data))
}

/// RFC 6962 Merkle root (as tendermint's `HashFromByteSlices`).
fn rfc6962_root(items: &[Node]) -> [u8; 32] {
    match items.len() {
        0 => Sha256::digest([]).into(),
        1 => {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(items[0]);
            h.finalize().into()
        }
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            let (l, r) = (rfc6962_root(&items[..k]), rfc6962_root(&items[k..]));
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(l);
            h.update(r);
            h.finalize().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use celestia_types::nmt::Namespace as CNamespace;
    use celestia_types::Commitment;
    use proptest::prelude::*;

    fn reference(id: &[u8], data: &[u8]) -> ([u8; NS], [u8; 32]) {
        let ns = CNamespace::new_v0(id).unwrap();
        let c = Commitment::from_blob(ns, data, 0, None).unwrap();
        (ns.as_bytes().try_into().unwrap(), *c.hash())
    }

    #[test]
    fn matches_celestia_types_at_share_and_subtree_boundaries() {
        let f = FIRST_SHARE_PAYLOAD;
        let c = CONTINUATION_SHARE_PAYLOAD;
        let mut sizes = vec![1, f - 1, f, f + 1, f + c, f + c + 1];
        for shares in [63usize, 64, 65, 127, 128, 129, 1000, 4097] {
            let len = f + (shares - 1) * c;
            sizes.extend([len - 1, len, len + 1]);
        }
        sizes.push(2 << 20);
        for len in sizes {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let (ns, want) = reference(b"modelda", &data);
            assert_eq!(share_commitment(&ns, &data), want, "len {len}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn matches_celestia_types(len in 1usize..200_000, seed: u8, id in proptest::collection::vec(1u8..255, 1..10)) {
            let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
            let (ns, want) = reference(&id, &data);
            prop_assert_eq!(share_commitment(&ns, &data), want);
        }
    }
}
