//! UTC instants as CloudTrail writes them.
//!
//! Digest fields use exactly `YYYY-MM-DDTHH:MM:SSZ`, key names use `YYYYMMDDTHHMMSSZ` (digests)
//! and `YYYYMMDDTHHmmZ` (logs). A tiny civil-calendar conversion is all we need, so we keep it
//! here rather than pull in a date library whose lenient parsers we would then have to fence in.

use std::fmt;

/// Seconds since the Unix epoch, UTC. Ordering is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(i64);

/// A time that does not parse: the text exactly as given. A leaf: the parsers are this
/// module's own, so there is no error beneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(pub String);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid time {:?}", self.0)
    }
}

impl std::error::Error for TimeError {}

const SECONDS_PER_DAY: i64 = 86_400;

impl UtcTime {
    /// The instant `seconds` after 1970-01-01T00:00:00Z (negative: before it).
    pub const fn from_unix(seconds: i64) -> Self {
        UtcTime(seconds)
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The system clock, to the whole second (the epoch itself if the clock is set before it).
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        UtcTime(since)
    }

    /// A UTC calendar date and time of day; `None` unless it exists (month 1–12, a day the month
    /// has, hour 0–23, minute and second 0–59: no leap seconds).
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(UtcTime(
            days * SECONDS_PER_DAY
                + i64::from(hour) * 3600
                + i64::from(minute) * 60
                + i64::from(second),
        ))
    }

    /// (year, month, day, hour, minute, second)
    pub fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        let secs = self.0.rem_euclid(SECONDS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        (
            y,
            m,
            d,
            (secs / 3600) as u32,
            ((secs / 60) % 60) as u32,
            (secs % 60) as u32,
        )
    }

    /// Strict CloudTrail field form: `YYYY-MM-DDTHH:MM:SSZ`, nothing else.
    pub fn parse_field(text: &str) -> Result<Self, TimeError> {
        let err = || TimeError(text.to_string());
        let b = text.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return Err(err());
        }
        let year = digits(&b[0..4]).ok_or_else(err)?;
        let month = digits(&b[5..7]).ok_or_else(err)?;
        let day = digits(&b[8..10]).ok_or_else(err)?;
        let hour = digits(&b[11..13]).ok_or_else(err)?;
        let minute = digits(&b[14..16]).ok_or_else(err)?;
        let second = digits(&b[17..19]).ok_or_else(err)?;
        UtcTime::from_civil(i64::from(year), month, day, hour, minute, second).ok_or_else(err)
    }

    /// Digest key-name form `YYYYMMDDTHHMMSSZ`.
    pub fn parse_compact(text: &str) -> Result<Self, TimeError> {
        let err = || TimeError(text.to_string());
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return Err(err());
        }
        let year = digits(&b[0..4]).ok_or_else(err)?;
        let month = digits(&b[4..6]).ok_or_else(err)?;
        let day = digits(&b[6..8]).ok_or_else(err)?;
        let hour = digits(&b[9..11]).ok_or_else(err)?;
        let minute = digits(&b[11..13]).ok_or_else(err)?;
        let second = digits(&b[13..15]).ok_or_else(err)?;
        UtcTime::from_civil(i64::from(year), month, day, hour, minute, second).ok_or_else(err)
    }

    /// What users type on the command line: a date (`2024-03-01`, midnight UTC), or RFC 3339
    /// (`2024-03-01T10:00:00Z`, `2024-03-01T10:00Z`, fractions, `+02:00` offsets, a space instead
    /// of `T`).
    pub fn parse_user(text: &str) -> Result<Self, TimeError> {
        let err = || TimeError(text.to_string());
        let t = text.trim();
        let b = t.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let year = digits(&b[0..4]).ok_or_else(err)?;
        let month = digits(&b[5..7]).ok_or_else(err)?;
        let day = digits(&b[8..10]).ok_or_else(err)?;
        if b.len() == 10 {
            return UtcTime::from_civil(i64::from(year), month, day, 0, 0, 0).ok_or_else(err);
        }
        if b[10] != b'T' && b[10] != b't' && b[10] != b' ' {
            return Err(err());
        }
        let rest = &b[11..];
        if rest.len() < 5 || rest[2] != b':' {
            return Err(err());
        }
        let hour = digits(&rest[0..2]).ok_or_else(err)?;
        let minute = digits(&rest[3..5]).ok_or_else(err)?;
        let mut i = 5;
        let mut second = 0;
        if rest.len() >= 8 && rest[5] == b':' {
            second = digits(&rest[6..8]).ok_or_else(err)?;
            i = 8;
            if rest.len() > i && rest[i] == b'.' {
                i += 1;
                let start = i;
                while i < rest.len() && rest[i].is_ascii_digit() {
                    i += 1;
                }
                if i == start {
                    return Err(err());
                }
            }
        }
        let offset_seconds: i64 = match &rest[i..] {
            b"Z" | b"z" | b"" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2]).ok_or_else(err)?;
                let m = digits(&[*m1, *m2]).ok_or_else(err)?;
                if h > 23 || m > 59 {
                    return Err(err());
                }
                let magnitude = i64::from(h * 3600 + m * 60);
                if *sign == b'+' {
                    magnitude
                } else {
                    -magnitude
                }
            }
            _ => return Err(err()),
        };
        let local = UtcTime::from_civil(i64::from(year), month, day, hour, minute, second)
            .ok_or_else(err)?;
        Ok(UtcTime(local.0 - offset_seconds))
    }

    /// `YYYYMMDDTHHMMSSZ`
    pub fn compact(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
    }

    /// `YYYY/MM/DD`, the date folders of CloudTrail keys.
    pub fn date_path(self) -> String {
        let (y, mo, d, ..) = self.civil();
        format!("{y:04}/{mo:02}/{d:02}")
    }

    /// `seconds` later (earlier when negative), saturating at the ends of the range.
    pub fn plus_seconds(self, seconds: i64) -> Self {
        UtcTime(self.0.saturating_add(seconds))
    }
}

impl fmt::Display for UtcTime {
    /// The CloudTrail field form, `YYYY-MM-DDTHH:MM:SSZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

impl serde::Serialize for UtcTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The form [`UtcTime`] serializes to (`YYYY-MM-DDTHH:MM:SSZ`), and only that.
impl<'de> serde::Deserialize<'de> for UtcTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        UtcTime::parse_field(&text).map_err(serde::de::Error::custom)
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    let mut value: u32 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_form_round_trips() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2015-08-16T20:00:00Z",
        ] {
            let t = UtcTime::parse_field(text).unwrap();
            assert_eq!(t.to_string(), text);
        }
        assert_eq!(
            UtcTime::parse_field("1970-01-01T00:00:10Z").unwrap().unix(),
            10
        );
    }

    #[test]
    fn field_form_is_strict() {
        for bad in [
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.000Z",
            "2024-01-01 00:00:00Z",
            "2024-1-01T00:00:00Z",
            "+024-01-01T00:00:00Z",
        ] {
            assert!(UtcTime::parse_field(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn compact_form_round_trips() {
        let t = UtcTime::parse_compact("20240301T061742Z").unwrap();
        assert_eq!(t.to_string(), "2024-03-01T06:17:42Z");
        assert_eq!(t.compact(), "20240301T061742Z");
        assert_eq!(t.date_path(), "2024/03/01");
    }

    #[test]
    fn user_forms() {
        let base = UtcTime::parse_field("2024-03-01T10:00:00Z").unwrap();
        assert_eq!(UtcTime::parse_user("2024-03-01T10:00:00Z").unwrap(), base);
        assert_eq!(UtcTime::parse_user("2024-03-01T10:00Z").unwrap(), base);
        assert_eq!(
            UtcTime::parse_user("2024-03-01 10:00:00.123Z").unwrap(),
            base
        );
        assert_eq!(
            UtcTime::parse_user("2024-03-01T12:00:00+02:00").unwrap(),
            base
        );
        assert_eq!(
            UtcTime::parse_user("2024-03-01").unwrap().to_string(),
            "2024-03-01T00:00:00Z"
        );
        assert!(UtcTime::parse_user("yesterday").is_err());
        assert!(UtcTime::parse_user("2024-03-01T10").is_err());
    }
}
