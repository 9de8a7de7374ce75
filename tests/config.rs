//! Configuration: base file, environment overlay, TASKER__* overrides, DATABASE_URL, validation.

use std::path::Path;

use tasker_orchestration::config::{load_builtin, load_from, ConfigError};

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

#[test]
fn built_in_configuration_matches_the_files_for_every_environment() {
    for environment in ["development", "test", "production", "staging"] {
        let vars = env(&[
            ("TASKER_ENV", environment),
            ("DATABASE_URL", "postgres://x/y"),
            ("TASKER__AUTH__API_KEYS", r#"[{name="ops", key="12345678", permissions=["*"]}]"#),
        ]);
        let built_in = load_builtin(&vars).unwrap();
        let files = load_from(dir(), &vars).unwrap();
        assert_eq!(format!("{built_in:?}"), format!("{files:?}"), "{environment}");
    }
}

#[test]
fn an_overlay_directory_needs_only_the_keys_it_changes() {
    let root = std::env::temp_dir().join(format!("tasker-config-overlay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("base")).unwrap();
    std::fs::create_dir_all(root.join("environments/staging")).unwrap();
    std::fs::write(root.join("base/orchestration.toml"), "[orchestration.web]\nport = 9000\n").unwrap();
    std::fs::write(root.join("environments/staging/orchestration.toml"), "[orchestration.grpc]\nport = 9001\n")
        .unwrap();
    let c = load_from(&root, &env(&[("TASKER_ENV", "staging")])).unwrap();
    assert_eq!((c.orchestration.web.port, c.orchestration.grpc.port), (9000, 9001));
    assert_eq!(c.orchestration.actors.task_request_channel_size, 1000, "the rest comes from the built-in base");
    // Without an overlay of its own, a shipped environment keeps its built-in overlay.
    let dev = load_from(&root, &env(&[])).unwrap();
    assert!(dev.database.embedded && dev.worker.embedded && dev.templates.examples);
    assert_eq!(dev.orchestration.web.port, 9000);
    std::fs::write(root.join("base/orchestration.toml"), "[orchestration.web]\nprot = 9000\n").unwrap();
    let err = load_from(&root, &env(&[])).unwrap_err();
    assert!(err.to_string().contains("orchestration.web"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}
