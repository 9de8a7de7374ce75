//! `/v1/templates`: list, read, register from JSON or YAML.

use serde_json::json;

use crate::support::Api;

const YAML: &str = "namespace: rest\nname: pipeline\nversion: 1.0.0\ndescription: from YAML\nsteps:\n  \
    - name: a\n    handler: noop\n  - name: b\n    handler: noop\n    depends_on: [a]\n";

#[tokio::test]
async fn templates_are_listed_and_read() {
    let api = Api::plain().await;
    let all = api.get("/v1/templates").await.expect(200).clone();
    let names: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}/{}", t["namespace"].as_str().unwrap(), t["name"].as_str().unwrap()))
        .collect();
    assert!(names.contains(&"demo/diamond".to_string()), "{names:?}");
    assert!(names.contains(&"orders/order_fulfillment".to_string()), "{names:?}");
    let demo = api.get("/v1/templates?namespace=demo").await.expect(200).clone();
    assert!(demo.as_array().unwrap().iter().all(|t| t["namespace"] == "demo"));
    let diamond = demo.as_array().unwrap().iter().find(|t| t["name"] == "diamond").unwrap();
    assert_eq!(diamond["step_count"], 4);

    let t = api.get("/v1/templates/demo/diamond/1.0.0").await.expect(200).clone();
    assert_eq!(t["definition"]["steps"].as_array().unwrap().len(), 4);
    api.get("/v1/templates/demo/diamond/9.9.9").await.problem(404);
    api.get("/v1/templates/demo/diamond").await.problem(404);
    api.get("/v1/templates?colour=red").await.problem(400);
}

#[tokio::test]
async fn templates_register_from_yaml_under_every_yaml_media_type_and_from_json() {
    let api = Api::plain().await;
    for (i, ct) in ["application/yaml", "application/x-yaml", "text/yaml; charset=utf-8"].iter().enumerate() {
        let text = YAML.replace("1.0.0", &format!("1.0.{i}"));
        let r = api.post_raw("/v1/templates", ct, text).await;
        let t = r.expect(201);
        assert_eq!(t["namespace"], "rest");
        assert_eq!(t["version"], format!("1.0.{i}"));
        assert_eq!(t["definition"]["steps"][1]["depends_on"], json!(["a"]));
    }
    let def = json!({"namespace": "rest", "name": "json_one", "version": "2.0.0",
                     "steps": [{"name": "only", "handler": "noop"}]});
    let r = api.post("/v1/templates", &def).await;
    assert_eq!(r.expect(201)["name"], "json_one");
    // Registered templates can be run at once.
    let task = api.post("/v1/tasks", &json!({"namespace": "rest", "name": "json_one"})).await;
    assert_eq!(task.expect(201)["steps_total"], 1);
    api.get("/v1/templates/rest/pipeline/1.0.1").await.expect(200);
}

#[tokio::test]
async fn invalid_templates_are_422_naming_the_problem() {
    let api = Api::plain().await;
    let cycle = "namespace: rest\nname: loop\nversion: 1.0.0\nsteps:\n  - name: a\n    handler: noop\n    \
        depends_on: [b]\n  - name: b\n    handler: noop\n    depends_on: [a]\n";
    let r = api.post_raw("/v1/templates", "application/yaml", cycle).await;
    let detail = r.problem(422)["detail"].as_str().unwrap().to_lowercase();
    assert!(detail.contains("cycle"), "{detail}");

    let unknown_dep = json!({"namespace": "rest", "name": "dangling", "version": "1.0.0",
                             "steps": [{"name": "a", "handler": "noop", "depends_on": ["ghost"]}]});
    let r = api.post("/v1/templates", &unknown_dep).await;
    assert!(r.problem(422)["detail"].as_str().unwrap().contains("ghost"), "{}", r.text);

    let dup = json!({"namespace": "rest", "name": "dup", "version": "1.0.0",
                     "steps": [{"name": "a", "handler": "noop"}, {"name": "a", "handler": "noop"}]});
    api.post("/v1/templates", &dup).await.problem(422);
    api.post_raw("/v1/templates", "application/yaml", "steps: [unclosed").await.problem(422);
    api.post_raw("/v1/templates", "text/plain", YAML).await.problem(415);
    api.send(api.req(reqwest::Method::POST, "/v1/templates").body(YAML)).await.problem(415);
    api.post_raw("/v1/templates", "application/yaml", vec![0xff_u8, 0xfe, 0x00]).await.problem(400);
}
