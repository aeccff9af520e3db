//! The error a command stops with before (or instead of) a report: the one line the user
//! reads, the exit status it calls for, and the error beneath it when there is one.

use std::error::Error;
use std::fmt;

use crate::verify::ValidateError;

/// Bad usage or configuration: nothing was verified.
pub const EXIT_USAGE: i32 = 2;
/// Something could not be read or written: no integrity failure was found, none was ruled out.
pub const EXIT_INCOMPLETE: i32 = 3;

/// Which of the two ways a command fails before a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Exit 2: the command line or the configuration it names is wrong.
    Usage,
    /// Exit 3: reading or writing failed (a network, a disk, this machine).
    Incomplete,
}

impl Failure {
    pub fn exit_code(self) -> i32 {
        match self {
            Failure::Usage => EXIT_USAGE,
            Failure::Incomplete => EXIT_INCOMPLETE,
        }
    }
}

type Cause = Box<dyn Error + Send + Sync>;

/// A failure before anything was verified. Its `Display` is the whole line `main` prints,
/// the cause's words included where the user needs them (as every error of this crate
/// writes itself out in full); [`Error::source`] hands the typed cause to a caller that wants
/// to tell causes apart.
#[derive(Debug)]
pub struct CliError {
    message: String,
    failure: Failure,
    cause: Option<Cause>,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            failure: Failure::Usage,
            cause: None,
        }
    }

    pub fn incomplete(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            failure: Failure::Incomplete,
            cause: None,
        }
    }

    /// The same error, with the error that caused it.
    pub fn because(mut self, cause: impl Into<Cause>) -> CliError {
        self.cause = Some(cause.into());
        self
    }

    /// An error whose own words are the whole line, kept as the cause.
    pub fn from_cause<E: Error + Send + Sync + 'static>(failure: Failure, cause: E) -> CliError {
        CliError {
            message: cause.to_string(),
            failure,
            cause: Some(Box::new(cause)),
        }
    }

    #[cfg(test)]
    pub fn failure(&self) -> Failure {
        self.failure
    }

    pub fn exit_code(&self) -> i32 {
        self.failure.exit_code()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for CliError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn Error + 'static))
    }
}

impl From<ValidateError> for CliError {
    fn from(e: ValidateError) -> CliError {
        let failure = match e {
            ValidateError::NoTrail { .. } => Failure::Usage,
            ValidateError::Listing { .. }
            | ValidateError::ThreadPool(_)
            | ValidateError::Spill(_) => Failure::Incomplete,
        };
        CliError::from_cause(failure, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_stays_the_message_and_the_cause_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = CliError::usage("cannot read keys.json: gone").because(io);
        assert_eq!(e.to_string(), "cannot read keys.json: gone");
        assert_eq!(e.exit_code(), EXIT_USAGE);
        let cause = e.source().expect("a cause");
        assert!(cause.downcast_ref::<std::io::Error>().is_some());
        assert!(CliError::incomplete("x").source().is_none());
    }

    #[test]
    fn validate_errors_keep_their_exit_status() {
        let no_trail = CliError::from(ValidateError::NoTrail {
            searched: "d".into(),
        });
        assert_eq!(no_trail.failure(), Failure::Usage);
        assert!(no_trail
            .source()
            .and_then(|c| c.downcast_ref::<ValidateError>())
            .is_some());
        let spill = CliError::from(ValidateError::Spill(std::io::Error::other("full")));
        assert_eq!(spill.exit_code(), EXIT_INCOMPLETE);
    }
}
