//! Durations on the command line and in `tufkit.toml`: `30d`, `12h`, `90m`, `3600s`, `2w`.

use chrono::Duration;

use crate::error::{invalid, Result};

/// Parses `N` followed by a unit: `s`, `m`, `h`, `d` or `w` (several parts like `1d12h` too).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || {
        invalid(format!(
            "invalid duration {text:?}: use a number with a unit, e.g. 30d, 12h, 90m, 3600s, 2w"
        ))
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    // Cap at 100 years so date arithmetic cannot overflow.
    if total > 100 * 366 * 86_400 {
        return Err(invalid(format!(
            "duration {text:?} is longer than 100 years"
        )));
    }
    Ok(Duration::seconds(total))
}

/// Formats a duration for people: `3d 4h`, `5h 12m`, `42s`, negative as `-1h 2m`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.num_seconds();
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (days, hours, mins) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let body = if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m {}s", s % 60)
    } else {
        format!("{s}s")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert_eq!(parse_duration("90m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("3600s").unwrap(), Duration::seconds(3600));
        assert_eq!(parse_duration("1d12h").unwrap(), Duration::hours(36));
        assert_eq!(parse_duration("2w").unwrap(), Duration::days(14));
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "d", "12", "1x", "-3d", "1.5d", "99999999999999999d"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::hours(50)), "2d 2h");
        assert_eq!(format_duration(Duration::minutes(-62)), "-1h 2m");
        assert_eq!(format_duration(Duration::seconds(42)), "42s");
    }
}
