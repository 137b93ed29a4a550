//! One style for enums with wire names: [`wire_enum!`] gives each variant one name, used
//! alike by serde (JSON bodies, stored items), query strings, keys and counters.

/// Defines an enum whose variants each have one wire name, with `ALL` (every variant, in
/// order), `as_str` and `parse`, and serde that reads and writes the same names. It reads
/// strings only: serde's derived enums also take the tagged form `{"sales": null}`, one
/// more spelling of each value.
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant ),+
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Name;
                impl serde::de::Visitor<'_> for Name {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<$name, E> {
                        $name::parse(raw).ok_or_else(|| E::unknown_variant(raw, &[$($wire),+]))
                    }
                }
                deserializer.deserialize_str(Name)
            }
        }

        impl $name {
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.as_str() == raw)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    wire_enum! {
        enum Sample {
            First = "first",
            SecondOne = "second_one",
        }
    }

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for value in Sample::ALL {
            assert_eq!(Sample::parse(value.as_str()), Some(value));
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(serde_json::from_str::<Sample>(&json).unwrap(), value);
        }
        assert_eq!(Sample::parse("Second_One"), None);
    }

    #[test]
    fn only_strings_name_a_value() {
        for tagged in [r#"{"first": null}"#, r#"["first"]"#, "0", "null"] {
            let err = serde_json::from_str::<Sample>(tagged).unwrap_err();
            assert!(
                err.to_string().contains("expected a string"),
                "{tagged}: {err}"
            );
        }
        let err = serde_json::from_str::<Sample>(r#""third""#).unwrap_err();
        assert!(
            err.to_string().contains("expected `first` or `second_one`"),
            "{err}"
        );
    }
}
