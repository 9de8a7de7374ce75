//! Built-in handlers: enough to run every example template under `config/tasks/`.
//!
//! | handler | behaviour |
//! |---|---|
//! | `noop` | returns `{"ok": true, "step": <step name>}` |
//! | `sleep` | sleeps `ms` (step inputs, else task context; default 10) and returns `{"slept_ms": ms}` |
//! | `fail_first_n` | retryable error while `attempt <= fail_times` (default 1), then success |
//! | `fail_permanently` | always a permanent error |
//! | `orders.validate_order` | checks `order_id` and `items` in the context; returns the order's id, counts and amount |
//! | `orders.reserve_inventory` | returns a reservation id derived from the validated order |
//! | `orders.charge_payment` | returns a payment id and the amount charged |
//! | `orders.ship_order` | needs both parents' results; returns a tracking number built from them |
//! | `orders.notify_customer` | returns the tracking number it notified the customer about |

use std::time::Duration;

use serde_json::{json, Value};

use super::handler::{HandlerRegistry, StepContext, StepOutcome};

/// Default `ms` of the `sleep` handler.
pub const DEFAULT_SLEEP_MS: u64 = 10;
/// Default `fail_times` of the `fail_first_n` handler.
pub const DEFAULT_FAIL_TIMES: i64 = 1;
/// Unit price in cents `orders.validate_order` assumes for an item without `price_cents`.
pub const DEFAULT_UNIT_PRICE_CENTS: i64 = 1000;

/// A registry holding every built-in handler.
pub fn builtin_registry() -> HandlerRegistry {
    HandlerRegistry::new()
        .with("noop", noop)
        .with("sleep", sleep)
        .with("fail_first_n", fail_first_n)
        .with("fail_permanently", fail_permanently)
        .with("orders.validate_order", validate_order)
        .with("orders.reserve_inventory", reserve_inventory)
        .with("orders.charge_payment", charge_payment)
        .with("orders.ship_order", ship_order)
        .with("orders.notify_customer", notify_customer)
}

/// `noop`: succeeds at once.
pub async fn noop(ctx: StepContext) -> StepOutcome {
    StepOutcome::Success(json!({"ok": true, "step": ctx.step_name}))
}

/// `sleep`: sleeps `ms` milliseconds, then succeeds. A non-integer or negative `ms` is a
/// permanent `InvalidInput` error.
pub async fn sleep(ctx: StepContext) -> StepOutcome {
    let ms = match ctx.param("ms") {
        None | Some(Value::Null) => DEFAULT_SLEEP_MS,
        Some(v) => match v.as_u64() {
            Some(ms) => ms,
            None => {
                return StepOutcome::permanent(
                    "InvalidInput",
                    format!("sleep: ms must be a non-negative integer, got {v}"),
                )
            }
        },
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    StepOutcome::Success(json!({"ok": true, "step": ctx.step_name, "slept_ms": ms}))
}

/// `fail_first_n`: a retryable `InjectedFailure` while the attempt number is at most `fail_times`
/// (step inputs, else task context; default 1), then success.
pub async fn fail_first_n(ctx: StepContext) -> StepOutcome {
    let fail_times = match ctx.param("fail_times") {
        None | Some(Value::Null) => DEFAULT_FAIL_TIMES,
        Some(v) => match v.as_i64() {
            Some(n) => n,
            None => {
                return StepOutcome::permanent(
                    "InvalidInput",
                    format!("fail_first_n: fail_times must be an integer, got {v}"),
                )
            }
        },
    };
    if i64::from(ctx.attempt) <= fail_times {
        StepOutcome::retryable(
            "InjectedFailure",
            format!("{} fails attempt {} of its first {fail_times} by design", ctx.step_name, ctx.attempt),
        )
    } else {
        StepOutcome::Success(json!({"ok": true, "step": ctx.step_name, "attempt": ctx.attempt}))
    }
}

/// `fail_permanently`: always a permanent `InjectedFailure`.
pub async fn fail_permanently(ctx: StepContext) -> StepOutcome {
    StepOutcome::permanent("InjectedFailure", format!("{} fails permanently by design", ctx.step_name))
}

fn missing_parent(ctx: &StepContext, parent: &str) -> StepOutcome {
    StepOutcome::permanent(
        "MissingParentResult",
        format!("{} needs the result of {parent}, which it did not receive", ctx.step_name),
    )
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `orders.validate_order`: validates the order in the task context. `order_id` (a non-empty
/// string) defaults to `ORD-<task uuid>` and `items` (a non-empty array of
/// `{sku, quantity[, price_cents]}`) to one sample item when absent, so a task created with no
/// context still runs end to end; present but malformed values are a permanent `ValidationError`.
/// Returns `{order_id, customer_email, item_count, total_quantity, amount_cents}`.
pub async fn validate_order(ctx: StepContext) -> StepOutcome {
    let order_id = match ctx.context.get("order_id") {
        None | Some(Value::Null) => format!("ORD-{}", ctx.task_uuid),
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(_) => return StepOutcome::permanent("ValidationError", "order_id must be a non-empty string"),
    };
    let sample = vec![json!({"sku": "SAMPLE-1", "quantity": 1})];
    let items = match ctx.context.get("items") {
        None | Some(Value::Null) => &sample,
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => return StepOutcome::permanent("ValidationError", format!("order {order_id} has no items")),
    };
    let mut total_quantity: i64 = 0;
    let mut amount_cents: i64 = 0;
    for (i, item) in items.iter().enumerate() {
        let sku = str_field(item, "sku").unwrap_or("");
        let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(0);
        if sku.is_empty() || quantity < 1 {
            return StepOutcome::permanent(
                "ValidationError",
                format!("order {order_id}: item {i} needs a sku and a quantity of at least 1"),
            );
        }
        let price = item.get("price_cents").and_then(Value::as_i64).unwrap_or(DEFAULT_UNIT_PRICE_CENTS);
        total_quantity = total_quantity.saturating_add(quantity);
        amount_cents = amount_cents.saturating_add(quantity.saturating_mul(price));
    }
    StepOutcome::Success(json!({
        "order_id": order_id,
        "customer_email": ctx.context.get("customer_email").cloned().unwrap_or(Value::Null),
        "item_count": items.len(),
        "total_quantity": total_quantity,
        "amount_cents": amount_cents,
        "valid": true,
    }))
}

/// `orders.reserve_inventory`: reserves the validated order's items; returns
/// `{reservation_id: "RES-<order_id>", order_id, reserved_quantity}`.
pub async fn reserve_inventory(ctx: StepContext) -> StepOutcome {
    let Some(order) = ctx.parent_result("validate_order") else {
        return missing_parent(&ctx, "validate_order");
    };
    let Some(order_id) = str_field(order, "order_id") else {
        return missing_parent(&ctx, "validate_order");
    };
    StepOutcome::Success(json!({
        "reservation_id": format!("RES-{order_id}"),
        "order_id": order_id,
        "reserved_quantity": order.get("total_quantity").cloned().unwrap_or(Value::Null),
    }))
}

/// `orders.charge_payment`: charges the validated order's amount; returns
/// `{payment_id: "PAY-<order_id>", order_id, amount_cents}`.
pub async fn charge_payment(ctx: StepContext) -> StepOutcome {
    let Some(order) = ctx.parent_result("validate_order") else {
        return missing_parent(&ctx, "validate_order");
    };
    let Some(order_id) = str_field(order, "order_id") else {
        return missing_parent(&ctx, "validate_order");
    };
    StepOutcome::Success(json!({
        "payment_id": format!("PAY-{order_id}"),
        "order_id": order_id,
        "amount_cents": order.get("amount_cents").cloned().unwrap_or(Value::Null),
    }))
}

/// `orders.ship_order`: needs `reserve_inventory` and `charge_payment` results; returns
/// `{tracking_number: "TRK-<reservation_id>-<payment_id>", reservation_id, payment_id}`.
pub async fn ship_order(ctx: StepContext) -> StepOutcome {
    let Some(reservation_id) = ctx.parent_result("reserve_inventory").and_then(|r| str_field(r, "reservation_id"))
    else {
        return missing_parent(&ctx, "reserve_inventory");
    };
    let Some(payment_id) = ctx.parent_result("charge_payment").and_then(|r| str_field(r, "payment_id")) else {
        return missing_parent(&ctx, "charge_payment");
    };
    StepOutcome::Success(json!({
        "tracking_number": format!("TRK-{reservation_id}-{payment_id}"),
        "reservation_id": reservation_id,
        "payment_id": payment_id,
    }))
}

/// `orders.notify_customer`: needs the `ship_order` result; returns
/// `{notified: <customer_email or null>, tracking_number}`.
pub async fn notify_customer(ctx: StepContext) -> StepOutcome {
    let Some(tracking) = ctx.parent_result("ship_order").and_then(|r| str_field(r, "tracking_number")) else {
        return missing_parent(&ctx, "ship_order");
    };
    StepOutcome::Success(json!({
        "notified": ctx.context.get("customer_email").cloned().unwrap_or(Value::Null),
        "tracking_number": tracking,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn ctx(step: &str, attempt: i32, context: Value, parents: &[(&str, Value)]) -> StepContext {
        StepContext {
            step_uuid: uuid::Uuid::nil(),
            task_uuid: uuid::Uuid::nil(),
            attempt,
            max_attempts: 3,
            namespace: "test".into(),
            task_name: "t".into(),
            task_version: "1".into(),
            step_name: step.into(),
            handler: step.into(),
            context,
            inputs: json!({}),
            parent_results: parents.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn fail_first_n_fails_then_succeeds() {
        let c = json!({"fail_times": 2});
        assert!(matches!(fail_first_n(ctx("s", 1, c.clone(), &[])).await, StepOutcome::Retryable { .. }));
        assert!(matches!(fail_first_n(ctx("s", 2, c.clone(), &[])).await, StepOutcome::Retryable { .. }));
        assert!(matches!(fail_first_n(ctx("s", 3, c, &[])).await, StepOutcome::Success(_)));
        assert!(matches!(fail_first_n(ctx("s", 2, json!({}), &[])).await, StepOutcome::Success(_)));
    }

    #[tokio::test]
    async fn order_handlers_chain() {
        let c = json!({"order_id": "A1", "customer_email": "a@example.com",
                       "items": [{"sku": "X", "quantity": 2}, {"sku": "Y", "quantity": 1, "price_cents": 250}]});
        let StepOutcome::Success(order) = validate_order(ctx("validate_order", 1, c.clone(), &[])).await else {
            panic!("validate_order failed")
        };
        assert_eq!(order["amount_cents"], 2250);
        let parents = [("validate_order", order)];
        let StepOutcome::Success(res) = reserve_inventory(ctx("r", 1, c.clone(), &parents)).await else { panic!() };
        let StepOutcome::Success(pay) = charge_payment(ctx("p", 1, c.clone(), &parents)).await else { panic!() };
        let parents = [("reserve_inventory", res), ("charge_payment", pay)];
        let StepOutcome::Success(ship) = ship_order(ctx("s", 1, c.clone(), &parents)).await else { panic!() };
        assert_eq!(ship["tracking_number"], "TRK-RES-A1-PAY-A1");
        let StepOutcome::Success(n) = notify_customer(ctx("n", 1, c, &[("ship_order", ship)])).await else { panic!() };
        assert_eq!(n["tracking_number"], "TRK-RES-A1-PAY-A1");
    }

    #[tokio::test]
    async fn ship_order_without_payment_fails_permanently() {
        let out = ship_order(ctx("s", 1, json!({}), &[("reserve_inventory", json!({"reservation_id": "R"}))])).await;
        assert!(matches!(out, StepOutcome::Permanent(e) if e.class == "MissingParentResult"));
    }

    #[tokio::test]
    async fn validate_order_rejects_empty_order() {
        let out = validate_order(ctx("v", 1, json!({"order_id": "A", "items": []}), &[])).await;
        assert!(matches!(out, StepOutcome::Permanent(e) if e.class == "ValidationError"));
        let out = validate_order(ctx("v", 1, json!({"order_id": 7}), &[])).await;
        assert!(matches!(out, StepOutcome::Permanent(e) if e.class == "ValidationError"));
    }

    #[tokio::test]
    async fn validate_order_without_context_uses_a_sample_order() {
        let StepOutcome::Success(order) = validate_order(ctx("v", 1, json!({}), &[])).await else {
            panic!("an order with no context should validate")
        };
        assert!(order["order_id"].as_str().is_some_and(|id| id.starts_with("ORD-")), "{order}");
        assert_eq!(order["item_count"], 1);
    }
}
