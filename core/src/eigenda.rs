//! EigenDA's size and billing model.

/// Largest payload of EigenDA v2 with 16 MiB blobs: (2^19 - 1) * 31 bytes.
pub const MAX_PAYLOAD_BYTES: usize = 16_252_897;

/// Bytes EigenDA bills for a blob of `size` payload bytes: symbols of 31
/// payload bytes, padded to a power of two, at least 4096 symbols, 32 bytes
/// each.
pub fn billed_bytes(size: usize) -> u64 {
    (size as u64).div_ceil(31).next_power_of_two().max(4096) * 32
}
