//! How text is compared: two strings a reader would call the same compare equal, however
//! they were typed. `José` typed with a precomposed `é` (NFC) or with `e` and a combining
//! accent (NFD) are one name, and case differences, including those that change length
//! (`ß`/`SS`), do not count.

use unicode_normalization::UnicodeNormalization;

/// The form used to compare, never to show: canonical caseless matching (Unicode §3.13,
/// D145: full case folding between canonical decompositions), recomposed to NFC so keys
/// stay short.
pub fn fold(text: &str) -> String {
    let decomposed: String = text.nfd().collect();
    caseless::default_case_fold_str(&decomposed).nfc().collect()
}

/// The words `text` is found by: folded, stripped of accents, split on everything that is
/// not a letter or digit. `José-María O'Brien` gives `jose`, `maria`, `o`, `brien`.
pub fn words(text: &str) -> Vec<String> {
    let plain: String = fold(text)
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect();
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

/// The form used to store and show: NFC, so what is returned is what is compared, byte for
/// byte, apart from case.
pub fn normalize(text: &str) -> String {
    text.nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonically_equal_and_case_different_text_folds_alike() {
        let nfc = "jos\u{e9}.garc\u{ed}a@example.com";
        let nfd = "jose\u{301}.garci\u{301}a@example.com";
        assert_ne!(nfc, nfd);
        assert_eq!(fold(nfc), fold(nfd));
        assert_eq!(
            fold("JOS\u{c9}@Example.COM"),
            fold(nfc.replace(".garc\u{ed}a", "").as_str())
        );
        assert_eq!(fold("STRASSE"), fold("stra\u{df}e"));
        assert_eq!(normalize(nfd), nfc);
        assert_ne!(fold("jose@example.com"), fold(nfc));
    }

    #[test]
    fn words_are_folded_unaccented_and_split_on_punctuation() {
        assert_eq!(
            words("Jos\u{e9}-Mar\u{ed}a O'Brien, STRASSE  x.y_z+w"),
            ["jose", "maria", "o", "brien", "strasse", "x", "y", "z", "w"]
        );
        assert!(words("  ").is_empty());
        assert_eq!(words("jose\u{301}"), ["jose"]);
    }
}
