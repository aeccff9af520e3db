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
        let metadata: HashMap<String, HashMap<String, String>> =
            std::fs::read(dir.join(".ctverify/metadata.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
        let mut objects = Vec::new();
        collect(dir, dir, &mut objects);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = self.client();
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
}

impl Moto {
    /// A client of the test itself (the upload, a file added mid-test), never ctverify's.
    fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Puts one object into an existing bucket.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(
                self.client()
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(body.to_vec().into())
                    .send(),
            )
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }
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
/// the region read from the request's SigV4 scope) and DescribeTrails. Records each call.
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
