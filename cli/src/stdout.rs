//! Results on stdout, written so that a reader that goes away cannot make
//! the binary panic.
//!
//! Rust's runtime ignores SIGPIPE, so once the reader of a pipe has closed
//! it (`modelda blob list | head -1`), writing fails with `BrokenPipe`, and
//! `println!` panics on that. A C tool would die of the signal instead; here,
//! as in ripgrep, the process exits quietly with status 0: the reader has
//! all it wanted.

use std::fmt;
use std::io::{self, Write as _};

/// Writes one line to stdout (what `out!` expands to). A closed pipe ends
/// the process with status 0; any other write error ends it with status 1
/// and a message on stderr.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    match try_line(args) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: writing to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// Writes one line to stdout, returning the error.
pub(crate) fn try_line(args: fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")
}
