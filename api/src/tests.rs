//! The schema drift check. Route tests, which need published models, are
//! in the `tests` crate (`tests/e2e/api.rs`).

/// The committed schema is what the code builds: regenerate it with
/// `MODELDA_UPDATE_SCHEMA=1 cargo test -p modelda-api schema`.
#[test]
fn schema_graphql_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let sdl = crate::schema_sdl();
    if std::env::var_os("MODELDA_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "api/schema.graphql is stale: run MODELDA_UPDATE_SCHEMA=1 cargo test -p modelda-api schema"
    );
}
