//! Avail: its data proofs ([`proof`]) and what its runtime sets that a
//! publisher plans with (sizes and fees, [`Runtime`]).

pub mod proof;

/// Largest `submit_data` payload: the runtime's `MaxAppDataLength`, 1 MiB.
/// The node exposes it only in its SCALE runtime metadata, which modelda
/// does not decode: this documented value is used.
pub const MAX_APP_DATA_BYTES: usize = 1 << 20;

/// Seconds between Avail blocks on mainnet.
pub const BLOCK_SECONDS: u64 = 20;

/// Rows and columns of the data matrix at Avail's genesis (256 x 512 cells
/// of 32 bytes, 31 of data each); governance may change them
/// (`kate_blockLength` tells).
pub const MATRIX_CELLS: u64 = 256 * 512;

/// Data bytes a block carries at the genesis matrix.
pub const BLOCK_DATA_BYTES: u64 = MATRIX_CELLS * 31;

/// What Avail's runtime sets that a publisher plans with: read from the
/// node where it exposes them (`modelda-da`'s `AvailLayer::runtime`), Avail mainnet's
/// documented values otherwise ([`Runtime::default`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Runtime {
    /// Largest `submit_data` payload (always [`MAX_APP_DATA_BYTES`]: only
    /// the runtime metadata holds it).
    pub max_app_data_bytes: usize,
    /// Rows of the data matrix (`kate_blockLength`).
    pub rows: u32,
    /// Columns of the data matrix (`kate_blockLength`).
    pub cols: u32,
    /// Bytes of a matrix cell, one of which is padding (`kate_blockLength`).
    pub chunk_bytes: u32,
    /// Milliseconds between blocks (from the timestamps of recent blocks).
    pub block_ms: u64,
    /// Whether the matrix was read from the node.
    pub matrix_from_node: bool,
    /// Whether the block time was measured on the node's blocks.
    pub block_time_from_node: bool,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            max_app_data_bytes: MAX_APP_DATA_BYTES,
            rows: 256,
            cols: 512,
            chunk_bytes: 32,
            block_ms: BLOCK_SECONDS * 1000,
            matrix_from_node: false,
            block_time_from_node: false,
        }
    }
}

/// Bytes of the compact length prefix SCALE puts before `len` bytes.
fn compact_len(len: u64) -> u64 {
    match len {
        0..=63 => 1,
        64..=16383 => 2,
        16384..=1073741823 => 4,
        _ => 5,
    }
}

impl Runtime {
    /// Cells of the data matrix.
    pub fn cells(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols)
    }

    /// Data bytes a block carries.
    pub fn block_data_bytes(&self) -> u64 {
        self.cells() * u64::from(self.chunk_bytes.saturating_sub(1))
    }

    /// Cells (scalars) a submission of `len` bytes fills, as the pallet
    /// counts them: (len + compact length prefix + 31) / 31.
    pub fn scalars(len: u64) -> u64 {
        (len + compact_len(len) + 31) / 31
    }

    /// Largest blob: the payload limit, or less when the matrix is smaller
    /// (the pool refuses a submission that would fill it).
    pub fn max_blob_bytes(&self) -> usize {
        let cells = self.cells().saturating_sub(1);
        let per_cell = u64::from(self.chunk_bytes.saturating_sub(1)).max(1);
        let mut fit = cells.saturating_mul(per_cell).saturating_sub(5);
        while fit > 0 && Self::scalars(fit) > cells {
            fit -= 1;
        }
        self.max_app_data_bytes
            .min(usize::try_from(fit).unwrap_or(usize::MAX))
    }

    /// The fee of one `submit_data` of `size` bytes, in nano-AVAIL, before
    /// the chain's congestion multiplier and `SubmitDataFeeModifier` (which
    /// governance sets; `payment_queryFeeDetails` tells the real fee): a
    /// base fee of 0.124 AVAIL, 100 nAVAIL per byte, and the weight of the
    /// matrix cells it fills, 85% of 5e12 for a full matrix at 10 pAVAIL
    /// per unit (availproject/avail `runtime/src/impls.rs`,
    /// `pallets/dactr`).
    pub fn fee_nano(&self, size: usize) -> u64 {
        let len = size as u64;
        let weight = u128::from(Self::scalars(len)) * 4_250_000_000_000u128
            / u128::from(self.cells().max(1));
        // 10 pAVAIL per unit of weight = weight / 100 nAVAIL.
        124_000_000 + 100 * len + (weight / 100) as u64
    }
}

/// [`Runtime::fee_nano`] at the genesis matrix.
pub fn estimate_fee_nano(size: usize) -> u64 {
    Runtime::default().fee_nano(size)
}
