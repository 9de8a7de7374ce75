//! grpc.health.v1 follows readiness; reflection (v1alpha and v1) lists the services.

use std::time::{Duration, Instant};

use sqlx::Connection;
use tasker_orchestration::api::grpc::SERVICE_NAMES;
use tasker_orchestration::testing::url_with_database;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::support::Grpc;

/// Service names listed by reflection v1alpha (the version grpcurl 1.8 speaks).
pub async fn list_services_v1alpha(channel: Channel) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    let mut client = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tonic::codegen::tokio_stream::iter(vec![req]))
        .await
        .expect("reflect")
        .into_inner();
    let resp = stream.message().await.expect("reflection answer").expect("one message");
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// Service names listed by reflection v1.
async fn list_services_v1(channel: Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut client = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tonic::codegen::tokio_stream::iter(vec![req]))
        .await
        .expect("reflect")
        .into_inner();
    let resp = stream.message().await.expect("reflection answer").expect("one message");
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// A file's descriptor by symbol, through v1alpha (what `grpcurl describe` does).
async fn file_containing_symbol_v1alpha(channel: Channel, symbol: &str) -> usize {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    let mut client = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
    };
    let mut stream = client
        .server_reflection_info(tonic::codegen::tokio_stream::iter(vec![req]))
        .await
        .expect("reflect")
        .into_inner();
    let resp = stream.message().await.expect("reflection answer").expect("one message");
    match resp.message_response {
        Some(MessageResponse::FileDescriptorResponse(f)) => f.file_descriptor_proto.len(),
        other => panic!("unexpected reflection answer for {symbol}: {other:?}"),
    }
}

async fn serving(channel: &Channel, service: &str) -> ServingStatus {
    let mut client = HealthClient::new(channel.clone());
    let r = client.check(HealthCheckRequest { service: service.into() }).await.expect("health check").into_inner();
    ServingStatus::try_from(r.status).unwrap_or(ServingStatus::Unknown)
}

async fn wait_serving(channel: &Channel, want: ServingStatus, within: Duration) {
    let started = Instant::now();
    loop {
        let got = serving(channel, "").await;
        if got == want {
            return;
        }
        assert!(started.elapsed() < within, "health is {got:?}, not {want:?}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn reflection_lists_the_services_in_both_versions() {
    let g = Grpc::start(&[]).await;
    for listed in [list_services_v1alpha(g.channel.clone()).await, list_services_v1(g.channel.clone()).await] {
        for name in SERVICE_NAMES {
            assert!(listed.iter().any(|s| s == name), "{name} missing from {listed:?}");
        }
        assert!(listed.iter().any(|s| s == "grpc.health.v1.Health"), "{listed:?}");
    }
    // Describing a service resolves its file and its imports (struct.proto, timestamp.proto).
    assert!(file_containing_symbol_v1alpha(g.channel.clone(), "tasker.v1.HealthService").await >= 1);
    assert!(file_containing_symbol_v1alpha(g.channel.clone(), "tasker.v1.TaskService").await >= 1);
}

#[tokio::test]
async fn grpc_health_is_serving_when_ready_and_not_serving_without_the_database() {
    let g = Grpc::start(&[]).await;
    wait_serving(&g.channel, ServingStatus::Serving, Duration::from_secs(10)).await;
    for name in SERVICE_NAMES {
        assert_eq!(serving(&g.channel, name).await, ServingStatus::Serving, "{name}");
    }

    // Take the database away: no new connections, existing ones terminated.
    let admin_url = url_with_database(&g.ts.db.url, "postgres");
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("admin connection");
    let db = &g.ts.db.name;
    sqlx::query(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).execute(&mut admin).await.expect("block");
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(db)
    .execute(&mut admin)
    .await
    .expect("terminate");
    wait_serving(&g.channel, ServingStatus::NotServing, Duration::from_secs(20)).await;
    assert_eq!(serving(&g.channel, "tasker.v1.TaskService").await, ServingStatus::NotServing);
    // Liveness still answers; readiness says why.
    let ready = g
        .health()
        .check_readiness(tasker_orchestration::api::grpc::proto::CheckReadinessRequest {})
        .await
        .expect("readiness answers")
        .into_inner();
    assert_eq!(ready.status, "unhealthy");

    sqlx::query(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).execute(&mut admin).await.expect("restore");
    wait_serving(&g.channel, ServingStatus::Serving, Duration::from_secs(40)).await;
    let _ = admin.close().await;
}
