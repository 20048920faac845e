//! The crate's error below the CLI: what failed, and what a caller can do about it. A caller
//! that decides looks at `kind` (retry a transient error with backoff, stop at once on a
//! permanent one, treat a cancelled one as the stop it was asked for); a caller that only
//! reports prints it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// May pass by itself: a timeout, a broker or coordinator away for a moment.
    Transient,
    /// Trying again will not fix it: refused, unknown, invalid, deleted.
    Permanent,
    /// The job was asked to stop (`p`, quit, cancel) and did.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub kind: Kind,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn transient(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            kind: Kind::Transient,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            kind: Kind::Permanent,
        }
    }

    pub fn cancelled() -> Error {
        Error {
            message: "cancelled".into(),
            kind: Kind::Cancelled,
        }
    }

    /// Whether the same call may succeed if tried again later.
    pub fn retryable(&self) -> bool {
        self.kind == Kind::Transient
    }

    pub fn is_cancelled(&self) -> bool {
        self.kind == Kind::Cancelled
    }

    /// The same error, its message prefixed with what was being done (the kind is kept).
    pub fn context(self, what: impl fmt::Display) -> Error {
        Error {
            message: format!("{what}: {}", self.message),
            kind: self.kind,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A plain message is permanent: nothing says trying again would help.
impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::permanent(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::permanent(message)
    }
}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.message
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::permanent(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind() {
        let e = Error::transient("broker away").context("orders/0");
        assert_eq!(e.message, "orders/0: broker away");
        assert!(e.retryable());
        assert!(Error::cancelled().context("validate").is_cancelled());
        assert!(!Error::from("no such topic".to_string()).retryable());
    }
}
