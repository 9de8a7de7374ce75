//! Exit codes and error messages: not found, invalid input, auth, unavailable, usage.

use crate::support::{closed_port, tasker, tasker_with_env, Env, WITH_AUTH};

#[tokio::test]
async fn not_found_and_invalid_input() {
    let env = Env::start(&[]).await;
    let random = uuid::Uuid::now_v7().to_string();
    let out = env.rest(&["task", "get", &random]).await;
    out.code(3).error_mentions("error: Not Found: ");
    assert!(out.stdout.is_empty());
    env.rest(&["step", "list", &random]).await.code(3);
    env.rest(&["task", "watch", &random]).await.code(3);
    env.rest(&["task", "graph", &random]).await.code(3);
    // An unknown template is not found.
    env.rest(&["task", "create", "demo/nope"]).await.code(3).error_mentions("unknown task template demo/nope/latest");

    // Bad JSON, a context that is not an object, a context the schema refuses.
    env.rest(&["task", "create", "demo/diamond", "--context", "{not json"])
        .await
        .code(4)
        .error_mentions("invalid --context: not JSON");
    env.rest(&["task", "create", "demo/diamond", "--context", "[1]"])
        .await
        .code(4)
        .error_mentions("must be a JSON object");
    env.rest(&["task", "create", "orders/order_fulfillment", "--context", r#"{"items": "no"}"#])
        .await
        .code(4)
        .error_mentions("Unprocessable Entity");
    env.rest(&["task", "list", "--state", "bogus"]).await.code(4);

    // Usage errors are clap's: exit 2.
    tasker(&["task", "get", "not-a-uuid"]).await.code(2);
    tasker(&["task", "create", "no-slash"]).await.code(2);
    tasker(&["retry", "--since", "yesterday"]).await.code(2);
    tasker(&["task", "graph", &random, "--format", "png"]).await.code(2);
    tasker(&["--url", "ftp://x", "health"]).await.code(2).error_mentions("invalid --url");
    tasker(&["frobnicate"]).await.code(2);
    let help = tasker(&["--help"]).await;
    assert!(help.ok().contains("Exit codes:") && help.stdout.contains("7  the task ended in error or cancelled"));
}

#[tokio::test]
async fn auth_errors_exit_5() {
    let env = Env::start(WITH_AUTH).await;
    let (rest, grpc) = (env.ts.rest_url(), env.ts.grpc_url());
    for backend in [["--url", rest.as_str()], ["--grpc", grpc.as_str()]] {
        let run = |extra: &'static [&'static str]| {
            let mut args = backend.to_vec();
            args.extend_from_slice(extra);
            args
        };
        tasker(&run(&["task", "list"])).await.code(5);
        tasker(&run(&["--api-key", "wrong-key-123", "task", "list"])).await.code(5);
        // The reader may read but not create.
        tasker(&run(&["--api-key", "reader-key-123", "task", "list"])).await.code(0);
        tasker(&run(&["--api-key", "reader-key-123", "task", "create", "demo/diamond"])).await.code(5);
        tasker(&run(&["--api-key", "admin-key-123", "task", "create", "demo/diamond"])).await.code(0);
        // TASKER_API_KEY works like --api-key; health needs no key.
        tasker_with_env(&run(&["template", "list"]), &[("TASKER_API_KEY", "admin-key-123")]).await.code(0);
        tasker(&run(&["health"])).await.code(0);
    }
    tasker(&["--url", &rest, "task", "list"]).await.error_mentions("error: Unauthorized: ");
    tasker(&["--url", &rest, "--api-key", "reader-key-123", "dlq", "stats"]).await.error_mentions("error: Forbidden: ");
    tasker(&["--grpc", &grpc, "task", "list"]).await.error_mentions("error: UNAUTHENTICATED: ");
    // The key's value never shows in --help.
    let help = tasker_with_env(&["--help"], &[("TASKER_API_KEY", "admin-key-123")]).await;
    assert!(!help.ok().contains("admin-key-123"), "{}", help.stdout);
}

#[tokio::test]
async fn an_unreachable_server_exits_6() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    tasker(&["--url", &url, "task", "list"]).await.code(6).error_mentions("cannot reach");
    tasker(&["--url", &url, "health"]).await.code(6);
    tasker(&["--grpc", &format!("127.0.0.1:{port}"), "task", "list"]).await.code(6).error_mentions("cannot reach");
    tasker_with_env(&["health"], &[("TASKER_GRPC", &url)]).await.code(6);
}
