//! Journal lines (possibly torn or corrupt) never panic the reader; what
//! parses re-encodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_publisher::journal;

fuzz_target!(|data: &[u8]| {
    let _ = journal::parse_line(data);
    // A line with a valid checksum over arbitrary JSON.
    let mut line = hex::encode(&blake3::hash(data).as_bytes()[..8]).into_bytes();
    line.push(b' ');
    line.extend_from_slice(data);
    line.push(b'\n');
    let _ = journal::parse_line(&line);
});
