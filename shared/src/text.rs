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

/// The most bytes of a word that count: a search entry's sort key is `SEARCH#`, the word,
/// `#` and a 36-character id, and DynamoDB refuses a sort key over 1,024 bytes. Folding
/// and decomposing can make a word of a 200-character field longer than that in bytes (a
/// Hangul syllable is 3 bytes, its 3 jamo 9), so words are cut to this at a character
/// boundary, stored and searched alike: a longer query still finds what begins the same.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html>
pub const MAX_WORD_BYTES: usize = 900;

/// The words `text` is found by: folded, stripped of accents, split on everything that is
/// not a letter or digit, each cut to [`MAX_WORD_BYTES`]. `José-María O'Brien` gives
/// `jose`, `maria`, `o`, `brien`.
pub fn words(text: &str) -> Vec<String> {
    let plain: String = fold(text)
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect();
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut end = word.len().min(MAX_WORD_BYTES);
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            word[..end].to_string()
        })
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

    /// What `fields::Email` relies on to keep an email marker's key under 1,024 bytes.
    #[test]
    fn folding_grows_text_at_most_threefold_in_bytes() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let mut buffer = [0; 4];
            let typed = c.encode_utf8(&mut buffer);
            assert!(fold(typed).len() <= 3 * typed.len(), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn a_word_is_cut_to_what_a_key_holds() {
        // 120 Hangul syllables: 360 bytes as typed, 1,080 as the jamo they decompose to.
        let name: String = std::iter::repeat_n('\u{d55c}', 120).collect();
        let words = words(&name);
        assert_eq!(words.len(), 1);
        assert!(words[0].len() <= MAX_WORD_BYTES && words[0].len() > MAX_WORD_BYTES - 4);
        // A query of the same name, or of its first 100 syllables, begins the stored word.
        let query: String = std::iter::repeat_n('\u{d55c}', 100).collect();
        assert!(words[0].starts_with(&super::words(&query)[0]));
    }

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
