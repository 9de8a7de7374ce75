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

#[test]
fn listeners_bind_loopback_unless_configured_otherwise() {
    for environment in ["development", "test"] {
        let c = load_from(dir(), &env(&[("TASKER_ENV", environment), ("DATABASE_URL", "postgres://x/y")])).unwrap();
        assert_eq!(c.orchestration.web.host, "127.0.0.1", "{environment}");
        assert_eq!(c.orchestration.grpc.host, "127.0.0.1", "{environment}");
    }
}

#[test]
fn auth_off_on_a_public_address_is_refused_naming_both_keys() {
    for key in ["TASKER__ORCHESTRATION__WEB__HOST", "TASKER__ORCHESTRATION__GRPC__HOST"] {
        for host in ["0.0.0.0", "::", "192.0.2.10", "tasker.example"] {
            let err = load_from(dir(), &env(&[(key, host)])).unwrap_err().to_string();
            assert!(err.contains("auth.enabled"), "{key}={host}: {err}");
            assert!(err.contains("auth.allow_unauthenticated_public"), "{key}={host}: {err}");
        }
    }
    // Loopback spellings are fine with auth off.
    for host in ["127.0.0.1", "::1", "localhost"] {
        load_from(dir(), &env(&[("TASKER__ORCHESTRATION__WEB__HOST", host)])).unwrap();
    }
    // A disabled listener binds nothing.
    load_from(
        dir(),
        &env(&[("TASKER__ORCHESTRATION__GRPC__HOST", "0.0.0.0"), ("TASKER__ORCHESTRATION__GRPC__ENABLED", "false")]),
    )
    .unwrap();
    // Said explicitly, it is allowed.
    let c = load_from(
        dir(),
        &env(&[
            ("TASKER__ORCHESTRATION__WEB__HOST", "0.0.0.0"),
            ("TASKER__ORCHESTRATION__GRPC__HOST", "0.0.0.0"),
            ("TASKER__AUTH__ALLOW_UNAUTHENTICATED_PUBLIC", "true"),
        ]),
    )
    .unwrap();
    assert!(!c.auth.enabled && c.auth.allow_unauthenticated_public);
}

#[test]
fn production_listens_publicly_with_auth_and_private_endpoints() {
    let c = load_from(
        dir(),
        &env(&[
            ("TASKER_ENV", "production"),
            ("DATABASE_URL", "postgres://x/y"),
            ("TASKER__AUTH__API_KEYS", r#"[{name="ops", key_env="OPS_KEY", permissions=["*"]}]"#),
        ]),
    )
    .unwrap();
    assert_eq!(c.orchestration.web.host, "0.0.0.0");
    assert_eq!(c.orchestration.grpc.host, "0.0.0.0");
    assert!(c.auth.enabled && !c.auth.allow_unauthenticated_public);
    let web = &c.orchestration.web;
    assert!(!web.public_metrics && !web.public_health_details && !web.public_docs, "{web:?}");
}

#[test]
fn retention_is_off_in_the_base_and_checked() {
    let c = load_from(dir(), &env(&[])).unwrap();
    assert!(!c.retention.enabled);
    assert_eq!(c.retention.older_than_days, 30);
    assert_eq!(c.retention.batch_size, 1000);
    for (key, value) in [
        ("TASKER__RETENTION__OLDER_THAN_DAYS", "0"),
        ("TASKER__RETENTION__BATCH_SIZE", "0"),
        ("TASKER__RETENTION__BATCH_SIZE", "100001"),
        ("TASKER__RETENTION__INTERVAL_MS", "0"),
    ] {
        let err = load_from(dir(), &env(&[(key, value)])).unwrap_err().to_string();
        let name = key.trim_start_matches("TASKER__").to_lowercase().replace("__", ".");
        assert!(err.contains(&name), "{key}={value}: {err}");
    }
}
