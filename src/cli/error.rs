//! Errors of the `tasker` client and the exit codes scripts can rely on.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other error (internal server error, unexpected answer) |
//! | 2 | usage: the command line is wrong (clap's own code) |
//! | 3 | not found (HTTP 404, gRPC NOT_FOUND) |
//! | 4 | invalid input (HTTP 400/405/409/413/415/422, gRPC INVALID_ARGUMENT/ALREADY_EXISTS/FAILED_PRECONDITION/OUT_OF_RANGE; a bad `--context`, `--result` or template file) |
//! | 5 | authentication or permission (HTTP 401/403, gRPC UNAUTHENTICATED/PERMISSION_DENIED) |
//! | 6 | server unavailable (connection refused, timeout, HTTP 408/429/502/503/504, gRPC UNAVAILABLE/RESOURCE_EXHAUSTED/DEADLINE_EXCEEDED) |
//! | 7 | the task ended in `error` or `cancelled` (`task watch`, `task create --wait`) |

use std::fmt;

/// What went wrong, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything else: exit 1.
    Other,
    /// The command line is wrong: exit 2.
    Usage,
    /// The resource does not exist: exit 3.
    NotFound,
    /// The input was rejected: exit 4.
    Invalid,
    /// No, or a wrong, API key: exit 5.
    Auth,
    /// The server cannot be reached or is overloaded: exit 6.
    Unavailable,
    /// The followed task ended in `error` or `cancelled`: exit 7.
    TaskFailed,
}

impl Kind {
    /// The process exit code of this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Other => 1,
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::Invalid => 4,
            Kind::Auth => 5,
            Kind::Unavailable => 6,
            Kind::TaskFailed => 7,
        }
    }

    /// The kind of an HTTP error status.
    pub fn from_http(status: u16) -> Kind {
        match status {
            404 => Kind::NotFound,
            400 | 405 | 409 | 413 | 415 | 422 => Kind::Invalid,
            401 | 403 => Kind::Auth,
            408 | 429 | 502 | 503 | 504 => Kind::Unavailable,
            _ => Kind::Other,
        }
    }

    /// The kind of a gRPC status code.
    pub fn from_grpc(code: tonic::Code) -> Kind {
        use tonic::Code;
        match code {
            Code::NotFound => Kind::NotFound,
            Code::InvalidArgument | Code::AlreadyExists | Code::FailedPrecondition | Code::OutOfRange => Kind::Invalid,
            Code::Unauthenticated | Code::PermissionDenied => Kind::Auth,
            Code::Unavailable | Code::ResourceExhausted | Code::DeadlineExceeded => Kind::Unavailable,
            _ => Kind::Other,
        }
    }
}

/// An error to report as `error: <title>: <detail>` on stderr, exiting with its kind's code.
#[derive(Debug, Clone)]
pub struct CliError {
    /// Decides the exit code.
    pub kind: Kind,
    /// A short title: the problem's title (REST), the status code's name (gRPC), or what failed.
    pub title: String,
    /// The detail.
    pub detail: String,
}

impl CliError {
    /// An error of `kind` with a title and a detail.
    pub fn new(kind: Kind, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind, title: title.into(), detail: detail.into() }
    }

    /// Invalid input found before anything was sent.
    pub fn invalid(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, title, detail)
    }

    /// The server could not be reached.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, "unavailable", detail)
    }

    /// An answer the client did not expect.
    pub fn unexpected(detail: impl Into<String>) -> Self {
        Self::new(Kind::Other, "unexpected answer", detail)
    }

    /// A gRPC status.
    pub fn from_status(status: &tonic::Status) -> Self {
        let mut kind = Kind::from_grpc(status.code());
        let title = code_name(status.code());
        let mut detail = status.message().to_string();
        if detail.is_empty() {
            detail = status.code().description().to_string();
        }
        // A transport failure arrives as UNAVAILABLE/UNKNOWN with the cause in the source chain.
        if let Some(src) = std::error::Error::source(status) {
            detail = format!("{detail}: {}", root_cause(src));
            if status.code() == tonic::Code::Unknown {
                kind = Kind::Unavailable;
            }
        }
        Self::new(kind, title, detail)
    }

    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.title.is_empty() {
            write!(f, "{}", self.detail)
        } else {
            write!(f, "{}: {}", self.title, self.detail)
        }
    }
}

impl std::error::Error for CliError {}

impl From<tonic::Status> for CliError {
    fn from(s: tonic::Status) -> Self {
        Self::from_status(&s)
    }
}

/// The innermost message of an error chain (`connection refused` rather than `error sending request`).
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut messages = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        messages.push(s.to_string());
        cur = s.source();
    }
    // The last message is the root cause.
    messages.pop().unwrap_or_default()
}

/// The canonical upper-case name of a gRPC code (`NOT_FOUND`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The result of a client operation.
pub type CliResult<T> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_documented_codes() {
        let cases =
            [(404, 3), (400, 4), (409, 4), (415, 4), (422, 4), (401, 5), (403, 5), (503, 6), (429, 6), (500, 1)];
        for (status, code) in cases {
            assert_eq!(Kind::from_http(status).exit_code(), code, "HTTP {status}");
        }
    }

    #[test]
    fn grpc_codes_map_to_documented_codes() {
        use tonic::Code;
        let cases = [
            (Code::NotFound, 3),
            (Code::InvalidArgument, 4),
            (Code::AlreadyExists, 4),
            (Code::FailedPrecondition, 4),
            (Code::Unauthenticated, 5),
            (Code::PermissionDenied, 5),
            (Code::Unavailable, 6),
            (Code::ResourceExhausted, 6),
            (Code::Internal, 1),
        ];
        for (c, code) in cases {
            assert_eq!(Kind::from_grpc(c).exit_code(), code, "{c:?}");
        }
    }

    #[test]
    fn status_prints_code_name_and_message() {
        let e = CliError::from_status(&tonic::Status::not_found("task x not found"));
        assert_eq!(e.to_string(), "NOT_FOUND: task x not found");
        assert_eq!(e.exit_code(), 3);
    }
}
