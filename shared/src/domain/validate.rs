//! Field rules shared by every resource: lengths, emails, currencies.

use crate::ApiError;

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
/// Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// Longest name, company, role or similar one-line field.
pub const MAX_SHORT: usize = 200;
/// Longest email, per RFC 5321: in bytes of UTF-8, and so in characters too.
pub const MAX_EMAIL: usize = 254;
pub const MAX_PHONE: usize = 50;
/// Longest free text (intake notes, contact notes, note content). Keeps items far below
/// DynamoDB's 400 KB limit. Only fields of this length may span lines.
pub const MAX_TEXT: usize = 10_000;

/// The smallest magnitude DynamoDB stores other than zero: a smaller number fails the
/// write (an underflow), so it must be refused before it reaches a transaction.
pub const DYNAMODB_MIN_MAGNITUDE: f64 = 1e-130;

/// A non-negative amount no larger than `max` that DynamoDB can store: zero, or at least
/// [`DYNAMODB_MIN_MAGNITUDE`]. JSON has no infinities or NaN, and an `f64` has at most 17
/// significant digits, well within DynamoDB's 38.
pub fn amount(
    field: &str,
    value: &serde_json::Number,
    max: f64,
) -> Result<serde_json::Number, ApiError> {
    match value.as_f64() {
        Some(v) if v.is_finite() && (v == 0.0 || (DYNAMODB_MIN_MAGNITUDE..=max).contains(&v)) => {
            Ok(value.clone())
        }
        _ => Err(ApiError::field(
            field,
            format_args!("must be 0 or a number from 1e-130 to {max:e}."),
        )),
    }
}

/// Trims `value` and checks its length and characters; `field` names it in the error.
/// Free text (`max` of [`MAX_TEXT`]) may hold line breaks and tabs; other fields are one
/// line. No field holds other control characters (NUL, ESC, …): no person types them, and
/// they break the systems integrators copy these values into.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(ApiError::field(
            field,
            format_args!("is longer than {max} characters."),
        ));
    }
    let multiline = max >= MAX_TEXT;
    let refused = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if trimmed.chars().any(refused) {
        return Err(ApiError::field(
            field,
            if multiline {
                "must not contain control characters other than line breaks and tabs."
            } else {
                "must be one line, without control characters."
            },
        ));
    }
    Ok(trimmed.to_string())
}

pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = text(field, value, max)?;
    if value.is_empty() {
        return Err(ApiError::field(field, "must not be empty."));
    }
    Ok(value)
}

pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    value
        .map(|v| text(field, v, max))
        .transpose()
        .map(|v| v.filter(|v| !v.is_empty()))
}

/// A syntactically valid address: one `@`, a non-empty local part, a dotted domain.
/// An email address: at most [`MAX_EMAIL`] bytes (RFC 5321 counts an address in octets),
/// which also keeps its marker's sort key, `EMAIL#` and the folded address (at most three
/// times as long: case folding expands some letters), under DynamoDB's 1,024 bytes.
pub fn email(field: &str, value: &str) -> Result<String, ApiError> {
    let value = text(field, value, MAX_EMAIL)?;
    if value.len() > MAX_EMAIL {
        return Err(ApiError::field(
            field,
            format_args!("is longer than {MAX_EMAIL} bytes of UTF-8 (RFC 5321 counts octets)."),
        ));
    }
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(crate::text::normalize(&value))
    } else {
        Err(ApiError::field(field, "must be a valid email address."))
    }
}

/// ISO 4217 active currency codes.
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG";

pub fn currency(field: &str, value: &str) -> Result<String, ApiError> {
    let code = value.trim();
    if code.len() == 3 && CURRENCIES.split(' ').any(|c| c == code) {
        Ok(code.to_string())
    } else {
        Err(ApiError::field(
            field,
            "must be an ISO 4217 currency code such as 'EUR'.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_bounded_in_bytes_and_its_marker_key_fits() {
        let wide = |n: usize| format!("{}@ex.co", "\u{1d400}".repeat(n));
        assert_eq!(wide(62).len(), 254);
        assert!(email("email", &wide(62)).is_ok());
        let refused = email("email", &wide(63)).unwrap_err();
        assert_eq!(refused.param(), Some("email"));
        // U+1F88 folds to two letters: 3 bytes become 5. At 254 bytes the marker's key
        // fits; at 254 characters (750 bytes) it would not, and is refused.
        let growing = |n: usize| format!("{}@ex.co", "\u{1f88}".repeat(n));
        let stored = email("email", &growing(82)).unwrap();
        assert!(crate::table::keys::email_sk(&stored).len() <= 1024);
        assert!(crate::table::keys::email_sk(&growing(248)).len() > 1024);
        assert!(email("email", &growing(248)).is_err());
        // A `search` email is at most 200 characters: its marker's key always fits.
        let searched = format!("{}@x", "\u{1f88}".repeat(198));
        assert!(crate::table::keys::email_sk(&searched).len() <= 1024);
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "sophie@example.com", "x.y+z@sub.example.nl"] {
            assert!(email("email", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a@.b.com",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn currencies_and_lengths() {
        assert_eq!(currency("deal_currency", "EUR").unwrap(), "EUR");
        assert!(currency("deal_currency", "eur").is_err());
        assert!(currency("deal_currency", "EURO").is_err());
        assert!(currency("deal_currency", "ABC").is_err());
        assert!(required_text("name", "  ", 10).is_err());
        for one_line in ["a\0b", "a\nb", "a\tb", "a\u{1b}[31m", "a\u{85}b"] {
            assert!(text("name", one_line, MAX_SHORT).is_err(), "{one_line:?}");
        }
        assert!(text("notes", "line one\r\nline two\tend", MAX_TEXT).is_ok());
        assert!(text("notes", "a\0b", MAX_TEXT).is_err());
        assert!(text("name", &"x".repeat(11), 10)
            .unwrap_err()
            .to_string()
            .contains("`name`"));
        assert_eq!(optional_text("role", Some("  "), 10).unwrap(), None);
    }

    #[test]
    fn amounts_are_what_dynamodb_stores() {
        let number = |raw: &str| serde_json::from_str::<serde_json::Number>(raw).unwrap();
        for good in ["0", "0.0", "45000", "62000.5", "1e-129", "1e15"] {
            assert!(amount("deal_size", &number(good), 1e15).is_ok(), "{good}");
        }
        for bad in [
            "-1",
            "1e-131",
            "1.382416308893027e-167",
            "5e-324",
            "1.0000001e15",
        ] {
            let err = amount("deal_size", &number(bad), 1e15).unwrap_err();
            assert_eq!(err.code(), "invalid_body");
            assert!(err.to_string().contains("`deal_size`"), "{bad}: {err}");
        }
    }
}
