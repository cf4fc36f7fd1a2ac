//! `modelda node` (follow a layer and serve the API in one process) and
//! `modelda serve` (serve an existing index read-only).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use modelda_api::{Api, Limits};
use modelda_indexer::{Index, Stop};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::archive_cmd::ArchiveArgs;
use crate::da_cmd::{runtime, DaArgs};
use crate::index_cmd::{
    open_layer, open_reader, print_stop, run_follow, source, FollowArgs, IndexDir,
};
use crate::publish_cmd::stop_on_signal;

/// Default listen address: loopback only.
const DEFAULT_LISTEN: &str = "127.0.0.1:8700";

/// Server options shared by `node` and `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, env = "MODELDA_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Largest `first` of a GraphQL connection.
    #[arg(long, default_value_t = Limits::default().max_page)]
    max_page: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Longest a request may run, in milliseconds.
    #[arg(long, default_value_t = Limits::default().timeout.as_millis() as u64)]
    timeout_ms: u64,
    /// Longest a request asking for an inclusion proof may run, in
    /// milliseconds. A proof still being built when it times out goes on
    /// being built; the same request asked again gets it.
    #[arg(long, default_value_t = Limits::default().proof_timeout.as_millis() as u64)]
    proof_timeout_ms: u64,
    /// Believe advisories signed by the keys in FILE (PEM public keys, one
    /// or more per file) about any model, besides each model's publisher.
    /// Repeatable. Advisories by other keys are served as third-party
    /// reports and never decide a model's status.
    #[arg(long, value_name = "FILE")]
    trust_advisories_from: Vec<std::path::PathBuf>,
}

impl ServerArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_page: self.max_page,
            max_body_bytes: self.max_body_bytes,
            timeout: Duration::from_millis(self.timeout_ms),
            proof_timeout: Duration::from_millis(self.proof_timeout_ms),
            ..Limits::default()
        }
    }

    fn trust(&self) -> Result<modelda_indexer::query::Trust> {
        let keys = crate::trust::read_keys(&self.trust_advisories_from)?;
        Ok(modelda_indexer::query::Trust::with_keys(&keys))
    }
}

/// `modelda node`.
#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(flatten)]
    follow: FollowArgs,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    archive: ArchiveArgs,
}

/// `modelda serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    da: DaArgs,
    #[command(flatten)]
    dir: IndexDir,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    archive: ArchiveArgs,
}

/// Binds, prints where, and serves until `stop`.
async fn serve_api(json: bool, api: Api, args: ServerArgs, stop: CancellationToken) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (is another server there? try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    if json {
        out!(
            "{}",
            json!({"event": "listening", "addr": addr.to_string(),
                   "graphql": format!("http://{addr}/graphql")})
        );
    } else {
        eprintln!("serving GraphQL at http://{addr}/graphql (GraphiQL in a browser; subscriptions over ws on the same path)");
        eprintln!(
            "          chunks at http://{addr}/chunks/COMMITMENT, metrics at http://{addr}/metrics"
        );
    }
    api.spawn_watch(Duration::from_secs(2), stop.clone());
    axum::serve(listener, modelda_api::router(api))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .context("serving the API")
}

/// `modelda node`: the follower and the server in one process.
pub fn node(json: bool, args: &NodeArgs) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let f = &args.follow;
        let index = Arc::new(Index::open(&f.dir.index_dir, Some(&source(&f.da)))?);
        let stop = CancellationToken::new();
        stop_on_signal(
            stop.clone(),
            json,
            "finishing the height being written and the requests in flight",
        );
        let Some(layer) = open_layer(json, &f.da, &stop).await? else {
            return print_stop(json, &index, Stop::Cancelled);
        };
        let layer: Arc<dyn modelda_da::DaLayer> = Arc::from(layer);
        let mut api = Api::new(index.clone(), Some(layer.clone()), args.server.limits())
            .with_advisory_trust(args.server.trust()?);
        if f.da.da != modelda_da::LayerKind::Eigenda {
            // Records on EigenDA are registered by cert (registerPublication),
            // read through the proxy at --eigenda-url.
            let mut e = f.da.clone();
            e.da = modelda_da::LayerKind::Eigenda;
            if let Ok(l) = e.config()?.open(modelda_da::Access::Read).await {
                api = api.with_layer(Arc::from(l));
            }
        }
        if let Some(a) = args.archive.open()? {
            api = api.with_archive(a);
        }
        if let Some(archiver) = modelda_api::Archiver::new(&api, &f.dir.index_dir)
            .context("reading the archive's progress")?
        {
            if args.archive.archive_parity {
                archiver.archive_parity();
            }
            archiver.spawn(Duration::from_secs(5), stop.clone());
        }
        let server = tokio::spawn(serve_api(
            json,
            api.clone(),
            args.server.clone(),
            stop.clone(),
        ));
        let on_height = {
            let api = api.clone();
            move |h: u64| api.set_head(h)
        };
        let followed = run_follow(
            json,
            &index,
            layer.as_ref(),
            f,
            f.to_height,
            &stop,
            &on_height,
        )
        .await;
        // A follower that reached --to-height keeps serving until stopped.
        if followed.is_ok() {
            stop.cancelled().await;
        } else {
            stop.cancel();
        }
        let served = server.await.context("the server task")?;
        let stopped = followed?;
        served?;
        index.flush()?;
        print_stop(json, &index, stopped)
    })
}

/// `modelda serve`: an existing index, read-only, next to its writer.
pub fn serve(json: bool, args: &ServeArgs) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let index = Arc::new(open_reader(&args.dir.index_dir)?);
        let stop = CancellationToken::new();
        stop_on_signal(stop.clone(), json, "finishing the requests in flight");
        let layer = match args.da.config()?.open(modelda_da::Access::Read).await {
            Ok(l) => Some(Arc::from(l)),
            Err(e) => {
                eprintln!("warning: {e}; chunks and proofs are unavailable until the server is restarted with a reachable layer");
                None
            }
        };
        let mut api =
            Api::new(index, layer, args.server.limits()).with_advisory_trust(args.server.trust()?);
        if let Some(a) = args.archive.open()? {
            api = api.with_archive(a);
        }
        serve_api(json, api, args.server.clone(), stop).await
    })
}
