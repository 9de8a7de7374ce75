//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.
//!
//! The `paths(...)` list below names every routed handler; `tests/rest` checks that it matches
//! [`super::routes`] exactly, both ways.

use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::error::Problem;
use super::{analytics, dlq, docs, health, steps, tasks, templates};

/// Name of the `X-API-Key` security scheme.
pub const API_KEY_SCHEME: &str = "api_key";
/// Name of the `Authorization: Bearer` security scheme.
pub const BEARER_SCHEME: &str = "bearer";

/// The REST API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tasker REST API",
        description = "PostgreSQL-native DAG workflow orchestrator. Every error is a JSON problem \
            (`application/problem+json`: type, title, status, detail, instance). Protected routes take an API key \
            in `X-API-Key` or `Authorization: Bearer`; the scopes listed on an operation are the permission it \
            needs (`*` grants all)."
    ),
    paths(
        tasks::create_task,
        tasks::list_tasks,
        tasks::get_task,
        tasks::cancel_task,
        steps::list_steps,
        steps::get_step,
        steps::act_on_step,
        steps::step_transitions,
        steps::retry_failed_steps,
        templates::list_templates,
        templates::get_template,
        templates::register_template,
        analytics::performance,
        analytics::bottlenecks,
        dlq::list_dlq,
        dlq::dlq_for_task,
        dlq::update_dlq_entry,
        dlq::dlq_stats,
        health::health,
        health::live,
        health::ready,
        health::detailed,
        health::metrics,
        docs::docs_redirect,
        docs::docs_index,
        docs::docs_asset,
        docs::openapi_json,
    ),
    // The two enums only name the values of text fields (`value_type`): listed so their `$ref`s resolve.
    components(schemas(Problem, crate::model::TaskStateName, crate::model::DlqStatusName)),
    modifiers(&Security, &CommonProblems, &DlqUpdateNeedsAField),
    tags(
        (name = "tasks", description = "Create, list, read and cancel tasks"),
        (name = "steps", description = "Workflow steps: read, operate, history; batch retry"),
        (name = "templates", description = "Task templates"),
        (name = "analytics", description = "Performance and bottlenecks, computed by SQL functions"),
        (name = "dlq", description = "Dead letter queue"),
        (name = "health", description = "Health and metrics (public)"),
        (name = "docs", description = "This documentation (public unless `[orchestration.web] public_docs = false`)"),
    )
)]
pub struct ApiDoc;

/// Adds the two API key schemes.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key from [auth] api_keys",
            ))),
        );
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The same API key as a bearer token"))
                    .build(),
            ),
        );
    }
}

/// Adds the answers every operation can give: 401/403 where a key is needed, 413/415 where it
/// takes a body (every body is size-limited; a JSON body needs `Content-Type: application/json`),
/// 500 everywhere.
struct CommonProblems;

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
            )
            .build(),
    )
}

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for op in ops.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                if has_body {
                    responses.entry("413".into()).or_insert_with(|| problem("Body too large"));
                    responses
                        .entry("415".into())
                        .or_insert_with(|| problem("Content-Type is not one this operation takes"));
                }
                if secured {
                    responses
                        .entry("401".into())
                        .or_insert_with(|| problem("No API key, or an unknown one (auth enabled)"));
                    responses.entry("403".into()).or_insert_with(|| problem("The API key lacks the permission"));
                }
                responses
                    .entry("500".into())
                    .or_insert_with(|| problem("Internal error: the problem carries only a correlation id"));
            }
        }
    }
}

/// `PATCH /v1/dlq/entry/{id}` needs at least one of its fields with a value (else 422 "nothing
/// to update"): the derived schema of `DlqUpdate` allows `{}`, so it is narrowed with an `anyOf`.
struct DlqUpdateNeedsAField;

impl Modify for DlqUpdateNeedsAField {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        let Some(derived) = components.schemas.remove("DlqUpdate") else { return };
        let mut one_given = AnyOfBuilder::new();
        for field in ["resolution_status", "resolution_notes", "resolved_by"] {
            one_given = one_given.item(
                ObjectBuilder::new().required(field).property(field, ObjectBuilder::new().schema_type(Type::String)),
            );
        }
        let narrowed = AllOfBuilder::new().item(derived).item(one_given).build();
        components.schemas.insert("DlqUpdate".into(), RefOr::T(Schema::AllOf(narrowed)));
    }
}
