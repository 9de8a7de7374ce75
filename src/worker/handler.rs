//! What a step handler sees and returns, and the registry that maps handler names to handlers.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The future a handler returns: boxed so handlers are object-safe and can live in a registry.
pub type HandlerFuture = Pin<Box<dyn Future<Output = StepOutcome> + Send + 'static>>;

/// Everything a handler needs to run one attempt of one step, as returned by `tasker.claim_steps`.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// The step being run.
    pub step_uuid: Uuid,
    /// Its task.
    pub task_uuid: Uuid,
    /// This attempt's number, from 1. A handler that runs again after a failure sees a higher one.
    pub attempt: i32,
    /// How many attempts the step has in all.
    pub max_attempts: i32,
    /// The task's namespace (also the worker queue: `worker_<namespace>_queue`).
    pub namespace: String,
    /// The task template's name.
    pub task_name: String,
    /// The task template's version.
    pub task_version: String,
    /// The step's name within its task.
    pub step_name: String,
    /// The handler name the template gave the step.
    pub handler: String,
    /// The task's context: the JSON object the task was created with.
    pub context: Value,
    /// The step's inputs from the template (an object, `{}` when none).
    pub inputs: Value,
    /// The results of the step's parents, by parent step name (`null` for a parent resolved
    /// manually without a result).
    pub parent_results: BTreeMap<String, Value>,
    /// How long the attempt may run: past it the runtime abandons the handler and reports a
    /// retryable error of class `Timeout`.
    pub timeout: Duration,
}

impl StepContext {
    /// A parameter of the step: its inputs first, then the task context. `None` when neither has it.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.inputs.get(key).or_else(|| self.context.get(key))
    }

    /// The result of the parent step `name`, when it has one.
    pub fn parent_result(&self, name: &str) -> Option<&Value> {
        self.parent_results.get(name).filter(|v| !v.is_null())
    }
}

/// An error a handler reports: a class (a short, stable name operators filter on, like
/// `ValidationError` or `Timeout`), a human message, and optional structured details.
/// Serialized as the protocol's error object: `{"class", "message"[, "details"]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepError {
    /// A short, stable error class.
    pub class: String,
    /// A human-readable message.
    pub message: String,
    /// Optional structured details, stored with the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl StepError {
    /// An error of `class` with `message` and no details.
    pub fn new(class: impl Into<String>, message: impl Into<String>) -> Self {
        Self { class: class.into(), message: message.into(), details: None }
    }

    /// The same error with structured `details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The JSON object reported to the engine: `{"message", "class"[, "details"]}`.
    pub fn to_json(&self) -> Value {
        // Strings and a JSON value: serializing cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

impl std::error::Error for StepError {}

/// How one attempt of a step ended.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// The step succeeded; the value is stored as its result and handed to its children.
    Success(Value),
    /// The attempt failed but another may succeed: the engine retries while attempts remain,
    /// after its backoff or after `retry_after` when given.
    Retryable {
        /// What went wrong.
        error: StepError,
        /// A hint: wait at least this long before the next attempt.
        retry_after: Option<Duration>,
    },
    /// The step cannot succeed: it fails now, whatever attempts remain.
    Permanent(StepError),
}

impl StepOutcome {
    /// A retryable failure without a retry-after hint.
    pub fn retryable(class: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Retryable { error: StepError::new(class, message), retry_after: None }
    }

    /// A permanent failure.
    pub fn permanent(class: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Permanent(StepError::new(class, message))
    }

    /// The status word of the worker protocol: `success`, `retryable_error` or `permanent_error`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Success(_) => "success",
            Self::Retryable { .. } => "retryable_error",
            Self::Permanent(_) => "permanent_error",
        }
    }
}

/// A step handler. Implemented for every `Fn(StepContext) -> impl Future<Output = StepOutcome>`,
/// so a closure or an `async fn` is a handler.
///
/// The runtime runs each call in its own task with the step's timeout; a handler that panics is
/// reported as a retryable error of class `Panic`.
pub trait StepHandler: Send + Sync + 'static {
    /// Runs one attempt of the step described by `ctx`.
    fn call(&self, ctx: StepContext) -> HandlerFuture;
}

impl<F, Fut> StepHandler for F
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StepOutcome> + Send + 'static,
{
    fn call(&self, ctx: StepContext) -> HandlerFuture {
        Box::pin(self(ctx))
    }
}

/// Handlers by name (the `handler` of a template's step). Cheap to clone.
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    handlers: HashMap<String, Arc<dyn StepHandler>>,
}

impl HandlerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` under `name`, replacing any handler of that name.
    pub fn register(&mut self, name: impl Into<String>, handler: impl StepHandler) -> &mut Self {
        self.handlers.insert(name.into(), Arc::new(handler));
        self
    }

    /// Builder form of [`register`](Self::register).
    pub fn with(mut self, name: impl Into<String>, handler: impl StepHandler) -> Self {
        self.register(name, handler);
        self
    }

    /// Adds every handler of `other`, replacing handlers of the same names.
    pub fn extend(&mut self, other: HandlerRegistry) -> &mut Self {
        self.handlers.extend(other.handlers);
        self
    }

    /// The handler registered under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn StepHandler>> {
        self.handlers.get(name).cloned()
    }

    /// Whether a handler is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// How many handlers are registered.
    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    /// Whether no handler is registered.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}

impl fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerRegistry").field("handlers", &self.names()).finish()
    }
}
