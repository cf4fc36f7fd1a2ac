//! `modelda devnet` and `modelda blob`: run the devnet, and move single blobs
//! through any DA layer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use modelda_da::avail::AvailOptions;
use modelda_da::celestia::CelestiaOptions;
use modelda_da::eigenda::EigenDaOptions;
use modelda_da::{
    Access, ChainLimits, DaLayer, InclusionProof, LayerConfig, LayerKind, Locator, Namespace,
};
use modelda_devnet::jwt::{JwtKey, Permission};
use modelda_devnet::{Devnet, DevnetConfig, Faults, JWT_SECRET_FILE};
use serde_json::json;

/// Which DA layer to use, and how to reach it.
#[derive(Args, Clone, Debug)]
pub struct DaArgs {
    /// DA layer: local (the embedded chain), celestia, eigenda or avail.
    #[arg(long, default_value = "local", value_parser = parse_kind)]
    pub da: LayerKind,
    /// Data directory of the local chain.
    #[arg(long, env = "MODELDA_DATA_DIR", default_value = ".modelda/local")]
    pub data_dir: PathBuf,
    /// Celestia node JSON-RPC URL.
    #[arg(
        long,
        env = "MODELDA_CELESTIA_URL",
        default_value = "http://127.0.0.1:26658"
    )]
    pub celestia_url: String,
    /// Celestia node auth token (JWT). Prefer --celestia-token-file. Also
    /// read from CELESTIA_NODE_AUTH_TOKEN, as celestia-node's own CLI does.
    #[arg(long, env = "MODELDA_CELESTIA_TOKEN", hide_env_values = true)]
    pub celestia_token: Option<String>,
    /// File holding the Celestia node auth token.
    #[arg(long, env = "MODELDA_CELESTIA_TOKEN_FILE")]
    pub celestia_token_file: Option<PathBuf>,
    /// Key name in the Celestia node's keyring to pay with.
    #[arg(long)]
    pub celestia_key_name: Option<String>,
    /// Signer address (celestia1...) in the node's keyring to pay with.
    #[arg(long)]
    pub celestia_signer: Option<String>,
    /// Gas price in utia per gas.
    #[arg(long, default_value_t = modelda_da::celestia::MIN_GAS_PRICE)]
    pub gas_price: f64,
    /// EigenDA proxy URL.
    #[arg(
        long,
        env = "MODELDA_EIGENDA_URL",
        default_value = "http://127.0.0.1:3100"
    )]
    pub eigenda_url: String,
    /// Avail light client API URL (app mode: it posts with its own app id
    /// and key).
    #[arg(
        long,
        env = "MODELDA_AVAIL_URL",
        default_value = "http://127.0.0.1:7007"
    )]
    pub avail_url: String,
    /// Avail full node JSON-RPC URL (data proofs, and the headers they are
    /// checked against).
    #[arg(
        long,
        env = "MODELDA_AVAIL_NODE_URL",
        default_value = "http://127.0.0.1:9944"
    )]
    pub avail_node_url: String,
    /// Avail app id to post with; the light client must serve it. Default:
    /// the light client's.
    #[arg(long, env = "MODELDA_AVAIL_APP_ID")]
    pub avail_app_id: Option<u32>,
    /// Blocks an Avail submission stays valid (the mortal era the light
    /// client signs with). A submission whose answer was lost is looked
    /// for only after this many blocks (and 5 more for finality), so that
    /// nothing is posted twice.
    #[arg(long, default_value_t = modelda_da::avail::MORTALITY_BLOCKS)]
    pub avail_mortality_blocks: u64,
    /// Namespace of data blobs: 20 hex digits of a version-0 id.
    #[arg(long, default_value_t = Namespace::DEFAULT)]
    pub namespace: Namespace,
    /// Namespace of publication records. The default is the one every
    /// modelda publication on a chain shares, which indexers follow.
    #[arg(long, default_value_t = Namespace::RECORDS)]
    pub record_namespace: Namespace,
    /// Use Celestia app v6 limits (8 MiB transactions, 512x512 squares).
    #[arg(long)]
    pub app_v6: bool,
    /// Blocks a Celestia transaction may wait in the mempool before it is
    /// evicted (celestia-app's ttl-num-blocks). A submission whose answer
    /// was lost is looked for only after this many blocks, so that nothing
    /// is posted twice.
    #[arg(long, default_value_t = modelda_da::celestia::DEFAULT_MEMPOOL_TTL_BLOCKS)]
    pub mempool_ttl_blocks: u64,
}

/// The Celestia token from the flag, `MODELDA_CELESTIA_TOKEN`, the token
/// file, or celestia-node's own `CELESTIA_NODE_AUTH_TOKEN`, in that order.
fn celestia_token(flag: Option<&str>, file: Option<&Path>) -> Result<Option<String>> {
    if let Some(t) = flag {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(f) = file {
        let t = std::fs::read_to_string(f)
            .with_context(|| format!("reading the token file {}", f.display()))?;
        return Ok(Some(t.trim().to_string()));
    }
    Ok(std::env::var("CELESTIA_NODE_AUTH_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty()))
}

fn matrix_side(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if v.is_power_of_two() && (8..=1024).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: a power of two from 8 to 1024")),
    }
}

fn parse_kind(s: &str) -> Result<LayerKind, String> {
    match s {
        "local" => Ok(LayerKind::Local),
        "celestia" => Ok(LayerKind::Celestia),
        "eigenda" => Ok(LayerKind::Eigenda),
        "avail" => Ok(LayerKind::Avail),
        _ => Err(format!(
            "unknown DA layer {s:?}: use local, celestia, eigenda or avail"
        )),
    }
}

impl DaArgs {
    /// Chain limits for the local and Celestia layers.
    pub fn chain_limits(&self) -> ChainLimits {
        if self.app_v6 {
            ChainLimits::APP_V6
        } else {
            ChainLimits::APP_V5
        }
    }

    /// The layer's settings from the flags, the environment and the token
    /// file.
    pub fn config(&self) -> Result<LayerConfig> {
        let token = celestia_token(
            self.celestia_token.as_deref(),
            self.celestia_token_file.as_deref(),
        )?;
        Ok(LayerConfig {
            kind: self.da,
            data_dir: self.data_dir.clone(),
            limits: self.chain_limits(),
            celestia: CelestiaOptions {
                url: self.celestia_url.clone(),
                token,
                gas_price: self.gas_price,
                key_name: self.celestia_key_name.clone(),
                signer: self.celestia_signer.clone(),
                limits: self.chain_limits(),
                mempool_ttl_blocks: self.mempool_ttl_blocks,
                ..Default::default()
            },
            eigenda: EigenDaOptions {
                url: self.eigenda_url.clone(),
                ..Default::default()
            },
            avail: AvailOptions {
                url: self.avail_url.clone(),
                node_url: self.avail_node_url.clone(),
                app_id: self.avail_app_id,
                mortality_blocks: self.avail_mortality_blocks,
                ..Default::default()
            },
        })
    }

    /// Opens the chosen layer to write to it.
    pub async fn open(&self) -> Result<Box<dyn DaLayer>> {
        self.open_with(Access::Write).await
    }

    /// Opens the chosen layer to read from it: the local chain is opened as
    /// a reader, which never locks out a process (a publish) writing it.
    pub async fn open_read(&self) -> Result<Box<dyn DaLayer>> {
        self.open_with(Access::Read).await
    }

    async fn open_with(&self, access: Access) -> Result<Box<dyn DaLayer>> {
        let config = self.config()?;
        config.open(access).await.with_context(|| match self.da {
            LayerKind::Local => format!("opening the local chain in {}", self.data_dir.display()),
            LayerKind::Celestia => {
                format!("connecting to the Celestia node at {}", self.celestia_url)
            }
            LayerKind::Eigenda => {
                format!("connecting to the EigenDA proxy at {}", self.eigenda_url)
            }
            LayerKind::Avail => format!(
                "connecting to the Avail light client at {} and node at {}",
                self.avail_url, self.avail_node_url
            ),
        })
    }
}

/// `modelda devnet` options.
#[derive(Args, Clone, Debug)]
pub struct DevnetArgs {
    #[command(subcommand)]
    action: Option<DevnetAction>,
    /// Where the devnet keeps its chain and JWT secret.
    #[arg(long, default_value = ".modelda/devnet", global = true)]
    data_dir: PathBuf,
    /// Celestia JSON-RPC listen address.
    #[arg(long, default_value = "127.0.0.1:26658")]
    rpc_addr: SocketAddr,
    /// EigenDA REST listen address.
    #[arg(long, default_value = "127.0.0.1:3100")]
    eigenda_addr: SocketAddr,
    /// Avail light client API (and node JSON-RPC) listen address.
    #[arg(long, default_value = "127.0.0.1:7007")]
    avail_addr: SocketAddr,
    /// The Avail light client's app id (the devnet's chain knows 0 to 9,
    /// as Avail's dev genesis).
    #[arg(long, default_value_t = 1)]
    avail_app_id: u32,
    /// Blocks an Avail submission stays valid before it is dropped, never
    /// included (the light client's mortal era).
    #[arg(long, default_value_t = modelda_da::avail::MORTALITY_BLOCKS)]
    avail_mortality_blocks: u64,
    /// Rows of the Avail data matrix (a power of two; Avail's genesis: 256).
    #[arg(long, default_value_t = 256, value_parser = matrix_side)]
    avail_matrix_rows: u32,
    /// Columns of the Avail data matrix (a power of two; Avail's genesis:
    /// 512).
    #[arg(long, default_value_t = 512, value_parser = matrix_side)]
    avail_matrix_cols: u32,
    /// Time between blocks, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    block_time_ms: u64,
    /// Use Celestia app v6 limits (8 MiB transactions, 512x512 squares).
    #[arg(long)]
    app_v6: bool,
    /// Serve the JSON-RPC API without JWT auth.
    #[arg(long)]
    no_auth: bool,
    /// Fault: latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fault: fraction of requests answered with a retryable error (503 / 429).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fault: fraction of EigenDA requests answered with 503 failover.
    #[arg(long, default_value_t = 0.0)]
    failover_rate: f64,
    /// Fault: fraction of connections dropped.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Fault: fraction of submissions (Celestia, Avail) taken into the
    /// mempool and then dropped from it (never included), the client hearing nothing.
    #[arg(long, default_value_t = 0.0)]
    evict_rate: f64,
    /// Fault: fraction of submissions (Celestia, Avail) included whose
    /// answer is lost (the connection drops after inclusion).
    #[arg(long, default_value_t = 0.0)]
    lose_answer_rate: f64,
    /// Fault: a submission waits a random 0 to this many blocks in the
    /// mempool before a block may include it.
    #[arg(long, default_value_t = 0)]
    inclusion_delay_blocks: u64,
    /// Blocks a submission may wait in the mempool before it is evicted.
    #[arg(long, default_value_t = modelda_da::celestia::DEFAULT_MEMPOOL_TTL_BLOCKS)]
    mempool_ttl_blocks: u64,
    /// Prune blob data older than this many blocks, as real nodes do past
    /// their storage window (Celestia: 7 days and an hour; EigenDA: about
    /// 14 days): on the Celestia, EigenDA and Avail APIs alike, blob reads,
    /// listings and proofs of older heights (an EigenDA blob: dispersed
    /// that many blocks ago) fail the way the real services answer;
    /// headers stay served. Default: never.
    #[arg(long)]
    storage_window_blocks: Option<u64>,
}

#[derive(Subcommand, Clone, Debug)]
enum DevnetAction {
    /// Print an auth token for the devnet's JSON-RPC API.
    Token {
        /// Permission: read, write or admin.
        #[arg(long, default_value = "write")]
        perm: Permission,
    },
}

/// `modelda blob` commands.
#[derive(Subcommand, Clone, Debug)]
pub enum BlobCommand {
    /// Submit files as blobs and print their locators.
    Submit {
        /// Files to submit, one blob each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        da: DaArgs,
    },
    /// Fetch the blob at a locator.
    Get {
        /// The locator (local:H:NS:C, celestia:H:NS:C or eigenda:0xCERT).
        locator: Locator,
        /// Where to write the blob.
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        da: DaArgs,
    },
    /// Write an inclusion proof for the blob at a locator.
    Prove {
        /// The locator.
        locator: Locator,
        /// Where to write the proof (JSON).
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        da: DaArgs,
    },
    /// Verify a blob and its proof against a header fetched from the layer.
    Verify {
        /// The locator.
        locator: Locator,
        /// The blob's bytes.
        #[arg(long)]
        data: PathBuf,
        /// The proof (JSON).
        #[arg(long)]
        proof: PathBuf,
        #[command(flatten)]
        da: DaArgs,
    },
    /// Print the layer's head height and limits.
    Head {
        #[command(flatten)]
        da: DaArgs,
    },
    /// List the blobs of --namespace at a height (local chain and Celestia;
    /// on Avail, every submission of the light client's app id; EigenDA
    /// cannot be listed).
    List {
        /// The height.
        #[arg(long)]
        height: u64,
        #[command(flatten)]
        da: DaArgs,
    },
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `modelda devnet`.
pub fn devnet(json: bool, args: &DevnetArgs) -> Result<()> {
    if let Some(DevnetAction::Token { perm }) = &args.action {
        let path = args.data_dir.join(JWT_SECRET_FILE);
        let key =
            JwtKey::load_or_create(&path).with_context(|| format!("reading {}", path.display()))?;
        let token = key.token(*perm);
        if json {
            out!("{}", json!({ "token": token, "perm": perm }));
        } else {
            out!("{token}");
        }
        return Ok(());
    }
    for (name, rate) in [
        ("--error-rate", args.error_rate),
        ("--failover-rate", args.failover_rate),
        ("--drop-rate", args.drop_rate),
        ("--evict-rate", args.evict_rate),
        ("--lose-answer-rate", args.lose_answer_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            bail!("{name} must be between 0 and 1, got {rate}");
        }
    }
    let cfg = DevnetConfig {
        data_dir: args.data_dir.clone(),
        rpc_addr: args.rpc_addr,
        eigenda_addr: args.eigenda_addr,
        block_time: Duration::from_millis(args.block_time_ms.max(10)),
        limits: if args.app_v6 {
            ChainLimits::APP_V6
        } else {
            ChainLimits::APP_V5
        },
        faults: Faults {
            latency: Duration::from_millis(args.latency_ms),
            error_rate: args.error_rate,
            failover_rate: args.failover_rate,
            drop_rate: args.drop_rate,
            evict_rate: args.evict_rate,
            lose_answer_rate: args.lose_answer_rate,
            inclusion_delay_blocks: args.inclusion_delay_blocks,
        },
        auth: !args.no_auth,
        mempool_ttl_blocks: args.mempool_ttl_blocks,
        storage_window_blocks: args.storage_window_blocks,
        avail_addr: Some(args.avail_addr),
        avail_app_id: args.avail_app_id,
        avail_mortality_blocks: args.avail_mortality_blocks,
        avail_matrix: (args.avail_matrix_rows, args.avail_matrix_cols),
        ..Default::default()
    };
    runtime()?.block_on(async {
        let d = Devnet::start(cfg)
            .await
            .with_context(|| format!("starting the devnet in {}", args.data_dir.display()))?;
        let token = d.token(Permission::Write);
        let head = d.chain().head()?;
        if json {
            out!(
                "{}",
                json!({"celestia_rpc": d.rpc_url(), "eigenda": d.eigenda_url(),
                       "avail": d.avail_url(), "head": head,
                       "data_dir": args.data_dir, "write_token": token})
            );
        } else {
            out!("modelda devnet: chain in {} at height {head}", args.data_dir.display());
            out!("  Celestia node JSON-RPC  {}", d.rpc_url());
            out!("  EigenDA proxy REST      {}", d.eigenda_url());
            let avail = d.avail_url().unwrap_or_default();
            out!("  Avail light client API  {avail} (and node JSON-RPC, app id {})", args.avail_app_id);
            out!();
            out!("Point modelda at it:");
            out!("  export MODELDA_CELESTIA_URL={}", d.rpc_url());
            out!(
                "  export MODELDA_CELESTIA_TOKEN=$(modelda devnet token --perm write --data-dir {})",
                args.data_dir.display()
            );
            out!("  export MODELDA_EIGENDA_URL={}", d.eigenda_url());
            out!("  export MODELDA_AVAIL_URL={avail} MODELDA_AVAIL_NODE_URL={avail}");
            out!("  modelda blob submit FILE --da celestia    # or --da eigenda, --da avail");
            out!();
            out!("Ctrl-C stops it; the chain stays on disk.");
        }
        shutdown_signal().await;
        eprintln!("stopping the devnet ...");
        d.stop().await;
        Ok(())
    })
}

/// Runs a `modelda blob` command.
pub fn blob(json: bool, cmd: &BlobCommand) -> Result<()> {
    runtime()?.block_on(async {
        match cmd {
            BlobCommand::Submit { files, da } => {
                let mut blobs = Vec::with_capacity(files.len());
                for f in files {
                    blobs.push(
                        std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
                    );
                }
                let layer = da.open().await?;
                let receipts = layer
                    .submit(da.namespace, blobs)
                    .await
                    .with_context(|| format!("submitting to {}", da.da))?;
                if json {
                    // Locators in their text form, as every command prints
                    // them and as `blob get` and `fetch --record` take them.
                    let items: Vec<_> = receipts
                        .iter()
                        .map(|r| json!({"locator": r.locator.to_string(), "size": r.size, "fee": r.fee}))
                        .collect();
                    out!("{}", serde_json::Value::Array(items));
                } else {
                    for (f, r) in files.iter().zip(&receipts) {
                        out!(
                            "{}  {} ({} bytes, fee {})",
                            r.locator,
                            f.display(),
                            r.size,
                            r.fee
                        );
                    }
                }
            }
            BlobCommand::Get { locator, out, da } => {
                let layer = da.open_read().await?;
                let data = layer
                    .get(locator)
                    .await
                    .with_context(|| format!("fetching {locator}"))?;
                write_atomic(out, &data)?;
                if json {
                    out!(
                        "{}",
                        json!({"locator": locator.to_string(), "size": data.len(), "out": out})
                    );
                } else {
                    out!("wrote {} bytes to {}", data.len(), out.display());
                }
            }
            BlobCommand::Prove { locator, out, da } => {
                let layer = da.open_read().await?;
                let proof = layer
                    .prove(locator)
                    .await
                    .with_context(|| format!("proving {locator}"))?;
                write_atomic(out, serde_json::to_string_pretty(&proof)?.as_bytes())?;
                if json {
                    out!("{}", json!({"locator": locator.to_string(), "proof": out}));
                } else {
                    out!(
                        "wrote the inclusion proof of {locator} to {}",
                        out.display()
                    );
                }
            }
            BlobCommand::Verify {
                locator,
                data,
                proof,
                da,
            } => {
                let bytes =
                    std::fs::read(data).with_context(|| format!("reading {}", data.display()))?;
                let text =
                    std::fs::read(proof).with_context(|| format!("reading {}", proof.display()))?;
                let proof: InclusionProof = modelda_da::untrusted::from_slice(&text)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{} is not an inclusion proof", proof.display()))?;
                let layer = da.open_read().await?;
                layer
                    .verify(locator, &bytes, &proof)
                    .await
                    .with_context(|| format!("verifying {locator}"))?;
                if json {
                    out!("{}", json!({"ok": true, "locator": locator.to_string()}));
                } else {
                    out!(
                        "OK  {locator} is included, checked against a header fetched from {}",
                        da.da
                    );
                }
            }
            BlobCommand::List { height, da } => {
                if da.da == LayerKind::Eigenda {
                    bail!("EigenDA has no namespaces or heights to list: a blob there is found by its cert (eigenda:0xCERT)");
                }
                let layer = da.open_read().await?;
                let follow = layer
                    .as_follow()
                    .context("this layer has no heights to list")?;
                let blobs = follow
                    .list(da.namespace, *height)
                    .await
                    .with_context(|| format!("listing {} at height {height}", da.namespace))?;
                if json {
                    let items: Vec<_> = blobs
                        .iter()
                        .map(|(l, d)| json!({"locator": l.to_string(), "size": d.len(), "blake3": blake3::hash(d).to_hex().to_string()}))
                        .collect();
                    out!(
                        "{}",
                        json!({"namespace": da.namespace, "height": height, "blobs": items})
                    );
                } else if blobs.is_empty() {
                    out!("no blobs of {} at height {height}", da.namespace);
                } else {
                    for (l, d) in &blobs {
                        out!("{l}  {} bytes", d.len());
                    }
                }
            }
            BlobCommand::Head { da } => {
                let layer = da.open_read().await?;
                let head = layer.head().await?;
                let limits = layer.limits().await?;
                if json {
                    out!(
                        "{}",
                        json!({"layer": da.da, "head": head, "limits": limits})
                    );
                } else {
                    out!(
                        "{}: head {head}, largest blob {} bytes, largest batch {} bytes",
                        da.da, limits.max_blob_bytes, limits.max_batch_bytes
                    );
                }
            }
        }
        Ok(())
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.partial",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
