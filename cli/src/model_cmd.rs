//! The commands on a model directory or file, without a DA layer: keygen,
//! commit, sign, verify, prove and verify-proof.

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use modelda_manifest::prove;
use modelda_manifest::sign::{sign_model, OmsHash, PrivateKey};
use modelda_manifest::verify::{verify_dir, VerifyOptions};
use modelda_manifest::{commit_dir, CommitOptions, CommittedModel, LineageClaim};
use modelda_merkle::{FileRoot, LeafSize, RangeProof};
use serde_json::json;

use crate::progress::Bar;
use crate::Cli;

#[derive(Args, Clone, Debug)]
pub(crate) struct CommitArgs {
    /// Leaf size: a power of two from 16KiB to 8MiB. Default: 1MiB; when
    /// publishing to a layer whose blobs hold less than a 1 MiB leaf and its
    /// envelope (Avail), the largest that fits (512KiB).
    #[arg(long)]
    pub(crate) leaf_size: Option<LeafSize>,
    /// Training manifest (TOML). Default: DIR/modelda-training.toml when present.
    #[arg(long)]
    pub(crate) training: Option<PathBuf>,
    /// A parent model: MODEL_ID[:RELATION] with RELATION one of finetune,
    /// adapter, quantized, merge, distill, other (default finetune). Repeatable.
    #[arg(long = "parent", value_name = "MODEL_ID[:RELATION]")]
    pub(crate) parents: Vec<LineageClaim>,
}

/// The largest leaf size, at most the default (1 MiB), whose shard
/// envelope fits in a blob of `max_blob` bytes.
pub(crate) fn fitting_leaf_size(max_blob: usize) -> Option<LeafSize> {
    LeafSize::all()
        .filter(|l| *l <= LeafSize::DEFAULT)
        .filter(|l| l.bytes() as usize + modelda_publisher::envelope::HEADER_LEN <= max_blob)
        .last()
}

impl CommitArgs {
    pub(crate) fn options(&self) -> CommitOptions {
        self.options_with(self.leaf_size.unwrap_or_default())
    }

    /// The leaf size to publish with in blobs of at most `max_blob` bytes:
    /// the one asked for, else 1 MiB or the largest whose shard envelope
    /// fits.
    pub(crate) fn leaf_size_for(&self, max_blob: usize) -> LeafSize {
        self.leaf_size
            .unwrap_or_else(|| fitting_leaf_size(max_blob).unwrap_or_default())
    }

    pub(crate) fn options_with(&self, leaf_size: LeafSize) -> CommitOptions {
        CommitOptions {
            leaf_size,
            training: self.training.clone(),
            lineage: self.parents.clone(),
            skip_tensors: false,
        }
    }
}

#[derive(Args, Clone)]
#[group(required = true, multiple = false)]
pub(crate) struct ProveTarget {
    /// Prove leaf I.
    #[arg(long)]
    leaf: Option<u64>,
    /// Prove the byte range A..B (end exclusive).
    #[arg(long, value_parser = parse_range)]
    range: Option<Range<u64>>,
    /// Prove the bytes of tensor NAME (safetensors or GGUF files).
    #[arg(long)]
    tensor: Option<String>,
}

pub(crate) fn parse_range(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not a range: write START..END"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("bad range start {a:?}"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("bad range end {b:?}"))?;
    if a >= b {
        return Err(format!("range {a}..{b} is empty"));
    }
    Ok(a..b)
}

/// `modelda sign`: commits DIR and writes `model.sig` and the claims.
pub(crate) fn sign(
    cli: &Cli,
    dir: &Path,
    key: &Path,
    opts: &CommitArgs,
    oms_hash: &OmsHash,
    show_progress: bool,
) -> Result<ExitCode> {
    let key_pair = PrivateKey::load(key)
        .with_context(|| format!("loading the signing key {}", key.display()))?;
    let model = commit(dir, opts, show_progress)?;
    let signed = sign_model(dir, &model, &key_pair, *oms_hash)
        .with_context(|| format!("signing {}", dir.display()))?;
    if cli.json {
        out!(
            "{}",
            json!({
                "model_id": model.id.to_hex(),
                "signature": signed.oms,
                "claims": signed.claims,
                "key_hint": signed.key_hint,
                "oms_hash": oms_hash.as_str(),
                "files": files_json(&model),
            })
        );
    } else {
        out!("model id   {}", model.id);
        out!("signed by  key {}", signed.key_hint);
        out!(
            "wrote      {} (OpenSSF Model Signing v1.0, {})",
            signed.oms.display(),
            oms_hash.as_str()
        );
        out!(
            "wrote      {} (modelda claims: model id, lineage, training)",
            signed.claims.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The key and bundles `modelda verify` reads.
pub(crate) struct VerifyFiles {
    /// Public key to require.
    pub key: Option<PathBuf>,
    /// OpenSSF model signature bundle.
    pub signature: Option<PathBuf>,
    /// modelda claims bundle.
    pub claims: Option<PathBuf>,
}

/// `modelda verify`: re-hashes DIR and checks both signatures; with
/// `index`, asks that node for advisories about the model.
pub(crate) fn verify(
    cli: &Cli,
    dir: &Path,
    files: &VerifyFiles,
    index: Option<&str>,
    advisories: &crate::advisories::AdvisoryArgs,
    show_progress: bool,
) -> Result<ExitCode> {
    let trusted = crate::advisories::trusted(advisories)?;
    if index.is_none()
        && (advisories.deny_advisories || !advisories.trust_advisories_from.is_empty())
    {
        bail!("--deny-advisories and --trust-advisories-from need --index URL: the node to ask for advisories");
    }
    let bar = Bar::new(show_progress, "verifying");
    let opts = VerifyOptions {
        key: files.key.clone(),
        oms: files.signature.clone(),
        claims: files.claims.clone(),
        ..VerifyOptions::default()
    };
    let report =
        verify_dir(dir, &opts, &bar).with_context(|| format!("verifying {}", dir.display()))?;
    bar.finish();
    let found = match index {
        Some(url) => {
            let rt = crate::da_cmd::runtime()?;
            let found = rt.block_on(crate::advisories::check(
                url,
                &report.model_id,
                &report.key_hint,
                &trusted,
            ))?;
            crate::advisories::print(cli.json, &report.model_id, &found);
            Some(found)
        }
        None => None,
    };
    if let Some(found) = &found {
        crate::advisories::enforce(advisories.deny_advisories, &report.model_id, found)?;
    }
    if cli.json {
        let mut v = serde_json::to_value(&report)?;
        v["ok"] = json!(report.ok());
        v["advisories"] = found
            .as_deref()
            .map(crate::advisories::to_json)
            .unwrap_or(serde_json::Value::Null);
        out!("{v}");
    } else if report.ok() {
        out!("OK  model {}", report.model_id);
        out!(
            "    {} files, {} bytes re-hashed; both signatures valid",
            report.files,
            report.bytes
        );
        if report.key_pinned {
            out!("    signed by the given key {}", report.key_hint);
        } else {
            out!(
                "    signed by key {} (not pinned: pass --key PUB.pem to require a key you trust)",
                report.key_hint
            );
        }
    } else {
        eprintln!(
            "FAILED  model {} does not match its signature:",
            report.model_id
        );
        for m in &report.mismatches {
            eprintln!("  {m}");
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) fn keygen(cli: &Cli, out: &Path, force: bool) -> Result<ExitCode> {
    let public_path = PathBuf::from(format!("{}.pub", out.display()));
    for p in [out, public_path.as_path()] {
        if p.exists() && !force {
            bail!(
                "{} already exists; pass --force to overwrite it",
                p.display()
            );
        }
    }
    let key = PrivateKey::generate();
    write_private(out, key.to_pem().as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    std::fs::write(&public_path, key.public().to_pem())
        .with_context(|| format!("writing {}", public_path.display()))?;
    if cli.json {
        out!(
            "{}",
            json!({"private_key": out, "public_key": public_path, "key_hint": key.public().hint()})
        );
    } else {
        out!("private key  {} (keep it secret)", out.display());
        out!("public key   {}", public_path.display());
        out!("key hint     {}", key.public().hint());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

pub(crate) fn commit(dir: &Path, args: &CommitArgs, show_progress: bool) -> Result<CommittedModel> {
    let bar = Bar::new(show_progress, "hashing");
    let model = commit_dir(dir, &args.options(), &bar)
        .with_context(|| format!("committing {}", dir.display()))?;
    bar.finish();
    Ok(model)
}

pub(crate) fn files_json(model: &CommittedModel) -> serde_json::Value {
    model
        .manifest
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "size": f.size,
                "root": f.root.to_hex(),
                "format": f.format,
                "tensors": f.tensors.len(),
            })
        })
        .collect()
}

pub(crate) fn print_commit(cli: &Cli, model: &CommittedModel, full: bool) {
    if cli.json {
        let mut v = json!({
            "model_id": model.id.to_hex(),
            "leaf_size": model.manifest.files.first().map(|f| f.leaf_size.bytes()),
            "total_size": model.manifest.total_size(),
            "files": files_json(model),
        });
        if full {
            v["manifest"] = serde_json::to_value(&model.manifest).expect("manifests serialize");
        }
        out!("{v}");
        return;
    }
    out!("model id  {}", model.id);
    for f in &model.manifest.files {
        let tensors = if f.tensors.is_empty() {
            String::new()
        } else {
            format!("  ({} tensors)", f.tensors.len())
        };
        out!("{}  {}{}", f.root, f.path, tensors);
    }
    for c in &model.manifest.lineage {
        out!("parent    {} ({})", c.parent, c.relation);
    }
    if full {
        out!(
            "{}",
            serde_json::to_string_pretty(&model.manifest).expect("manifests serialize")
        );
    }
}

pub(crate) fn prove(
    cli: &Cli,
    file: &Path,
    what: &ProveTarget,
    leaf_size: LeafSize,
    out: Option<&Path>,
    data_out: Option<&Path>,
    show_progress: bool,
) -> Result<ExitCode> {
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    let len = meta.len();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let (bytes, tensor) = if let Some(i) = what.leaf {
        let r = leaf_size.leaf_bytes(len, i);
        if r.is_empty() {
            bail!(
                "{} has {} leaves of {leaf_size}; leaf {i} does not exist",
                file.display(),
                leaf_size.leaf_count(len)
            );
        }
        (r, None)
    } else if let Some(r) = &what.range {
        if r.end > len {
            bail!(
                "range {}..{} ends past the end of {} ({len} bytes)",
                r.start,
                r.end,
                file.display()
            );
        }
        (r.clone(), None)
    } else {
        let t = what.tensor.as_deref().expect("clap requires one target");
        let span = prove::find_tensor(file, t)?;
        (span.start..span.end, Some(span))
    };
    let bar = Bar::new(show_progress, "hashing");
    let commitment = prove::commit_stream(file, leaf_size, &bar)?;
    bar.finish();
    let proof = commitment.prove(bytes.clone())?;
    let enc = proof.encode();
    let out_path = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("{name}.proof")));
    std::fs::write(&out_path, &enc).with_context(|| format!("writing {}", out_path.display()))?;
    let covered = proof.covered();
    if let Some(d) = data_out {
        let bytes = read_range(file, covered.clone())?;
        std::fs::write(d, bytes).with_context(|| format!("writing {}", d.display()))?;
    }
    let leaves = proof.leaves();
    if cli.json {
        out!(
            "{}",
            json!({
                "file": file,
                "root": commitment.root().to_hex(),
                "size": len,
                "leaf_size": leaf_size.bytes(),
                "range": [bytes.start, bytes.end],
                "leaves": [leaves.start, leaves.end],
                "covered": [covered.start, covered.end],
                "tensor": tensor.as_ref().map(|t| json!({"name": t.name, "dtype": t.dtype, "shape": t.shape})),
                "siblings": proof.siblings().len(),
                "proof": out_path,
                "proof_hex": hex::encode(&enc),
            })
        );
    } else {
        out!("root     {}", commitment.root());
        out!(
            "range    bytes {}..{} (leaves {}..{})",
            bytes.start,
            bytes.end,
            leaves.start,
            leaves.end
        );
        out!(
            "proof    {} ({} bytes, {} sibling hashes)",
            out_path.display(),
            enc.len(),
            proof.siblings().len()
        );
        out!(
            "verify   modelda verify-proof --proof {} --root {} --file {}",
            out_path.display(),
            commitment.root(),
            file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_range(file: &Path, r: Range<u64>) -> Result<Vec<u8>> {
    prove::read_range(file, r.clone()).with_context(|| {
        format!(
            "{} does not hold the bytes the proof covers ({}..{})",
            file.display(),
            r.start,
            r.end
        )
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn verify_proof(
    cli: &Cli,
    proof_path: &Path,
    root: &FileRoot,
    data: Option<&Path>,
    file: Option<&Path>,
    len: Option<u64>,
    leaf_size: Option<LeafSize>,
    range: Option<Range<u64>>,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let enc =
        std::fs::read(proof_path).with_context(|| format!("reading {}", proof_path.display()))?;
    let proof =
        RangeProof::decode(&enc).with_context(|| format!("decoding {}", proof_path.display()))?;
    let covered = proof.covered();
    let bytes = match (data, file) {
        (Some(d), _) => std::fs::read(d).with_context(|| format!("reading {}", d.display()))?,
        (None, Some(f)) => read_range(f, covered.clone())?,
        (None, None) => return Err(anyhow!("give --data or --file")),
    };
    let len = len.unwrap_or(proof.file_len());
    let leaf_size = leaf_size.unwrap_or(proof.leaf_size());
    let range = range.unwrap_or(proof.bytes());
    let verified = proof
        .verify(root, len, leaf_size, range.clone(), &bytes)
        .with_context(|| format!("verifying {} against root {root}", proof_path.display()))?;
    if let Some(o) = out {
        std::fs::write(o, verified).with_context(|| format!("writing {}", o.display()))?;
    }
    if cli.json {
        out!(
            "{}",
            json!({"ok": true, "root": root.to_hex(), "range": [range.start, range.end], "file_len": len,
                   "leaf_size": leaf_size.bytes(), "blake3": blake3_hex(verified)})
        );
    } else {
        out!(
            "OK  bytes {}..{} verify against root {root}",
            range.start,
            range.end
        );
        out!("    blake3 of the range: {}", blake3_hex(verified));
    }
    Ok(ExitCode::SUCCESS)
}

fn blake3_hex(b: &[u8]) -> String {
    blake3::hash(b).to_hex().to_string()
}

/// `verify-proof --inclusion`: checks an API inclusion proof with the
/// user's own DA node.
pub(crate) fn verify_inclusion(
    cli: &Cli,
    path: &Path,
    key: Option<&Path>,
    da: &crate::da_cmd::DaArgs,
    data: Option<&Path>,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let doc = modelda_wire::inclusion::parse(&raw)
        .with_context(|| format!("reading the inclusion proof {}", path.display()))?;
    let pinned = key
        .map(|k| {
            let pem = std::fs::read(k).with_context(|| format!("reading {}", k.display()))?;
            modelda_manifest::sign::PublicKey::from_pem(k, &String::from_utf8_lossy(&pem))
                .with_context(|| format!("reading the public key {}", k.display()))
        })
        .transpose()?;
    let given = data
        .map(|d| std::fs::read(d).with_context(|| format!("reading {}", d.display())))
        .transpose()?;
    let rt = crate::da_cmd::runtime()?;
    let verified = rt.block_on(async {
        let layer = da
            .config()?
            .open(modelda_da::Access::Read)
            .await
            .with_context(|| format!("opening your {} node to fetch headers", da.da))?;
        modelda_da::read::verify_inclusion(&doc, layer.as_ref(), pinned.as_ref(), given.as_deref())
            .await
            .with_context(|| format!("verifying {}", path.display()))
    })?;
    if let Some(o) = out {
        std::fs::write(o, &verified.data).with_context(|| format!("writing {}", o.display()))?;
    }
    if cli.json {
        out!("{}", json!({"ok": true, "verified": verified}));
    } else {
        out!(
            "OK  {} bytes {}..{}{} of model {}",
            verified.file,
            verified.bytes.start,
            verified.bytes.end,
            verified
                .tensor
                .as_ref()
                .map(|t| format!(" (tensor {t})"))
                .unwrap_or_default(),
            verified.model_id
        );
        out!(
            "    signed by {} ({})",
            verified.signer,
            if verified.pinned {
                "the key you pinned"
            } else {
                "the key in the claims; pin one with --key"
            }
        );
        for (l, h) in &verified.blobs {
            match h {
                Some(h) => out!("    included: {l} against your node's header {h}"),
                None => out!("    included: {l} (re-read through your proxy)"),
            }
        }
        out!("    blake3 of the bytes: {}", verified.blake3);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaf_size_fits_the_layer() {
        let l = |s: &str| s.parse::<LeafSize>().unwrap();
        // Avail: 1 MiB blobs hold a 512 KiB leaf with its envelope.
        assert_eq!(fitting_leaf_size(1 << 20), Some(l("512KiB")));
        // Celestia and the local chain: the default.
        assert_eq!(fitting_leaf_size(2 << 20), Some(LeafSize::DEFAULT));
        assert_eq!(fitting_leaf_size(16 << 20), Some(LeafSize::DEFAULT));
        assert_eq!(fitting_leaf_size(100_000), Some(l("64KiB")));
        assert_eq!(fitting_leaf_size(1000), None);
    }
}
