//! The NOTIFY channels the SQL sends on and the ones the Rust side LISTENs to are the same fixed
//! names: a channel renamed on one side only would leave its listener waiting for the polling
//! tick, which no other test would notice (work still gets done, only late).

use std::collections::BTreeSet;
use std::path::Path;

use tasker_orchestration::actors::listener::CHANNELS;
use tasker_orchestration::worker::DISPATCH_CHANNEL;

/// Every `pg_notify('<channel>'` literal in `sql/*.sql`.
fn notified_in_sql() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("sql/") {
        let path = entry.expect("sql/ entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read sql file");
        for (at, _) in text.match_indices("pg_notify(") {
            let rest = text[at + "pg_notify(".len()..].trim_start();
            let name = rest.strip_prefix('\'').and_then(|r| r.split('\'').next());
            let name = name.unwrap_or_else(|| panic!("{}: pg_notify without a literal channel name", path.display()));
            found.insert(name.to_string());
        }
    }
    found
}

/// Every channel the server's notification hub or the worker runtime LISTENs to.
fn listened_in_rust() -> BTreeSet<String> {
    CHANNELS.iter().chain(std::iter::once(&DISPATCH_CHANNEL)).map(|c| (*c).to_string()).collect()
}

#[test]
fn every_channel_notified_in_sql_is_listened_to_in_rust_and_back() {
    let sql = notified_in_sql();
    let rust = listened_in_rust();
    assert!(sql.len() >= 5, "the parser found too few channels: {sql:?}");
    assert_eq!(sql, rust, "channels notified in sql/ and channels the Rust side listens to differ");
}
