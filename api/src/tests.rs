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

/// The crate's modules import one another without a circle (each names
/// the others it uses as `crate::NAME`), so that each can be read, and
/// changed, from the bottom up.
#[test]
fn modules_import_without_a_circle() {
    use std::collections::{BTreeMap, BTreeSet};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let name = p.file_stem().unwrap().to_str().unwrap().to_string();
        if name == "lib" || name == "tests" {
            continue;
        }
        // A module's own directory (`graphql/`) counts as the module.
        let mut text = std::fs::read_to_string(&p).unwrap();
        let dir = src.join(&name);
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                text.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
            }
        }
        let used = text
            .split("crate::")
            .skip(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .filter(|m| *m != name && !m.is_empty())
            .collect();
        uses.insert(name, used);
    }
    assert!(uses.len() > 8, "{uses:?}");
    // Depth-first: a module met again while on the path closes a circle.
    fn visit(
        m: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!(
                "modules import in a circle: {} -> {m}",
                path[at..].join(" -> ")
            );
        }
        if !done.insert(m.to_string()) {
            return;
        }
        path.push(m.to_string());
        for n in uses.get(m).into_iter().flatten() {
            if uses.contains_key(n) {
                visit(n, uses, path, done);
            }
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in uses.keys() {
        visit(m, &uses, &mut Vec::new(), &mut done);
    }
}
