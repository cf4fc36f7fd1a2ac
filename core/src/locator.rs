//! Where a blob lives: namespaces, share commitments, EigenDA certs and
//! locators. All are typed, serializable and versioned.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Length of a Celestia namespace: a version byte and a 28-byte id.
pub const NAMESPACE_LEN: usize = 29;
/// Bytes of a version-0 namespace id that a user chooses (the other 18 are zero).
pub const NAMESPACE_V0_ID_LEN: usize = 10;

/// A Celestia version-0 namespace outside the reserved range.
///
/// Displayed as the 20 hex digits of its 10-byte user id; parsed from those
/// 20 digits or from all 58 hex digits of the 29 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace([u8; NAMESPACE_LEN]);

const fn v0_const(id: [u8; NAMESPACE_V0_ID_LEN]) -> Namespace {
    let mut b = [0u8; NAMESPACE_LEN];
    let mut i = 0;
    while i < NAMESPACE_V0_ID_LEN {
        b[NAMESPACE_LEN - NAMESPACE_V0_ID_LEN + i] = id[i];
        i += 1;
    }
    Namespace(b)
}

impl Namespace {
    /// The data namespace modelda uses by default: id `"modelda\0\0\x01"`
    /// (`6d6f64656c6461000001`).
    pub const DEFAULT: Namespace = v0_const(*b"modelda\0\0\x01");

    /// The record namespace: one well-known namespace for the publication
    /// records (root pages and record pages) of every modelda publication
    /// on a chain, so that an indexer follows one namespace and reads only
    /// records. Id `"modelda\0\0\0"` (`6d6f64656c6461000000`).
    pub const RECORDS: Namespace = v0_const(*b"modelda\0\0\0");

    /// A version-0 namespace from a user id of at most 10 bytes (left-padded
    /// with zeros). Ids up to `0x..FF` are reserved by Celestia.
    pub fn new_v0(id: &[u8]) -> Result<Self> {
        if id.len() > NAMESPACE_V0_ID_LEN {
            return Err(Error::Namespace {
                namespace: hex::encode(id),
                reason: format!("a version-0 id has at most {NAMESPACE_V0_ID_LEN} bytes"),
            });
        }
        let mut b = [0u8; NAMESPACE_LEN];
        b[NAMESPACE_LEN - id.len()..].copy_from_slice(id);
        Self::from_bytes(b)
    }

    /// A namespace from its 29 bytes; must be version 0 and not reserved.
    pub fn from_bytes(b: [u8; NAMESPACE_LEN]) -> Result<Self> {
        let bad = |reason: &str| Error::Namespace {
            namespace: hex::encode(b),
            reason: reason.to_string(),
        };
        if b[0] != 0 {
            return Err(bad("only version-0 namespaces are supported"));
        }
        if b[1..NAMESPACE_LEN - NAMESPACE_V0_ID_LEN]
            .iter()
            .any(|&x| x != 0)
        {
            return Err(bad(
                "a version-0 namespace has 18 zero bytes before its 10-byte id",
            ));
        }
        if b[NAMESPACE_LEN - NAMESPACE_V0_ID_LEN..NAMESPACE_LEN - 1]
            .iter()
            .all(|&x| x == 0)
        {
            return Err(bad(
                "ids up to 0x00000000000000000000ff are reserved by Celestia; pick another id",
            ));
        }
        Ok(Namespace(b))
    }

    /// The 29 bytes.
    pub const fn as_bytes(&self) -> &[u8; NAMESPACE_LEN] {
        &self.0
    }

    /// The 10-byte user id.
    pub fn id(&self) -> &[u8] {
        &self.0[NAMESPACE_LEN - NAMESPACE_V0_ID_LEN..]
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.id()))
    }
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Namespace({self})")
    }
}

impl std::str::FromStr for Namespace {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().trim_start_matches("0x");
        let bytes = hex::decode(s).map_err(|_| Error::Namespace {
            namespace: s.to_string(),
            reason: "expected 20 hex digits (a 10-byte version-0 id) or 58 (all 29 bytes)".into(),
        })?;
        match bytes.len() {
            NAMESPACE_LEN => Self::from_bytes(bytes.try_into().expect("29 bytes")),
            n if n <= NAMESPACE_V0_ID_LEN => Self::new_v0(&bytes),
            _ => Err(Error::Namespace {
                namespace: s.to_string(),
                reason: "expected 20 hex digits (a 10-byte version-0 id) or 58 (all 29 bytes)"
                    .into(),
            }),
        }
    }
}

impl Serialize for Namespace {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Namespace {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

modelda_merkle::hash_newtype!(
    /// A Celestia share commitment: the Merkle root of a blob's subtree roots.
    ShareCommitment
);

/// An EigenDA certificate: opaque bytes (a version byte, then the RLP cert).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cert(Vec<u8>);

impl Cert {
    /// Largest cert accepted when decoding.
    pub const MAX_LEN: usize = 64 << 10;

    /// Wraps cert bytes; fails when empty or larger than 64 KiB.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(Error::Locator {
                locator: format!("0x{}", hex::encode(&bytes[..bytes.len().min(32)])),
                reason: format!("an EigenDA cert has 1 to {} bytes", Self::MAX_LEN),
            });
        }
        Ok(Cert(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for Cert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", hex::encode(&self.0))
    }
}

impl std::fmt::Debug for Cert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cert({} bytes)", self.0.len())
    }
}

impl std::str::FromStr for Cert {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let h = s.trim().trim_start_matches("0x");
        let b = hex::decode(h).map_err(|_| Error::Locator {
            locator: s.chars().take(80).collect(),
            reason: "an EigenDA cert is written as 0x followed by hex".into(),
        })?;
        Cert::new(b)
    }
}

impl Serialize for Cert {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Cert {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which layer a locator points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// The embedded local chain.
    Local,
    /// Celestia (a node, or the devnet).
    Celestia,
    /// EigenDA (a proxy, or the devnet).
    Eigenda,
    /// Avail (a light client and a node, or the devnet).
    Avail,
}

impl LayerKind {
    /// Whether blobs are filed under namespaces (the embedded chain and
    /// Celestia; EigenDA has none, Avail has app ids, which its light
    /// client sets).
    pub fn has_namespaces(self) -> bool {
        matches!(self, LayerKind::Local | LayerKind::Celestia)
    }

    /// The name used in flags and locators.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Local => "local",
            LayerKind::Celestia => "celestia",
            LayerKind::Eigenda => "eigenda",
            LayerKind::Avail => "avail",
        }
    }
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one blob lives.
///
/// Text form (version 1): `local:HEIGHT:NAMESPACE:COMMITMENT`,
/// `celestia:HEIGHT:NAMESPACE:COMMITMENT`, `eigenda:0xCERT` or
/// `avail:HEIGHT:APP_ID:INDEX:LEAF`, with the namespace as 20 hex digits and
/// the commitment and leaf as 64. JSON form: an object
/// tagged by `layer`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "lowercase", deny_unknown_fields)]
pub enum Locator {
    /// A blob on the embedded local chain.
    Local {
        /// Block height.
        height: u64,
        /// Namespace.
        namespace: Namespace,
        /// Share commitment.
        commitment: ShareCommitment,
    },
    /// A blob on Celestia.
    Celestia {
        /// Block height.
        height: u64,
        /// Namespace.
        namespace: Namespace,
        /// Share commitment.
        commitment: ShareCommitment,
    },
    /// A blob on EigenDA.
    Eigenda {
        /// The cert.
        cert: Cert,
    },
    /// A `submit_data` on Avail.
    Avail {
        /// Block number.
        height: u64,
        /// The app id it was submitted with.
        app_id: u32,
        /// Its extrinsic index in the block (what `kate_queryDataProof`
        /// takes).
        index: u32,
        /// Its data root leaf, `keccak256(data)`: picks it out of the
        /// light client's app data, and checks it.
        leaf: crate::avail::proof::H256,
    },
}

impl Locator {
    /// The layer this locator points into.
    pub fn kind(&self) -> LayerKind {
        match self {
            Locator::Local { .. } => LayerKind::Local,
            Locator::Celestia { .. } => LayerKind::Celestia,
            Locator::Eigenda { .. } => LayerKind::Eigenda,
            Locator::Avail { .. } => LayerKind::Avail,
        }
    }

    /// Height, namespace and commitment of a square-based locator.
    pub fn square_parts(&self) -> Option<(u64, Namespace, ShareCommitment)> {
        match self {
            Locator::Local {
                height,
                namespace,
                commitment,
            }
            | Locator::Celestia {
                height,
                namespace,
                commitment,
            } => Some((*height, *namespace, *commitment)),
            Locator::Eigenda { .. } | Locator::Avail { .. } => None,
        }
    }
}

impl std::fmt::Display for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Locator::Eigenda { cert } => write!(f, "eigenda:{cert}"),
            Locator::Avail {
                height,
                app_id,
                index,
                leaf,
            } => write!(f, "avail:{height}:{app_id}:{index}:{}", hex::encode(leaf.0)),
            _ => {
                let (h, ns, c) = self.square_parts().expect("square locator");
                write!(f, "{}:{h}:{ns}:{c}", self.kind())
            }
        }
    }
}

impl std::str::FromStr for Locator {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Locator {
            locator: s.chars().take(120).collect(),
            reason: reason.to_string(),
        };
        let (kind, rest) = s.split_once(':').ok_or_else(|| bad("expected LAYER:..."))?;
        match kind {
            "eigenda" => Ok(Locator::Eigenda {
                cert: rest.parse()?,
            }),
            "avail" => {
                let mut it = rest.split(':');
                let (Some(h), Some(a), Some(i), Some(l), None) =
                    (it.next(), it.next(), it.next(), it.next(), it.next())
                else {
                    return Err(bad("expected avail:HEIGHT:APP_ID:INDEX:LEAF"));
                };
                if l.len() != 64 {
                    return Err(bad("leaf must be 64 hex digits"));
                }
                Ok(Locator::Avail {
                    height: h.parse().map_err(|_| bad("height must be a number"))?,
                    app_id: a.parse().map_err(|_| bad("app id must be a number"))?,
                    index: i.parse().map_err(|_| bad("index must be a number"))?,
                    leaf: l.parse().map_err(|_| bad("leaf must be 64 hex digits"))?,
                })
            }
            "local" | "celestia" => {
                let mut it = rest.split(':');
                let (Some(h), Some(ns), Some(c), None) =
                    (it.next(), it.next(), it.next(), it.next())
                else {
                    return Err(bad("expected LAYER:HEIGHT:NAMESPACE:COMMITMENT"));
                };
                let height = h.parse().map_err(|_| bad("height must be a number"))?;
                let namespace = ns.parse()?;
                let commitment = c
                    .parse()
                    .map_err(|_| bad("commitment must be 64 hex digits"))?;
                Ok(if kind == "local" {
                    Locator::Local {
                        height,
                        namespace,
                        commitment,
                    }
                } else {
                    Locator::Celestia {
                        height,
                        namespace,
                        commitment,
                    }
                })
            }
            _ => Err(bad("layer must be local, celestia, eigenda or avail")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_validate() {
        assert!(Namespace::new_v0(&[0xff]).is_err(), "reserved");
        assert!(Namespace::new_v0(&[1, 0]).is_ok());
        assert!(Namespace::new_v0(&[1; 11]).is_err());
        let ns = Namespace::DEFAULT;
        assert_eq!(ns.to_string(), "6d6f64656c6461000001");
        assert_eq!(Namespace::RECORDS.to_string(), "6d6f64656c6461000000");
        assert!(Namespace::new_v0(Namespace::RECORDS.id()).is_ok());
        assert_eq!(ns.to_string().parse::<Namespace>().unwrap(), ns);
        assert_eq!(hex::encode(ns.as_bytes()).parse::<Namespace>().unwrap(), ns);
        let mut b = *ns.as_bytes();
        b[0] = 1;
        assert!(Namespace::from_bytes(b).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,120}") {
            if let Ok(l) = s.parse::<Locator>() {
                proptest::prop_assert_eq!(l.to_string().parse::<Locator>().unwrap(), l);
            }
            let _ = serde_json::from_str::<Locator>(&s);
            let _ = serde_json::from_str::<crate::InclusionProof>(&s);
            let _ = s.parse::<Namespace>();
        }
    }

    #[test]
    fn locators_round_trip() {
        let c = ShareCommitment::from_bytes([7; 32]);
        for l in [
            Locator::Local {
                height: 5,
                namespace: Namespace::DEFAULT,
                commitment: c,
            },
            Locator::Celestia {
                height: 9,
                namespace: Namespace::DEFAULT,
                commitment: c,
            },
            Locator::Eigenda {
                cert: Cert::new(vec![3, 1, 2]).unwrap(),
            },
            Locator::Avail {
                height: 12,
                app_id: 1,
                index: 3,
                leaf: crate::avail::proof::H256([9; 32]),
            },
        ] {
            assert_eq!(l.to_string().parse::<Locator>().unwrap(), l);
            let j = serde_json::to_string(&l).unwrap();
            assert_eq!(serde_json::from_str::<Locator>(&j).unwrap(), l);
        }
        assert!("nope:1".parse::<Locator>().is_err());
        assert!("local:x:y:z".parse::<Locator>().is_err());
        assert!("eigenda:0x".parse::<Locator>().is_err());
        assert!("avail:1:2:3".parse::<Locator>().is_err());
        assert!(format!("avail:1:2:3:0x{}", "ab".repeat(31))
            .parse::<Locator>()
            .is_err());
        assert_eq!(
            format!("avail:7:1:2:{}", "ab".repeat(32))
                .parse::<Locator>()
                .unwrap()
                .to_string(),
            format!("avail:7:1:2:{}", "ab".repeat(32))
        );
    }
}
