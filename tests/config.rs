//! Configuration: base file, environment overlay, TASKER__* overrides, DATABASE_URL, validation.

use std::path::Path;

use tasker_orchestration::config::{load_from, ConfigError};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

fn dir() -> &'static Path {
    Path::new("config/tasker")
}

#[test]
fn development_is_the_default_environment_with_seed_defaults() {
    let c = load_from(dir(), &env(&[])).unwrap();
    assert_eq!(c.environment, "development");
    assert_eq!(c.orchestration.web.port, 8080);
    assert_eq!(c.orchestration.grpc.port, 9190);
    assert!(c.orchestration.web.enabled && c.orchestration.grpc.enabled);
    assert_eq!(c.orchestration.actors.task_request_channel_size, 1000);
    assert_eq!(c.orchestration.actors.result_processor_channel_size, 2000);
    assert_eq!(c.orchestration.actors.step_enqueuer_channel_size, 1000);
    assert_eq!(c.orchestration.actors.task_finalizer_channel_size, 500);
    assert!(c.database.embedded, "development starts its own PostgreSQL");
    assert!(c.worker.embedded, "development runs an in-process worker");
    assert!(!c.auth.enabled);
}

#[test]
fn env_variables_override_nested_keys_with_typed_values() {
    let c = load_from(
        dir(),
        &env(&[("TASKER__ORCHESTRATION__WEB__PORT", "8081"), ("TASKER__WORKER__NAMESPACES", r#"["orders","demo"]"#)]),
    )
    .unwrap();
    assert_eq!(c.orchestration.web.port, 8081);
    assert_eq!(c.worker.namespaces, vec!["orders".to_string(), "demo".to_string()]);
}

#[test]
fn database_url_wins_over_the_file() {
    let c = load_from(dir(), &env(&[("DATABASE_URL", "postgres://db.example/tasker")])).unwrap();
    assert_eq!(c.database.url, "postgres://db.example/tasker");
}

#[test]
fn environment_overlay_applies() {
    let c = load_from(dir(), &env(&[("TASKER_ENV", "test"), ("DATABASE_URL", "postgres://x/y")])).unwrap();
    assert_eq!(c.environment, "test");
    assert!(!c.database.embedded);
    assert_eq!(c.orchestration.actors.fallback_tick_ms, 200);
}

#[test]
fn unknown_key_fails_naming_it() {
    let err = load_from(dir(), &env(&[("TASKER__ORCHESTRATION__WEB__PROT", "1")])).unwrap_err();
    match err {
        ConfigError::Invalid { key, message } => {
            assert!(key.contains("orchestration.web"), "{key}");
            assert!(message.contains("prot"), "{message}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn wrong_type_fails_naming_the_key() {
    let err = load_from(dir(), &env(&[("TASKER__ORCHESTRATION__WEB__PORT", "eighty")])).unwrap_err();
    assert!(err.to_string().contains("orchestration.web.port"), "{err}");
}

#[test]
fn out_of_range_value_fails_naming_the_key() {
    let err = load_from(dir(), &env(&[("TASKER__ORCHESTRATION__ACTORS__ENQUEUE_BATCH_SIZE", "0")])).unwrap_err();
    assert!(err.to_string().contains("orchestration.actors.enqueue_batch_size"), "{err}");
}

#[test]
fn production_requires_api_keys() {
    let err = load_from(dir(), &env(&[("TASKER_ENV", "production"), ("DATABASE_URL", "postgres://x/y")])).unwrap_err();
    assert!(err.to_string().contains("auth.api_keys"), "{err}");
    let ok = load_from(
        dir(),
        &env(&[
            ("TASKER_ENV", "production"),
            ("DATABASE_URL", "postgres://x/y"),
            ("TASKER__AUTH__API_KEYS", r#"[{name="ops", key_env="OPS_KEY", permissions=["*"]}]"#),
        ]),
    )
    .unwrap();
    assert!(ok.auth.enabled && !ok.database.embedded && !ok.worker.embedded);
}

#[test]
fn unknown_permission_is_rejected() {
    let err = load_from(
        dir(),
        &env(&[("TASKER__AUTH__API_KEYS", r#"[{name="x", key="12345678", permissions=["tasks:destroy"]}]"#)]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("tasks:destroy"), "{err}");
}

#[test]
fn unknown_environment_without_overlay_uses_base() {
    let c = load_from(dir(), &env(&[("TASKER_ENV", "staging")])).unwrap();
    assert_eq!(c.environment, "staging");
    assert!(!c.database.embedded);
}
