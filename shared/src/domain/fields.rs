//! Request fields as types, parsed once, at the edge: a body deserializes straight into
//! them, so a value that breaks a field's rule never reaches the domain, and the error
//! names the field (the body's reader knows its path). Each rule lives here, once.
//!
//! A rule's message travels inside serde's error behind [`RULE`], which tells the body's
//! reader to state it as the field's own ("Field `email` must be a valid email address.")
//! rather than as a type mismatch.

use std::fmt;

use serde::{de, Deserialize, Deserializer};

/// Marks a field rule's message inside a serde error.
pub const RULE: &str = "\u{1}rule:";

fn refuse<E: de::Error>(problem: impl fmt::Display) -> E {
    E::custom(format_args!("{RULE}{problem}"))
}

/// Longest name, company, role or similar one-line field.
pub const MAX_SHORT: usize = 200;
/// Longest email, per RFC 5321: in bytes of UTF-8, and so in characters too.
pub const MAX_EMAIL: usize = 254;
pub const MAX_PHONE: usize = 50;
/// Longest free text (intake notes, contact notes, note content). Keeps items far below
/// DynamoDB's 400 KB limit. Only fields of this length may span lines.
pub const MAX_TEXT: usize = 10_000;
/// Longest URL a person gives for a profile.
pub const MAX_URL: usize = 500;

/// Implements `Deserialize` from a JSON string through the type's `parse`.
macro_rules! parsed_from_string {
    ($type:ident $(<const $param:ident: usize>)?) => {
        impl<'de $(, const $param: usize)?> Deserialize<'de> for $type$(<$param>)? {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(refuse)
            }
        }
    };
}

/// Trimmed text of at most `MAX` characters: one line, or, for free text ([`MAX_TEXT`]),
/// line breaks and tabs too; never other control characters (NUL, ESC, …): no person types
/// them, and they break the systems integrators copy these values into. It may be empty:
/// an optional field given `""` holds nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text<const MAX: usize>(String);

/// A name, company, role or city.
pub type Line = Text<MAX_SHORT>;
pub type Phone = Text<MAX_PHONE>;
/// Intake notes, contact notes, a note's content.
pub type Prose = Text<MAX_TEXT>;

impl<const MAX: usize> Text<MAX> {
    pub fn parse(value: &str) -> Result<Self, String> {
        let trimmed = value.trim();
        if trimmed.chars().count() > MAX {
            return Err(format!("is longer than {MAX} characters."));
        }
        let multiline = MAX >= MAX_TEXT;
        let refused = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
        if trimmed.chars().any(refused) {
            return Err(if multiline {
                "must not contain control characters other than line breaks and tabs.".into()
            } else {
                "must be one line, without control characters.".into()
            });
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
parsed_from_string!(Text<const MAX: usize>);

/// An optional field's value: nothing when empty.
impl<const MAX: usize> From<Text<MAX>> for Option<String> {
    fn from(text: Text<MAX>) -> Self {
        Some(text.0).filter(|text| !text.is_empty())
    }
}

/// [`Text`] that holds something: a required field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filled<const MAX: usize>(String);

/// A dossier's or a contact's name.
pub type Name = Filled<MAX_SHORT>;

impl<const MAX: usize> Filled<MAX> {
    pub fn parse(value: &str) -> Result<Self, String> {
        let Text(text) = Text::<MAX>::parse(value)?;
        if text.is_empty() {
            return Err("must not be empty.".into());
        }
        Ok(Self(text))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}
parsed_from_string!(Filled<const MAX: usize>);

/// An email address, normalized: at most [`MAX_EMAIL`] bytes (RFC 5321 counts an address
/// in octets), which also keeps its marker's sort key, `EMAIL#` and the folded address (at
/// most three times as long: case folding expands some letters), under DynamoDB's 1,024
/// bytes. One `@`, a non-empty local part, a dotted domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, String> {
        let Text(value) = Text::<MAX_EMAIL>::parse(value)?;
        if value.len() > MAX_EMAIL {
            return Err(format!(
                "is longer than {MAX_EMAIL} bytes of UTF-8 (RFC 5321 counts octets)."
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
        if !valid {
            return Err("must be a valid email address.".into());
        }
        Ok(Self(crate::text::normalize(&value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}
parsed_from_string!(Email);

impl From<Email> for Option<String> {
    fn from(email: Email) -> Self {
        Some(email.0)
    }
}

/// ISO 4217 active currency codes.
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG";

/// An ISO 4217 currency code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(value: &str) -> Result<Self, String> {
        let code = value.trim();
        if code.len() == 3 && CURRENCIES.split(' ').any(|c| c == code) {
            Ok(Self(code.to_string()))
        } else {
            Err("must be an ISO 4217 currency code such as 'EUR'.".into())
        }
    }
}
parsed_from_string!(Currency);

impl From<Currency> for Option<String> {
    fn from(currency: Currency) -> Self {
        Some(currency.0)
    }
}

/// The smallest magnitude DynamoDB stores other than zero: a smaller number fails the
/// write (an underflow), so it must be refused before it reaches a transaction.
pub const DYNAMODB_MIN_MAGNITUDE: f64 = 1e-130;
/// The largest deal a dossier records.
pub const MAX_DEAL_SIZE: f64 = 1e15;

/// A deal's size: zero, or from [`DYNAMODB_MIN_MAGNITUDE`] (the smallest DynamoDB stores)
/// to [`MAX_DEAL_SIZE`]. JSON has no infinities or NaN, and an `f64` has at most 17
/// significant digits, well within DynamoDB's 38. It is read as a number, which a JSON body
/// writes as one and a form as text: each format's reader parses its own.
#[derive(Clone, Debug, PartialEq)]
pub struct DealSize(serde_json::Number);

impl DealSize {
    fn of(value: f64) -> Result<Self, String> {
        let storable = value == 0.0 || (DYNAMODB_MIN_MAGNITUDE..=MAX_DEAL_SIZE).contains(&value);
        if !storable {
            return Err(format!(
                "must be 0 or a number from 1e-130 to {MAX_DEAL_SIZE:e}."
            ));
        }
        // DynamoDB keeps a whole number whole (12.0 reads back as 12), and so does this.
        Ok(Self(if value.fract() == 0.0 {
            (value as u64).into()
        } else {
            serde_json::Number::from_f64(value).expect("a storable amount is finite")
        }))
    }
}

impl<'de> Deserialize<'de> for DealSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Amount;
        impl de::Visitor<'_> for Amount {
            type Value = DealSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DealSize, E> {
                if v as f64 > MAX_DEAL_SIZE {
                    return DealSize::of(f64::INFINITY).map_err(refuse);
                }
                Ok(DealSize(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DealSize, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => DealSize::of(v as f64).map_err(refuse),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DealSize, E> {
                DealSize::of(v).map_err(refuse)
            }
        }
        deserializer.deserialize_f64(Amount)
    }
}

impl From<DealSize> for Option<serde_json::Number> {
    fn from(size: DealSize) -> Self {
        Some(size.0)
    }
}

/// A LinkedIn profile's address, parsed as a URL: https, on linkedin.com or one of its
/// subdomains, without credentials or a port, and kept as the URL serializes (so that what
/// a page shows is what the parser understood, never markup or a script URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedInUrl(String);

impl LinkedInUrl {
    pub fn parse(value: &str) -> Result<Self, String> {
        let Text(value) = Text::<MAX_URL>::parse(value)?;
        let refused =
            || "must be an https URL on linkedin.com, such as https://www.linkedin.com/in/name.";
        let url = url::Url::parse(&value).map_err(|_| refused())?;
        let on_linkedin = url.host_str().is_some_and(|host| {
            host == "linkedin.com"
                || host
                    .strip_suffix(".linkedin.com")
                    .is_some_and(|sub| !sub.is_empty())
        });
        if url.scheme() != "https"
            || !on_linkedin
            || url.port().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(refused().into());
        }
        let stored = url.to_string();
        if stored.chars().count() > MAX_URL {
            return Err(format!(
                "is longer than {MAX_URL} characters once written as a URL."
            ));
        }
        Ok(Self(stored))
    }
}
parsed_from_string!(LinkedInUrl);

impl From<LinkedInUrl> for Option<String> {
    fn from(url: LinkedInUrl) -> Self {
        Some(url.0)
    }
}

/// An RFC 3339 instant from year 0000 to 9999, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instant(pub time::OffsetDateTime);

impl Instant {
    pub fn parse(value: &str) -> Result<Self, String> {
        crate::clock::parse(value)
            .map(Self)
            .ok_or_else(|| "must be an RFC 3339 timestamp from year 0000 to 9999 in UTC.".into())
    }
}
parsed_from_string!(Instant);

/// A field of a `PATCH` body: absent (left as it is), `null` (cleared) or a value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Null, Patch::Set))
    }
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    pub fn is_set(&self) -> bool {
        matches!(self, Patch::Set(_))
    }

    /// Changes `field` as the patch says: a value set may itself be nothing (`""` for an
    /// optional text).
    pub fn update<S>(self, field: &mut Option<S>)
    where
        T: Into<Option<S>>,
    {
        match self {
            Patch::Absent => {}
            Patch::Null => *field = None,
            Patch::Set(value) => *field = value.into(),
        }
    }
}

/// For a field that may be absent but not `null`:
/// `#[serde(default, deserialize_with = "not_null")]` on an `Option<T>`.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(deserializer)? {
        Some(value) => Ok(Some(value)),
        None => Err(refuse("cannot be null.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, String> {
        serde_json::from_str(json).map_err(|err| err.to_string())
    }

    #[test]
    fn an_email_is_bounded_in_bytes_and_its_marker_key_fits() {
        let wide = |n: usize| format!("{}@ex.co", "\u{1d400}".repeat(n));
        assert_eq!(wide(62).len(), 254);
        assert!(Email::parse(&wide(62)).is_ok());
        assert!(Email::parse(&wide(63)).unwrap_err().contains("bytes"));
        // U+1F88 folds to two letters: 3 bytes become 5. At 254 bytes the marker's key
        // fits; at 254 characters (750 bytes) it would not, and is refused.
        let growing = |n: usize| format!("{}@ex.co", "\u{1f88}".repeat(n));
        let stored = Email::parse(&growing(82)).unwrap();
        assert!(crate::table::keys::email_sk(stored.as_str()).len() <= 1024);
        assert!(crate::table::keys::email_sk(&growing(248)).len() > 1024);
        assert!(Email::parse(&growing(248)).is_err());
        // A `search` email is at most 200 characters: its marker's key always fits.
        let searched = format!("{}@x", "\u{1f88}".repeat(198));
        assert!(crate::table::keys::email_sk(&searched).len() <= 1024);
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "sophie@example.com", "x.y+z@sub.example.nl"] {
            assert!(Email::parse(good).is_ok(), "{good}");
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
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn currencies_and_lengths() {
        assert!(Currency::parse("EUR").is_ok());
        for bad in ["eur", "EURO", "ABC"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Name::parse("  ").unwrap_err(), "must not be empty.");
        for one_line in ["a\0b", "a\nb", "a\tb", "a\u{1b}[31m", "a\u{85}b"] {
            assert!(Line::parse(one_line).is_err(), "{one_line:?}");
        }
        assert!(Prose::parse("line one\r\nline two\tend").is_ok());
        assert!(Prose::parse("a\0b").is_err());
        assert!(Text::<10>::parse(&"x".repeat(11)).is_err());
        assert_eq!(Option::<String>::from(Line::parse("  ").unwrap()), None);
    }

    #[test]
    fn a_broken_rule_reaches_the_reader_marked_as_the_fields_own() {
        let err = read::<Email>("\"not an address\"").unwrap_err();
        assert!(
            err.starts_with(&format!("{RULE}must be a valid email address.")),
            "{err}"
        );
        let err = read::<Email>("7").unwrap_err();
        assert!(
            !err.starts_with(RULE),
            "a type mismatch is serde's own: {err}"
        );
    }

    #[test]
    fn deal_sizes_are_numbers_dynamodb_stores() {
        assert_eq!(read::<DealSize>("12").unwrap(), DealSize(12u64.into()));
        assert_eq!(read::<DealSize>("12.0").unwrap(), DealSize(12u64.into()));
        assert!(read::<DealSize>("12.5").is_ok());
        assert!(read::<DealSize>("0").is_ok());
        for refused in ["-1", "1e-131", "1e16", "18446744073709551615"] {
            let err = read::<DealSize>(refused).unwrap_err();
            assert!(err.starts_with(RULE), "{refused}: {err}");
        }
        assert!(
            read::<DealSize>("\"12\"").is_err(),
            "a JSON body writes numbers as numbers"
        );
    }

    #[test]
    fn patches_tell_absent_from_null_from_a_value() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            phone: Patch<Phone>,
            #[serde(default, deserialize_with = "not_null")]
            name: Option<Name>,
        }
        let body: Body = read("{}").unwrap();
        assert!(body.phone.is_absent() && body.name.is_none());
        let body: Body = read(r#"{"phone": null, "name": "Ada"}"#).unwrap();
        assert_eq!(body.phone, Patch::Null);
        let mut phone = Some("+31".to_string());
        body.phone.update(&mut phone);
        assert_eq!(phone, None);
        let body: Body = read(r#"{"phone": " "}"#).unwrap();
        let mut phone = Some("+31".to_string());
        body.phone.update(&mut phone);
        assert_eq!(phone, None, "an empty optional text holds nothing");
        let err = read::<Body>(r#"{"name": null}"#).err().unwrap();
        assert!(err.starts_with(&format!("{RULE}cannot be null.")), "{err}");
    }

    #[test]
    fn a_linkedin_url_is_an_https_url_on_linkedin_kept_as_parsed() {
        let parsed = |raw: &str| LinkedInUrl::parse(raw).map(|url| url.0);
        assert_eq!(
            parsed("https://www.linkedin.com/in/sophie").unwrap(),
            "https://www.linkedin.com/in/sophie"
        );
        assert_eq!(
            parsed("https://WWW.LinkedIn.com/in/sophie van dijk").unwrap(),
            "https://www.linkedin.com/in/sophie%20van%20dijk"
        );
        assert_eq!(
            parsed("https://linkedin.com").unwrap(),
            "https://linkedin.com/"
        );
        for refused in [
            r#"https://x"><svg/onload=alert(1)>"#,
            "http://javascript:alert(1)//",
            "javascript:alert(1)",
            "https://evil.example/login",
            "https://linkedin.com.evil.example/in/x",
            "https://evillinkedin.com/in/x",
            "https://.linkedin.com/in/x",
            "http://www.linkedin.com/in/x",
            "https://user:pass@www.linkedin.com/in/x",
            "https://www.linkedin.com:8443/in/x",
            "linkedin.com/in/x",
        ] {
            assert!(parsed(refused).is_err(), "{refused}");
        }
    }
}
