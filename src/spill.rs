//! Per-log state kept on disk instead of in memory, so that memory stays flat however many
//! logs a range holds: each digest's log list is written to an anonymous temporary file as soon
//! as the digest is parsed (and read back once, when the walk gets to that digest), and the log
//! checks the walk decides are written to another and read back in order by the workers.
//!
//! The files are unnamed (`O_TMPFILE` where available) in the system's temporary directory,
//! never in the source, and vanish when dropped. A failure to write or read them is a local
//! failure of this run, never a verdict on any file.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use crate::chain::LogCheck;
use crate::digest::LogFileRecord;
use crate::hash::Sha256;

/// Where one digest's log list was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillRef {
    offset: u64,
    bytes: u64,
    /// How many logs the digest lists.
    pub count: usize,
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "spill file corrupt")
}

/// Reads what `put_str` wrote.
fn get_str(input: &mut impl Read) -> io::Result<String> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
    input.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| corrupt())
}

fn get_hash(input: &mut impl Read) -> io::Result<Sha256> {
    let mut hash = [0u8; 32];
    input.read_exact(&mut hash)?;
    Ok(Sha256(hash))
}

/// Log lists of one chain's digests, appended by the threads that fetch them.
pub struct LogListSpill {
    writer: Mutex<(BufWriter<File>, u64)>,
}

impl LogListSpill {
    pub fn new() -> io::Result<LogListSpill> {
        Ok(LogListSpill {
            writer: Mutex::new((BufWriter::new(tempfile::tempfile()?), 0)),
        })
    }

    /// Writes a digest's log list (bucket, key and hash of each log; the event times are not
    /// needed after parsing).
    pub fn append(&self, logs: &[LogFileRecord]) -> io::Result<SpillRef> {
        let mut record = Vec::with_capacity(logs.len() * 160);
        for log in logs {
            put_str(&mut record, &log.bucket);
            put_str(&mut record, &log.object);
            record.extend_from_slice(&log.hash.0);
        }
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| io::Error::other("spill lock"))?;
        let (writer, length) = &mut *guard;
        writer.write_all(&record)?;
        let at = SpillRef {
            offset: *length,
            bytes: record.len() as u64,
            count: logs.len(),
        };
        *length += record.len() as u64;
        Ok(at)
    }

    /// Done writing: the lists can be read back.
    pub fn into_reader(self) -> io::Result<LogListReader> {
        let (writer, _) = self
            .writer
            .into_inner()
            .map_err(|_| io::Error::other("spill lock"))?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        Ok(LogListReader { file })
    }
}

pub struct LogListReader {
    file: File,
}

impl LogListReader {
    pub fn read(&self, at: &SpillRef) -> io::Result<Vec<LogFileRecord>> {
        let mut bytes = vec![0u8; at.bytes as usize];
        self.file.read_exact_at(&mut bytes, at.offset)?;
        let mut input = bytes.as_slice();
        let mut logs = Vec::with_capacity(at.count);
        for _ in 0..at.count {
            logs.push(LogFileRecord {
                bucket: get_str(&mut input)?,
                object: get_str(&mut input)?,
                hash: get_hash(&mut input)?,
                newest_event_time: None,
                oldest_event_time: None,
            });
        }
        if !input.is_empty() {
            return Err(corrupt());
        }
        Ok(logs)
    }
}

/// The log checks of one chain, written in the order the walk decides them.
pub struct CheckSpill {
    writer: BufWriter<File>,
    count: usize,
    record: Vec<u8>,
}

impl CheckSpill {
    pub fn new() -> io::Result<CheckSpill> {
        Ok(CheckSpill {
            writer: BufWriter::new(tempfile::tempfile()?),
            count: 0,
            record: Vec::new(),
        })
    }

    pub fn push(&mut self, check: &LogCheck) -> io::Result<()> {
        self.record.clear();
        put_str(&mut self.record, &check.bucket);
        put_str(&mut self.record, &check.key);
        self.record.extend_from_slice(&check.expected.0);
        put_str(&mut self.record, &check.digest_key);
        self.writer.write_all(&self.record)?;
        self.count += 1;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Done writing: the checks, read back in order.
    pub fn into_checks(self) -> io::Result<SpilledChecks> {
        let mut file = self.writer.into_inner().map_err(|e| e.into_error())?;
        std::io::Seek::rewind(&mut file)?;
        Ok(SpilledChecks {
            reader: BufReader::new(file),
            left: self.count,
            bucket: Arc::from(""),
            digest_key: Arc::from(""),
        })
    }
}

/// The checks of a [`CheckSpill`], in order; a read failure ends the iteration with an error.
pub struct SpilledChecks {
    reader: BufReader<File>,
    left: usize,
    // The logs of one digest share its bucket and key: read once, shared.
    bucket: Arc<str>,
    digest_key: Arc<str>,
}

impl SpilledChecks {
    fn read_one(&mut self) -> io::Result<LogCheck> {
        let bucket = get_str(&mut self.reader)?;
        let key = get_str(&mut self.reader)?;
        let expected = get_hash(&mut self.reader)?;
        let digest_key = get_str(&mut self.reader)?;
        if *self.bucket != *bucket {
            self.bucket = Arc::from(bucket);
        }
        if *self.digest_key != *digest_key {
            self.digest_key = Arc::from(digest_key);
        }
        Ok(LogCheck {
            bucket: self.bucket.clone(),
            key,
            expected,
            digest_key: self.digest_key.clone(),
        })
    }
}

impl Iterator for SpilledChecks {
    type Item = io::Result<LogCheck>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = self.read_one();
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(key: &str, byte: u8) -> LogFileRecord {
        LogFileRecord {
            bucket: "bucket".into(),
            object: key.into(),
            hash: Sha256([byte; 32]),
            newest_event_time: None,
            oldest_event_time: None,
        }
    }

    #[test]
    fn log_lists_read_back_as_written() {
        let spill = LogListSpill::new().unwrap();
        let first = spill
            .append(&[log("a/1.json.gz", 1), log("a/2.json.gz", 2)])
            .unwrap();
        let empty = spill.append(&[]).unwrap();
        let second = spill.append(&[log("b/ü.json.gz", 3)]).unwrap();
        let reader = spill.into_reader().unwrap();
        let back = reader.read(&second).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].object, "b/ü.json.gz");
        assert_eq!(back[0].hash, Sha256([3; 32]));
        assert_eq!(reader.read(&empty).unwrap().len(), 0);
        let back = reader.read(&first).unwrap();
        assert_eq!(
            back.iter().map(|l| l.object.as_str()).collect::<Vec<_>>(),
            ["a/1.json.gz", "a/2.json.gz"]
        );
        assert_eq!(first.count, 2);
    }

    #[test]
    fn checks_read_back_in_order_sharing_strings() {
        let mut spill = CheckSpill::new().unwrap();
        let bucket: Arc<str> = Arc::from("bucket");
        let digest: Arc<str> = Arc::from("digest-1");
        for (i, key) in ["x", "y", "z"].iter().enumerate() {
            spill
                .push(&LogCheck {
                    bucket: bucket.clone(),
                    key: key.to_string(),
                    expected: Sha256([i as u8; 32]),
                    digest_key: if i < 2 {
                        digest.clone()
                    } else {
                        Arc::from("digest-2")
                    },
                })
                .unwrap();
        }
        assert_eq!(spill.len(), 3);
        let checks: Vec<LogCheck> = spill.into_checks().unwrap().map(Result::unwrap).collect();
        assert_eq!(checks.len(), 3);
        assert_eq!(checks[1].key, "y");
        assert_eq!(&*checks[2].digest_key, "digest-2");
        assert!(Arc::ptr_eq(&checks[0].digest_key, &checks[1].digest_key));
        assert_eq!(checks[2].expected, Sha256([2; 32]));
    }
}
