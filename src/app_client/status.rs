//! Generic translation of the application's HTTP statuses into [`AppError`], and `Retry-After`
//! parsing (integer seconds or an IMF-fixdate HTTP date).

use super::AppReply;
use crate::error::AppError;
use std::time::{SystemTime, UNIX_EPOCH};

/// Generic status translation after the caller has handled the answers its mapping gives a
/// meaning to (`[[….errors]]` entries, then not found and conflict statuses): 2xx → Ok; 401/403 → `Unauthorized`; 429 → `RateLimited`
/// with the integer `Retry-After` (seconds or HTTP date, converted); 400/422 → `BadRequest`;
/// 404 → `NotFound`; 409 → `Conflict`; 5xx → `ServerError`; anything else → `UnexpectedStatus`.
pub fn check_status(reply: AppReply) -> Result<AppReply, AppError> {
    let status = reply.status;
    match status {
        200..=299 => Ok(reply),
        401 | 403 => Err(AppError::Unauthorized { status }),
        429 => Err(AppError::RateLimited {
            retry_after: retry_after_of(&reply),
        }),
        400 | 422 => Err(AppError::BadRequest { status }),
        // Application bodies never reach `detail`: these texts are all the client sees.
        404 => Err(AppError::NotFound("the resource was not found".into())),
        409 => Err(AppError::Conflict(
            "a resource with these unique values already exists".into(),
        )),
        500..=599 => Err(AppError::ServerError { status }),
        _ => Err(AppError::UnexpectedStatus { status }),
    }
}

/// The reply's `Retry-After` in whole seconds from now; `None` when absent or unparseable.
pub fn retry_after_of(reply: &AppReply) -> Option<u64> {
    reply
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after_secs(v, SystemTime::now()))
}

/// `Retry-After` as whole seconds from `now`, at least 1; `None` when unparseable.
pub(crate) fn retry_after_secs(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only, so a parse failure can only be overflow: that is "a very long time".
        return Some(value.parse::<u64>().unwrap_or(u64::MAX).max(1));
    }
    let at = parse_imf_fixdate(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now).max(1))
}

/// Parses `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7 IMF-fixdate) into Unix seconds.
/// The obsolete RFC 850 and asctime forms are not accepted.
fn parse_imf_fixdate(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let (weekday, rest) = s.split_once(", ")?;
    if !DAYS.contains(&weekday) {
        return None;
    }
    let mut parts = rest.split(' ');
    let (day, month, year, time, zone) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some() || zone != "GMT" || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let day: u32 = parse_digits(day)?;
    let month = u32::try_from(MONTHS.iter().position(|m| *m == month)? + 1).ok()?;
    let year: u32 = parse_digits(year)?;
    let mut hms = time.split(':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || [h, m, sec].iter().any(|p| p.len() != 2) {
        return None;
    }
    let (h, m, sec): (u32, u32, u32) = (parse_digits(h)?, parse_digits(m)?, parse_digits(sec)?);
    if year < 1970 || day == 0 || day > days_in_month(year, month) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + u64::from(h) * 3_600 + u64::from(m) * 60 + u64::from(sec))
}

fn parse_digits(s: &str) -> Option<u32> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (year ≥ 1970).
fn days_since_epoch(year: u32, month: u32, day: u32) -> u64 {
    let mut days: u64 = (1970..year)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum();
    days += (1..month)
        .map(|m| u64::from(days_in_month(year, m)))
        .sum::<u64>();
    days + u64::from(day - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use std::time::Duration;

    fn reply(status: u16, retry_after: Option<&str>) -> AppReply {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(http::header::RETRY_AFTER, v.parse().unwrap());
        }
        AppReply {
            status,
            headers,
            body: Bytes::from_static(b"{\"secret\":\"do not show\"}"),
        }
    }

    #[test]
    fn success_passes_the_reply_through() {
        for status in [200, 201, 204, 299] {
            let r = check_status(reply(status, None)).unwrap();
            assert_eq!(r.status, status);
        }
        assert_eq!(
            check_status(reply(200, None)).unwrap().body,
            Bytes::from_static(b"{\"secret\":\"do not show\"}")
        );
    }

    #[test]
    fn every_error_class() {
        use AppError as E;
        let err = |s| check_status(reply(s, None)).unwrap_err();
        assert!(matches!(err(401), E::Unauthorized { status: 401 }));
        assert!(matches!(err(403), E::Unauthorized { status: 403 }));
        assert!(matches!(err(404), E::NotFound(_)));
        assert!(matches!(err(409), E::Conflict(_)));
        assert!(matches!(err(400), E::BadRequest { status: 400 }));
        assert!(matches!(err(422), E::BadRequest { status: 422 }));
        assert!(matches!(err(429), E::RateLimited { retry_after: None }));
        assert!(matches!(err(500), E::ServerError { status: 500 }));
        assert!(matches!(err(502), E::ServerError { status: 502 }));
        assert!(matches!(err(503), E::ServerError { status: 503 }));
        assert!(matches!(err(302), E::UnexpectedStatus { status: 302 }));
        assert!(matches!(err(100), E::UnexpectedStatus { status: 100 }));
        assert!(matches!(err(405), E::UnexpectedStatus { status: 405 }));
        for s in [404, 409] {
            assert!(!err(s).to_string().contains("do not show"));
        }
    }

    #[test]
    fn rate_limited_keeps_retry_after() {
        let ra = |v| match check_status(reply(429, Some(v))).unwrap_err() {
            AppError::RateLimited { retry_after } => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(ra("120"), Some(120));
        assert_eq!(ra(" 7 "), Some(7));
        assert_eq!(ra("0"), Some(1), "clamped to at least one second");
        assert_eq!(ra("-5"), None);
        assert_eq!(ra("soon"), None);
        assert_eq!(ra("1.5"), None);
        assert_eq!(ra("99999999999999999999999"), Some(u64::MAX));
        // A date long past is "retry now", i.e. one second.
        assert_eq!(ra("Sun, 06 Nov 1994 08:49:37 GMT"), Some(1));
    }

    #[test]
    fn http_dates_become_seconds_from_now() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            retry_after_secs("Sun, 06 Nov 1994 08:50:07 GMT", at(784_111_777)),
            Some(30)
        );
        assert_eq!(
            retry_after_secs("Thu, 01 Jan 1970 00:00:00 GMT", at(0)),
            Some(1)
        );
        // Leap day and end of year.
        assert_eq!(
            parse_imf_fixdate("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(1_709_164_800)
        );
        assert_eq!(
            parse_imf_fixdate("Fri, 31 Dec 1999 23:59:59 GMT"),
            Some(946_684_799)
        );
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 30 Feb 2023 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_imf_fixdate(bad), None, "{bad}");
            assert_eq!(retry_after_secs(bad, SystemTime::now()), None, "{bad}");
        }
    }
}
