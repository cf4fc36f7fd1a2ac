//! Asking a modelda API (`modelda node`) a GraphQL question: what `fetch
//! --index`, `verify --index` and `advise --withdraw --index` do. Nothing
//! it answers is trusted by the callers; they check what they use.

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

/// The GraphQL endpoint of `url` (a node's base URL, or its `/graphql`).
pub fn endpoint(url: &str) -> String {
    let base = url.trim_end_matches('/');
    if base.ends_with("/graphql") {
        base.to_string()
    } else {
        format!("{base}/graphql")
    }
}

/// The `data` of the answer to `query` with `variables`, asked about
/// `what` (for the errors); the API's first error is an error naming its
/// code.
pub async fn ask(url: &str, query: &str, variables: Value, what: &str) -> Result<Value> {
    let endpoint = endpoint(url);
    let answer: Value = reqwest::Client::new()
        .post(&endpoint)
        .json(&serde_json::json!({"query": query, "variables": variables}))
        .timeout(std::time::Duration::from_secs(60))
        .send()
        .await
        .with_context(|| format!("asking {endpoint} for {what}"))?
        .json()
        .await
        .with_context(|| format!("reading the answer of {endpoint} about {what}"))?;
    if let Some(e) = answer["errors"].get(0) {
        bail!(
            "{endpoint} refused to answer about {what}: {} ({})",
            e["message"].as_str().unwrap_or("?"),
            e["extensions"]["code"].as_str().unwrap_or("no code")
        );
    }
    Ok(answer["data"].clone())
}
