//! NMT range proofs built from the leaves outside the range only.
//!
//! A range proof's siblings are the roots of the subtrees left of and
//! right of the range; the proven leaves themselves are hashed by the
//! verifier, not the prover. So a prover that asks for the hashes of the
//! leaves outside the range, and of nothing else, proves a whole row's
//! worth of shares at the cost of its edges. nmt-rs builds the whole tree
//! (a hash map entry per node) for the same proof; the tests check that
//! both give the same proof.
//!
//! Hashing follows celestia's NMT with `ignore_max_ns` (nmt-rs'
//! `NamespacedSha2Hasher`): a leaf is `ns || ns || sha256(0x00 || ns ||
//! data)`, an inner node `min || max || sha256(0x01 || left || right)`.

use std::ops::Range;

use celestia_types::nmt::{NamespaceProof, NamespacedHash, NamespacedHashExt, NS_SIZE};
use sha2::{Digest, Sha256};

use super::commitment::{Node, NODE_LEN};

/// The namespace an NMT that ignores the maximum leaves out of a parent's
/// range (parity shares').
const PARITY: [u8; NS_SIZE] = [0xff; NS_SIZE];

/// The hash of a leaf `data` in namespace `ns`.
pub fn leaf(ns: &[u8; NS_SIZE], data: &[u8]) -> Node {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(ns);
    h.update(data);
    node(ns, ns, h)
}

/// A node of namespace range `min..=max` whose hash `h` finishes.
fn node(min: &[u8], max: &[u8], h: Sha256) -> Node {
    let mut n = [0u8; NODE_LEN];
    n[..NS_SIZE].copy_from_slice(min);
    n[NS_SIZE..2 * NS_SIZE].copy_from_slice(max);
    n[2 * NS_SIZE..].copy_from_slice(&h.finalize());
    n
}

/// The parent of `left` and `right`; an error when their namespaces are
/// out of order.
pub fn parent(left: &Node, right: &Node) -> Result<Node, String> {
    let (lmin, lmax) = (&left[..NS_SIZE], &left[NS_SIZE..2 * NS_SIZE]);
    let (rmin, rmax) = (&right[..NS_SIZE], &right[NS_SIZE..2 * NS_SIZE]);
    if lmax > rmin {
        return Err("leaves out of namespace order".into());
    }
    let min = lmin.min(rmin);
    let max = if lmin == PARITY {
        &PARITY[..]
    } else if rmin == PARITY {
        lmax
    } else {
        lmax.max(rmax)
    };
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    Ok(node(min, max, h))
}

/// Where a tree over `n` leaves (n >= 2) splits: the largest power of two
/// below `n` (RFC 6962, as nmt-rs).
fn split(n: usize) -> usize {
    if n.is_power_of_two() {
        n / 2
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// The root of the tree over `n` leaves (n >= 1), `leaf(i)` giving leaf
/// `i`'s hash.
pub fn tree_root(
    n: usize,
    leaf: &mut dyn FnMut(usize) -> Result<Node, String>,
) -> Result<Node, String> {
    if n == 0 {
        return Err("a tree of no leaves".into());
    }
    root(0, n, leaf)
}

/// The root of leaves `lo..hi` (not empty).
fn root(
    lo: usize,
    hi: usize,
    leaf: &mut dyn FnMut(usize) -> Result<Node, String>,
) -> Result<Node, String> {
    if hi - lo == 1 {
        return leaf(lo);
    }
    let mid = lo + split(hi - lo);
    let l = root(lo, mid, leaf)?;
    let r = root(mid, hi, leaf)?;
    parent(&l, &r)
}

/// The siblings of the range proof of leaves `range` in the tree over
/// `n` leaves, left to right. `leaf(i)` gives leaf `i`'s hash; it is asked
/// only for leaves outside `range`.
pub fn siblings(
    n: usize,
    range: Range<usize>,
    leaf: &mut dyn FnMut(usize) -> Result<Node, String>,
) -> Result<Vec<Node>, String> {
    if range.start >= range.end || range.end > n {
        return Err(format!(
            "leaves {}..{} are not a range of a {n}-leaf tree",
            range.start, range.end
        ));
    }
    fn walk(
        lo: usize,
        hi: usize,
        range: &Range<usize>,
        leaf: &mut dyn FnMut(usize) -> Result<Node, String>,
        out: &mut Vec<Node>,
    ) -> Result<(), String> {
        if hi <= range.start || lo >= range.end {
            out.push(root(lo, hi, leaf)?);
        } else if !(range.start <= lo && hi <= range.end) {
            let mid = lo + split(hi - lo);
            walk(lo, mid, range, leaf, out)?;
            walk(mid, hi, range, leaf, out)?;
        }
        Ok(())
    }
    let mut out = Vec::with_capacity(2 * (usize::BITS - n.leading_zeros()) as usize);
    walk(0, n, &range, leaf, &mut out)?;
    Ok(out)
}

/// The presence proof of leaves `range` with `siblings` (as celestia's NMT
/// proves, ignoring the maximum namespace).
pub fn presence_proof(siblings: &[Node], range: Range<usize>) -> Result<NamespaceProof, String> {
    let siblings = siblings
        .iter()
        .map(|s| NamespacedHash::from_raw(s).map_err(|e| format!("a sibling: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let proof = nmt_rs::NamespaceProof::PresenceProof {
        proof: nmt_rs::simple_merkle::proof::Proof {
            siblings,
            range: range.start as u32..range.end as u32,
        },
        ignore_max_ns: true,
    };
    Ok(proof.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use celestia_types::nmt::{Namespace as CNamespace, Nmt, NmtExt};
    use proptest::prelude::*;

    fn ns(id: u8) -> CNamespace {
        CNamespace::new_v0(&[id]).unwrap()
    }

    /// `n` leaves in namespaces that never go down; some share one.
    fn leaves(n: usize, seed: u8) -> Vec<(CNamespace, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let id = 1 + (i / 3) as u8;
                let ns = if i + 1 == n && seed.is_multiple_of(2) {
                    CNamespace::TAIL_PADDING
                } else {
                    ns(id)
                };
                let mut d = vec![seed; 512];
                d[..NS_SIZE].copy_from_slice(ns.as_bytes());
                d[100] = i as u8;
                (ns, d)
            })
            .collect()
    }

    fn ours(l: &[(CNamespace, Vec<u8>)], range: Range<usize>) -> NamespaceProof {
        let asked = std::cell::RefCell::new(Vec::new());
        let s = siblings(l.len(), range.clone(), &mut |i| {
            asked.borrow_mut().push(i);
            let (n, d) = &l[i];
            Ok(leaf(n.as_bytes().try_into().unwrap(), d))
        })
        .unwrap();
        assert!(
            asked.borrow().iter().all(|i| !range.contains(i)),
            "a leaf in the range was hashed"
        );
        presence_proof(&s, range).unwrap()
    }

    fn theirs(
        l: &[(CNamespace, Vec<u8>)],
        range: Range<usize>,
    ) -> (NamespaceProof, NamespacedHash) {
        let mut nmt = Nmt::default();
        for (n, d) in l {
            nmt.push_leaf(d, **n).unwrap();
        }
        let root = nmt.root();
        let (_, p) = nmt.get_range_with_proof(range);
        (p.into(), root)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn gives_nmt_rs_proofs(n in 1usize..70, a in 0usize..70, b in 0usize..70, seed: u8) {
            let (a, b) = (a % n, b % n);
            let range = a.min(b)..a.max(b) + 1;
            let l = leaves(n, seed);
            let mine = ours(&l, range.clone());
            let (want, root) = theirs(&l, range.clone());
            prop_assert_eq!(&mine, &want);
            let data: Vec<&[u8]> = l[range].iter().map(|(_, d)| d.as_slice()).collect();
            let ns0 = l[a.min(b)].0;
            // The proof verifies where the range is one namespace.
            if data.len() == 1 || l[a.min(b)..a.max(b) + 1].iter().all(|(n, _)| *n == ns0) {
                prop_assert!(mine.verify_range(&root, &data, *ns0).is_ok());
            }
        }
    }

    #[test]
    fn refuses_what_is_not_a_range() {
        let mut leaf = |_| Ok([0u8; NODE_LEN]);
        assert!(siblings(4, 2..2, &mut leaf).is_err());
        assert!(siblings(4, 3..5, &mut leaf).is_err());
        assert!(siblings(0, 0..1, &mut leaf).is_err());
    }

    #[test]
    fn refuses_leaves_out_of_namespace_order() {
        let l = [(ns(2), vec![0u8; 512]), (ns(1), vec![0u8; 512])];
        let r = siblings(3, 2..3, &mut |i| {
            let (n, d) = &l[i];
            Ok(leaf(n.as_bytes().try_into().unwrap(), d))
        });
        assert!(r.unwrap_err().contains("namespace order"));
    }
}
