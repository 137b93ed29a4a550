//! Time as the API shows it: RFC 3339, UTC, with a `Z`, to the second.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, truncated to whole seconds so that what we store is exactly what we print.
pub fn now() -> OffsetDateTime {
    to_the_second(OffsetDateTime::now_utc())
}

/// `t` without its fraction of a second, as stored and printed instants are.
pub fn to_the_second(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// The time the request gate counts rate-limit windows by. Containers read the system
/// clock; tests hold it still, so that a minute's window does not end in the middle of a
/// test and nothing has to wait for a fresh one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    #[default]
    System,
    Fixed(OffsetDateTime),
}

impl Clock {
    pub fn now(self) -> OffsetDateTime {
        match self {
            Clock::System => now(),
            Clock::Fixed(at) => at,
        }
    }
}

pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    to_the_second(t).format(&Rfc3339).unwrap_or_default()
}

/// An RFC 3339 timestamp as it will be stored: in UTC, to the second, so that what is
/// kept, indexed and compared is exactly what is printed. `None` also for an instant whose
/// UTC form falls outside the years 0000 to 9999, which RFC 3339 cannot print.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .ok()?
        .checked_to_offset(time::UtcOffset::UTC)?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    t.replace_nanosecond(0).ok()
}

/// Serde support for timestamps stored and returned as RFC 3339 strings.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse(&raw).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::format(*t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(raw) => super::super::parse(&raw)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_to_the_second_with_z() {
        let t = OffsetDateTime::from_unix_timestamp(1_776_072_074).unwrap()
            + time::Duration::milliseconds(999);
        assert_eq!(format(t), "2026-04-13T09:21:14Z");
    }

    #[test]
    fn a_fixed_clock_stands_still() {
        let at = parse("2026-04-13T09:21:14Z").unwrap();
        assert_eq!(Clock::Fixed(at).now(), at);
        assert_ne!(Clock::System.now(), at);
    }

    #[test]
    fn parses_to_what_is_printed() {
        let t = parse("2026-04-13T09:21:14.999999999Z").unwrap();
        assert_eq!(t, parse("2026-04-13T09:21:14Z").unwrap());
        assert_eq!(parse(&format(t)), Some(t));
        for beyond in ["9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+23:59"] {
            assert_eq!(parse(beyond), None, "{beyond}");
        }
        assert!(parse("0000-01-01T00:00:00Z").is_some());
        assert!(parse("9999-12-31T23:59:59Z").is_some());
    }

    #[test]
    fn converts_offsets_to_utc() {
        let t = parse("2026-04-13T11:21:14+02:00").unwrap();
        assert_eq!(format(t), "2026-04-13T09:21:14Z");
    }
}
