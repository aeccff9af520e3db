//! Planted, orphaned and moved log files: the questions the AWS CLI cannot answer.
//!
//! CloudTrail vouches for every log it delivered inside the window of a verified digest. So a
//! log file delivered inside such a window that no digest lists was planted after the fact, or
//! lost its digest: it is `unreferenced`. A listed log that is missing at its key but present
//! elsewhere with the recorded hash is `moved`.
//!
//! Windows are decided per account and region (every trail writing there, and backfill chains,
//! together, since they share the log folder): the union of the windows `[start, end]` of
//! digests whose signature verified, plus the holes a verified chain proves were covered by
//! digests now missing. Files delivered after a segment's last digest (in a gap, or the
//! chain's tail) are outside every window: they are handed back as [`Stray`]s, which
//! [`crate::continuity`] says what to make of. Log names carry the delivery minute, so a file
//! counts as inside only when its whole minute is.

use std::collections::{HashMap, HashSet};

use crate::chain::{LogCheck, LogKeySet};
use crate::gzip::{inflate_and_hash, Keep};
use crate::hash::Sha256;
use crate::report::{FileEntry, RequestedRange, TimeRange};
use crate::status::{FileKind, Status};
use crate::store::{ListingRequest, ObjectStore, StoreError};
use crate::time::UtcTime;

/// One account and region's log folder and what its chains established.
pub struct LogFolder {
    /// `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/`
    pub account_root: String,
    pub account_id: String,
    pub region: String,
    /// Windows CloudTrail vouches for (unmerged is fine).
    pub windows: Vec<TimeRange>,
    /// Windows of digests that could not be verified, with the digest's URL.
    pub unverifiable: Vec<(TimeRange, String)>,
    /// Every log (bucket, key) a readable digest lists.
    pub listed: LogKeySet,
    /// Logs listed only past the part of an unverified digest's list reported one by one.
    pub unreported: LogKeySet,
    /// Where the requested range starts (see [`early_listing`]).
    pub range_start: Option<UtcTime>,
    /// With a checkpoint: what its history covers, unchanged since a run verified it: those
    /// files are not looked at (see [`crate::history::Settled`]). `None` otherwise.
    pub settled: Option<crate::history::Settled>,
    /// The newest digest's end of the earliest chain whose next digest is not due yet: a log
    /// after it may be that chain's, listed by its next digest, even inside another chain's
    /// window. `None` when every chain's next digest is due.
    pub pending_after: Option<UtcTime>,
    /// The hours after a chain segment's last digest with no digest (gaps and tails): log
    /// files delivered in them are reported, and may prove digests missing.
    pub spans: Vec<OpenSpan>,
}

/// Hours after the last digest of a chain segment in which no digest was found: up to the
/// next segment's start (a gap) or to the end of the range (a tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSpan {
    /// Which of the folder's chains it belongs to (the caller's index).
    pub owner: usize,
    /// The end of the segment's last digest.
    pub start: UtcTime,
    /// Where the next segment starts, or the end of the range.
    pub end: UtcTime,
}

/// A log file delivered in an [`OpenSpan`] (outside every digest's window) that no digest
/// lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// Index of the span in [`LogFolder::spans`].
    pub span: usize,
    pub key: String,
    /// Its delivery minute.
    pub minute: UtcTime,
}

impl LogFolder {
    /// The span a log delivered at `minute` falls in: the one whose segment ended last before
    /// it, when the minute ends before the span does.
    fn span_of(&self, minute: UtcTime) -> Option<usize> {
        self.spans
            .iter()
            .enumerate()
            // A minute that straddles the restart may be its first digest's: left alone. One that
            // straddles the end of the segment's last digest is reported (it is not the last
            // digest's: that lists it), but proves nothing, being within the straggler grace.
            .filter(|(_, s)| minute.plus_seconds(59) > s.start && minute.plus_seconds(59) < s.end)
            .max_by_key(|(i, s)| (s.start, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    }
}

impl LogFolder {
    pub fn log_folder(&self) -> String {
        log_folder(&self.account_root, &self.region)
    }
}

/// `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail/REGION/`
pub fn log_folder(account_root: &str, region: &str) -> String {
    format!("{account_root}CloudTrail/{region}/")
}

/// The early listing starts this many days and an hour before the range: the listing the
/// windows call for starts a day before the first window, and the first window normally starts
/// up to an hour before the range (its digest ends in the range and covers the hour before).
const EARLY_LISTING_DAYS_BEFORE: i64 = 1;

/// The log folder's listing as it can be sent before the chains are walked: from where the
/// windows will normally put it, given only the range's start (none without one). Listing a
/// folder of many logs is one of the slowest requests a server answers; sent with the first
/// digest requests, its answer is ready when the walk needs it. [`list_candidates`] uses it
/// whenever the windows start at most `EARLY_LISTING_SLACK_DAYS` later.
pub fn early_listing(log_folder: &str, range: &RequestedRange) -> Option<ListingRequest> {
    let start = early_listing_day(range.start?);
    Some(ListingRequest::keys(
        log_folder,
        Some(&listing_start_for_day(log_folder, start)),
    ))
}

/// The start-after of a listing of `folder` (keys `FOLDER/YYYY/MM/DD/NAME`) that is to take in
/// the whole date folder of `day` and everything after it: a whole key name at the end of the
/// day before (`FOLDER/YYYY/MM/DD/~`, after every name CloudTrail writes, which are ASCII
/// letters, digits, `_`, `-` and `.`), never the bare name of the day's folder. Some
/// S3-compatible stores (SeaweedFS) take a start-after that names a folder as that folder
/// and skip everything in it, which would hide a day of the trail; a key name in the folder
/// before is listed from correctly everywhere, as the AWS CLI's own (a digest name) is.
/// Whatever the listing gives before the day's folder the caller passes over by its date.
pub fn listing_start_for_day(folder: &str, day: UtcTime) -> String {
    format!("{folder}{}/~", day.plus_seconds(-86_400).date_path())
}

fn early_listing_day(range_start: UtcTime) -> UtcTime {
    range_start.plus_seconds(-3600 - EARLY_LISTING_DAYS_BEFORE * 86_400)
}

/// Days of keys the listing may pass over to use the early listing's page.
const EARLY_LISTING_SLACK_DAYS: i64 = 2;

/// What the listing of the log folder found, before moved logs are looked for.
#[derive(Default)]
pub struct Candidates {
    /// Files inside the windows that no digest lists, with why when not a log name.
    files: Vec<(String, Option<String>)>,
    unverified: Vec<FileEntry>,
    strays: Vec<Stray>,
    windows: Vec<TimeRange>,
}

/// What the scan found.
#[derive(Default)]
pub struct Findings {
    pub unreferenced: Vec<FileEntry>,
    /// Files listed by no digest, delivered while a digest that could not be verified was in
    /// force: nothing can be said of them either way.
    pub unverified: Vec<FileEntry>,
    /// (original key, where it was found)
    pub moved: Vec<(String, String)>,
    /// Log files delivered after a segment's last digest that no digest lists or covers.
    pub strays: Vec<Stray>,
    /// The merged windows the scan used, for the report.
    pub windows: Vec<TimeRange>,
}

/// Sorted, merged windows (touching windows merge: digests are contiguous).
pub fn merge_windows(mut windows: Vec<TimeRange>) -> Vec<TimeRange> {
    windows.sort_by_key(|w| w.start);
    let mut merged: Vec<TimeRange> = Vec::new();
    for w in windows {
        match merged.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => merged.push(w),
        }
    }
    merged
}

/// The delivery minute in a log name `ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz`.
pub fn log_delivery_minute(name: &str, account: &str, region: &str) -> Option<UtcTime> {
    let rest = name
        .strip_prefix(account)?
        .strip_prefix("_CloudTrail_")?
        .strip_prefix(region)?
        .strip_prefix('_')?;
    let (time, unique) = rest.split_once('_')?;
    // Names come from the bucket, which anyone with write access can fill: a multi-byte
    // character must not be sliced through.
    if !unique.ends_with(".json.gz") || time.len() != 14 || !time.is_ascii() {
        return None;
    }
    UtcTime::parse_compact(&format!("{}00Z", time.get(..13)?)).ok()
}

fn inside(windows: &[TimeRange], minute: UtcTime) -> bool {
    let last_second = minute.plus_seconds(59);
    windows
        .iter()
        .any(|w| minute >= w.start && last_second <= w.end)
}

fn overlaps(windows: &[TimeRange], from: UtcTime, to: UtcTime) -> bool {
    windows.iter().any(|w| from <= w.end && w.start <= to)
}

fn hash_of(store: &dyn ObjectStore, key: &str) -> Option<Sha256> {
    let object = store.get(store.bucket(), key).ok()?;
    inflate_and_hash(object.body, Keep::Nothing)
        .ok()
        .map(|i| i.sha256)
}

fn basename(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Lists the folder's logs over its windows: the files no digest lists. Needs only the
/// chains' windows and listed logs, so it can run while the logs are being checked; then
/// [`resolve`] tells moved logs from unreferenced ones.
pub fn list_candidates(
    store: &dyn ObjectStore,
    folder: &LogFolder,
) -> Result<Candidates, StoreError> {
    let windows = merge_windows(folder.windows.clone());
    let all = merge_windows(
        windows
            .iter()
            .copied()
            .chain(folder.unverifiable.iter().map(|(w, _)| *w))
            .collect(),
    );
    let (Some(first), Some(last)) = (all.first().copied(), all.last().copied()) else {
        return Ok(Candidates::default());
    };
    let unverifiable_digest = |minute: UtcTime| {
        folder
            .unverifiable
            .iter()
            .find(|(w, _)| inside(std::slice::from_ref(w), minute))
            .map(|(_, url)| url.clone())
    };
    let mut unverified: Vec<FileEntry> = Vec::new();
    let bucket = store.bucket().to_string();
    let log_folder = folder.log_folder();
    // The files of the day before the first window on (a log is delivered up to a few minutes
    // after the events it holds; the windows decide the rest). Keys up to `passed_over` (the
    // day folder's bare name) are not looked at, however far back the listing starts.
    let first_day = first.start.plus_seconds(-86_400);
    // What a checkpoint's history covers need not even be listed.
    let first_day = match folder.settled {
        Some(settled) if settled.from.is_none_or(|from| from <= first_day) => {
            first_day.max(crate::history::day_of(settled.before))
        }
        _ => first_day,
    };
    let passed_over = format!("{log_folder}{}", first_day.date_path());
    // The spans after segments are listed too, to the end of the range.
    let last_day = folder
        .spans
        .iter()
        .map(|s| s.end)
        .fold(last.end, UtcTime::max)
        .date_path();
    let mut strays: Vec<Stray> = Vec::new();
    // Listing from where the early listing started lets the store use the page it already
    // has; the keys it gives before the first day are passed over.
    let list_from_day = folder
        .range_start
        .map(early_listing_day)
        .filter(|day| {
            let earliest = day.date_path();
            let latest = day
                .plus_seconds(EARLY_LISTING_SLACK_DAYS * 86_400)
                .date_path();
            let first = first_day.date_path();
            earliest <= first && first <= latest
        })
        .unwrap_or(first_day);
    let list_from = listing_start_for_day(&log_folder, list_from_day);

    // Candidates: files in the log folder inside the windows that no digest lists.
    let mut candidates: Vec<(String, Option<String>)> = Vec::new(); // (key, why not a log name)
    store.list_keys(&log_folder, Some(&list_from), &mut |key| {
        if key <= passed_over.as_str() {
            return true;
        }
        let rest = &key[log_folder.len()..];
        let day = rest.get(..10).unwrap_or("");
        if day > last_day.as_str() {
            return false;
        }
        if folder.listed.contains(&bucket, key) {
            return true;
        }
        if folder.unreported.contains(&bucket, key) {
            unverified.push(
                FileEntry::new(FileKind::Log, &bucket, key, Status::Unverified).with_detail(
                    "listed only by a digest that could not be verified, past the part of its list reported one by one",
                ),
            );
            return true;
        }
        let minute = log_delivery_minute(basename(key), &folder.account_id, &folder.region);
        // Skipped only when the history counted it: by the same day rule as the history's.
        if let (Some(settled), Some(day)) = (folder.settled, crate::history::day_folder(rest)) {
            if settled.covers(day, minute) {
                return true;
            }
        }
        // For what is reported, the date the key starts with, whatever follows it.
        let day_start = UtcTime::parse_user(&day.replace('/', "-")).ok();
        // A log name of another day than its folder's is no name CloudTrail gives: reported
        // when its folder's day meets the windows (and, as any log, when its minute is in them).
        let other_day = minute.is_some_and(|m| Some(crate::history::day_of(m)) != day_start);
        if let Some(day_start) = day_start.filter(|_| other_day) {
            if overlaps(&windows, day_start, day_start.plus_seconds(86_399)) {
                candidates.push((
                    key.to_string(),
                    Some("a log name of another day than its day folder".into()),
                ));
                return true;
            }
        }
        match minute {
            Some(minute) => {
                let pending = folder
                    .pending_after
                    .is_some_and(|end| minute.plus_seconds(59) > end);
                if inside(&windows, minute) && !pending {
                    candidates.push((key.to_string(), None));
                } else if let Some(digest) = unverifiable_digest(minute) {
                    unverified.push(FileEntry::new(FileKind::Log, &bucket, key, Status::Unverified).with_detail(
                        format!("listed by no readable digest, delivered in the window of {digest}, which could not be verified"),
                    ));
                } else if let Some(span) = folder.span_of(minute) {
                    strays.push(Stray {
                        span,
                        key: key.to_string(),
                        minute,
                    });
                }
            }
            None => {
                // Not a log name: report it when its day folder meets the windows.
                if let Some(day_start) = day_start {
                    if overlaps(&windows, day_start, day_start.plus_seconds(86_399)) {
                        candidates.push((
                            key.to_string(),
                            Some("not a CloudTrail log file name".into()),
                        ));
                    }
                }
            }
        }
        true
    })?;
    Ok(Candidates {
        files: candidates,
        unverified,
        strays,
        windows,
    })
}

/// Moved logs (a listed log not found at its key, found elsewhere with the recorded hash) and
/// the unreferenced files that remain.
pub fn resolve(
    store: &dyn ObjectStore,
    folder: &LogFolder,
    candidates: Candidates,
    not_found: &[LogCheck],
) -> Result<Findings, StoreError> {
    let Candidates {
        files: candidates,
        unverified,
        strays,
        windows,
    } = candidates;
    let bucket = store.bucket().to_string();
    // Moved logs: same name elsewhere, or a candidate with the recorded hash.
    let mut moved: Vec<(String, String)> = Vec::new();
    let mut claimed: HashSet<String> = HashSet::new();
    let mut remaining: Vec<&LogCheck> = not_found.iter().filter(|c| *c.bucket == *bucket).collect();
    if !remaining.is_empty() {
        let by_name: HashMap<&str, &str> = candidates
            .iter()
            .map(|(k, _)| (basename(k), k.as_str()))
            .collect();
        remaining.retain(|check| {
            if let Some(found) = by_name.get(basename(&check.key)) {
                if hash_of(store, found) == Some(check.expected) {
                    moved.push((check.key.clone(), found.to_string()));
                    claimed.insert(found.to_string());
                    return false;
                }
            }
            true
        });
    }
    if !remaining.is_empty() {
        let mut wanted: HashMap<Sha256, Vec<&LogCheck>> = HashMap::new();
        for check in &remaining {
            wanted.entry(check.expected).or_default().push(check);
        }
        for (key, _) in &candidates {
            if claimed.contains(key) {
                continue;
            }
            if let Some(hash) = hash_of(store, key) {
                if let Some(checks) = wanted.get_mut(&hash) {
                    if let Some(check) = checks.pop() {
                        moved.push((check.key.clone(), key.clone()));
                        claimed.insert(key.clone());
                    }
                }
            }
        }
        let found: HashSet<&String> = moved.iter().map(|(from, _)| from).collect();
        remaining.retain(|c| !found.contains(&c.key));
    }
    if !remaining.is_empty() {
        // Anywhere else under the account's CloudTrail/ folder, by name.
        let names: HashMap<&str, Vec<&LogCheck>> =
            remaining.iter().fold(HashMap::new(), |mut map, c| {
                map.entry(basename(&c.key)).or_default().push(*c);
                map
            });
        let mut hits: Vec<(String, &LogCheck)> = Vec::new();
        store.list_keys(
            &format!("{}CloudTrail/", folder.account_root),
            None,
            &mut |key| {
                if let Some(checks) = names.get(basename(key)) {
                    for check in checks {
                        if check.key != key {
                            hits.push((key.to_string(), check));
                        }
                    }
                }
                true
            },
        )?;
        let mut done: HashSet<String> = HashSet::new();
        for (key, check) in hits {
            if done.contains(&check.key) || claimed.contains(&key) {
                continue;
            }
            if hash_of(store, &key) == Some(check.expected) {
                moved.push((check.key.clone(), key.clone()));
                claimed.insert(key);
                done.insert(check.key.clone());
            }
        }
    }

    let unreferenced = candidates
        .into_iter()
        .filter(|(key, _)| !claimed.contains(key))
        .map(|(key, why)| {
            FileEntry::new(FileKind::Log, &bucket, &key, Status::Unreferenced).with_detail(
                why.unwrap_or_else(|| {
                    "delivered inside the window of a verified digest, listed by no digest".into()
                }),
            )
        })
        .collect();
    Ok(Findings {
        unreferenced,
        unverified,
        moved,
        strays,
        windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> UtcTime {
        UtcTime::parse_field(text).unwrap()
    }

    #[test]
    fn windows_merge_when_touching() {
        let merged = merge_windows(vec![
            TimeRange {
                start: t("2024-01-01T02:00:00Z"),
                end: t("2024-01-01T03:00:00Z"),
            },
            TimeRange {
                start: t("2024-01-01T01:00:00Z"),
                end: t("2024-01-01T02:00:00Z"),
            },
            TimeRange {
                start: t("2024-01-01T05:00:00Z"),
                end: t("2024-01-01T06:00:00Z"),
            },
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].end, t("2024-01-01T03:00:00Z"));
    }

    #[test]
    fn delivery_minute_from_log_names() {
        let name = "111122223333_CloudTrail_us-east-1_20240301T0237Z_CgbQehj3wxBhZYrA.json.gz";
        assert_eq!(
            log_delivery_minute(name, "111122223333", "us-east-1"),
            Some(t("2024-03-01T02:37:00Z"))
        );
        assert_eq!(log_delivery_minute(name, "111122223333", "eu-west-1"), None);
        assert_eq!(
            log_delivery_minute("evil.json.gz", "111122223333", "us-east-1"),
            None
        );
        // 14 bytes whose 13th is inside a two-byte character: no panic, not a log name.
        let name = "111122223333_CloudTrail_us-east-1_202406010100\u{e9}_x.json.gz";
        assert_eq!(log_delivery_minute(name, "111122223333", "us-east-1"), None);
    }

    #[test]
    fn a_minute_counts_only_when_wholly_inside() {
        let windows = [TimeRange {
            start: t("2024-01-01T01:17:42Z"),
            end: t("2024-01-01T02:17:42Z"),
        }];
        assert!(!inside(&windows, t("2024-01-01T01:17:00Z")));
        assert!(inside(&windows, t("2024-01-01T01:18:00Z")));
        assert!(inside(&windows, t("2024-01-01T02:16:00Z")));
        assert!(!inside(&windows, t("2024-01-01T02:17:00Z")));
    }

    /// Keys in memory, recording where each listing started.
    struct Listed {
        keys: Vec<String>,
        starts: std::sync::Mutex<Vec<Option<String>>>,
    }

    impl ObjectStore for Listed {
        fn bucket(&self) -> &str {
            "bucket"
        }
        fn describe(&self) -> String {
            "keys in memory".into()
        }
        fn list_folders(&self, _prefix: &str) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
        fn list_keys(
            &self,
            prefix: &str,
            start_after: Option<&str>,
            visit: &mut dyn FnMut(&str) -> bool,
        ) -> Result<(), StoreError> {
            self.starts
                .lock()
                .unwrap()
                .push(start_after.map(str::to_string));
            let mut keys: Vec<&String> = self.keys.iter().collect();
            keys.sort();
            let wanted = keys.into_iter().filter(|key| {
                key.starts_with(prefix) && start_after.is_none_or(|s| key.as_str() > s)
            });
            for key in wanted {
                if !visit(key) {
                    break;
                }
            }
            Ok(())
        }
        fn get(&self, _bucket: &str, _key: &str) -> Result<crate::store::Object, StoreError> {
            Err(StoreError::NotFound)
        }
    }

    const FOLDER: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";

    fn log_key(day: &str, minute: &str, tag: &str) -> String {
        format!(
            "{FOLDER}{day}/111122223333_CloudTrail_us-east-1_{}T{minute}Z_{tag}.json.gz",
            day.replace('/', "")
        )
    }

    fn folder_with(windows: &[(&str, &str)], range_start: Option<&str>) -> LogFolder {
        let mut listed = LogKeySet::default();
        listed.insert("bucket", &log_key("2024/05/01", "0150", "listed"));
        LogFolder {
            account_root: "AWSLogs/111122223333/".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            windows: windows
                .iter()
                .map(|(start, end)| TimeRange {
                    start: t(start),
                    end: t(end),
                })
                .collect(),
            unverifiable: Vec::new(),
            listed,
            unreported: LogKeySet::default(),
            range_start: range_start.map(t),
            settled: None,
            pending_after: None,
            spans: Vec::new(),
        }
    }

    fn store() -> Listed {
        Listed {
            keys: vec![
                log_key("2024/04/20", "1000", "early"),
                log_key("2024/04/29", "2300", "before"),
                format!("{FOLDER}2024/04/30/notes.txt"),
                log_key("2024/05/01", "0150", "listed"),
                log_key("2024/05/01", "0210", "planted"),
                log_key("2024/05/02", "0000", "after"),
            ],
            starts: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn found(candidates: &Candidates) -> Vec<&str> {
        candidates.files.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn the_scan_lists_from_where_the_early_listing_started_and_finds_the_same_files() {
        let windows = [("2024-05-01T00:41:00Z", "2024-05-01T05:41:00Z")];
        let early = store();
        let folder = folder_with(&windows, Some("2024-05-01T00:41:00Z"));
        let request = early_listing(
            FOLDER,
            &RequestedRange {
                start: folder.range_start,
                end: t("2024-05-02T00:00:00Z"),
            },
        )
        .unwrap();
        let with_early = list_candidates(&early, &folder).unwrap();
        // The request the store was told about ahead, so that it can use the page it has.
        assert_eq!(
            *early.starts.lock().unwrap(),
            vec![request.start_after.clone()]
        );
        assert_eq!(
            request.start_after.as_deref(),
            Some(&*format!("{FOLDER}2024/04/28/~"))
        );

        let plain = store();
        let without = list_candidates(&plain, &folder_with(&windows, None)).unwrap();
        assert_eq!(
            *plain.starts.lock().unwrap(),
            vec![Some(format!("{FOLDER}2024/04/29/~"))]
        );
        assert_eq!(found(&with_early), found(&without));
        assert_eq!(
            found(&with_early),
            [log_key("2024/05/01", "0210", "planted")]
        );
    }

    #[test]
    fn windows_long_before_the_range_are_listed_from_their_own_start() {
        // A window that starts three weeks before the range (a digest after logging was off):
        // the early listing would start too late, so the scan lists from the window.
        let windows = [("2024-04-20T09:00:00Z", "2024-05-01T05:41:00Z")];
        let store = store();
        let folder = folder_with(&windows, Some("2024-05-01T00:41:00Z"));
        let candidates = list_candidates(&store, &folder).unwrap();
        assert_eq!(
            *store.starts.lock().unwrap(),
            vec![Some(format!("{FOLDER}2024/04/18/~"))]
        );
        assert_eq!(
            found(&candidates),
            [
                log_key("2024/04/20", "1000", "early"),
                log_key("2024/04/29", "2300", "before"),
                format!("{FOLDER}2024/04/30/notes.txt"),
                log_key("2024/05/01", "0210", "planted"),
            ]
        );
    }

    #[test]
    fn windows_well_after_the_range_start_do_not_list_the_days_between() {
        let windows = [("2024-05-01T01:00:00Z", "2024-05-01T05:41:00Z")];
        let store = store();
        let folder = folder_with(&windows, Some("2024-04-20T00:00:00Z"));
        let candidates = list_candidates(&store, &folder).unwrap();
        assert_eq!(
            *store.starts.lock().unwrap(),
            vec![Some(format!("{FOLDER}2024/04/29/~"))]
        );
        assert_eq!(
            found(&candidates),
            [log_key("2024/05/01", "0210", "planted")]
        );
    }
}
