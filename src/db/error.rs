//! The engine's one error type. Every database error is translated here, once: the engine's own
//! SQLSTATEs (class `TK`, raised by the functions under `sql/`) become named variants carrying
//! the engine's message (and its hint); data the server cannot take (a NUL character, text that
//! is not a number…, [`SQLSTATES_INVALID_INPUT`]) becomes [`EngineError::InvalidInput`], the
//! caller's error; connection, timeout and resource trouble becomes [`EngineError::Unavailable`]
//! (the only kind that counts toward a circuit breaker); anything else keeps its driver error for
//! the caller to log.

/// An illegal state machine move (`tasker._move_task`, `tasker.transition_steps`).
pub const SQLSTATE_ILLEGAL_TRANSITION: &str = "TK001";
/// A task, step, template or DLQ entry does not exist.
pub const SQLSTATE_NOT_FOUND: &str = "TK002";
/// A template definition is invalid (unknown dependency, cycle, duplicate step, bad key…).
pub const SQLSTATE_INVALID_TEMPLATE: &str = "TK003";
/// A request is invalid (context fails the template's input schema, bad option, bad filter…).
pub const SQLSTATE_INVALID_INPUT: &str = "TK004";
/// An idempotency key was reused for a different request.
pub const SQLSTATE_IDEMPOTENCY_CONFLICT: &str = "TK005";
/// The operation is not allowed in the task's or step's current state.
pub const SQLSTATE_NOT_ALLOWED: &str = "TK006";

/// Standard SQLSTATEs that mean "the database cannot serve now; retry later": statement timeout
/// (`query_canceled`), too many connections, administrator / crash / cannot-connect-now shutdown.
/// Class `08` (connection exception) and class `53` (insufficient resources: disk full, out of
/// memory, too many connections) are unavailable too, whatever their subclass.
pub const SQLSTATES_UNAVAILABLE: &[&str] = &["57014", "53300", "57P01", "57P02", "57P03"];

/// Standard SQLSTATEs raised by data the server cannot take: the request's fault, not the
/// database's. `22P05` untranslatable character (`\u0000` in JSON), `22021` character not in
/// repertoire (a NUL byte in text), `22P02` invalid text representation, `2201B` invalid regular
/// expression, `22001` string too long, `22003` numeric value out of range, `22007`/`22008`
/// datetime format / overflow, `22025` invalid escape sequence, `22023` invalid parameter value,
/// `54000` program limit exceeded (e.g. a value too large to index).
pub const SQLSTATES_INVALID_INPUT: &[&str] =
    &["22P05", "22021", "22P02", "2201B", "22001", "22003", "22007", "22008", "22025", "22023", "54000"];

fn is_unavailable_sqlstate(code: &str) -> bool {
    SQLSTATES_UNAVAILABLE.contains(&code) || code.starts_with("08") || code.starts_with("53")
}

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// TK001: the state machine does not allow this move from the current state.
    #[error("{0}")]
    IllegalTransition(String),
    /// TK002: the task, step, template or entry does not exist.
    #[error("{0}")]
    NotFound(String),
    /// TK003: the template definition is invalid.
    #[error("{0}")]
    InvalidTemplate(String),
    /// TK004: the request is invalid.
    #[error("{0}")]
    InvalidInput(String),
    /// TK005: the idempotency key was used for a different request.
    #[error("{0}")]
    IdempotencyConflict(String),
    /// TK006: not allowed in the current state of the task or step.
    #[error("{0}")]
    NotAllowed(String),
    /// The database is unreachable or refusing work for now (pool timeout or closed, I/O error,
    /// or one of [`SQLSTATES_UNAVAILABLE`]). The string says what happened, for the log.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other SQLSTATE, reported per request by a batch call (no driver error to keep).
    #[error("SQLSTATE {code}: {message}")]
    Sql {
        /// The SQLSTATE.
        code: String,
        /// The server's message.
        message: String,
    },
    /// Any other database or driver error: a bug or an unexpected condition, never the caller's.
    #[error(transparent)]
    Database(sqlx::Error),
}

/// Result of an engine call.
pub type EngineResult<T> = Result<T, EngineError>;

impl EngineError {
    /// Translates an error reported as SQLSTATE and message (as `tasker.create_tasks` reports
    /// each request's failure).
    pub fn from_sqlstate(code: &str, message: String) -> Self {
        match code {
            SQLSTATE_ILLEGAL_TRANSITION => EngineError::IllegalTransition(message),
            SQLSTATE_NOT_FOUND => EngineError::NotFound(message),
            SQLSTATE_INVALID_TEMPLATE => EngineError::InvalidTemplate(message),
            SQLSTATE_INVALID_INPUT => EngineError::InvalidInput(message),
            SQLSTATE_IDEMPOTENCY_CONFLICT => EngineError::IdempotencyConflict(message),
            SQLSTATE_NOT_ALLOWED => EngineError::NotAllowed(message),
            c if SQLSTATES_INVALID_INPUT.contains(&c) => EngineError::InvalidInput(message),
            c if is_unavailable_sqlstate(c) => EngineError::Unavailable(format!("SQLSTATE {c}: {message}")),
            _ => EngineError::Sql { code: code.to_string(), message },
        }
    }

    /// The SQLSTATE this error came with, when the server reported one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            EngineError::IllegalTransition(_) => Some(SQLSTATE_ILLEGAL_TRANSITION.into()),
            EngineError::NotFound(_) => Some(SQLSTATE_NOT_FOUND.into()),
            EngineError::InvalidTemplate(_) => Some(SQLSTATE_INVALID_TEMPLATE.into()),
            EngineError::InvalidInput(_) => Some(SQLSTATE_INVALID_INPUT.into()),
            EngineError::IdempotencyConflict(_) => Some(SQLSTATE_IDEMPOTENCY_CONFLICT.into()),
            EngineError::NotAllowed(_) => Some(SQLSTATE_NOT_ALLOWED.into()),
            EngineError::Sql { code, .. } => Some(code.clone()),
            EngineError::Database(sqlx::Error::Database(db)) => db.code().map(std::borrow::Cow::into_owned),
            EngineError::Unavailable(_) | EngineError::Database(_) => None,
        }
    }

    /// Whether the engine refused the request itself (one of TK001..TK006, or data the server
    /// cannot take, [`SQLSTATES_INVALID_INPUT`]): the caller's error, not a failure of the database.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            EngineError::IllegalTransition(_)
                | EngineError::NotFound(_)
                | EngineError::InvalidTemplate(_)
                | EngineError::InvalidInput(_)
                | EngineError::IdempotencyConflict(_)
                | EngineError::NotAllowed(_)
        )
    }

    /// Whether the caller may simply retry later (the database, not the request, is the problem).
    /// Only these errors count toward a circuit breaker: a rejected request, or even a bug
    /// (`Sql`, `Database`), says nothing about whether the database can serve.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, EngineError::Unavailable(_))
    }
}

impl From<sqlx::Error> for EngineError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) => {
                let Some(code) = db.code().map(std::borrow::Cow::into_owned) else { return EngineError::Database(err) };
                let input = SQLSTATES_INVALID_INPUT.contains(&code.as_str());
                let is_engine = code.starts_with("TK") || input || is_unavailable_sqlstate(&code);
                if !is_engine {
                    return EngineError::Database(err);
                }
                let mut message = db.message().to_string();
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    // The server's detail says which value (`\u0000 cannot be converted to text.`).
                    if let Some(detail) = pg.detail().filter(|_| input) {
                        message = format!("{message}: {detail}");
                    }
                    if let Some(hint) = pg.hint() {
                        message = format!("{message} ({hint})");
                    }
                }
                EngineError::from_sqlstate(&code, message)
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                EngineError::Unavailable(err.to_string())
            }
            _ => EngineError::Database(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_sqlstate_has_its_variant() {
        for (code, want) in [
            ("TK001", "IllegalTransition"),
            ("TK002", "NotFound"),
            ("TK003", "InvalidTemplate"),
            ("TK004", "InvalidInput"),
            ("TK005", "IdempotencyConflict"),
            ("TK006", "NotAllowed"),
            ("57014", "Unavailable"),
            ("08006", "Unavailable"),
            ("53200", "Unavailable"),
            ("22P05", "InvalidInput"),
            ("22021", "InvalidInput"),
            ("22P02", "InvalidInput"),
            ("23505", "Sql"),
        ] {
            let e = EngineError::from_sqlstate(code, "m".into());
            assert!(format!("{e:?}").starts_with(want), "{code}: {e:?}");
        }
    }

    #[test]
    fn input_the_server_cannot_take_is_a_rejection_not_an_outage() {
        for code in SQLSTATES_INVALID_INPUT {
            let e = EngineError::from_sqlstate(code, "m".into());
            assert!(e.is_rejection() && !e.is_unavailable(), "{code}: {e:?}");
        }
    }

    #[test]
    fn pool_timeouts_are_unavailable() {
        assert!(EngineError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(matches!(EngineError::from(sqlx::Error::RowNotFound), EngineError::Database(_)));
    }
}
