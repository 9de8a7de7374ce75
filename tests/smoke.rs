//! Smoke tests: a migrated database has the engine schema and the execution audit table.

use tasker_orchestration::testing::test_db;

#[tokio::test]
async fn migrated_database_has_engine_schema() {
    let db = test_db().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasker.task_states").fetch_one(&db.pool).await.unwrap();
    assert_eq!(n, 12);
}

#[tokio::test]
async fn migrated_database_has_the_execution_audit_table() {
    let db = test_db().await;
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tasker_audit.step_executions").fetch_one(&db.pool).await.unwrap();
    assert_eq!(n, 0);
}
