//! `modelda`: commit, sign, verify and prove model weights.
//!
//! The binary is thin: it parses flags, calls the library crates and prints
//! results for people or, with `--json`, for scripts.

// Results go through `out!`, which a closed stdout cannot make panic.
#![warn(clippy::print_stdout)]

/// `println!` for results: a reader that went away (`modelda blob list |
/// head`) ends the process quietly instead of panicking; see [`stdout`].
macro_rules! out {
    () => {
        $crate::stdout::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}

mod advise_cmd;
mod advisories;
mod archive_cmd;
mod archive_sync;
mod da_cmd;
mod index_cmd;
mod model_cmd;
mod node_client;
mod node_cmd;
mod progress;
mod publish_cmd;
mod stdout;
mod trust;

use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use modelda_manifest::sign::OmsHash;
use modelda_merkle::{FileRoot, LeafSize};
use serde_json::json;

use crate::model_cmd::{
    commit, keygen, parse_range, print_commit, prove, verify_proof, CommitArgs, ProveTarget,
};

/// The version `--version` prints; a test build (with the publisher's
/// fault hooks, which crash tests need) says so.
fn version() -> &'static str {
    if modelda_publisher::FAULT_HOOKS {
        concat!(env!("CARGO_PKG_VERSION"), " (test build: fault hooks on)")
    } else {
        env!("CARGO_PKG_VERSION")
    }
}

/// Publish AI model weights with verifiable BLAKE3 commitments.
#[derive(Parser)]
#[command(name = "modelda", version = version(), about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an ECDSA P-256 key pair (PKCS#8 private key, SPKI public key).
    Keygen {
        /// Private key path. The public key goes beside it with `.pub` appended.
        #[arg(long, default_value = "modelda-key.pem")]
        out: PathBuf,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Commit a model directory: print the model id and each file's BLAKE3 root.
    Commit {
        /// The model directory.
        dir: PathBuf,
        #[command(flatten)]
        opts: CommitArgs,
        /// Print the full manifest (files, tensors, lineage, training, card).
        #[arg(long)]
        manifest: bool,
    },
    /// Commit and sign a model directory: writes model.claims.sig and model.sig into it.
    Sign {
        /// The model directory.
        dir: PathBuf,
        /// Private key (PEM, PKCS#8 or SEC1).
        #[arg(long, short)]
        key: PathBuf,
        #[command(flatten)]
        opts: CommitArgs,
        /// File digest of the OpenSSF model signature: blake3 (the committed
        /// roots) or sha256 (what `model_signing verify key` 1.1 re-computes).
        #[arg(long, default_value = "blake3")]
        oms_hash: OmsHash,
    },
    /// Re-hash a signed model directory and check both signatures.
    Verify {
        /// The model directory.
        dir: PathBuf,
        /// Public key to require (PEM). Without it, the key in the claims is
        /// used and reported as not pinned.
        #[arg(long, short)]
        key: Option<PathBuf>,
        /// OpenSSF model signature bundle. Default: DIR/model.sig.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// modelda claims bundle. Default: DIR/model.claims.sig.
        #[arg(long)]
        claims: Option<PathBuf>,
        /// A modelda API (`modelda node`) to ask for advisories about the
        /// model; each one's signature is checked here.
        #[arg(long)]
        index: Option<String>,
        #[command(flatten)]
        advisories: advisories::AdvisoryArgs,
    },
    /// Write an inclusion proof for a leaf, byte range or tensor of a file.
    Prove {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        what: ProveTarget,
        /// Leaf size of the commitment.
        #[arg(long, default_value = "1MiB")]
        leaf_size: LeafSize,
        /// Where to write the proof. Default: FILE_NAME.proof in the current directory.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Also write the bytes of the covered leaves here (what verify-proof --data reads).
        #[arg(long)]
        data_out: Option<PathBuf>,
    },
    /// Commit, sign, erasure-code and post a model directory to a DA layer.
    Publish(publish_cmd::PublishArgs),
    /// Fetch a published model, file or tensor by its commitment, verifying every leaf.
    Fetch(publish_cmd::FetchArgs),
    /// Sign an advisory about a model (revoked, compromised-key, poisoned-data,
    /// vulnerable, superseded) and post it to the record namespace.
    Advise(advise_cmd::AdviseArgs),
    /// Run a local devnet speaking the Celestia node JSON-RPC and EigenDA proxy REST APIs.
    Devnet(da_cmd::DevnetArgs),
    /// Follow a layer's record namespace into an index of models, lineage
    /// and chunk places; or read, register, rebuild it.
    Index(Box<index_cmd::IndexArgs>),
    /// Follow a layer into an index and serve the GraphQL API, chunks and
    /// metrics over it, in one process (the embedded chain by default).
    Node(node_cmd::NodeArgs),
    /// Serve an existing index read-only (next to a running `modelda index`).
    Serve(node_cmd::ServeArgs),
    /// Submit, fetch, prove and verify single blobs on a DA layer.
    #[command(subcommand)]
    Blob(da_cmd::BlobCommand),
    /// An archive of published leaves (what `node --archive` keeps): its
    /// status and checks.
    #[command(subcommand)]
    Archive(archive_cmd::ArchiveCommand),
    /// Verify a proof against a trusted root; or, with --inclusion, an
    /// inclusion proof from the API against your own DA node.
    VerifyProof {
        /// The proof file.
        #[arg(long, short, required_unless_present = "inclusion")]
        proof: Option<PathBuf>,
        /// The trusted BLAKE3 root of the file (64 hex digits).
        #[arg(long, required_unless_present = "inclusion")]
        root: Option<FileRoot>,
        /// An `inclusionProof` answer of the API (or its `document` field)
        /// to verify entirely here: the bytes, the leaves, the file root, the
        /// model id and its signature, and each blob against headers from
        /// the DA node given with --da (never from the server).
        #[arg(long, conflicts_with_all = ["proof", "root", "file", "len", "leaf_size", "range"])]
        inclusion: Option<PathBuf>,
        /// With --inclusion: the public key (PEM) the signer must have.
        /// Without it the key in the claims is used, and reported as not
        /// pinned.
        #[arg(long, requires = "inclusion")]
        key: Option<PathBuf>,
        #[command(flatten)]
        da: da_cmd::DaArgs,
        /// The bytes of the covered leaves (as written by prove --data-out);
        /// with --inclusion, the proven bytes (optional: the proof carries
        /// them).
        #[arg(long, conflicts_with = "file", required_unless_present_any = ["file", "inclusion"])]
        data: Option<PathBuf>,
        /// Or: the whole file, from which the covered bytes are read.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Expected file length. Default: the length the proof states.
        #[arg(long)]
        len: Option<u64>,
        /// Expected leaf size. Default: the leaf size the proof states.
        #[arg(long)]
        leaf_size: Option<LeafSize>,
        /// Expected byte range A..B. Default: the range the proof states.
        #[arg(long, value_parser = parse_range)]
        range: Option<Range<u64>>,
        /// Write the verified bytes of the range here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            if cli.json {
                let msg = format!("{e:#}");
                // The run failed whether or not anyone still reads stdout.
                let _ = stdout::try_line(format_args!("{}", json!({ "error": msg })));
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    let show_progress = !cli.json && !cli.quiet;
    match &cli.command {
        Command::Keygen { out, force } => keygen(cli, out, *force),
        Command::Commit {
            dir,
            opts,
            manifest,
        } => {
            let model = commit(dir, opts, show_progress)?;
            print_commit(cli, &model, *manifest);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sign {
            dir,
            key,
            opts,
            oms_hash,
        } => model_cmd::sign(cli, dir, key, opts, oms_hash, show_progress),
        Command::Verify {
            dir,
            key,
            signature,
            claims,
            index,
            advisories,
        } => model_cmd::verify(
            cli,
            dir,
            &model_cmd::VerifyFiles {
                key: key.clone(),
                signature: signature.clone(),
                claims: claims.clone(),
            },
            index.as_deref(),
            advisories,
            show_progress,
        ),
        Command::Prove {
            file,
            what,
            leaf_size,
            out,
            data_out,
        } => prove(
            cli,
            file,
            what,
            *leaf_size,
            out.as_deref(),
            data_out.as_deref(),
            show_progress,
        ),
        Command::Publish(args) => {
            publish_cmd::publish(cli.json, show_progress, args).map(|()| ExitCode::SUCCESS)
        }
        Command::Fetch(args) => {
            publish_cmd::fetch(cli.json, show_progress, args).map(|()| ExitCode::SUCCESS)
        }
        Command::Advise(args) => advise_cmd::advise(cli.json, args).map(|()| ExitCode::SUCCESS),
        Command::Devnet(args) => da_cmd::devnet(cli.json, args).map(|()| ExitCode::SUCCESS),
        Command::Index(args) => index_cmd::index(cli.json, args).map(|()| ExitCode::SUCCESS),
        Command::Node(args) => node_cmd::node(cli.json, args).map(|()| ExitCode::SUCCESS),
        Command::Serve(args) => node_cmd::serve(cli.json, args).map(|()| ExitCode::SUCCESS),
        Command::Blob(cmd) => da_cmd::blob(cli.json, cmd).map(|()| ExitCode::SUCCESS),
        Command::Archive(cmd) => archive_cmd::archive(cli.json, cmd).map(|()| ExitCode::SUCCESS),
        Command::VerifyProof {
            inclusion: Some(inc),
            key,
            da,
            data,
            out,
            ..
        } => model_cmd::verify_inclusion(
            cli,
            inc,
            key.as_deref(),
            da,
            data.as_deref(),
            out.as_deref(),
        ),
        Command::VerifyProof {
            proof,
            root,
            data,
            file,
            len,
            leaf_size,
            range,
            out,
            ..
        } => verify_proof(
            cli,
            proof.as_deref().context("give --proof")?,
            root.as_ref().context("give --root")?,
            data.as_deref(),
            file.as_deref(),
            *len,
            *leaf_size,
            range.clone(),
            out.as_deref(),
        ),
    }
}
