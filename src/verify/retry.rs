//! Trying a read again when it failed for reasons other than the file's content. The SDK has
//! already retried each request; this also covers a body that breaks off midway, which only
//! the reader sees. Used for digests ([`super::fetch`]) and logs ([`super::logs`]) alike.

use std::time::Duration;

use crate::store::StoreError;

/// Attempts for a read that fails for reasons other than the file's content.
const READ_ATTEMPTS: u32 = 3;

/// What one attempt at a read answered.
pub(super) enum Attempt<T> {
    /// The answer stands: the file's content decided it (or the file is not there).
    Final(T),
    /// The read failed on the way (network, I/O): worth trying again, and the answer if no
    /// attempt is left.
    Transient(T),
}

impl<T> Attempt<T> {
    /// `answer` to a read the store refused with `error`: transient only when the read
    /// itself failed.
    pub(super) fn after(error: &StoreError, answer: T) -> Attempt<T> {
        match error {
            StoreError::Read(_) => Attempt::Transient(answer),
            _ => Attempt::Final(answer),
        }
    }

    pub(super) fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Final(answer) => Attempt::Final(f(answer)),
            Attempt::Transient(answer) => Attempt::Transient(f(answer)),
        }
    }

    fn into_answer(self) -> T {
        match self {
            Attempt::Final(answer) | Attempt::Transient(answer) => answer,
        }
    }
}

/// Runs `attempt` until it gives a final answer, or the last attempt's answer.
pub(super) fn with_retries<T>(mut attempt: impl FnMut() -> Attempt<T>) -> T {
    let mut delay = Duration::from_millis(250);
    for _ in 1..READ_ATTEMPTS {
        match attempt() {
            Attempt::Final(answer) => return answer,
            Attempt::Transient(_) => {
                std::thread::sleep(delay);
                delay *= 4;
            }
        }
    }
    attempt().into_answer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_answer_is_taken_at_once() {
        let mut calls = 0;
        assert_eq!(
            with_retries(|| {
                calls += 1;
                Attempt::Final(calls)
            }),
            1
        );
    }

    #[test]
    fn a_transient_failure_is_tried_again() {
        let mut calls = 0;
        let answer = with_retries(|| {
            calls += 1;
            if calls == 1 {
                Attempt::Transient("broke off")
            } else {
                Attempt::Final("read")
            }
        });
        assert_eq!((answer, calls), ("read", 2));
    }

    #[test]
    fn only_read_failures_are_transient() {
        assert!(matches!(
            Attempt::after(&StoreError::Read("reset".into()), ()),
            Attempt::Transient(())
        ));
        assert!(matches!(
            Attempt::after(&StoreError::NotFound, ()),
            Attempt::Final(())
        ));
        assert!(matches!(
            Attempt::after(&StoreError::UnsafeKey("..".into()), ()),
            Attempt::Final(())
        ));
        // An archived object stays archived and a refusal stays refused within a run.
        let archived = StoreError::Archived {
            storage_class: "GLACIER".into(),
            restore_in_progress: false,
        };
        assert!(matches!(Attempt::after(&archived, ()), Attempt::Final(())));
        let denied = StoreError::Denied {
            refusal: crate::store::Refusal::AccessDenied,
            code: "AccessDenied".into(),
            message: "Access Denied".into(),
            resource: "arn:aws:s3:::b/k".into(),
        };
        assert!(matches!(Attempt::after(&denied, ()), Attempt::Final(())));
    }
}
