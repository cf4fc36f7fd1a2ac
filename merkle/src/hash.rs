//! 32-byte hash newtypes: hex for humans, raw bytes for machines.

/// Defines a 32-byte hash newtype with hex `Display`/`FromStr`, and serde
/// that is hex when the format is human-readable and raw bytes otherwise.
///
/// Used by this crate and by the crates above it (`ModelId`, ...), so every
/// identifier in modelda reads and prints the same way.
#[macro_export]
macro_rules! hash_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = 32;

            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Lower-case hex, 64 digits.
            pub fn to_hex(&self) -> String {
                $crate::__hex::encode(self.0)
            }

            /// Parses 64 hex digits (either case).
            pub fn from_hex(s: &str) -> $crate::Result<Self> {
                let mut out = [0u8; 32];
                match $crate::__hex::decode_to_slice(s.trim(), &mut out) {
                    Ok(()) => Ok(Self(out)),
                    Err(_) => Err($crate::Error::InvalidHex {
                        input: s.chars().take(80).collect(),
                    }),
                }
            }
        }

        impl From<blake3::Hash> for $name {
            fn from(h: blake3::Hash) -> Self {
                Self(*h.as_bytes())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                Self::from_hex(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_hex())
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                    Self::from_hex(&s).map_err(serde::de::Error::custom)
                } else {
                    let b = <std::borrow::Cow<'de, [u8]> as serde::Deserialize>::deserialize(d)?;
                    let arr: [u8; 32] = b
                        .as_ref()
                        .try_into()
                        .map_err(|_| serde::de::Error::invalid_length(b.len(), &"32 bytes"))?;
                    Ok(Self(arr))
                }
            }
        }
    };
}

hash_newtype!(
    /// The root of a file's commitment: its plain BLAKE3 hash, exactly what
    /// `b3sum FILE` prints.
    FileRoot
);

hash_newtype!(
    /// The BLAKE3 chaining value of one leaf: the non-root hash of the leaf's
    /// bytes at the leaf's offset in the file.
    LeafCv
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_serde() {
        let root = FileRoot::from(blake3::hash(b"abc"));
        let hex = root.to_hex();
        assert_eq!(hex, blake3::hash(b"abc").to_hex().as_str());
        assert_eq!(hex.parse::<FileRoot>().unwrap(), root);
        let json = serde_json::to_string(&root).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<FileRoot>(&json).unwrap(), root);
        assert!("zz".parse::<FileRoot>().is_err());
        assert!(hex[..62].parse::<FileRoot>().is_err());
    }
}
