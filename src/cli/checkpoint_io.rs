//! Reading and writing `--checkpoint` where it is kept: a file (written atomically) or an S3
//! object (written conditionally). Either way a checkpoint is written only if it is still the
//! one the run read, so that two runs cannot overwrite each other's.

use std::path::Path;

use super::error::CliError;
use super::plan::CheckpointPlan;
use super::source::AwsSession;
use crate::checkpoint::Checkpoint;
use crate::store::s3::{PutError, S3Store};

/// A checkpoint's place, opened.
pub struct CheckpointPlace {
    plan: CheckpointPlan,
    s3: Option<S3Store>,
    /// What was there when the run read it: the file's bytes or the object's ETag; `None`
    /// when there was nothing.
    read: Option<Read>,
}

enum Read {
    File(Vec<u8>),
    S3(String),
}

impl CheckpointPlace {
    /// Opens the place and reads the checkpoint there, for a run over `source`: `None` when
    /// there is none yet. A file that is not a checkpoint of `source` is refused (exit 2).
    pub fn read(
        plan: &CheckpointPlan,
        source: &str,
        aws: &mut AwsSession,
    ) -> Result<(CheckpointPlace, Option<Checkpoint>), CliError> {
        let shown = plan.shown();
        let (s3, read, bytes) = match plan {
            CheckpointPlan::File(path) => {
                let bytes = read_file(path)?;
                (None, bytes.clone().map(Read::File), bytes)
            }
            CheckpointPlan::S3 {
                bucket,
                key,
                endpoint_url,
            } => {
                let store = S3Store::open(aws.aws()?, bucket, endpoint_url.clone(), &[], &[])
                    .map_err(|e| {
                        CliError::incomplete(format!("cannot open --checkpoint {shown}: {e}"))
                    })?;
                let found = store.read_with_etag(key).map_err(|e| {
                    CliError::incomplete(format!("cannot read --checkpoint {shown}: {e}"))
                })?;
                match found {
                    Some((bytes, etag)) => (Some(store), Some(Read::S3(etag)), Some(bytes)),
                    None => (Some(store), None, None),
                }
            }
        };
        let checkpoint = bytes
            .map(|bytes| {
                Checkpoint::open(&bytes, source).map_err(|e| {
                    CliError::usage(format!("--checkpoint {shown}: {e}; it was left as it is"))
                        .because(e)
                })
            })
            .transpose()?;
        Ok((
            CheckpointPlace {
                plan: plan.clone(),
                s3,
                read,
            },
            checkpoint,
        ))
    }

    /// Writes `checkpoint` in place of what the run read, unless another run wrote it since.
    pub fn write(&self, checkpoint: &Checkpoint) -> Result<(), CliError> {
        let shown = self.plan.shown();
        let bytes = checkpoint.to_bytes();
        let conflict = || {
            CliError::incomplete(format!(
                "--checkpoint {shown} changed while this run ran (another run wrote it): not overwritten"
            ))
        };
        match (&self.plan, &self.s3) {
            (CheckpointPlan::File(path), _) => {
                // Runs finishing together take turns: the check and the rename are one step.
                let lock = lock_beside(path)?;
                let now = read_file(path)?;
                let then = match &self.read {
                    Some(Read::File(bytes)) => Some(bytes),
                    _ => None,
                };
                if now.as_ref() != then {
                    return Err(conflict());
                }
                let text = String::from_utf8(bytes)
                    .map_err(|e| CliError::incomplete(format!("checkpoint not UTF-8: {e}")))?;
                let written = crate::metrics::write_atomically(path, &text).map_err(|e| {
                    CliError::incomplete(format!("cannot write --checkpoint {shown}: {e}"))
                        .because(e)
                });
                drop(lock);
                written
            }
            (CheckpointPlan::S3 { key, .. }, Some(store)) => {
                let etag = match &self.read {
                    Some(Read::S3(etag)) => Some(etag.as_str()),
                    _ => None,
                };
                store.put_if(key, bytes, etag).map_err(|e| match e {
                    PutError::Conflict => conflict(),
                    PutError::Failed(why) => {
                        CliError::incomplete(format!("cannot write --checkpoint {shown}: {why}"))
                    }
                })
            }
            (CheckpointPlan::S3 { .. }, None) => Err(CliError::incomplete(format!(
                "cannot write --checkpoint {shown}: not opened"
            ))),
        }
    }
}

/// An exclusive lock on `FILE.lock` beside the checkpoint, held until dropped.
fn lock_beside(path: &Path) -> Result<std::fs::File, CliError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = std::path::PathBuf::from(name);
    let fail = |e: std::io::Error| {
        CliError::incomplete(format!("cannot lock {}: {e}", lock_path.display())).because(e)
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

/// The file's bytes, or `None` when there is no file.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>, CliError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(
            CliError::usage(format!("cannot read --checkpoint {}: {e}", path.display())).because(e),
        ),
    }
}
