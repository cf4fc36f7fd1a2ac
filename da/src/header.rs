//! Signed Celestia `ExtendedHeader`s for a one-validator chain: the local
//! chain and the devnet sign every block with an ed25519 key kept in the
//! chain's store, so headers validate with `celestia-types` and link
//! block to block.

use celestia_types::block::CommitExt;
use celestia_types::{DataAvailabilityHeader, ExtendedHeader, ValidatorSet};
use sha2::{Digest as _, Sha256};
use tendermint::block::{
    header::Version, parts, Commit, CommitSig, Header, Height, Id as BlockId, Round,
};
use tendermint::{account, chain, validator, AppHash, Hash, PublicKey, Signature, Time};

/// Chain id of the local chain and the devnet.
pub const CHAIN_ID: &str = "modelda-devnet";

/// The validator key that signs every header.
pub struct Signer {
    sk: ed25519_consensus::SigningKey,
    pk: PublicKey,
    addr: account::Id,
}

impl Signer {
    /// A signer from a 32-byte seed (persisted by the chain).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let sk = ed25519_consensus::SigningKey::from(seed);
        let pk = PublicKey::from(sk.verification_key());
        let addr = account::Id::from(pk);
        Signer { sk, pk, addr }
    }

    /// The validator's public key (what a verifier pins).
    pub fn public_key(&self) -> PublicKey {
        self.pk
    }

    fn validator_set(&self) -> ValidatorSet {
        let info = validator::Info::new(self.pk, 1000u32.into());
        ValidatorSet::new(vec![info.clone()], Some(info))
    }

    /// Signs the header of block `height` (`prev` is the header of `height - 1`).
    pub fn sign(
        &self,
        prev: Option<&ExtendedHeader>,
        height: u64,
        time: Time,
        dah: DataAvailabilityHeader,
    ) -> Result<ExtendedHeader, String> {
        let chain_id = chain::Id::try_from(CHAIN_ID).map_err(|e| e.to_string())?;
        let vs = self.validator_set();
        let header = Header {
            version: Version { block: 11, app: 5 },
            chain_id: chain_id.clone(),
            height: Height::try_from(height).map_err(|e| e.to_string())?,
            time,
            last_block_id: prev.map(|p| p.commit.block_id),
            last_commit_hash: None,
            data_hash: Some(dah.hash()),
            validators_hash: vs.hash(),
            next_validators_hash: vs.hash(),
            consensus_hash: Hash::Sha256([0; 32]),
            app_hash: AppHash::try_from(vec![0u8; 32]).map_err(|e| e.to_string())?,
            last_results_hash: None,
            evidence_hash: None,
            proposer_address: self.addr,
        };
        let header_hash = header.hash();
        let psh: [u8; 32] = Sha256::digest(header_hash.as_bytes()).into();
        let mut commit = Commit {
            height: header.height,
            round: Round::from(0u16),
            block_id: BlockId {
                hash: header_hash,
                part_set_header: parts::Header::new(1, Hash::Sha256(psh))
                    .map_err(|e| e.to_string())?,
            },
            signatures: vec![CommitSig::BlockIdFlagCommit {
                validator_address: self.addr,
                timestamp: time,
                signature: None,
            }],
        };
        let sign_bytes = commit
            .vote_sign_bytes(&chain_id, 0)
            .map_err(|e| e.to_string())?;
        let sig = self.sk.sign(&sign_bytes).to_bytes();
        if let CommitSig::BlockIdFlagCommit { signature, .. } = &mut commit.signatures[0] {
            *signature = Signature::new(sig).map_err(|e| e.to_string())?;
        }
        let eh = ExtendedHeader {
            header,
            commit,
            validator_set: vs,
            dah,
        };
        eh.validate().map_err(|e| e.to_string())?;
        if let Some(p) = prev {
            p.verify_adjacent(&eh).map_err(|e| e.to_string())?;
        }
        Ok(eh)
    }
}

/// A block time strictly after `prev` and not in the future.
pub fn next_time(prev: Option<Time>, now_unix_nanos: i128) -> Time {
    let now = Time::from_unix_timestamp(
        (now_unix_nanos / 1_000_000_000) as i64,
        (now_unix_nanos % 1_000_000_000) as u32,
    )
    .unwrap_or_else(|_| Time::unix_epoch());
    match prev {
        Some(p) if now <= p => (p + std::time::Duration::from_micros(1)).unwrap_or(p),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use celestia_types::ExtendedDataSquare;

    #[test]
    fn headers_validate_link_and_survive_json() {
        let s = Signer::from_seed([7; 32]);
        let dah = DataAvailabilityHeader::from_eds(&ExtendedDataSquare::empty());
        let now = 1_700_000_000_000_000_000i128;
        let h1 = s.sign(None, 1, next_time(None, now), dah.clone()).unwrap();
        let h2 = s
            .sign(Some(&h1), 2, next_time(Some(h1.time()), now), dah)
            .unwrap();
        h1.verify(&h2).unwrap();
        let json = serde_json::to_string(&h2).unwrap();
        let back: ExtendedHeader = serde_json::from_str(&json).unwrap();
        assert_eq!(back.hash(), h2.hash());
    }
}
