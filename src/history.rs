//! What a checkpoint remembers of the history a run verified, and how a later run checks it by
//! listing alone.
//!
//! Per account-and-region folder and per day, a hash over what a listing says of every object
//! in that day's digest folder and log folder: key, size and [`Stamp::version`] (S3's ETag; a
//! directory's modification time). A later run lists the same days again (no downloads): a day
//! whose hash or count differs holds an object that is gone, changed, or new since, and is
//! verified again. Every object is counted, not only those some digest listed, so that a file
//! planted into a day already proved changes it too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::digest::{ChainId, DigestKey};
use crate::hash::Sha256;
use crate::store::{ObjectStore, Stamp, StoreError};
use crate::time::UtcTime;
use crate::unreferenced::log_delivery_minute;

/// One day of one folder, as a listing found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    /// Midnight UTC of the day (`YYYY/MM/DD` folders of both the digest and the log folder).
    pub day: UtcTime,
    /// Objects in the day's two folders.
    pub objects: u64,
    /// SHA-256 over each object's key, size and version, digest folder first, in listing order.
    pub sha256: Sha256,
}

/// A day whose listing is not what the checkpoint recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayChange {
    /// Midnight UTC of the day.
    pub day: UtcTime,
    /// Objects the checkpoint recorded for it (0 when it recorded none).
    pub objects_then: u64,
    /// Objects listed now (0 when none).
    pub objects_now: u64,
}

/// `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail/REGION/` from the digest folder
/// `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail-Digest/REGION/`; `None` for any other shape.
pub fn log_folder_of(digest_folder: &str) -> Option<String> {
    let at = digest_folder.rfind("/CloudTrail-Digest/")?;
    Some(format!(
        "{}/CloudTrail/{}",
        &digest_folder[..at],
        &digest_folder[at + "/CloudTrail-Digest/".len()..]
    ))
}

/// Midnight UTC of the day `t` falls in.
pub fn day_of(t: UtcTime) -> UtcTime {
    UtcTime::from_unix(t.unix().div_euclid(86_400) * 86_400)
}

/// What one listing of a folder's days found, hour by hour, so that a day can be recorded up to
/// any hour once the run knows how far it verified.
#[derive(Debug, Default)]
pub struct Survey {
    /// By day (midnight UTC), then hour and folder (`d`igests, `l`ogs): objects and their
    /// hash. An object whose name is not a CloudTrail name of that day (never CloudTrail's own)
    /// counts in hour 0, so that it is compared as soon as its day has begun.
    days: BTreeMap<UtcTime, DayHours>,
    /// Every chain a digest name in the listing belongs to, with its earliest digest's end.
    pub chains: BTreeMap<ChainId, UtcTime>,
}

/// One day's objects by (hour, folder): how many, and their hash.
type DayHours = BTreeMap<(u8, u8), (u64, Sha256)>;

impl Survey {
    /// The days with an object before `until`, each over its objects named before `until`.
    pub fn records_until(&self, until: UtcTime) -> Vec<DayRecord> {
        self.days
            .iter()
            .filter_map(|(&day, hours)| {
                let mut hasher = sha2::Sha256::new();
                let mut objects = 0;
                for (&(hour, tag), (count, hash)) in hours {
                    if slot_end(day, hour) <= until {
                        hasher.update([hour, tag]);
                        hasher.update(count.to_be_bytes());
                        hasher.update(hash.0);
                        objects += count;
                    }
                }
                (objects > 0).then(|| DayRecord {
                    day,
                    objects,
                    sha256: Sha256(hasher.finalize().into()),
                })
            })
            .collect()
    }
}

/// Lists the digest folder and the log folder of `digest_folder` over the days from `from`
/// (midnight; the beginning when `None`) through the day of `through`. Keys not under a
/// `YYYY/MM/DD/` folder are no day's.
pub fn survey(
    store: &dyn ObjectStore,
    digest_folder: &str,
    from: Option<UtcTime>,
    through: UtcTime,
) -> Result<Survey, StoreError> {
    let (Some(log_folder), Some(id)) = (
        log_folder_of(digest_folder),
        ChainId::of_digest_folder(digest_folder, "", ""),
    ) else {
        return Err(StoreError::Read(format!(
            "{digest_folder:?} is no digest folder"
        )));
    };
    // The two folders are listed at once: a year of either is pages one after another.
    let last = through.date_path();
    let list = |tag: u8, folder: &str| list_folder(store, (tag, folder), from, &last, &id);
    let (digests, logs) = rayon::join(|| list(b'd', digest_folder), || list(b'l', &log_folder));
    let mut survey = digests?;
    for (day, hours) in logs?.days {
        survey.days.entry(day).or_default().extend(hours);
    }
    Ok(survey)
}

/// One folder's part of [`survey`]: its objects under `tag`, the days from `from` through
/// `last` (`YYYY/MM/DD`).
fn list_folder(
    store: &dyn ObjectStore,
    (tag, folder): (u8, &str),
    from: Option<UtcTime>,
    last: &str,
    id: &ChainId,
) -> Result<Survey, StoreError> {
    let mut survey = Survey::default();
    // Keys come in order, so a day's objects come together: only that day's hashes are open at
    // once, and a year's listing holds one finished hash per hour.
    let mut open: Option<(UtcTime, OpenHours)> = None;
    let start_after = from.map(|day| crate::unreferenced::listing_start_for_day(folder, day));
    store.list_stamped(folder, start_after.as_deref(), &mut |key, stamp| {
        let Some(day_path) = key.get(folder.len()..folder.len() + 10) else {
            return true;
        };
        if day_path > last {
            return false;
        }
        // A key under a day folder counts by the hour its name gives; one that only starts
        // with a date (`2024/06/01x/...`, `2024/06/01.json.gz`: never CloudTrail's) counts in
        // hour 0 of that date, so that planting one changes a recorded day.
        let below = &key[folder.len()..];
        let strict = day_folder(below);
        let Some(day) = strict.or_else(|| parse_day_path(day_path)) else {
            return true;
        };
        if from.is_none_or(|f| day >= f) {
            if open.as_ref().is_some_and(|(open_day, _)| *open_day != day) {
                survey.close(tag, open.take());
            }
            let (_, hours) = open.get_or_insert_with(|| (day, BTreeMap::new()));
            let named = if strict.is_none() {
                None
            } else if tag == b'd' {
                DigestKey::parse(key).map(|name| {
                    let end = name.end_time;
                    let earliest = survey.chains.entry(name.chain).or_insert(end);
                    *earliest = end.min(*earliest);
                    end
                })
            } else {
                // By its last segment, as the log scan reads it.
                let basename = below.rsplit('/').next().unwrap_or(below);
                log_delivery_minute(basename, &id.account_id, &id.region)
            };
            let hour = hour_in_day(named, day);
            let (count, hasher) = hours
                .entry(hour)
                .or_insert_with(|| (0, sha2::Sha256::new()));
            *count += 1;
            feed(hasher, tag, key, stamp);
        }
        true
    })?;
    survey.close(tag, open.take());
    Ok(survey)
}

/// The hashes of one day's hours, while its objects are listed.
type OpenHours = BTreeMap<u8, (u64, sha2::Sha256)>;

impl Survey {
    /// Finishes the hashes of a day's hours in one folder.
    fn close(&mut self, tag: u8, open: Option<(UtcTime, OpenHours)>) {
        let Some((day, hours)) = open else { return };
        let recorded = self.days.entry(day).or_default();
        for (hour, (count, hasher)) in hours {
            let hash = Sha256(hasher.finalize().into());
            // A listing in order never comes back to a day; should a store's, the day's hash
            // still covers both parts.
            let entry = recorded.entry((hour, tag)).or_insert((0, Sha256([0; 32])));
            let mut both = sha2::Sha256::new();
            both.update(entry.1 .0);
            both.update(hash.0);
            *entry = (entry.0 + count, Sha256(both.finalize().into()));
        }
    }
}

/// The hour of `day` an object counts in: the hour its name gives, when its name is a
/// CloudTrail name of that day; else hour 0. The log scan skips a file on the same terms
/// ([`slot_end`]), so that what the history covers and what the scan looks at meet exactly.
pub fn hour_in_day(named: Option<UtcTime>, day: UtcTime) -> u8 {
    match named {
        Some(t) if day_of(t) == day => ((t.unix() - day.unix()) / 3600) as u8,
        _ => 0,
    }
}

/// The day folder a key's part below its folder names (`YYYY/MM/DD/...`), as midnight UTC:
/// `None` unless a date and a `/` follow. The history and the log scan both decide a key's day
/// with this.
pub fn day_folder(below_folder: &str) -> Option<UtcTime> {
    let day = below_folder.get(..10)?;
    below_folder[10..].starts_with('/').then_some(())?;
    parse_day_path(day)
}

/// What a checkpoint's history covers of a folder, unchanged since a run verified it: the
/// days from `from` (the beginning when `None`), each up to `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub from: Option<UtcTime>,
    pub before: UtcTime,
}

impl Settled {
    /// Whether the history counted a file of day folder `day` named for `named` (see
    /// [`hour_in_day`]): the same rule the history's listing follows.
    pub fn covers(&self, day: UtcTime, named: Option<UtcTime>) -> bool {
        self.from.is_none_or(|from| day >= from)
            && slot_end(day, hour_in_day(named, day)) <= self.before
    }
}

/// When the hour `hour` of `day` ends: a history recorded up to `until` covers it when this is
/// not later.
pub fn slot_end(day: UtcTime, hour: u8) -> UtcTime {
    day.plus_seconds(3600 * (i64::from(hour) + 1))
}

/// Each field ends in a byte no key, size or version holds, so no two listings hash alike.
fn feed(hasher: &mut sha2::Sha256, tag: u8, key: &str, stamp: Stamp<'_>) {
    hasher.update([tag]);
    hasher.update(key.as_bytes());
    hasher.update([0]);
    hasher.update(stamp.size.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(stamp.version.as_bytes());
    hasher.update([b'\n']);
}

/// `YYYY/MM/DD` as midnight UTC, when it is a date.
fn parse_day_path(text: &str) -> Option<UtcTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'/' || bytes[7] != b'/' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    UtcTime::from_civil(
        i64::from(number(0..4)?),
        number(5..7)?,
        number(8..10)?,
        0,
        0,
        0,
    )
}

/// The days whose listing now differs from what was recorded, oldest first.
pub fn compare(recorded: &[DayRecord], now: &[DayRecord]) -> Vec<DayChange> {
    let mut then: BTreeMap<UtcTime, &DayRecord> = recorded.iter().map(|r| (r.day, r)).collect();
    let mut changes = Vec::new();
    for record in now {
        match then.remove(&record.day) {
            Some(old) if old == record => {}
            old => changes.push(DayChange {
                day: record.day,
                objects_then: old.map_or(0, |o| o.objects),
                objects_now: record.objects,
            }),
        }
    }
    changes.extend(then.into_values().map(|old| DayChange {
        day: old.day,
        objects_then: old.objects,
        objects_now: 0,
    }));
    changes.sort_by_key(|c| c.day);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;

    fn t(text: &str) -> UtcTime {
        UtcTime::parse_field(text).expect("time")
    }

    fn write(root: &std::path::Path, key: &str, bytes: &[u8]) {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }

    const DIGESTS: &str = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/";
    const LOGS: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";

    #[test]
    fn the_log_folder_is_the_digest_folders_sibling() {
        assert_eq!(log_folder_of(DIGESTS).as_deref(), Some(LOGS));
        assert_eq!(
            log_folder_of("p/AWSLogs/o-abc/1/CloudTrail-Digest/eu-west-1/").as_deref(),
            Some("p/AWSLogs/o-abc/1/CloudTrail/eu-west-1/")
        );
        assert_eq!(log_folder_of("AWSLogs/1/CloudTrail/us-east-1/"), None);
    }

    #[test]
    fn a_survey_counts_each_day_of_both_folders_within_the_days_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, &format!("{DIGESTS}2024/05/01/a.json.gz"), b"1");
        write(root, &format!("{LOGS}2024/05/01/b.json.gz"), b"22");
        write(root, &format!("{LOGS}2024/05/02/c.json.gz"), b"333");
        write(root, &format!("{LOGS}2024/05/03/d.json.gz"), b"4");
        write(root, &format!("{LOGS}2024/05/x/planted"), b"4");
        let store = DirStore::open(root, "bucket".into(), Default::default()).expect("store");
        let days = survey(&store, DIGESTS, None, t("2024-05-02T00:00:00Z"))
            .expect("survey")
            .records_until(t("2024-05-03T00:00:00Z"));
        let counts: Vec<(String, u64)> = days
            .iter()
            .map(|d| (d.day.date_path(), d.objects))
            .collect();
        assert_eq!(
            counts,
            [("2024/05/01".to_string(), 2), ("2024/05/02".to_string(), 1)]
        );
        let later = survey(
            &store,
            DIGESTS,
            Some(t("2024-05-02T00:00:00Z")),
            t("2024-05-03T00:00:00Z"),
        )
        .expect("survey")
        .records_until(t("2024-05-04T00:00:00Z"));
        assert_eq!(later.len(), 2);
        assert_eq!(
            later[0], days[1],
            "the same day hashes alike whichever listing saw it"
        );
    }

    #[test]
    fn a_day_changes_when_an_object_is_gone_rewritten_or_added() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let through = t("2024-05-03T00:00:00Z");
        for day in ["01", "02", "03"] {
            write(root, &format!("{LOGS}2024/05/{day}/log.json.gz"), b"log");
        }
        let store = DirStore::open(root, "bucket".into(), Default::default()).expect("store");
        let until = t("2024-05-04T00:00:00Z");
        let before = survey(&store, DIGESTS, None, through)
            .expect("survey")
            .records_until(until);
        assert!(compare(&before, &before).is_empty());

        std::fs::remove_file(root.join(format!("{LOGS}2024/05/01/log.json.gz"))).expect("rm");
        write(root, &format!("{LOGS}2024/05/02/log.json.gz"), b"LOG");
        write(root, &format!("{DIGESTS}2024/05/03/planted"), b"x");
        let after = survey(&store, DIGESTS, None, through)
            .expect("survey")
            .records_until(until);
        let changes = compare(&before, &after);
        let days: Vec<(String, u64, u64)> = changes
            .iter()
            .map(|c| (c.day.date_path(), c.objects_then, c.objects_now))
            .collect();
        assert_eq!(
            days,
            [
                ("2024/05/01".to_string(), 1, 0),
                ("2024/05/02".to_string(), 1, 1),
                ("2024/05/03".to_string(), 1, 2),
            ]
        );
    }

    #[test]
    fn a_day_is_recorded_up_to_the_hour_verified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let log = |hhmm: &str| {
            format!(
                "{LOGS}2024/05/01/111122223333_CloudTrail_us-east-1_20240501T{hhmm}Z_abc.json.gz"
            )
        };
        write(root, &log("0150"), b"1");
        write(root, &log("1405"), b"2");
        write(root, &format!("{LOGS}2024/05/01/odd-name"), b"3");
        // Named for another day than its folder's: hour 0 of the folder's day too.
        write(
            root,
            &format!("{LOGS}2024/05/01/111122223333_CloudTrail_us-east-1_20240430T2350Z_x.json.gz"),
            b"4",
        );
        let store = DirStore::open(root, "bucket".into(), Default::default()).expect("store");
        let found = survey(&store, DIGESTS, None, t("2024-05-01T00:00:00Z")).expect("survey");
        let objects = |until: &str| -> Vec<u64> {
            found
                .records_until(t(until))
                .iter()
                .map(|r| r.objects)
                .collect()
        };
        assert_eq!(objects("2024-05-01T00:00:00Z"), Vec::<u64>::new());
        assert_eq!(
            objects("2024-05-01T01:00:00Z"),
            [2],
            "names of no hour of the day count in hour 0"
        );
        assert_eq!(objects("2024-05-01T02:00:00Z"), [3]);
        assert_eq!(objects("2024-05-01T15:00:00Z"), [4]);
        assert_ne!(
            found.records_until(t("2024-05-01T02:00:00Z")),
            found.records_until(t("2024-05-01T15:00:00Z"))
        );
    }
}
