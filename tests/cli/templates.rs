//! `tasker template …` over REST.

use serde_json::json;

use crate::support::{temp_file, Env};

#[tokio::test]
async fn templates_are_listed_shown_and_registered() {
    let env = Env::start(&[]).await;
    let list = env.rest(&["template", "list", "--json"]).await.json();
    assert_eq!(list, env.get("/v1/templates").await);
    let demo = env.rest(&["template", "list", "--namespace", "orders", "--json"]).await.json();
    assert_eq!(demo, env.get("/v1/templates?namespace=orders").await);
    let table = env.rest(&["template", "list"]).await;
    assert!(table.ok().starts_with("NAMESPACE "), "{}", table.stdout);
    assert!(table
        .stdout
        .lines()
        .any(|l| l.starts_with("orders ") && l.contains("order_fulfillment") && l.contains("1.0.0")));

    let rest = env.get("/v1/templates/demo/diamond/1.0.0").await;
    assert_eq!(env.rest(&["template", "show", "demo/diamond@1.0.0", "--json"]).await.json(), rest);
    assert_eq!(env.rest(&["template", "show", "demo/diamond", "--json"]).await.json(), rest);
    let view = env.rest(&["template", "show", "orders/order_fulfillment"]).await;
    let text = view.ok();
    assert!(text.contains("orders/order_fulfillment@1.0.0") && text.contains("STEP "), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("ship_order") && l.contains("reserve_inventory, charge_payment")),
        "{text}"
    );

    // Register as JSON (by extension) and as YAML (sniffed), then the newest is the default.
    let v2 = json!({"namespace": "demo", "name": "diamond", "version": "2.0.0",
        "steps": [{"name": "only", "handler": "noop"}]});
    let file = temp_file("diamond-v2.json", &v2.to_string());
    let registered = env.rest(&["--json", "template", "register", &file.display().to_string()]).await.json();
    assert_eq!(registered["version"], "2.0.0");
    assert_eq!(registered, env.get("/v1/templates/demo/diamond/2.0.0").await);
    assert_eq!(env.rest(&["template", "show", "demo/diamond", "--json"]).await.json()["version"], "2.0.0");
    let yaml = "namespace: demo\nname: cli_yaml\nversion: \"1\"\nsteps:\n  - name: a\n    handler: noop\n";
    let file = temp_file("template", yaml);
    assert!(env.rest(&["template", "register", &file.display().to_string()]).await.ok().contains("demo/cli_yaml@1"));

    // Invalid definitions and unknown templates.
    let bad = temp_file("bad.yaml", "namespace: demo\nname: x\nversion: 1.0.0\nsteps: []\n");
    env.rest(&["template", "register", &bad.display().to_string()])
        .await
        .code(4)
        .error_mentions("Unprocessable Entity");
    env.rest(&["template", "register", "/no/such/file.yaml"]).await.code(4).error_mentions("invalid template file");
    env.rest(&["template", "show", "demo/nope"]).await.code(3).error_mentions("no template demo/nope is registered");
    env.rest(&["template", "show", "demo/diamond@9.9.9"]).await.code(3).error_mentions("Not Found");
    env.rest(&["template", "show", "not-a-ref"]).await.code(2);
}
