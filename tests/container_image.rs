//! The container image (`Dockerfile`) and the manifests in `deploy/` that run it.
//!
//! The image is built and run only where a container builder works (a docker or podman that
//! answers `info`, or buildah); elsewhere that test says it was skipped and passes. The checks
//! of `deploy/` need nothing but the ctverify binary: that the array jobs run shards the way
//! ctverify expects, that no report is written into S3, and that every option the manifests
//! give ctverify is one it has.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

// ---------------------------------------------------------------------------------------------
// The image

const IMAGE: &str = "localhost/ctverify:container-image-test";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Builder {
    Docker,
    Podman,
    Buildah,
}

impl Builder {
    fn program(self) -> &'static str {
        match self {
            Builder::Docker => "docker",
            Builder::Podman => "podman",
            Builder::Buildah => "buildah",
        }
    }
}

/// Whether `program args` runs and succeeds (its output discarded).
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The first container builder that can build here. A docker CLI without a daemon (CI) fails
/// `docker info`, so it does not count.
fn container_builder() -> Option<Builder> {
    if succeeds("docker", &["info"]) {
        Some(Builder::Docker)
    } else if succeeds("podman", &["info"]) {
        Some(Builder::Podman)
    } else if succeeds("buildah", &["--version"]) {
        Some(Builder::Buildah)
    } else {
        None
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {} failed: {}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Builds the image from the repository root, runs `--version` in it, checks that it runs as a
/// non-root user, and reports its size. Skipped (and passing) without a container builder.
#[test]
fn image_builds_runs_and_is_not_root() {
    let Some(builder) = container_builder() else {
        eprintln!("skipped: no container builder (docker daemon / podman / buildah)");
        return;
    };
    let program = builder.program();
    let root = repo();
    let root = root.to_str().expect("a UTF-8 repository path");
    eprintln!("building {IMAGE} with {program} (a full release build: minutes)");

    let (version, user, size) = match builder {
        Builder::Docker | Builder::Podman => {
            // The Dockerfile's cache mounts need BuildKit (docker's default builder since 23.0).
            let status = Command::new(program)
                .env("DOCKER_BUILDKIT", "1")
                .args(["build", "--tag", IMAGE, root])
                .stdin(Stdio::null())
                .status()
                .expect("run the build");
            assert!(status.success(), "{program} build failed: {status}");
            let version = stdout(&run(program, &["run", "--rm", IMAGE, "--version"]));
            let inspect = |format: &str| {
                stdout(&run(
                    program,
                    &["image", "inspect", "--format", format, IMAGE],
                ))
            };
            (version, inspect("{{.Config.User}}"), inspect("{{.Size}}"))
        }
        Builder::Buildah => {
            let status = Command::new(program)
                .args(["build", "--tag", IMAGE, root])
                .stdin(Stdio::null())
                .status()
                .expect("run the build");
            assert!(status.success(), "buildah build failed: {status}");
            let container = stdout(&run(program, &["from", IMAGE]));
            let version = Command::new(program)
                .args([
                    "run",
                    &container,
                    "--",
                    "/usr/local/bin/ctverify",
                    "--version",
                ])
                .output()
                .expect("buildah run");
            run(program, &["rm", &container]);
            assert!(version.status.success(), "buildah run: {}", version.status);
            let user = stdout(&run(
                program,
                &[
                    "inspect",
                    "--type",
                    "image",
                    "--format",
                    "{{.OCIv1.Config.User}}",
                    IMAGE,
                ],
            ));
            let size = stdout(&run(
                program,
                &["images", "--noheading", "--format", "{{.Size}}", IMAGE],
            ));
            (stdout(&version), user, size)
        }
    };

    assert!(
        version.starts_with("ctverify "),
        "`{IMAGE} --version` printed {version:?}"
    );
    // "65532:65532", "nonroot", ...: anything but root, by name or by number.
    let uid = user.split(':').next().unwrap_or_default();
    assert!(
        !uid.is_empty() && uid != "root" && uid != "0",
        "the image runs as {user:?}: it must name a non-root user"
    );
    let size = match size.parse::<u64>() {
        Ok(bytes) => format!("{:.1} MB", bytes as f64 / 1e6),
        Err(_) => size, // buildah prints it already human-readable
    };
    eprintln!("{IMAGE}: {version}, user {user}, size {size}");
}

// ---------------------------------------------------------------------------------------------
// deploy/

/// The files under `deploy/` whose name ends with one of `extensions`, sorted.
fn deploy_files(extensions: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, extensions, found);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&deploy(), extensions, &mut found);
    found.sort();
    assert!(!found.is_empty(), "no {extensions:?} files in deploy/");
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One ctverify command line found in a deploy file: `validate ...` or `merge ...`.
#[derive(Debug)]
struct Invocation {
    file: PathBuf,
    args: Vec<String>,
}

impl Invocation {
    fn subcommand(&self) -> &str {
        &self.args[0]
    }

    /// The `--long-option` names given (without any `=value`).
    fn options(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .filter(|a| a.starts_with("--") && a.len() > 2)
            .map(|a| a.split('=').next().unwrap_or(a))
    }

    /// The value of `--name VALUE` or `--name=VALUE` (also `short` for the short form).
    fn value(&self, name: &str, short: Option<&str>) -> Option<&str> {
        self.args.iter().enumerate().find_map(|(i, a)| {
            if a == name || Some(a.as_str()) == short {
                self.args.get(i + 1).map(String::as_str)
            } else {
                a.strip_prefix(name).and_then(|rest| rest.strip_prefix('='))
            }
        })
    }

    fn has(&self, option: &str) -> bool {
        self.options().any(|o| o == option)
    }
}

fn is_subcommand(word: &str) -> bool {
    word == "validate" || word == "merge"
}

/// `Ref::name` replaced by the job definition's default for `name` (AWS Batch substitutes a
/// `Ref::` argument with the submitted or the default parameter).
fn resolve(arg: &str, parameters: Option<&Value>) -> String {
    match arg.strip_prefix("Ref::") {
        Some(name) => parameters
            .and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .unwrap_or(arg)
            .to_string(),
        None => arg.to_string(),
    }
}

/// Every `"command": [...]` array in a JSON file that starts with a subcommand.
fn json_invocations(path: &Path) -> Vec<Invocation> {
    fn walk(value: &Value, parameters: Option<&Value>, path: &Path, found: &mut Vec<Invocation>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    if let (true, Some(items)) = (key == "command", value.as_array()) {
                        let args: Vec<String> = items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|a| resolve(a, parameters))
                            .collect();
                        if args.first().is_some_and(|a| is_subcommand(a)) {
                            found.push(Invocation {
                                file: path.to_path_buf(),
                                args,
                            });
                        }
                    }
                    walk(value, parameters, path, found);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, parameters, path, found);
                }
            }
            _ => {}
        }
    }
    let value = json(path);
    let mut found = Vec::new();
    walk(&value, value.get("parameters"), path, &mut found);
    found
}

fn unquote(item: &str) -> String {
    item.trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .to_string()
}

/// Every `args:` or `command:` list in a YAML file (block `- item` lines, or a `[...]` flow
/// list on the same line) that starts with a subcommand.
fn yaml_invocations(path: &Path) -> Vec<Invocation> {
    let text = read(path);
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        let Some(rest) = trimmed
            .strip_prefix("args:")
            .or_else(|| trimmed.strip_prefix("command:"))
        else {
            continue;
        };
        let rest = rest.split(" #").next().unwrap_or_default().trim();
        let args: Vec<String> = if let Some(flow) = rest.strip_prefix('[') {
            flow.trim_end_matches(']').split(',').map(unquote).collect()
        } else if rest.is_empty() {
            lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map_while(|l| l.strip_prefix("- "))
                .map(|item| unquote(item.split(" #").next().unwrap_or_default()))
                .collect()
        } else {
            continue;
        };
        if args.first().is_some_and(|a| is_subcommand(a)) {
            found.push(Invocation {
                file: path.to_path_buf(),
                args,
            });
        }
    }
    found
}

/// Every `validate ...` / `merge ...` in a shell script's command lines (comments skipped,
/// `\`-continued lines joined), up to the end of that command.
fn sh_invocations(path: &Path) -> Vec<Invocation> {
    let text = read(path);
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let separator = |c: char| c.is_whitespace() || "\"'`,[]".contains(c);
    let mut found = Vec::new();
    for line in logical {
        let words: Vec<&str> = line.split(separator).filter(|w| !w.is_empty()).collect();
        for (i, word) in words.iter().enumerate() {
            if !is_subcommand(word) {
                continue;
            }
            let args: Vec<String> = words[i..]
                .iter()
                .take_while(|w| !matches!(**w, "|" | "||" | "&&" | ";" | ")" | "&"))
                .map(|w| w.to_string())
                .collect();
            found.push(Invocation {
                file: path.to_path_buf(),
                args,
            });
        }
    }
    found
}

fn all_invocations() -> Vec<Invocation> {
    let mut found = Vec::new();
    for path in deploy_files(&["json"]) {
        found.extend(json_invocations(&path));
    }
    for path in deploy_files(&["yaml", "yml"]) {
        found.extend(yaml_invocations(&path));
    }
    for path in deploy_files(&["sh"]) {
        found.extend(sh_invocations(&path));
    }
    found
}

fn help(subcommand: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ctverify"))
        .args([subcommand, "--help"])
        .output()
        .expect("run ctverify");
    assert!(output.status.success(), "ctverify {subcommand} --help");
    String::from_utf8(output.stdout).expect("UTF-8 help")
}

/// Whether `help` names `option` as a whole word (`--shard` is not found in `--shard-count`).
fn help_names(help: &str, option: &str) -> bool {
    help.match_indices(option).any(|(at, _)| {
        help[at + option.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    })
}

#[test]
fn batch_shard_job_runs_one_shard_per_child_and_leaves_the_verdict_to_the_merge() {
    let path = deploy().join("aws-batch/job-definition.json");
    let definition = json(&path);
    let found = json_invocations(&path);
    let [shard] = found.as_slice() else {
        panic!(
            "{}: expected one ctverify command, found {found:?}",
            path.display()
        );
    };
    assert_eq!(shard.subcommand(), "validate");
    for option in ["--shard-count", "--end-time", "--exit-zero-on-findings"] {
        assert!(shard.has(option), "the shard command lacks {option}");
    }
    // Every child writes its own report: ctverify puts AWS_BATCH_JOB_ARRAY_INDEX in {shard}.
    let output = shard.value("--output", Some("-o")).expect("an --output");
    assert!(
        output.contains("{shard}"),
        "--output {output}: without {{shard}} every child writes the same file"
    );
    assert!(
        matches!(shard.value("--format", None), Some("json" | "jsonl")),
        "merge reads JSON or JSONL shard reports"
    );
    assert!(
        !shard.has("--checkpoint"),
        "a sharded run refuses --checkpoint"
    );

    // Retry what is worth retrying (3: something could not be read), never a usage error (2).
    let rules = definition["retryStrategy"]["evaluateOnExit"]
        .as_array()
        .expect("retryStrategy.evaluateOnExit");
    let action = |code: &str| {
        rules
            .iter()
            .find(|r| r["onExitCode"] == code)
            .and_then(|r| r["action"].as_str())
            .map(str::to_ascii_uppercase)
    };
    assert_eq!(action("3").as_deref(), Some("RETRY"));
    assert_eq!(action("2").as_deref(), Some("EXIT"));

    let container = &definition["containerProperties"];
    let user = container["user"].as_str().expect("a user");
    assert!(
        !matches!(user.split(':').next(), Some("" | "0" | "root")),
        "the shard runs as {user:?}"
    );
    assert_eq!(container["readonlyRootFilesystem"], true);
}

#[test]
fn merge_writes_its_report_outside_the_directory_it_merges() {
    for path in deploy_files(&["json", "yaml", "yml"]) {
        let found = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => json_invocations(&path),
            _ => yaml_invocations(&path),
        };
        for merge in found.iter().filter(|i| i.subcommand() == "merge") {
            let Some(output) = merge.value("--output", Some("-o")) else {
                continue;
            };
            for input in merge.args[1..].iter().take_while(|a| !a.starts_with('-')) {
                let directory = input.trim_end_matches('/');
                let parent = Path::new(output).parent().and_then(Path::to_str);
                assert_ne!(
                    parent,
                    Some(directory),
                    "{}: merge writes {output} into {input}, which a later merge of {input} would read as a shard",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn no_deploy_file_writes_a_report_into_s3() {
    let found = all_invocations();
    assert!(!found.is_empty(), "no ctverify command found in deploy/");
    for invocation in &found {
        for option in ["--output", "--metrics", "--checkpoint"] {
            if let Some(value) = invocation.value(option, (option == "--output").then_some("-o")) {
                assert!(
                    !value.to_ascii_lowercase().starts_with("s3://"),
                    "{}: {option} {value}: reports never go to S3 from the job (and never into the trail bucket)",
                    invocation.file.display()
                );
            }
        }
    }
}

#[test]
fn deploy_files_give_ctverify_only_options_it_has() {
    let found = all_invocations();
    // The scan must find what the manifests are known to hold, or it checks nothing.
    let used = |subcommand: &str| -> BTreeSet<String> {
        found
            .iter()
            .filter(|i| i.subcommand() == subcommand)
            .flat_map(|i| i.options().map(str::to_string))
            .collect()
    };
    let (validate, merge) = (used("validate"), used("merge"));
    for option in [
        "--end-time",
        "--shard-count",
        "--exit-zero-on-findings",
        "--output",
    ] {
        assert!(
            validate.contains(option),
            "the scan found no validate {option}: {validate:?}"
        );
    }
    assert!(
        merge.contains("--output"),
        "the scan found no merge --output: {merge:?}"
    );

    let mut unknown = Vec::new();
    for (subcommand, options) in [("validate", &validate), ("merge", &merge)] {
        let help = help(subcommand);
        for option in options {
            if !help_names(&help, option) {
                unknown.push(format!("ctverify {subcommand} {option}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "deploy/ uses options `ctverify ... --help` does not list: {unknown:?}"
    );
}
