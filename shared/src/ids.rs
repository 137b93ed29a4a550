//! Identifiers. Ids are UUIDv7, so that sort keys built from them order items by creation
//! time. An id has one spelling, the one the API writes: 36 characters, lowercase,
//! hyphenated. The `uuid` crate also reads it without hyphens, in braces, as a URN and in
//! upper case, which would give one resource five paths and five idempotency fingerprints.

use uuid::Uuid;

pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// `raw` as an id, if it is spelled as the API writes ids.
pub fn parse(raw: &str) -> Option<Uuid> {
    Uuid::try_parse(raw)
        .ok()
        .filter(|id| id.hyphenated().encode_lower(&mut Uuid::encode_buffer()) == raw)
}

/// An id read from a request body: only in the spelling the API writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Id(Uuid);

impl Id {
    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl From<Id> for Uuid {
    fn from(id: Id) -> Self {
        id.0
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Spelled;
        impl serde::de::Visitor<'_> for Spelled {
            type Value = Id;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an id: 36 characters, lowercase and hyphenated")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Id, E> {
                parse(raw)
                    .map(Id)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(raw), &self))
            }
        }
        deserializer.deserialize_str(Spelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_has_one_spelling() {
        let canonical = "0193a7c2-5b1e-7d7a-9c3e-2f4b8a6d1e90".to_string();
        let id = Uuid::try_parse(&canonical).unwrap();
        assert_eq!(parse(&canonical), Some(id));
        for other in [
            id.simple().to_string(),
            id.urn().to_string(),
            id.braced().to_string(),
            canonical.to_uppercase(),
            format!(" {canonical}"),
        ] {
            assert_eq!(parse(&other), None, "{other}");
            assert!(serde_json::from_value::<Id>(other.clone().into()).is_err());
        }
        let read: Id = serde_json::from_value(canonical.into()).unwrap();
        assert_eq!(read.uuid(), id);
    }
}
