//! A fault-injecting HTTP/1.1 proxy on loopback, for the S3 tests: ctverify talks to it as its
//! S3 endpoint (path-style) and it forwards each request to an upstream server (moto_server),
//! unless a rule says to answer otherwise. Plain std threads, one per client connection.
//!
//! Requests are parsed one by one on each keep-alive connection (request line, headers, a body
//! by Content-Length or chunked), so every request is decided on its own. Each is forwarded on
//! a fresh upstream connection with `Connection: close`; the response is read whole (by
//! Content-Length, chunked, or to the end) and handed back to the client with a Content-Length,
//! on the client's connection, which stays open.
//!
//! Rules are shared with the test (`FaultProxy::set_rules` / `add_rule` at any time) and
//! checked in order; the first rule that matches a request and has not used up its count
//! decides. Every request line is recorded, with the fault it met.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The continuation token the proxy invents for [`Fault::BreakAfterFirstPage`].
pub const FAULT_TOKEN: &str = "fault-proxy-page-2";

/// What to do with a matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an S3 error document (`InternalError` for 500,
    /// `ServiceUnavailable` for 503, `ServerError` otherwise) without asking upstream.
    Status(u16),
    /// 503 with S3's throttling error document (`<Code>SlowDown</Code>`).
    SlowDown,
    /// Answer with this status and an S3 error document with this code and message, without
    /// asking upstream: for answers moto cannot give (a KMS key that may not be used, a
    /// Requester Pays bucket).
    S3Error {
        status: u16,
        code: String,
        message: String,
    },
    /// Read the request, then drop the connection with a TCP reset and no answer.
    Reset,
    /// Read the request, then close the connection (FIN) without answering.
    Close,
    /// Forward, then deliver the response body `chunk` bytes at a time, `delay` apart.
    SlowBody { chunk: usize, delay: Duration },
    /// Forward, then send the headers and the first `keep_percent` % of the body, go silent
    /// for `pause` with the connection open, then send the rest.
    Stall {
        keep_percent: usize,
        pause: Duration,
    },
    /// Forward, then send the headers with the real Content-Length and only the first
    /// `keep_percent` % of the body (always at least one byte short), then close.
    Truncate { keep_percent: usize },
    /// Forward, then add this header to upstream's answer (replacing one of that name): for
    /// states moto cannot hold, e.g. a restore still in progress (`x-amz-restore`).
    AddHeader { name: String, value: String },
    /// For a ListObjectsV2 request: forward the first page but mark it truncated, with
    /// [`FAULT_TOKEN`] as its continuation token; the request for that page gets a 500.
    BreakAfterFirstPage,
    /// For a ListObjectsV2 request: the page keeps the first half of its objects and says it
    /// is truncated, with no continuation token.
    TruncatedWithoutToken,
    /// For a ListObjectsV2 request: every page says it is truncated, with [`FAULT_TOKEN`];
    /// asking for that token gets the first page again, so the server repeats itself forever.
    RepeatedToken,
}

impl Fault {
    pub fn label(&self) -> String {
        match self {
            Fault::Status(code) => format!("status {code}"),
            Fault::SlowDown => "SlowDown".into(),
            Fault::S3Error { code, .. } => code.clone(),
            Fault::AddHeader { name, .. } => format!("header {name}"),
            Fault::Reset => "reset".into(),
            Fault::Close => "close".into(),
            Fault::SlowBody { .. } => "slow body".into(),
            Fault::Stall { .. } => "stalled body".into(),
            Fault::Truncate { .. } => "truncated".into(),
            Fault::BreakAfterFirstPage => "listing broken after page 1".into(),
            Fault::TruncatedWithoutToken => "listing truncated without a token".into(),
            Fault::RepeatedToken => "listing repeating its token".into(),
        }
    }
}

/// How many matching requests a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Always,
    /// The first N requests for each distinct request target (method, path and query).
    FirstPerTarget(u32),
    /// The first N matching requests in all.
    FirstOverall(u32),
}

/// A request matcher and the fault it brings.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Exact method, or any.
    pub method: Option<String>,
    /// Substrings that must all occur in the request target, percent-decoded.
    pub contains: Vec<String>,
    /// Substrings that must not occur in it.
    pub excludes: Vec<String>,
    pub fault: Fault,
    pub limit: Limit,
}

impl Rule {
    /// Applies `fault` to every request (narrow it with the builder methods).
    pub fn new(fault: Fault) -> Rule {
        Rule {
            method: None,
            contains: Vec::new(),
            excludes: Vec::new(),
            fault,
            limit: Limit::Always,
        }
    }

    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.to_string());
        self
    }

    /// GET requests whose target contains `needle`.
    pub fn get(fault: Fault, needle: &str) -> Rule {
        Rule::new(fault).method("GET").containing(needle)
    }

    /// ListObjectsV2 requests whose target contains `needle` (e.g. `prefix=...`).
    pub fn listing(fault: Fault, needle: &str) -> Rule {
        Rule::new(fault)
            .method("GET")
            .containing("list-type=2")
            .containing(needle)
    }

    /// GetObject requests (not listings) whose key contains `needle`.
    pub fn get_object(fault: Fault, needle: &str) -> Rule {
        Rule::get(fault, needle).excluding("list-type=")
    }

    pub fn containing(mut self, needle: &str) -> Rule {
        self.contains.push(needle.to_string());
        self
    }

    pub fn excluding(mut self, needle: &str) -> Rule {
        self.excludes.push(needle.to_string());
        self
    }

    /// Only the first `n` times for each distinct target.
    pub fn first(mut self, n: u32) -> Rule {
        self.limit = Limit::FirstPerTarget(n);
        self
    }

    /// Only the first `n` matching requests in all.
    pub fn first_overall(mut self, n: u32) -> Rule {
        self.limit = Limit::FirstOverall(n);
        self
    }

    fn matches(&self, method: &str, decoded_target: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.contains.iter().all(|n| decoded_target.contains(n))
            && !self.excludes.iter().any(|n| decoded_target.contains(n))
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The request line as sent, e.g. `GET /bucket/key?x-id=GetObject HTTP/1.1`.
    pub line: String,
    pub method: String,
    /// The target, percent-decoded.
    pub target: String,
    /// The fault it met, if any.
    pub fault: Option<Fault>,
    /// Which client connection it came on (counting from 0).
    pub connection: usize,
}

struct RuleState {
    rule: Rule,
    per_target: HashMap<String, u32>,
    total: u32,
}

#[derive(Default)]
struct State {
    rules: Vec<RuleState>,
    seen: Vec<Seen>,
}

impl State {
    /// Picks the fault for a request and records it.
    fn decide(
        &mut self,
        line: &str,
        method: &str,
        target: &str,
        connection: usize,
    ) -> Option<Fault> {
        let decoded = percent_decode(target);
        let key = format!("{method} {target}");
        let mut chosen = None;
        for state in &mut self.rules {
            if !state.rule.matches(method, &decoded) {
                continue;
            }
            let used = match state.rule.limit {
                Limit::Always => None,
                Limit::FirstPerTarget(n) => Some((*state.per_target.get(&key).unwrap_or(&0), n)),
                Limit::FirstOverall(n) => Some((state.total, n)),
            };
            if used.is_some_and(|(count, n)| count >= n) {
                continue;
            }
            *state.per_target.entry(key.clone()).or_default() += 1;
            state.total += 1;
            chosen = Some(state.rule.fault.clone());
            break;
        }
        self.seen.push(Seen {
            line: line.to_string(),
            method: method.to_string(),
            target: decoded,
            fault: chosen.clone(),
            connection,
        });
        chosen
    }
}

/// The proxy: listens on a free loopback port until dropped.
pub struct FaultProxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Starts a proxy in front of `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stopped = Arc::new(AtomicBool::new(false));
        let (shared, stop) = (state.clone(), stopped.clone());
        std::thread::spawn(move || {
            for (connection, stream) in listener.incoming().enumerate() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, upstream_port, &shared, connection);
                });
            }
        });
        FaultProxy {
            port,
            state,
            stopped,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the rules (and their counters).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.lock().rules = rules
            .into_iter()
            .map(|rule| RuleState {
                rule,
                per_target: HashMap::new(),
                total: 0,
            })
            .collect();
    }

    pub fn add_rule(&self, rule: Rule) {
        self.lock().rules.push(RuleState {
            rule,
            per_target: HashMap::new(),
            total: 0,
        });
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear_requests(&self) {
        self.lock().seen.clear();
    }

    /// How many requests seen so far have a method `method` and a decoded target containing
    /// `needle`.
    pub fn count(&self, method: &str, needle: &str) -> usize {
        self.lock()
            .seen
            .iter()
            .filter(|s| s.method == method && s.target.contains(needle))
            .count()
    }

    /// How many requests met a fault.
    pub fn faults(&self) -> usize {
        self.lock()
            .seen
            .iter()
            .filter(|s| s.fault.is_some())
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// `%XX` sequences decoded (bytes that do not form UTF-8 are replaced); `+` is left alone.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed HTTP/1.1 message head and its (de-chunked) body.
struct Message {
    start_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> io::Result<Option<usize>> {
        self.header("content-length")
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))
            })
            .transpose()
    }
}

/// A message's start line and its headers, in order.
type Head = (String, Vec<(String, String)>);

/// Reads a start line and headers; `None` at a clean end of stream before any byte.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start_line = String::new();
    // Tolerate blank lines before a message (RFC 9112 2.2).
    loop {
        start_line.clear();
        if reader.read_line(&mut start_line)? == 0 {
            return Ok(None);
        }
        if !start_line.trim_end().is_empty() {
            break;
        }
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of stream inside the headers",
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Some((start_line.trim_end().to_string(), headers)))
}

/// A chunked body, de-chunked (trailers are read and dropped).
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        if reader.read_line(&mut size_line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunk size"));
        }
        let size_text = size_line.trim().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Message>> {
    let Some((start_line, headers)) = read_head(reader)? else {
        return Ok(None);
    };
    let mut message = Message {
        start_line,
        headers,
        body: Vec::new(),
    };
    if message.is_chunked() {
        message.body = read_chunked(reader)?;
    } else if let Some(length) = message.content_length()? {
        message.body = vec![0; length];
        reader.read_exact(&mut message.body)?;
    }
    Ok(Some(message))
}

/// Reads a response to a request with `method`: 1xx answers skipped, the body by its framing.
fn read_response(reader: &mut impl BufRead, method: &str) -> io::Result<Message> {
    loop {
        let Some((start_line, headers)) = read_head(reader)? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "upstream closed without answering",
            ));
        };
        let mut message = Message {
            start_line,
            headers,
            body: Vec::new(),
        };
        let status = status_of(&message.start_line);
        if (100..200).contains(&status) {
            continue;
        }
        if method == "HEAD" || status == 204 || status == 304 {
            return Ok(message);
        }
        if message.is_chunked() {
            message.body = read_chunked(reader)?;
        } else if let Some(length) = message.content_length()? {
            message.body = vec![0; length];
            reader.read_exact(&mut message.body)?;
        } else {
            reader.read_to_end(&mut message.body)?;
        }
        return Ok(message);
    }
}

fn status_of(start_line: &str) -> u16 {
    start_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Headers that describe one hop's framing or connection, rewritten by the proxy.
fn is_hop_header(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "proxy-connection",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Sends the request upstream on a new connection and reads the whole response.
fn forward(upstream_port: u16, request: &Message, method: &str) -> io::Result<Message> {
    let stream = TcpStream::connect(("127.0.0.1", upstream_port))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{}\r\n", request.start_line);
    for (name, value) in &request.headers {
        if !is_hop_header(name) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if !request.body.is_empty() || request.header("content-length").is_some() {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut writer = stream.try_clone()?;
    writer.write_all(head.as_bytes())?;
    writer.write_all(&request.body)?;
    writer.flush()?;
    let mut reader = BufReader::new(stream);
    read_response(&mut reader, method)
}

/// The response head for the client: upstream's headers with this hop's framing.
fn response_head(response: &Message, method: &str) -> String {
    let status = status_of(&response.start_line);
    let reason = response
        .start_line
        .splitn(3, ' ')
        .nth(2)
        .unwrap_or("")
        .to_string();
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in &response.headers {
        if !is_hop_header(name) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let length = if method == "HEAD" || status == 204 || status == 304 {
        // No body follows; keep what upstream said the object's length is.
        response.header("content-length").map(str::to_string)
    } else {
        Some(response.body.len().to_string())
    };
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn error_response(status: u16, code: &str, message: &str, method: &str) -> Vec<u8> {
    let reason = match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        403 => "Forbidden",
        400 => "Bad Request",
        _ => "Error",
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>FAULTPROXY</RequestId><HostId>fault-proxy</HostId></Error>"
    );
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nx-amz-request-id: FAULTPROXY\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

fn status_fault(status: u16, method: &str) -> Vec<u8> {
    let (code, message) = match status {
        500 => (
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        503 => ("ServiceUnavailable", "Service is unable to handle request."),
        _ => ("ServerError", "Injected by the fault proxy."),
    };
    error_response(status, code, message, method)
}

/// Drops the connection so that the peer sees a reset (RST), not an orderly close.
fn reset(stream: TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Linger {
            l_onoff: i32,
            l_linger: i32,
        }
        extern "C" {
            fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
        }
        const SOL_SOCKET: i32 = 1;
        const SO_LINGER: i32 = 13;
        let linger = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket descriptor and a correctly sized `struct linger`.
        unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                &linger,
                std::mem::size_of::<Linger>() as u32,
            );
        }
    }
    drop(stream);
}

/// How many of `len` bytes `percent` % keeps: always at least one byte short of the whole.
fn cut(len: usize, percent: usize) -> usize {
    (len * percent / 100).min(len.saturating_sub(1))
}

/// A ListObjectsV2 page made to look truncated, continuing at [`FAULT_TOKEN`].
fn break_listing(response: &mut Message) {
    let body = String::from_utf8_lossy(&response.body).into_owned();
    let marked = format!(
        "<IsTruncated>true</IsTruncated><NextContinuationToken>{FAULT_TOKEN}</NextContinuationToken>"
    );
    let body = if body.contains("<IsTruncated>false</IsTruncated>") {
        body.replacen("<IsTruncated>false</IsTruncated>", &marked, 1)
    } else {
        body.replacen(
            "</ListBucketResult>",
            &format!("{marked}</ListBucketResult>"),
            1,
        )
    };
    response.body = body.into_bytes();
}

/// Keeps the first half of a listing page's objects and marks the page truncated, giving no
/// continuation token.
fn truncate_listing_without_token(response: &mut Message) {
    let body = String::from_utf8_lossy(&response.body).into_owned();
    let objects = body.matches("<Contents>").count();
    let mut kept = String::new();
    let mut rest = body.as_str();
    let mut seen = 0;
    while let Some(at) = rest.find("<Contents>") {
        let Some(len) = rest[at..].find("</Contents>") else {
            break;
        };
        let end = at + len + "</Contents>".len();
        kept.push_str(&rest[..at]);
        if seen < objects / 2 {
            kept.push_str(&rest[at..end]);
        }
        seen += 1;
        rest = &rest[end..];
    }
    kept.push_str(rest);
    response.body = kept
        .replace(
            "<IsTruncated>false</IsTruncated>",
            "<IsTruncated>true</IsTruncated>",
        )
        .into_bytes();
}

fn serve(
    client: TcpStream,
    upstream_port: u16,
    state: &Mutex<State>,
    connection: usize,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    loop {
        let Some(request) = read_request(&mut reader)? else {
            return Ok(());
        };
        let mut parts = request.start_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let fault = state.lock().unwrap_or_else(|p| p.into_inner()).decide(
            &request.start_line,
            &method,
            &target,
            connection,
        );
        let client_closes = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match &fault {
            Some(Fault::Reset) => {
                reset(writer);
                return Ok(());
            }
            Some(Fault::Close) => {
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::Status(status)) => {
                writer.write_all(&status_fault(*status, &method))?;
                writer.flush()?;
            }
            Some(Fault::S3Error {
                status,
                code,
                message,
            }) => {
                writer.write_all(&error_response(*status, code, message, &method))?;
                writer.flush()?;
            }
            Some(Fault::SlowDown) => {
                writer.write_all(&error_response(
                    503,
                    "SlowDown",
                    "Please reduce your request rate.",
                    &method,
                ))?;
                writer.flush()?;
            }
            Some(Fault::BreakAfterFirstPage) if target.contains(FAULT_TOKEN) => {
                writer.write_all(&status_fault(500, &method))?;
                writer.flush()?;
            }
            _ => {
                let mut request = request;
                if fault == Some(Fault::RepeatedToken) {
                    // The upstream is asked for the first page whatever token came.
                    let token = format!("continuation-token={FAULT_TOKEN}");
                    request.start_line = request
                        .start_line
                        .replace(&format!("&{token}"), "")
                        .replace(&format!("{token}&"), "");
                }
                let mut response = match forward(upstream_port, &request, &method) {
                    Ok(response) => response,
                    Err(e) => {
                        let answer =
                            error_response(502, "BadGateway", &format!("upstream: {e}"), &method);
                        writer.write_all(&answer)?;
                        writer.flush()?;
                        return Ok(());
                    }
                };
                let listed = status_of(&response.start_line) == 200;
                if listed
                    && matches!(
                        fault,
                        Some(Fault::BreakAfterFirstPage) | Some(Fault::RepeatedToken)
                    )
                {
                    break_listing(&mut response);
                }
                if listed && fault == Some(Fault::TruncatedWithoutToken) {
                    truncate_listing_without_token(&mut response);
                }
                if let Some(Fault::AddHeader { name, value }) = &fault {
                    response
                        .headers
                        .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                    response.headers.push((name.clone(), value.clone()));
                }
                let head = response_head(&response, &method);
                writer.write_all(head.as_bytes())?;
                match &fault {
                    Some(Fault::SlowBody { chunk, delay }) => {
                        writer.flush()?;
                        for piece in response.body.chunks((*chunk).max(1)) {
                            std::thread::sleep(*delay);
                            writer.write_all(piece)?;
                            writer.flush()?;
                        }
                    }
                    Some(Fault::Stall {
                        keep_percent,
                        pause,
                    }) => {
                        let keep = cut(response.body.len(), *keep_percent);
                        writer.write_all(&response.body[..keep])?;
                        writer.flush()?;
                        std::thread::sleep(*pause);
                        writer.write_all(&response.body[keep..])?;
                        writer.flush()?;
                    }
                    Some(Fault::Truncate { keep_percent }) => {
                        let keep = cut(response.body.len(), *keep_percent);
                        writer.write_all(&response.body[..keep])?;
                        writer.flush()?;
                        let _ = writer.shutdown(Shutdown::Both);
                        return Ok(());
                    }
                    _ => {
                        writer.write_all(&response.body)?;
                        writer.flush()?;
                    }
                }
            }
        }
        if client_closes {
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}
