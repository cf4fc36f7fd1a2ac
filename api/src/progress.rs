//! What the archiver has done: a plain record that the node's state,
//! `/metrics` and `modelda archive status` read, apart from the archiver
//! that writes it (so that the state does not depend on the archiver).

use serde::{Deserialize, Serialize};

/// The progress file's name, beside the index.
pub const PROGRESS_FILE: &str = "archive-progress.json";

/// What the archiver has done, as `_meta`, `/metrics` and
/// `modelda archive status` show it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ArchiveProgress {
    /// The archive this progress is of: a node pointed at another archive
    /// starts over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// The last publication archived ("HEIGHT.INDEX"), if any.
    pub publication: Option<String>,
    /// The last record registered by hand (height 0) archived, by its
    /// registration number. Registrations sort before every height, so
    /// they keep their own cursor: one made after `publication` passed
    /// height 0 is still archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<u32>,
    /// The height of the last publication archived (0: none yet).
    pub height: u64,
    /// Publications archived.
    pub publications: u64,
    /// Leaves written by this archiver.
    pub leaves_written: u64,
    /// Their bytes.
    pub bytes_written: u64,
    /// Leaves already held when their turn came (shared with an earlier
    /// publication, or written by another node sharing the archive).
    pub leaves_present: u64,
    /// Leaves no source could give when their turn came: the layer had
    /// pruned them before they were archived. Another node's archive may
    /// still have them (`modelda archive sync`).
    pub leaves_lost: u64,
    /// Records (root and pages) the layer pruned before they were archived.
    #[serde(default)]
    pub records_lost: u64,
    /// Blob kits written (what rebuilds a data blob from its leaves and
    /// proves its shares after the layer pruned it).
    #[serde(default)]
    pub kits_written: u64,
    /// Data blobs the layer pruned (or could not prove) before their kit
    /// was written: their leaves may be archived, but no inclusion proof
    /// can be built for them from this archive.
    #[serde(default)]
    pub proofs_lost: u64,
    /// The last error that stopped a round, if the last round failed
    /// (the archive unreachable, a full disk); cleared by a round that
    /// completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
