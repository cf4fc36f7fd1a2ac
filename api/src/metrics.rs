//! Request counters and latency histograms, rendered in the Prometheus text
//! format with the index's own figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    errors: u64,
}

/// Requests and their latency, by operation.
#[derive(Default)]
pub(crate) struct Metrics {
    ops: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// Records one request of `op` that took `took`.
    pub fn observe(&self, op: &str, took: Duration, error: bool) {
        let s = took.as_secs_f64();
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        // Operation names come from clients: keep the label set bounded.
        let key = if ops.contains_key(op) || ops.len() < 256 {
            op
        } else {
            "other"
        };
        let h = ops.entry(key.to_string()).or_default();
        h.count += 1;
        h.sum += s;
        if error {
            h.errors += 1;
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
    }

    /// The request metrics in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        type Counter = (&'static str, &'static str, fn(&Histogram) -> u64);
        let counters: [Counter; 2] = [
            ("requests_total", "Requests served, by operation.", |h| {
                h.count
            }),
            (
                "request_errors_total",
                "Requests answered with an error, by operation.",
                |h| h.errors,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP modelda_api_{name} {help}\n# TYPE modelda_api_{name} counter"
            );
            for (op, h) in ops.iter() {
                let _ = writeln!(
                    out,
                    "modelda_api_{name}{{operation=\"{}\"}} {}",
                    label(op),
                    value(h)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP modelda_api_request_duration_seconds Request latency, by operation.\n\
             # TYPE modelda_api_request_duration_seconds histogram"
        );
        for (op, h) in ops.iter() {
            let op = label(op);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "modelda_api_request_duration_seconds_bucket{{operation=\"{op}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "modelda_api_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}\n\
                 modelda_api_request_duration_seconds_sum{{operation=\"{op}\"}} {}\n\
                 modelda_api_request_duration_seconds_count{{operation=\"{op}\"}} {}",
                h.count, h.sum, h.count
            );
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub(crate) fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The index's figures in Prometheus text format: `head` is the layer's
/// head as last read, `loader_batches` the data loaders' batched reads.
pub(crate) fn render_index(
    index: &modelda_indexer::Index,
    head: Option<u64>,
    loader_batches: u64,
    out: &mut String,
) {
    let height = index.checkpoint().unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP modelda_index_height Last height indexed.\n\
         # TYPE modelda_index_height gauge\nmodelda_index_height {height}"
    );
    if let Some(head) = head {
        let _ = writeln!(
            out,
            "# HELP modelda_layer_head The layer's head as last read.\n\
             # TYPE modelda_layer_head gauge\nmodelda_layer_head {head}\n\
             # HELP modelda_index_lag Heights the index is behind the layer's head.\n\
             # TYPE modelda_index_lag gauge\nmodelda_index_lag {}",
            head.saturating_sub(height)
        );
    }
    match index.counts() {
        Ok(c) => {
            let _ = writeln!(
                out,
                "# HELP modelda_index_publications_total Publications indexed.\n\
                 # TYPE modelda_index_publications_total counter\n\
                 modelda_index_publications_total {}\n\
                 # HELP modelda_index_reposts_total Records that repeat a publication.\n\
                 # TYPE modelda_index_reposts_total counter\n\
                 modelda_index_reposts_total {}\n\
                 # HELP modelda_index_rejections_total Records refused, by reason code.\n\
                 # TYPE modelda_index_rejections_total counter",
                c.records, c.reposts
            );
            for (code, n) in &c.rejections_by_code {
                let _ = writeln!(
                    out,
                    "modelda_index_rejections_total{{code=\"{}\"}} {n}",
                    label(code)
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "index counters unreadable"),
    }
    let _ = writeln!(
        out,
        "# HELP modelda_api_loader_batches_total Batched index reads of the GraphQL data loaders.\n\
         # TYPE modelda_api_loader_batches_total counter\nmodelda_api_loader_batches_total {}",
        loader_batches
    );
}

/// The archiver's figures in Prometheus text format (`records`: the
/// publications indexed).
pub(crate) fn render_archive(
    p: &crate::progress::ArchiveProgress,
    records: u64,
    errors: u64,
    out: &mut String,
) {
    let _ = writeln!(
        out,
        "# HELP modelda_archive_height Height of the last publication archived.\n\
         # TYPE modelda_archive_height gauge\nmodelda_archive_height {}\n\
         # HELP modelda_archive_lag Publications indexed but not archived yet.\n\
         # TYPE modelda_archive_lag gauge\nmodelda_archive_lag {}\n\
         # HELP modelda_archive_leaves_written_total Leaves written to the archive.\n\
         # TYPE modelda_archive_leaves_written_total counter\nmodelda_archive_leaves_written_total {}\n\
         # HELP modelda_archive_bytes_written_total Bytes of leaves written to the archive.\n\
         # TYPE modelda_archive_bytes_written_total counter\nmodelda_archive_bytes_written_total {}\n\
         # HELP modelda_archive_leaves_lost_total Leaves the layer pruned before they were archived.\n\
         # TYPE modelda_archive_leaves_lost_total counter\nmodelda_archive_leaves_lost_total {}\n\
         # HELP modelda_archive_errors_total Archiving rounds stopped by an error.\n\
         # TYPE modelda_archive_errors_total counter\nmodelda_archive_errors_total {errors}",
        p.height,
        records.saturating_sub(p.publications),
        p.leaves_written,
        p.bytes_written,
        p.leaves_lost,
    );
}

/// Each chunk source's outcomes (`hit`, `miss`, `lie`, `error`) in
/// Prometheus text format.
pub(crate) fn render_sources(sources: &modelda_archive::Sources, out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP modelda_chunk_source_reads_total Leaves asked of each chunk source, by outcome \
         (a lie: bytes that do not match the commitment, skipped).\n\
         # TYPE modelda_chunk_source_reads_total counter"
    );
    for (name, stats) in sources.stats() {
        for o in modelda_archive::Outcome::ALL {
            let _ = writeln!(
                out,
                "modelda_chunk_source_reads_total{{source=\"{name}\",outcome=\"{}\"}} {}",
                o.as_str(),
                stats.get(o)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_into_every_bucket_above() {
        let m = Metrics::default();
        m.observe("model", Duration::from_micros(700), false);
        m.observe("model", Duration::from_millis(30), true);
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("modelda_api_requests_total{operation=\"model\"} 2"));
        assert!(s.contains("modelda_api_request_errors_total{operation=\"model\"} 1"));
        assert!(s.contains("le=\"0.001\"} 1"));
        assert!(s.contains("le=\"0.05\"} 2"));
        assert!(s.contains("le=\"+Inf\"} 2"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
