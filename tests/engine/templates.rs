//! Template validation (tasker.normalize_template through tasker.register_template): every
//! problem is refused with TK003 and a message naming it, and nothing is written.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::*;

fn valid() -> Value {
    json!({
        "namespace": "shop",
        "name": "checkout",
        "version": "1.0.0",
        "steps": [
            {"name": "a", "handler": "h.a"},
            {"name": "b", "handler": "h.b", "depends_on": ["a"]},
            {"name": "c", "handler": "h.c", "depends_on": ["b"]}
        ]
    })
}

/// `valid()` with `f` applied.
fn with(f: impl FnOnce(&mut Value)) -> Value {
    let mut v = valid();
    f(&mut v);
    v
}

/// Registers `def`, expects TK003, checks nothing was written and returns the message.
async fn rejected(pool: &PgPool, def: Value) -> String {
    let msg = expect_sqlstate(try_register(pool, def).await, "TK003");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.task_templates").await, 0, "template written: {msg}");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.namespaces").await, 0, "namespace written: {msg}");
    msg
}

#[tokio::test]
async fn valid_template_registers_with_defaults_filled_in() {
    let db = test_db().await;
    let pool = &db.pool;
    let id = register(pool, valid()).await;
    let def: Value = sqlx::query_scalar("SELECT definition FROM tasker.task_templates WHERE template_uuid = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    let a = &def["steps"][0];
    assert_eq!(a["retry"], json!({"max_attempts": 3, "backoff": "exponential", "base_ms": 1000, "max_ms": 60000}));
    assert_eq!(a["timeout_seconds"], json!(300));
    assert_eq!(a["depends_on"], json!([]));
    assert_eq!(a["inputs"], json!({}));
}

#[tokio::test]
async fn first_template_of_a_namespace_creates_its_worker_queue() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, valid()).await;
    let queue: String = sqlx::query_scalar("SELECT queue_name FROM tasker.namespaces WHERE name = 'shop'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(queue, "worker_shop_queue");
    assert_eq!(count(pool, "SELECT count(*) FROM pgmq.q_worker_shop_queue").await, 0);
}

#[tokio::test]
async fn registering_the_same_version_again_replaces_the_definition_and_keeps_the_uuid() {
    let db = test_db().await;
    let pool = &db.pool;
    let first = register(pool, valid()).await;
    let second = register(pool, with(|v| v["description"] = json!("changed"))).await;
    assert_eq!(first, second);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.task_templates").await, 1);
    let desc: Option<String> =
        sqlx::query_scalar("SELECT description FROM tasker.task_templates").fetch_one(pool).await.unwrap();
    assert_eq!(desc.as_deref(), Some("changed"));
}

#[tokio::test]
async fn example_templates_all_register() {
    let db = test_db().await;
    let loaded = tasker_orchestration::templates::load_dir(&db.pool, std::path::Path::new("config/tasks"))
        .await
        .expect("load config/tasks");
    let distinct: std::collections::BTreeSet<_> = loaded.iter().map(|t| t.template_uuid).collect();
    assert_eq!((loaded.len(), distinct.len()), (6, 6), "one template per file: {loaded:?}");
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tasker.task_templates").await, 6);
}

#[tokio::test]
async fn dependency_on_unknown_step_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][2]["depends_on"] = json!(["b", "ghost"]))).await;
    assert!(msg.contains("unknown step 'ghost'") && msg.contains("'c'"), "{msg}");
}

#[tokio::test]
async fn two_step_cycle_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][1]["depends_on"] = json!(["a", "c"]))).await;
    assert!(msg.contains("dependency cycle among steps b, c"), "{msg}");
}

#[tokio::test]
async fn three_step_cycle_is_rejected_naming_its_steps() {
    let db = test_db().await;
    let def = json!({
        "namespace": "shop", "name": "loop", "version": "1",
        "steps": [
            {"name": "root", "handler": "h"},
            {"name": "x", "handler": "h", "depends_on": ["root", "z"]},
            {"name": "y", "handler": "h", "depends_on": ["x"]},
            {"name": "z", "handler": "h", "depends_on": ["y"]}
        ]
    });
    let msg = rejected(&db.pool, def).await;
    assert!(msg.contains("dependency cycle among steps x, y, z"), "{msg}");
    assert!(!msg.contains("root"), "the root is not on the cycle: {msg}");
}

#[tokio::test]
async fn cycle_without_any_root_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][0]["depends_on"] = json!(["c"]))).await;
    assert!(msg.contains("dependency cycle among steps"), "{msg}");
}

#[tokio::test]
async fn self_dependency_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][1]["depends_on"] = json!(["b"]))).await;
    assert!(msg.contains("step 'b' depends on itself"), "{msg}");
}

#[tokio::test]
async fn duplicate_step_name_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][2]["name"] = json!("a"))).await;
    assert!(msg.contains("duplicate step name 'a'"), "{msg}");
}

#[tokio::test]
async fn duplicate_dependency_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][1]["depends_on"] = json!(["a", "a"]))).await;
    assert!(msg.contains("lists a dependency twice"), "{msg}");
}

#[tokio::test]
async fn empty_steps_are_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"] = json!([]))).await;
    assert!(msg.contains("has no steps"), "{msg}");
}

#[tokio::test]
async fn missing_steps_are_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| drop(v.as_object_mut().unwrap().remove("steps")))).await;
    assert!(msg.contains("has no steps"), "{msg}");
}

#[tokio::test]
async fn step_without_handler_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| drop(v["steps"][1].as_object_mut().unwrap().remove("handler")))).await;
    assert!(msg.contains("step 'b' has no handler"), "{msg}");
}

#[tokio::test]
async fn step_with_empty_handler_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][1]["handler"] = json!(""))).await;
    assert!(msg.contains("step 'b' has no handler"), "{msg}");
}

#[tokio::test]
async fn step_without_name_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| drop(v["steps"][1].as_object_mut().unwrap().remove("name")))).await;
    assert!(msg.contains("step #2 has an invalid name"), "{msg}");
}

#[tokio::test]
async fn max_attempts_out_of_range_is_rejected() {
    let db = test_db().await;
    for bad in [json!(0), json!(1001), json!(2.5), json!("3")] {
        let msg = rejected(&db.pool, with(|v| v["steps"][0]["retry"] = json!({"max_attempts": bad}))).await;
        assert!(msg.contains("retry.max_attempts must be an integer from 1 to 1000"), "{bad}: {msg}");
    }
}

#[tokio::test]
async fn unknown_backoff_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][0]["retry"] = json!({"backoff": "fibonacci"}))).await;
    assert!(msg.contains("retry.backoff must be none, linear or exponential"), "{msg}");
}

#[tokio::test]
async fn base_ms_above_max_ms_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][0]["retry"] = json!({"base_ms": 5000, "max_ms": 1000}))).await;
    assert!(msg.contains("base_ms <= max_ms"), "{msg}");
}

#[tokio::test]
async fn negative_base_ms_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][0]["retry"] = json!({"base_ms": -1}))).await;
    assert!(msg.contains("retry.base_ms"), "{msg}");
}

#[tokio::test]
async fn retry_that_is_not_an_object_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][0]["retry"] = json!(3))).await;
    assert!(msg.contains("retry must be an object"), "{msg}");
}

#[tokio::test]
async fn timeout_out_of_range_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["steps"][0]["timeout_seconds"] = json!(0))).await;
    assert!(msg.contains("timeout_seconds must be an integer from 1 to 604800"), "{msg}");
}

#[tokio::test]
async fn bad_namespaces_are_rejected() {
    let db = test_db().await;
    for bad in [json!("Shop"), json!("1shop"), json!("shop-eu"), json!("a".repeat(35)), json!(""), json!(7)] {
        let msg = rejected(&db.pool, with(|v| v["namespace"] = bad.clone())).await;
        assert!(msg.contains("template namespace") && msg.contains("is invalid"), "{bad}: {msg}");
    }
    let msg = rejected(&db.pool, with(|v| drop(v.as_object_mut().unwrap().remove("namespace")))).await;
    assert!(msg.contains("template namespace (missing) is invalid"), "{msg}");
}

#[tokio::test]
async fn longest_allowed_namespace_registers() {
    let db = test_db().await;
    let ns = format!("n{}", "a".repeat(33));
    register(&db.pool, with(|v| v["namespace"] = json!(ns))).await;
}

#[tokio::test]
async fn bad_name_and_version_are_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["name"] = json!("has space"))).await;
    assert!(msg.contains("template name has space is invalid"), "{msg}");
    let msg = rejected(&db.pool, with(|v| v["version"] = json!(1))).await;
    assert!(msg.contains("template version 1 is invalid"), "{msg}");
}

#[tokio::test]
async fn definition_that_is_not_an_object_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, json!([1, 2])).await;
    assert!(msg.contains("must be a JSON object"), "{msg}");
}

#[tokio::test]
async fn input_schema_that_is_not_an_object_is_rejected() {
    let db = test_db().await;
    let msg = rejected(&db.pool, with(|v| v["input_schema"] = json!("string"))).await;
    assert!(msg.contains("input_schema must be an object"), "{msg}");
}
