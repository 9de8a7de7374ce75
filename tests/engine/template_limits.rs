//! Template size limits (tasker.settings: template.max_steps, template.max_fan_in) and the
//! validation of large templates: long chains, wide fan-ins, problems far apart.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::*;

/// A chain s0 <- s1 <- ... <- s(n-1).
fn chain(name: &str, n: usize) -> Value {
    let steps: Vec<Value> = (0..n)
        .map(|i| {
            let deps: Vec<String> = if i == 0 { vec![] } else { vec![format!("s{}", i - 1)] };
            json!({"name": format!("s{i}"), "handler": "noop", "depends_on": deps})
        })
        .collect();
    json!({"namespace": "big", "name": name, "version": "1", "steps": steps})
}

/// n parents p0..p(n-1) and one step `join` depending on all of them.
fn fan_in(name: &str, n: usize) -> Value {
    let mut steps: Vec<Value> = (0..n).map(|i| json!({"name": format!("p{i}"), "handler": "noop"})).collect();
    let deps: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    steps.push(json!({"name": "join", "handler": "noop", "depends_on": deps}));
    json!({"namespace": "big", "name": name, "version": "1", "steps": steps})
}

async fn set_limit(pool: &PgPool, key: &str, value: i64) {
    sqlx::query("UPDATE tasker.settings SET value = to_jsonb($2::bigint), updated_at = now() WHERE key = $1")
        .bind(key)
        .bind(value)
        .execute(pool)
        .await
        .unwrap();
}

async fn rejected(pool: &PgPool, def: Value) -> String {
    let msg = expect_sqlstate(try_register(pool, def).await, "TK003");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.task_templates").await, 0, "nothing is written");
    msg
}

#[tokio::test]
async fn default_limits_are_ten_thousand_steps_and_a_fan_in_of_one_thousand() {
    let db = test_db().await;
    let limits: Vec<(String, Value)> =
        sqlx::query_as("SELECT key, value FROM tasker.settings WHERE key LIKE 'template.%' ORDER BY key")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        limits,
        vec![("template.max_fan_in".to_string(), json!(1000)), ("template.max_steps".to_string(), json!(10000))]
    );
}

#[tokio::test]
async fn template_over_the_default_step_limit_is_rejected_naming_the_setting() {
    let db = test_db().await;
    let msg = rejected(&db.pool, chain("too_long", 10_001)).await;
    assert!(msg.contains("10001 steps") && msg.contains("limit of 10000"), "{msg}");
    assert!(msg.contains("template.max_steps"), "{msg}");
}

#[tokio::test]
async fn step_over_the_default_fan_in_limit_is_rejected_naming_the_setting() {
    let db = test_db().await;
    let msg = rejected(&db.pool, fan_in("too_wide", 1001)).await;
    assert!(msg.contains("step 'join' has 1001 dependencies") && msg.contains("limit of 1000"), "{msg}");
    assert!(msg.contains("template.max_fan_in"), "{msg}");
}

#[tokio::test]
async fn limits_change_with_the_settings_table_without_code() {
    let db = test_db().await;
    let pool = &db.pool;
    set_limit(pool, "template.max_steps", 5).await;
    set_limit(pool, "template.max_fan_in", 3).await;

    register(pool, chain("five", 5)).await;
    let msg = expect_sqlstate(try_register(pool, chain("six", 6)).await, "TK003");
    assert!(msg.contains("6 steps") && msg.contains("limit of 5"), "{msg}");
    register(pool, fan_in("three", 3)).await;
    let msg = expect_sqlstate(try_register(pool, fan_in("four", 4)).await, "TK003");
    assert!(msg.contains("4 dependencies") && msg.contains("limit of 3"), "{msg}");

    set_limit(pool, "template.max_steps", 6).await;
    set_limit(pool, "template.max_fan_in", 4).await;
    register(pool, chain("six", 6)).await;
    register(pool, fan_in("four", 4)).await;
}

#[tokio::test]
async fn a_limit_must_be_a_positive_integer() {
    let db = test_db().await;
    for bad in [json!(0), json!(-5), json!(2.5), json!("many")] {
        let res = sqlx::query("UPDATE tasker.settings SET value = $1 WHERE key = 'template.max_steps'")
            .bind(&bad)
            .execute(&db.pool)
            .await;
        expect_sqlstate(res, "23514");
    }
}

#[tokio::test]
async fn chain_at_the_step_limit_is_accepted_and_runs_in_order() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, chain("ten_thousand", 10_000)).await;
    let def: Value = sqlx::query_scalar("SELECT definition FROM tasker.task_templates WHERE name = 'ten_thousand'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(def["steps"].as_array().unwrap().len(), 10_000);
    assert_eq!(def["steps"][9_999]["depends_on"], json!(["s9998"]));
    assert_eq!(
        def["steps"][42]["retry"],
        json!({"max_attempts": 3, "backoff": "exponential", "base_ms": 1000, "max_ms": 60000})
    );

    let task = create_task(pool, "big", "ten_thousand", json!({})).await;
    assert_eq!(queued_step_names(pool, "big", task).await.into_iter().collect::<Vec<_>>(), vec!["s0".to_string()]);
    let edges = count(
        pool,
        &format!(
            "SELECT count(*) FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps s \
               ON s.step_uuid = e.to_step_uuid WHERE s.task_uuid = '{task}'"
        ),
    )
    .await;
    assert_eq!(edges, 9_999);
}

#[tokio::test]
async fn fan_in_at_the_limit_is_accepted_and_waits_for_every_parent() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, fan_in("thousand", 1000)).await;
    let task = create_task(pool, "big", "thousand", json!({})).await;
    let join = step(pool, task, "join").await;
    assert_eq!((join.parents_total, join.parents_pending), (1000, 1000));
    assert_eq!(queued_step_names(pool, "big", task).await.len(), 1000);
}

#[tokio::test]
async fn cycle_closing_a_long_chain_is_reported_with_a_bounded_list_of_steps() {
    let db = test_db().await;
    let mut def = chain("ring", 3000);
    def["steps"][0]["depends_on"] = json!(["s2999"]);
    let msg = rejected(&db.pool, def).await;
    assert!(msg.contains("dependency cycle among steps s0, s1, s2,"), "{msg}");
    assert!(msg.contains("(3000 steps on or behind a cycle)"), "{msg}");
    assert!(!msg.contains("s2999"), "the list is cut after 50 names: {msg}");
}

#[tokio::test]
async fn cycle_behind_a_long_chain_names_only_the_steps_on_or_behind_it() {
    let db = test_db().await;
    let mut def = chain("tail_loop", 2000);
    // s1500 <-> s1501 form a loop; s1502.. hang behind it; s0..s1499 are fine.
    def["steps"][1500]["depends_on"] = json!(["s1499", "s1501"]);
    let msg = rejected(&db.pool, def).await;
    assert!(msg.contains("dependency cycle among steps s1500, s1501, s1502"), "{msg}");
    assert!(msg.contains("(500 steps on or behind a cycle)"), "{msg}");
}

#[tokio::test]
async fn duplicate_name_far_apart_is_reported() {
    let db = test_db().await;
    let mut def = chain("dup", 3000);
    def["steps"][2999]["name"] = json!("s7");
    let msg = rejected(&db.pool, def).await;
    assert!(msg.contains("duplicate step name 's7'"), "{msg}");
}

#[tokio::test]
async fn unknown_dependency_in_a_large_template_has_a_bounded_hint() {
    let db = test_db().await;
    let mut def = chain("ghostly", 3000);
    def["steps"][2500]["depends_on"] = json!(["s2499", "ghost"]);
    let err = try_register(&db.pool, def).await.unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("TK003"));
    assert!(err.to_string().contains("step 's2500' depends on unknown step 'ghost'"), "{err}");
    let hint = hint(&err).unwrap();
    assert!(hint.starts_with("steps are: s0, s1,") && hint.ends_with("... (3000 steps)"), "{hint}");
}

#[tokio::test]
async fn wide_fan_out_and_fan_in_with_raised_limit_is_accepted() {
    let db = test_db().await;
    let pool = &db.pool;
    set_limit(pool, "template.max_fan_in", 2000).await;
    register(pool, fan_in("two_thousand", 2000)).await;
    let task = create_task(pool, "big", "two_thousand", json!({})).await;
    assert_eq!(step(pool, task, "join").await.parents_pending, 2000);
}
