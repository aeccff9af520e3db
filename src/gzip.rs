//! Strict gzip inflation and SHA-256 hashing as one streaming pass.
//!
//! CloudTrail hashes the *inflated* bytes of each file, and each file is exactly one gzip
//! member. Anything after that member (a second member, or junk) is an integrity failure: a
//! reader that stops after the first member would hash less than a reader that does not, so an
//! attacker could append records that some tools show and the hash never covered.
//!
//! Memory stays bounded whatever the input: the data is hashed in fixed-size chunks, and the
//! inflated bytes are kept only when the caller asks (digests), up to a cap.

use std::io::{self, BufRead, BufReader, Read};

use sha2::Digest as _;

use crate::hash::Sha256;

const CHUNK: usize = 64 * 1024;

/// Digests are small JSON documents; anything inflating past this is refused as malformed
/// rather than held in memory (a gzip bomb).
pub const DIGEST_SIZE_CAP: u64 = 64 * 1024 * 1024;

/// Why a log or digest file could not be inflated. Every variant but `Read` is the file's fault;
/// `Read` is the source's, and says nothing about the file.
#[derive(Debug)]
pub enum GzipError {
    /// The first bytes are not a gzip header (or the file is empty).
    NotGzip(String),
    /// A gzip header, but the stream is corrupt, truncated, or fails its CRC: the decoder's
    /// own error says which.
    Corrupt(io::Error),
    /// Bytes follow the end of the first gzip member.
    TrailingData,
    /// The inflated content passed the cap the caller set.
    TooLarge {
        /// The cap, in inflated bytes.
        cap: u64,
    },
    /// The source itself failed to deliver bytes: not the file's fault.
    Read(io::Error),
}

impl std::fmt::Display for GzipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GzipError::NotGzip(why) => write!(f, "not gzip: {why}"),
            GzipError::Corrupt(why) => write!(f, "corrupt gzip stream: {why}"),
            GzipError::TrailingData => write!(f, "unexpected data after end of compressed stream"),
            GzipError::TooLarge { cap } => write!(f, "inflates to more than {cap} bytes"),
            GzipError::Read(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for GzipError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GzipError::Corrupt(e) | GzipError::Read(e) => Some(e),
            GzipError::NotGzip(_) | GzipError::TrailingData | GzipError::TooLarge { .. } => None,
        }
    }
}

/// One gzip member, inflated and hashed.
#[derive(Debug)]
pub struct Inflated {
    /// SHA-256 of the inflated bytes: what a digest's `hashValue` or `previousDigestHashValue`
    /// records.
    pub sha256: Sha256,
    /// Inflated size, in bytes.
    pub inflated_len: u64,
    /// Size of the file as read (the one gzip member), in bytes.
    pub compressed_len: u64,
    /// The inflated bytes, when the caller asked to keep them.
    pub bytes: Option<KeptBytes>,
}

/// Inflated bytes kept for the caller. They count against one budget shared by every thread
/// (see `kept_budget`) until dropped, so parse them and let them go.
#[derive(Debug)]
pub struct KeptBytes {
    bytes: Vec<u8>,
    _reservation: kept_budget::Reservation,
}

impl std::ops::Deref for KeptBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl KeptBytes {
    /// The bytes, no longer counted against the budget.
    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }
}

/// What to do with the inflated bytes besides hashing them.
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// Hash only (log files: any size, constant memory).
    Nothing,
    /// Keep the inflated bytes, refusing the file past `cap` (digest files).
    Bytes {
        /// The most inflated bytes to keep, e.g. [`DIGEST_SIZE_CAP`].
        cap: u64,
    },
}

/// Counts bytes and remembers the source's own failure, so that a decoder error caused by the
/// network or disk is not mistaken for a corrupt file.
struct SourceReader<R> {
    inner: R,
    read: u64,
    failure: Option<io::Error>,
}

impl<R: Read> Read for SourceReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failure = Some(e);
                Err(copy)
            }
        }
    }
}

/// Files up to this size (compressed) are read whole and inflated in one call by libdeflate,
/// which is markedly faster than streaming; larger ones stream.
const WHOLE_FILE_MAX: u64 = 8 * 1024 * 1024;
/// The gzip trailer's ISIZE (untrusted) bounds the output buffer of the one-call path.
const WHOLE_INFLATED_MAX: u64 = 64 * 1024 * 1024;

/// Sees a file's inflated bytes on their way to the hash, without a second pass over them (the
/// log check looks for trail events this way). Whatever it sees counts only if the file turns
/// out to be one good gzip member: on an error the caller drops what it learnt.
pub(crate) trait InflatedWatcher {
    /// The whole inflated file at once, when it was inflated in memory (the one-call path):
    /// one good member, whose SHA-256 is `sha256`.
    fn whole(&mut self, inflated: &[u8], sha256: &Sha256);
    /// The next inflated bytes, in order, when the file streams: whether it is good, and its
    /// hash, are known only once `inflate_and_hash_watched` returns.
    fn chunk(&mut self, inflated: &[u8]);
}

/// Sees nothing: [`inflate_and_hash`]'s watcher.
struct Unwatched;

impl InflatedWatcher for Unwatched {
    fn whole(&mut self, _: &[u8], _: &Sha256) {}
    fn chunk(&mut self, _: &[u8]) {}
}

/// Inflates exactly one gzip member from `source`, hashing the inflated bytes.
pub fn inflate_and_hash<R: Read>(source: R, keep: Keep) -> Result<Inflated, GzipError> {
    inflate_and_hash_watched(source, keep, &mut Unwatched)
}

/// [`inflate_and_hash`], showing the inflated bytes to `watcher` as well.
pub(crate) fn inflate_and_hash_watched<R: Read, W: InflatedWatcher>(
    mut source: R,
    keep: Keep,
    watcher: &mut W,
) -> Result<Inflated, GzipError> {
    let mut head = Vec::new();
    loop {
        match (&mut source)
            .take(WHOLE_FILE_MAX + 1 - head.len() as u64)
            .read_to_end(&mut head)
        {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(GzipError::Read(e)),
        }
    }
    if head.len() as u64 <= WHOLE_FILE_MAX {
        if let Some(result) = whole::inflate_and_hash(&head, keep, watcher) {
            return result;
        }
    }
    // Large, or not settled by the one-call path: stream (and let the streaming reader
    // name whatever is wrong).
    stream_inflate_and_hash(io::Cursor::new(head).chain(source), keep, watcher)
}

/// The one-call path: libdeflate over a file held in memory, within a global byte budget so
/// that many threads at once cannot hold more than a bounded amount.
mod whole {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{GzipError, Inflated, InflatedWatcher, Keep, Sha256, WHOLE_INFLATED_MAX};

    /// Bytes of output buffers all threads may hold at once.
    const BUDGET: u64 = 256 * 1024 * 1024;
    static IN_USE: AtomicU64 = AtomicU64::new(0);

    struct Reservation(u64);

    impl Reservation {
        fn try_new(bytes: u64) -> Option<Reservation> {
            IN_USE
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    (used + bytes <= BUDGET).then_some(used + bytes)
                })
                .ok()
                .map(|_| Reservation(bytes))
        }
    }

    impl Drop for Reservation {
        fn drop(&mut self) {
            IN_USE.fetch_sub(self.0, Ordering::AcqRel);
        }
    }

    struct Decompressor(*mut libdeflate_sys::libdeflate_decompressor);

    impl Drop for Decompressor {
        fn drop(&mut self) {
            // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
            unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0) }
        }
    }

    thread_local! {
        // SAFETY: allocation has no preconditions; a null result is checked before use.
        static DECOMPRESSOR: Decompressor = Decompressor(unsafe { libdeflate_sys::libdeflate_alloc_decompressor() });
    }

    /// (bytes consumed, bytes produced), or None when libdeflate did not decode the member.
    fn decompress(input: &[u8], output: &mut [u8]) -> Option<(usize, usize)> {
        DECOMPRESSOR.with(|d| {
            if d.0.is_null() {
                return None;
            }
            let mut consumed = 0usize;
            let mut produced = 0usize;
            // SAFETY: the pointers and lengths describe live slices; libdeflate reads at most
            // `input.len()` bytes and writes at most `output.len()` bytes, and the
            // decompressor is used by this thread only.
            let result = unsafe {
                libdeflate_sys::libdeflate_gzip_decompress_ex(
                    d.0,
                    input.as_ptr().cast(),
                    input.len(),
                    output.as_mut_ptr().cast(),
                    output.len(),
                    &mut consumed,
                    &mut produced,
                )
            };
            (result == libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS)
                .then_some((consumed, produced))
        })
    }

    /// Some(answer) when this path settles the file; None to fall back to streaming (budget
    /// exhausted, an ISIZE that does not fit, or anything libdeflate refuses, so that the
    /// streaming reader gives the precise reason).
    pub(super) fn inflate_and_hash<W: InflatedWatcher>(
        input: &[u8],
        keep: Keep,
        watcher: &mut W,
    ) -> Option<Result<Inflated, GzipError>> {
        if input.len() < 18 || input[0] != 0x1f || input[1] != 0x8b {
            return None;
        }
        // libdeflate skips the optional header CRC (FHCRC) that the streaming reader checks,
        // and both paths must give one verdict: such files, and any with reserved flag bits,
        // take the streaming path.
        const FHCRC_OR_RESERVED: u8 = 0x02 | 0xe0;
        if input[3] & FHCRC_OR_RESERVED != 0 {
            return None;
        }
        let trailer = &input[input.len() - 4..];
        let isize = u64::from(u32::from_le_bytes([
            trailer[0], trailer[1], trailer[2], trailer[3],
        ]));
        if isize > WHOLE_INFLATED_MAX || matches!(keep, Keep::Bytes { cap } if isize > cap) {
            return None;
        }
        let _reservation = Reservation::try_new(isize + 1)?;
        let mut kept_reservation = super::kept_budget::Reservation::default();
        if matches!(keep, Keep::Bytes { .. }) && !kept_reservation.grow(isize + 1) {
            return None; // the streaming path says why
        }
        // One spare byte: a first member longer than ISIZE says (a later member's trailer was
        // read) cannot fit, and falls back.
        let mut output = vec![0u8; isize as usize + 1];
        let (consumed, produced) = decompress(input, &mut output)?;
        if consumed < input.len() {
            return Some(Err(GzipError::TrailingData));
        }
        output.truncate(produced);
        let sha256 = Sha256::of(&output);
        watcher.whole(&output, &sha256);
        Some(Ok(Inflated {
            sha256,
            inflated_len: produced as u64,
            compressed_len: input.len() as u64,
            bytes: match keep {
                Keep::Nothing => None,
                Keep::Bytes { .. } => Some(super::KeptBytes {
                    bytes: output,
                    _reservation: kept_reservation,
                }),
            },
        }))
    }
}

/// Kept bytes on the streaming path (digests) count against one budget for all threads: each
/// digest is capped, but many hostile digests read at once could otherwise hold the cap many
/// times over. A digest that finds the budget spent fails as a read error (retried, and never
/// a verdict on its content), so memory stays bounded whatever the bucket holds.
pub(crate) mod kept_budget {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub const BUDGET: u64 = 256 * 1024 * 1024;
    static IN_USE: AtomicU64 = AtomicU64::new(0);

    /// Bytes this reader holds against the budget, returned when it is dropped.
    #[derive(Debug, Default)]
    pub struct Reservation(u64);

    impl Reservation {
        /// Whether `bytes` more fit.
        pub fn grow(&mut self, bytes: u64) -> bool {
            let fits = IN_USE
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    (used + bytes <= BUDGET).then_some(used + bytes)
                })
                .is_ok();
            if fits {
                self.0 += bytes;
            }
            fits
        }
    }

    impl Drop for Reservation {
        fn drop(&mut self) {
            IN_USE.fetch_sub(self.0, Ordering::AcqRel);
        }
    }
}

/// The streaming path: any size, constant memory.
fn stream_inflate_and_hash<R: Read, W: InflatedWatcher>(
    source: R,
    keep: Keep,
    watcher: &mut W,
) -> Result<Inflated, GzipError> {
    let mut buffered = BufReader::with_capacity(
        CHUNK,
        SourceReader {
            inner: source,
            read: 0,
            failure: None,
        },
    );
    let head = match buffered.fill_buf() {
        Ok(head) => head,
        Err(e) => return Err(GzipError::Read(e)),
    };
    if head.is_empty() {
        return Err(GzipError::NotGzip("empty file".into()));
    }
    if head[0] != 0x1f || (head.len() > 1 && head[1] != 0x8b) {
        return Err(GzipError::NotGzip("no gzip magic bytes".into()));
    }

    let mut decoder = flate2::bufread::GzDecoder::new(buffered);
    let mut hasher = sha2::Sha256::new();
    let mut kept: Option<Vec<u8>> = match keep {
        Keep::Nothing => None,
        Keep::Bytes { .. } => Some(Vec::new()),
    };
    let mut inflated_len: u64 = 0;
    let mut kept_reservation = kept_budget::Reservation::default();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let source = decoder.get_mut().get_mut();
                return Err(match source.failure.take() {
                    Some(failure) => GzipError::Read(failure),
                    None => GzipError::Corrupt(e),
                });
            }
        };
        inflated_len += n as u64;
        hasher.update(&chunk[..n]);
        watcher.chunk(&chunk[..n]);
        if let (Some(bytes), Keep::Bytes { cap }) = (kept.as_mut(), keep) {
            if inflated_len > cap {
                return Err(GzipError::TooLarge { cap });
            }
            if !kept_reservation.grow(n as u64) {
                return Err(GzipError::Read(io::Error::other(format!(
                    "the {} MiB all digests being read may hold at once is in use; try again",
                    kept_budget::BUDGET >> 20
                ))));
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
    }

    // The decoder stops after the first member's trailer; whatever is left is not covered.
    let mut rest = decoder.into_inner();
    match rest.fill_buf() {
        Ok([]) => {}
        Ok(_) => return Err(GzipError::TrailingData),
        Err(e) => return Err(GzipError::Read(e)),
    }
    let compressed_len = rest.get_ref().read;
    Ok(Inflated {
        sha256: Sha256(hasher.finalize().into()),
        inflated_len,
        compressed_len,
        bytes: kept.map(|bytes| KeptBytes {
            bytes,
            _reservation: kept_reservation,
        }),
    })
}

/// The inflated bytes of one gzip member as a reader, hashed as they are read: for a parser
/// that pulls a file's content (a log read a second time to parse it, see
/// `verify::logs`). [`InflatingReader::finish`] reads whatever the parser left, and says
/// whether the file was exactly one good member and what its inflated bytes hash to.
pub(crate) struct InflatingReader<R: Read> {
    decoder: flate2::bufread::GzDecoder<BufReader<SourceReader<R>>>,
    hasher: sha2::Sha256,
}

impl<R: Read> InflatingReader<R> {
    /// A reader of `source`'s inflated bytes.
    pub(crate) fn new(source: R) -> InflatingReader<R> {
        let buffered = BufReader::with_capacity(
            CHUNK,
            SourceReader {
                inner: source,
                read: 0,
                failure: None,
            },
        );
        InflatingReader {
            decoder: flate2::bufread::GzDecoder::new(buffered),
            hasher: sha2::Sha256::new(),
        }
    }

    /// Reads to the end of the member: the SHA-256 of all its inflated bytes, or why the file
    /// is not one good member (or could not be read).
    pub(crate) fn finish(mut self) -> Result<Sha256, GzipError> {
        if let Err(e) = io::copy(&mut self, &mut io::sink()) {
            let source = self.decoder.get_mut().get_mut();
            return Err(match source.failure.take() {
                Some(failure) => GzipError::Read(failure),
                None => GzipError::Corrupt(e),
            });
        }
        let InflatingReader { decoder, hasher } = self;
        let mut rest = decoder.into_inner();
        match rest.fill_buf() {
            Ok([]) => Ok(Sha256(hasher.finalize().into())),
            Ok(_) => Err(GzipError::TrailingData),
            Err(e) => Err(GzipError::Read(e)),
        }
    }
}

impl<R: Read> Read for InflatingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoder.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Gzip `data` as one member with a fixed header (no name, mtime 0), as test vectors need
/// byte-for-byte reproducible output.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    encoder.write_all(data).expect("write to Vec");
    encoder.finish().expect("finish into Vec")
}

/// Gzip `data` with stored (uncompressed) deflate blocks, written by hand so that the bytes
/// never depend on the deflate library: for test files whose compressed form is hashed.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn stored_gzip_inflates_to_its_input() {
        for data in [&b""[..], b"abc", &vec![7u8; 200_000]] {
            let out = super::inflate_and_hash(
                &super::gzip_stored(data)[..],
                super::Keep::Bytes { cap: 1 << 20 },
            )
            .unwrap();
            assert_eq!(out.bytes.unwrap().into_vec(), data);
        }
    }

    use super::*;

    #[test]
    fn hashes_the_inflated_bytes() {
        let data = b"{\"Records\":[]}".repeat(10_000);
        let out = inflate_and_hash(&gzip(&data)[..], Keep::Bytes { cap: 1 << 20 }).unwrap();
        assert_eq!(out.sha256, Sha256::of(&data));
        assert_eq!(out.inflated_len, data.len() as u64);
        assert_eq!(out.bytes.unwrap().into_vec(), data);
    }

    #[test]
    fn second_member_is_trailing_data() {
        let mut two = gzip(b"first");
        two.extend(gzip(b"second"));
        assert!(matches!(
            inflate_and_hash(&two[..], Keep::Nothing),
            Err(GzipError::TrailingData)
        ));
        let mut junk = gzip(b"first");
        junk.push(0);
        assert!(matches!(
            inflate_and_hash(&junk[..], Keep::Nothing),
            Err(GzipError::TrailingData)
        ));
    }

    #[test]
    fn non_gzip_and_empty_are_rejected() {
        assert!(matches!(
            inflate_and_hash(&b"{}"[..], Keep::Nothing),
            Err(GzipError::NotGzip(_))
        ));
        assert!(matches!(
            inflate_and_hash(&b""[..], Keep::Nothing),
            Err(GzipError::NotGzip(_))
        ));
    }

    #[test]
    fn the_inflating_reader_hashes_what_it_reads_and_refuses_what_follows() {
        let data: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let gzipped = gzip(&data);
        let mut reader = InflatingReader::new(&gzipped[..]);
        let mut first = vec![0u8; 1000];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(first, data[..1000]);
        assert_eq!(reader.finish().unwrap(), Sha256::of(&data));

        let mut two_members = gzip(b"a");
        two_members.extend_from_slice(&gzip(b"b"));
        assert!(matches!(
            InflatingReader::new(&two_members[..]).finish(),
            Err(GzipError::TrailingData)
        ));
        let whole = gzip(&data);
        assert!(matches!(
            InflatingReader::new(&whole[..whole.len() / 2]).finish(),
            Err(GzipError::Corrupt(_))
        ));
    }

    /// Records what a watcher is shown.
    #[derive(Default)]
    struct Seen {
        whole: Option<(Vec<u8>, Sha256)>,
        chunks: Vec<u8>,
    }

    impl InflatedWatcher for Seen {
        fn whole(&mut self, inflated: &[u8], sha256: &Sha256) {
            self.whole = Some((inflated.to_vec(), *sha256));
        }
        fn chunk(&mut self, inflated: &[u8]) {
            self.chunks.extend_from_slice(inflated);
        }
    }

    #[test]
    fn the_watcher_sees_every_inflated_byte_on_either_path() {
        let data = b"{\"Records\":[]}".repeat(10_000);
        // Small: the one-call path shows the whole file, with its hash.
        let mut seen = Seen::default();
        let out = inflate_and_hash_watched(&gzip(&data)[..], Keep::Nothing, &mut seen).unwrap();
        assert_eq!(seen.whole, Some((data.clone(), out.sha256)));
        assert!(seen.chunks.is_empty());
        // A header CRC sends the file down the streaming path: chunks, in order.
        let mut with_fhcrc = gzip(&data);
        with_fhcrc[3] |= 0x02;
        let header_crc = (flate2::Crc::new(), &with_fhcrc[..10]);
        let mut crc = header_crc.0;
        crc.update(header_crc.1);
        let crc16 = (crc.sum() & 0xffff) as u16;
        with_fhcrc.splice(10..10, crc16.to_le_bytes());
        let mut seen = Seen::default();
        let out = inflate_and_hash_watched(&with_fhcrc[..], Keep::Nothing, &mut seen).unwrap();
        assert_eq!(out.sha256, Sha256::of(&data));
        assert!(seen.whole.is_none());
        assert_eq!(seen.chunks, data);
    }

    #[test]
    fn truncated_and_bad_crc_are_corrupt() {
        let whole = gzip(b"some log content that is long enough");
        let truncated = &whole[..whole.len() - 5];
        assert!(matches!(
            inflate_and_hash(truncated, Keep::Nothing),
            Err(GzipError::Corrupt(_))
        ));
        let mut bad_crc = whole.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 0xff;
        assert!(matches!(
            inflate_and_hash(&bad_crc[..], Keep::Nothing),
            Err(GzipError::Corrupt(_))
        ));
    }

    #[test]
    fn cap_refuses_bombs() {
        let bomb = gzip(&vec![0u8; 2 << 20]);
        assert!(bomb.len() < 10_000);
        assert!(matches!(
            inflate_and_hash(&bomb[..], Keep::Bytes { cap: 1 << 20 }),
            Err(GzipError::TooLarge { .. })
        ));
        assert_eq!(
            inflate_and_hash(&bomb[..], Keep::Nothing)
                .unwrap()
                .inflated_len,
            2 << 20
        );
    }

    struct FailingAfter {
        data: Vec<u8>,
        at: usize,
    }

    impl Read for FailingAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at >= self.data.len() / 2 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "reset by peer",
                ));
            }
            let n = buf.len().min(self.data.len() / 2 - self.at).min(7);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn source_failure_is_a_read_error_not_corruption() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let failing = FailingAfter {
            data: gzip(&data),
            at: 0,
        };
        assert!(matches!(
            inflate_and_hash(failing, Keep::Nothing),
            Err(GzipError::Read(_))
        ));
    }

    #[test]
    fn read_and_corruption_errors_carry_the_io_error_beneath() {
        use std::error::Error as _;
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let failing = FailingAfter {
            data: gzip(&data),
            at: 0,
        };
        let err = inflate_and_hash(failing, Keep::Nothing).unwrap_err();
        let source = err.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::ConnectionReset),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "read failed: reset by peer");

        let mut truncated = gzip(&data);
        truncated.truncate(truncated.len() / 2);
        let err = inflate_and_hash(truncated.as_slice(), Keep::Nothing).unwrap_err();
        let source = err.source().expect("the decoder's error is the cause");
        assert!(source.is::<io::Error>(), "{source:?}");
        assert_eq!(err.to_string(), format!("corrupt gzip stream: {source}"));
        assert!(GzipError::TrailingData.source().is_none());
    }
}
