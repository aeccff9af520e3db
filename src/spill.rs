//! Per-digest and per-log state kept on disk instead of in memory, so that memory grows little
//! with the range: each digest is written to an anonymous temporary file as soon as it is read
//! (and read back and parsed again when the walk gets to it), and the log checks the walk
//! decides are written to another and read back in order by the workers.
//!
//! The files are unnamed (`O_TMPFILE` where available) in the system's temporary directory,
//! never in the source, and vanish when dropped. A failure to write or read them is a local
//! failure of this run, never a verdict on any file.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use crate::chain::LogCheck;
use crate::hash::Sha256;
use crate::store::Metadata;

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

/// The digests of one chain as read (uncompressed bytes and S3 metadata), appended by the
/// threads that fetch them and read back when the walk gets to each: a chain's digests are
/// walked together, and a year of them would otherwise all be held at once.
pub struct DigestSpill {
    writer: Mutex<DigestWriter>,
}

struct DigestWriter {
    out: BufWriter<File>,
    length: u64,
    /// Where each digest's record lies: (offset, bytes), by the id `append` gave.
    records: Vec<(u64, u64)>,
}

impl DigestSpill {
    /// An empty spill in a new anonymous temporary file; fails when the system's temporary
    /// directory cannot hold one.
    pub fn new() -> io::Result<DigestSpill> {
        Ok(DigestSpill {
            writer: Mutex::new(DigestWriter {
                out: BufWriter::new(tempfile::tempfile()?),
                length: 0,
                records: Vec::new(),
            }),
        })
    }

    /// Writes a digest's bytes and metadata; the id reads them back. The bytes are written
    /// as they are, not copied: a digest may be tens of MiB.
    pub fn append(&self, bytes: &[u8], metadata: &Metadata) -> io::Result<u64> {
        let mut header = Vec::with_capacity(700);
        let fields: Vec<(&String, &String)> = metadata.iter().collect();
        header.extend_from_slice(&(fields.len() as u32).to_le_bytes());
        for (name, value) in fields {
            put_str(&mut header, name);
            put_str(&mut header, value);
        }
        header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        let length = (header.len() + bytes.len()) as u64;
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| io::Error::other("spill lock"))?;
        writer.out.write_all(&header)?;
        writer.out.write_all(bytes)?;
        let at = (writer.length, length);
        writer.length += length;
        writer.records.push(at);
        Ok(writer.records.len() as u64 - 1)
    }

    /// Done writing: the digests can be read back.
    pub fn into_reader(self) -> io::Result<DigestSpillReader> {
        let writer = self
            .writer
            .into_inner()
            .map_err(|_| io::Error::other("spill lock"))?;
        let file = writer.out.into_inner().map_err(|e| e.into_error())?;
        Ok(DigestSpillReader {
            file,
            records: writer.records,
        })
    }
}

pub struct DigestSpillReader {
    file: File,
    records: Vec<(u64, u64)>,
}

impl DigestSpillReader {
    /// The bytes and metadata `append` wrote under `id`.
    pub fn read(&self, id: u64) -> io::Result<(Vec<u8>, Metadata)> {
        let &(offset, length) = usize::try_from(id)
            .ok()
            .and_then(|i| self.records.get(i))
            .ok_or_else(corrupt)?;
        let mut record = vec![0u8; length as usize];
        self.file.read_exact_at(&mut record, offset)?;
        let mut input = record.as_slice();
        let mut count = [0u8; 4];
        input.read_exact(&mut count)?;
        let mut fields = Vec::new();
        for _ in 0..u32::from_le_bytes(count) {
            fields.push((get_str(&mut input)?, get_str(&mut input)?));
        }
        let mut size = [0u8; 8];
        input.read_exact(&mut size)?;
        if u64::from_le_bytes(size) != input.len() as u64 {
            return Err(corrupt());
        }
        let bytes = input.to_vec();
        Ok((bytes, Metadata::new(fields.into_iter().collect())))
    }
}

/// The log checks of one chain, written in the order the walk decides them.
pub struct CheckSpill {
    writer: BufWriter<File>,
    count: usize,
    record: Vec<u8>,
}

impl CheckSpill {
    /// An empty spill in a new anonymous temporary file; fails when the system's temporary
    /// directory cannot hold one.
    pub fn new() -> io::Result<CheckSpill> {
        Ok(CheckSpill {
            writer: BufWriter::new(tempfile::tempfile()?),
            count: 0,
            record: Vec::new(),
        })
    }

    /// Writes one check after the others; a failure is this machine's, not the log's.
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

    /// How many checks were pushed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no check was pushed.
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

    #[test]
    fn digests_read_back_as_written() {
        let spill = DigestSpill::new().unwrap();
        let signed: Metadata = Metadata::new(
            [("signature".to_string(), "ab".repeat(256))]
                .into_iter()
                .collect(),
        );
        let first = spill.append(b"{\"a\":1}", &signed).unwrap();
        let empty = spill.append(b"", &Metadata::default()).unwrap();
        let second = spill
            .append("{\"ü\":2}".as_bytes(), &Metadata::default())
            .unwrap();
        let reader = spill.into_reader().unwrap();
        let (bytes, metadata) = reader.read(second).unwrap();
        assert_eq!(bytes, "{\"ü\":2}".as_bytes());
        assert!(metadata.iter().next().is_none());
        assert!(reader.read(empty).unwrap().0.is_empty());
        let (bytes, metadata) = reader.read(first).unwrap();
        assert_eq!(bytes, b"{\"a\":1}");
        assert_eq!(metadata.get("signature"), Some(&"ab".repeat(256)));
        assert!(reader.read(3).is_err());
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
