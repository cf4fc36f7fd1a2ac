//! The publish journal: an append-only file, one checksummed JSON line per
//! entry, each append written and `fdatasync`ed before the publish goes on.
//!
//! Line format: 16 hex digits (the first 8 bytes of the BLAKE3 of the JSON),
//! a space, the JSON, a newline. A torn last line (a crash mid-append) fails
//! its checksum and is cut off on open; a bad line anywhere else is
//! corruption and is reported, never skipped.
//!
//! The file is locked while open, so two processes cannot run one publish.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use modelda_da::{Locator, Receipt};
use modelda_manifest::ModelId;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// The publish started: what it is, written before anything is posted.
    Begin {
        /// Journal format version (1).
        v: u32,
        /// Plan identity.
        plan: String,
        /// The model.
        model_id: ModelId,
        /// Hint of the publisher's key.
        key_hint: String,
        /// Blobs in the plan.
        blobs: u64,
    },
    /// Blobs handed to the layer, with the layer's head height just before.
    Submit {
        /// Blob ids (plan blobs, then record pages).
        ids: Vec<u64>,
        /// Head height before submission (0 where the layer has none).
        head: u64,
    },
    /// Blobs confirmed by the layer.
    Done {
        /// Blob id.
        id: u64,
        /// The receipt.
        receipt: Receipt,
        /// Digests of the parity shards the blob holds, in order (hex).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parity: Vec<String>,
    },
    /// The record's root page is confirmed: the publish is complete.
    Record {
        /// Its locator.
        locator: Locator,
    },
}

/// What a journal says so far.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// The begin entry.
    pub begin: Option<(String, ModelId, String, u64)>,
    /// Confirmed blobs by id, with the parity digests they hold.
    pub done: BTreeMap<u64, (Receipt, Vec<String>)>,
    /// Submissions not (fully) confirmed: (head before, ids).
    pub pending: Vec<(u64, Vec<u64>)>,
    /// The record, when complete.
    pub record: Option<Locator>,
}

impl State {
    fn apply(&mut self, e: Entry) {
        match e {
            Entry::Begin {
                plan,
                model_id,
                key_hint,
                blobs,
                ..
            } => self.begin = Some((plan, model_id, key_hint, blobs)),
            Entry::Submit { ids, head } => self.pending.push((head, ids)),
            Entry::Done {
                id,
                receipt,
                parity,
            } => {
                self.done.insert(id, (receipt, parity));
            }
            Entry::Record { locator } => self.record = Some(locator),
        }
    }

    /// Lowest head height before a submission that was not fully
    /// confirmed: blobs confirmed after it were never journaled.
    pub fn scan_from(&self) -> Option<u64> {
        self.pending
            .iter()
            .filter(|(_, ids)| ids.iter().any(|id| !self.done.contains_key(id)))
            .map(|(h, _)| *h)
            .min()
    }
}

/// An open journal.
pub struct Journal {
    file: File,
    path: PathBuf,
    state: State,
}

fn checksum(json: &[u8]) -> String {
    hex::encode(&blake3::hash(json).as_bytes()[..8])
}

impl Journal {
    /// Opens (or creates) the journal of plan `plan` in `dir`, locks it, and
    /// reads it, cutting off a torn last line.
    pub fn open(dir: &Path, plan: &str) -> Result<Journal> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(format!("{plan}.journal"));
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.try_lock()
            .map_err(|_| Error::JournalLocked { path: path.clone() })?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| Error::io(&path, e))?;
        let (state, good) = replay(&text, &path)?;
        if good < text.len() {
            tracing::warn!(path = %path.display(), "cutting off a torn journal line");
            file.set_len(good as u64).map_err(|e| Error::io(&path, e))?;
            file.sync_data().map_err(|e| Error::io(&path, e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&path, e))?;
        Ok(Journal { file, path, state })
    }

    /// The path of the journal of plan `plan` published with the key whose
    /// hint is `key_hint`: one journal per plan and key, so that a finished
    /// publication never blocks another key. A journal from before keys
    /// were part of the name (`<plan>.journal`) is kept when it was begun
    /// with the same key.
    pub fn path_for(dir: &Path, plan: &str, key_hint: &str) -> String {
        let legacy = dir.join(format!("{plan}.journal"));
        if let Ok(state) = Journal::read(&legacy) {
            if state.begin.as_ref().is_some_and(|b| b.2 == key_hint) {
                return plan.to_string();
            }
        }
        format!("{plan}.{}", &key_hint[..key_hint.len().min(16)])
    }

    /// Reads the journal at `path` without locking or changing it (a torn
    /// last line is ignored). For looking at other keys' journals.
    pub fn read(path: &Path) -> Result<State> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(replay(&text, path)?.0)
    }

    /// Journals of plan `plan` in `dir` begun with other keys than
    /// `key_hint`, finished or not, with their paths. A journal another
    /// process holds (a publish running now) is an error: two keys posting
    /// one plan at once would post its blobs twice.
    pub fn of_other_keys(dir: &Path, plan: &str, key_hint: &str) -> Result<Vec<(PathBuf, State)>> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(plan) else {
                continue;
            };
            if !rest.ends_with(".journal") {
                continue;
            }
            let path = e.path();
            let state = match Journal::read(&path) {
                Ok(s) => s,
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "skipping an unreadable journal");
                    continue;
                }
            };
            if !state
                .begin
                .as_ref()
                .is_some_and(|b| b.0 == plan && b.2 != key_hint)
            {
                continue;
            }
            let locked = File::open(&path)
                .map(|f| f.try_lock_shared().is_err())
                .unwrap_or(false);
            if locked {
                return Err(Error::JournalLocked { path });
            }
            out.push((path, state));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it says.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Appends entries in one write and syncs them to disk.
    pub fn append(&mut self, entries: Vec<Entry>) -> Result<()> {
        let mut buf = Vec::new();
        for e in &entries {
            let json = serde_json::to_vec(e).expect("journal entries always serialize");
            buf.extend_from_slice(checksum(&json).as_bytes());
            buf.push(b' ');
            buf.extend_from_slice(&json);
            buf.push(b'\n');
        }
        self.file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))?;
        for e in entries {
            self.state.apply(e);
        }
        Ok(())
    }
}

/// Replays a journal's text: the state it says, and the length of its
/// whole lines (a torn last line ends before the text does). A bad line
/// before the last is corruption.
fn replay(text: &[u8], path: &Path) -> Result<(State, usize)> {
    let mut state = State::default();
    let mut good = 0usize;
    let mut lines = text.split_inclusive(|&b| b == b'\n').peekable();
    let mut line_no = 0;
    while let Some(line) = lines.next() {
        line_no += 1;
        match parse_line(line) {
            Some(entry) => {
                state.apply(entry);
                good += line.len();
            }
            None if lines.peek().is_none() => {}
            None => {
                return Err(Error::JournalCorrupt {
                    path: path.to_path_buf(),
                    line: line_no,
                })
            }
        }
    }
    Ok((state, good))
}

/// Parses one journal line (with its newline); `None` when it is torn or
/// corrupt. Never panics.
pub fn parse_line(line: &[u8]) -> Option<Entry> {
    let line = line.strip_suffix(b"\n")?;
    let (sum, json) = (line.get(..16)?, line.get(17..)?);
    if line.get(16) != Some(&b' ') || sum != checksum(json).as_bytes() {
        return None;
    }
    serde_json::from_slice(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelda_da::{Namespace, ShareCommitment};

    fn receipt(h: u64) -> Receipt {
        Receipt {
            locator: Locator::Local {
                height: h,
                namespace: Namespace::DEFAULT,
                commitment: ShareCommitment::from_bytes([h as u8; 32]),
            },
            size: 10,
            fee: 0,
        }
    }

    #[test]
    fn entries_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut j = Journal::open(dir.path(), "p").unwrap();
            j.append(vec![
                Entry::Begin {
                    v: 1,
                    plan: "p".into(),
                    model_id: ModelId::from_bytes([1; 32]),
                    key_hint: "k".into(),
                    blobs: 3,
                },
                Entry::Submit {
                    ids: vec![0, 1],
                    head: 5,
                },
            ])
            .unwrap();
            j.append(vec![Entry::Done {
                id: 0,
                receipt: receipt(6),
                parity: vec!["ab".into()],
            }])
            .unwrap();
            // A second opener is refused while this one holds the lock.
            assert!(matches!(
                Journal::open(dir.path(), "p"),
                Err(Error::JournalLocked { .. })
            ));
        }
        let path = dir.path().join("p.journal");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"0123456789abcdef {\"e\":\"done\",\"id\":1")
            .unwrap();
        drop(f);
        let j = Journal::open(dir.path(), "p").unwrap();
        let s = j.state();
        assert_eq!(s.begin.as_ref().unwrap().3, 3);
        assert_eq!(s.done.len(), 1);
        assert_eq!(s.done[&0].1, vec!["ab".to_string()]);
        assert_eq!(s.scan_from(), Some(5));
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n') && text.lines().count() == 3);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut j = Journal::open(dir.path(), "p").unwrap();
            for h in 0..3 {
                j.append(vec![Entry::Record {
                    locator: receipt(h).locator,
                }])
                .unwrap();
            }
        }
        let path = dir.path().join("p.journal");
        let mut text = std::fs::read(&path).unwrap();
        let second = text.iter().position(|&b| b == b'\n').unwrap() + 30;
        text[second] ^= 1;
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            Journal::open(dir.path(), "p"),
            Err(Error::JournalCorrupt { line: 2, .. })
        ));
    }
}
