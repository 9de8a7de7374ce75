//! Bad input is the caller's error, never an outage: a NUL in a request is a rejection (not a
//! database failure), it does not fail the other requests of its batch nor count toward the task
//! request breaker, and a template's `input_schema` is checked when the template is registered.

use serde_json::{json, Value};
use tasker_orchestration::actors::{task_request, ActorContext, ActorError, TaskRequestActor};
use tasker_orchestration::db::{engine, EngineError};
use tasker_orchestration::model::TaskRequest;

use crate::support::*;

fn request(context: Value) -> TaskRequest {
    TaskRequest { namespace: "demo".into(), name: "single".into(), context: Some(context), ..Default::default() }
}

#[tokio::test]
async fn a_nul_in_the_context_is_an_invalid_input_rejection() {
    let db = test_db().await;
    register(&db.pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let err = engine::tasks::create_task(&db.pool, &request(json!({"note": "a\u{0}b"}))).await.expect_err("rejected");
    assert!(matches!(err, EngineError::InvalidInput(_)), "{err:?}");
    assert!(err.is_rejection() && !err.is_unavailable());
}

#[tokio::test]
async fn a_nul_in_one_batched_request_fails_only_that_request() {
    let db = test_db().await;
    register(&db.pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let ctx = ActorContext::new(db.pool.clone());
    let (actor, submitter) = TaskRequestActor::new(&ctx, task_request::Config::default()).expect("actor");
    let (a, bad, b, outcome) = tokio::join!(
        submitter.submit(request(json!({"n": 1}))),
        submitter.submit(request(json!({"n": "\u{0}"}))),
        submitter.submit(request(json!({"n": 2}))),
        actor.run_once(),
    );
    let outcome = outcome.expect("the batch call is not a failure");
    assert_eq!((outcome.created, outcome.rejected), (2, 1));
    a.expect("first request created");
    b.expect("third request created");
    let err = bad.expect_err("the NUL request is rejected");
    assert!(matches!(err, ActorError::Engine(EngineError::InvalidInput(_))), "{err:?}");
    assert_eq!(actor.breaker_status().state, "closed");
}

#[tokio::test]
async fn nul_requests_never_open_the_task_request_breaker() {
    let db = test_db().await;
    register(&db.pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let ctx = ActorContext::new(db.pool.clone());
    let (actor, submitter) = TaskRequestActor::new(&ctx, task_request::Config::default()).expect("actor");
    for _ in 0..(ctx.failure_threshold + 2) {
        let (r, _) = tokio::join!(submitter.submit(request(json!({"x": "\u{0}"}))), actor.run_once());
        let err = r.expect_err("rejected");
        assert!(matches!(err, ActorError::Engine(EngineError::InvalidInput(_))), "{err:?}");
    }
    assert_eq!(actor.breaker_status().consecutive_failures, 0);
    let (ok, _) = tokio::join!(submitter.submit(request(json!({}))), actor.run_once());
    ok.expect("creation is not paused by bad requests");
}

/// Registers demo/schema with `input_schema` and returns the TK003 message.
async fn rejected_schema(pool: &sqlx::PgPool, schema: Value) -> String {
    let mut def = template("demo", "schema", &[("only", &[])], json!({}));
    def["input_schema"] = schema;
    expect_sqlstate(try_register(pool, def).await, "TK003")
}

#[tokio::test]
async fn an_input_schema_with_mistyped_keywords_is_rejected_at_registration() {
    let db = test_db().await;
    let pool = &db.pool;
    for (schema, path) in [
        (json!({"properties": {"name": {"minLength": "ten"}}}), "input_schema.properties.name.minLength"),
        (json!({"properties": {"n": {"maximum": "lots"}}}), "input_schema.properties.n.maximum"),
        (json!({"type": "strnig"}), "input_schema.type"),
        (json!({"type": 5}), "input_schema.type"),
        (json!({"required": "id"}), "input_schema.required"),
        (json!({"properties": []}), "input_schema.properties"),
        (json!({"items": {"maxItems": -1}}), "input_schema.items.maxItems"),
        (json!({"minItems": 2.5}), "input_schema.minItems"),
        (json!({"enum": "a"}), "input_schema.enum"),
        (json!({"additionalProperties": {"minLength": 1e20}}), "input_schema.additionalProperties.minLength"),
    ] {
        let msg = rejected_schema(pool, schema.clone()).await;
        assert!(msg.contains(path), "{schema}: {msg}");
    }
}

#[tokio::test]
async fn an_input_schema_with_an_invalid_regex_is_rejected_at_registration() {
    let db = test_db().await;
    let msg = rejected_schema(&db.pool, json!({"properties": {"code": {"type": "string", "pattern": "("}}})).await;
    assert!(msg.contains("input_schema.properties.code.pattern"), "{msg}");
}

#[tokio::test]
async fn an_input_schema_nested_too_deep_is_rejected_at_registration() {
    let db = test_db().await;
    let mut schema = json!({"type": "string"});
    for _ in 0..200 {
        schema = json!({"properties": {"a": schema}});
    }
    let msg = rejected_schema(&db.pool, schema).await;
    assert!(msg.contains("input_schema"), "{msg}");
}

#[tokio::test]
async fn a_valid_input_schema_still_registers_and_validates_contexts() {
    let db = test_db().await;
    let pool = &db.pool;
    let mut def = template("demo", "schema", &[("only", &[])], json!({}));
    def["input_schema"] = json!({
        "type": "object", "required": ["code"], "additionalProperties": false,
        "properties": {"code": {"type": ["string", "null"], "pattern": "^[A-Z]+$", "minLength": 1, "maxLength": 8},
                       "n": {"type": "integer", "minimum": 0, "maximum": 10.5, "enum": [1, 2]},
                       "l": {"type": "array", "items": {"type": "string"}, "minItems": 0, "maxItems": 3}}
    });
    register(pool, def).await;
    create_task(pool, "demo", "schema", json!({"code": "AB", "n": 1, "l": ["x"]})).await;
    let err = try_create_task(pool, "demo", "schema", json!({"code": "ab"}), json!({})).await;
    expect_sqlstate(err, "TK004");
}

#[tokio::test]
async fn a_pool_statement_timeout_cancels_a_long_statement() {
    use tasker_orchestration::db::{connect, PoolOptions};
    let db = test_db().await;
    let opts = PoolOptions { statement_timeout: Some(std::time::Duration::from_millis(200)), ..Default::default() };
    let pool = connect(&db.url, &opts).await.expect("pool");
    let shown: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(&pool).await.expect("show");
    assert_eq!(shown, "200ms");
    let err = sqlx::query("SELECT pg_sleep(5)").execute(&pool).await.expect_err("cancelled");
    let err = EngineError::from(err);
    assert!(err.is_unavailable(), "{err:?}");
}
