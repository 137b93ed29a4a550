//! `page` and `per_page`, validated, and the `meta` object of list responses.

use serde::Serialize;

use crate::ApiError;

pub const DEFAULT_PER_PAGE: u32 = 25;
pub const MAX_PER_PAGE: u32 = 100;
/// Offset pages reach this many items at most (`page × per_page`): each deeper page would
/// read every item before it. Cursors have no such bound.
pub const OFFSET_WINDOW: u64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageParams {
    pub page: u32,
    pub per_page: u32,
}

impl PageParams {
    /// The page a client asked for with the raw `page` and `per_page` values, if any.
    pub fn parse(page: Option<String>, per_page: Option<String>) -> Result<Self, ApiError> {
        let page = parse_bounded(page, "page", 1, u32::MAX, 1)?;
        let per_page = parse_bounded(per_page, "per_page", 1, MAX_PER_PAGE, DEFAULT_PER_PAGE)?;
        if u64::from(page) * u64::from(per_page) > OFFSET_WINDOW {
            return Err(ApiError::query(
                "page",
                format_args!(
                    "reaches the first {OFFSET_WINDOW} items only (page × per_page ≤ {OFFSET_WINDOW}). \
                     To read further, follow `meta.next_cursor` with the `cursor` parameter."
                ),
            ));
        }
        Ok(Self { page, per_page })
    }

    /// How many items precede this page.
    pub fn offset(&self) -> usize {
        (self.page as usize - 1) * self.per_page as usize
    }

    /// This page of an already complete, ordered list.
    pub fn slice<T: Clone>(&self, items: &[T]) -> Vec<T> {
        items
            .iter()
            .skip(self.offset())
            .take(self.per_page as usize)
            .cloned()
            .collect()
    }

    pub fn meta(&self, total: usize) -> Meta {
        Meta {
            total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

fn parse_bounded(
    raw: Option<String>,
    name: &str,
    min: u32,
    max: u32,
    default: u32,
) -> Result<u32, ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    raw.parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            ApiError::query(
                name,
                format_args!("must be an integer from {min} to {max}."),
            )
        })
}

/// Where a listing starts: an offset page, or after the item a cursor names.
pub enum Position {
    Page(PageParams),
    After {
        cursor: Option<Cursor>,
        per_page: u32,
    },
}

/// The item a keyset page starts after. Listings ordered by pool expiry also carry that
/// item's expiry, since their order is by it and the item may have moved since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub id: uuid::Uuid,
    pub at: Option<time::OffsetDateTime>,
}

impl From<uuid::Uuid> for Cursor {
    fn from(id: uuid::Uuid) -> Self {
        Self { id, at: None }
    }
}

impl Position {
    /// From the raw `cursor`, `page` and `per_page`; a cursor and a page together are
    /// refused.
    pub fn parse(
        cursor: Option<String>,
        page: Option<String>,
        per_page: Option<String>,
    ) -> Result<Self, ApiError> {
        let has_page = page.is_some();
        let page = PageParams::parse(page, per_page)?;
        match cursor {
            Some(_) if has_page => Err(ApiError::query(
                "cursor",
                "cannot be used with `page`: use one or the other.",
            )),
            Some(raw) => Ok(Position::After {
                cursor: Some(decode_cursor(&raw)?),
                per_page: page.per_page,
            }),
            None => Ok(Position::Page(page)),
        }
    }

    /// A list response's `meta`: `page` only for offset pages.
    pub fn meta<C: Into<Cursor>>(&self, total: u64, next_cursor: Option<C>) -> serde_json::Value {
        let next_cursor = next_cursor.map(|c| encode_cursor(c.into()));
        match self {
            Position::Page(page) => serde_json::json!({
                "total": total, "page": page.page, "per_page": page.per_page, "next_cursor": next_cursor
            }),
            Position::After { per_page, .. } => serde_json::json!({
                "total": total, "per_page": per_page, "next_cursor": next_cursor
            }),
        }
    }

    /// This page of a complete list in a stable order, and the next page's cursor: the id
    /// of this page's last item. A cursor naming an item no longer in the list is a 400,
    /// since its place in the order is gone with it.
    pub fn page_of<T>(
        &self,
        all: Vec<T>,
        id: impl Fn(&T) -> uuid::Uuid,
    ) -> Result<(Vec<T>, Option<uuid::Uuid>), ApiError> {
        let (skip, per_page, after) = self.bounds();
        let start = match after {
            Some(after) => 1 + all.iter().position(|item| id(item) == after).ok_or_else(|| {
                ApiError::query("cursor", "names an item that is no longer in this list; list again from the first page.")
            })?,
            None => skip,
        };
        let mut items: Vec<T> = all.into_iter().skip(start).take(per_page + 1).collect();
        let next_cursor = (items.len() > per_page).then(|| id(&items[per_page - 1]));
        items.truncate(per_page);
        Ok((items, next_cursor))
    }

    /// How many items to skip, how many to return, and the id the page starts after.
    pub fn bounds(&self) -> (usize, usize, Option<uuid::Uuid>) {
        let (skip, per_page, after) = self.bounds_at();
        (skip, per_page, after.map(|c| c.id))
    }

    /// As [`Self::bounds`], with the whole cursor.
    pub fn bounds_at(&self) -> (usize, usize, Option<Cursor>) {
        match self {
            Position::Page(page) => (page.offset(), page.per_page as usize, None),
            Position::After { cursor, per_page } => (0, *per_page as usize, *cursor),
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Meta {
    pub total: usize,
    pub page: u32,
    pub per_page: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<PageParams, ApiError> {
        let value = |name: &str| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        PageParams::parse(value("page"), value("per_page"))
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            parse("").unwrap(),
            PageParams {
                page: 1,
                per_page: 25
            }
        );
        assert_eq!(
            parse("page=3&per_page=100").unwrap(),
            PageParams {
                page: 3,
                per_page: 100
            }
        );
        for bad in [
            "page=0",
            "page=-1",
            "page=x",
            "per_page=0",
            "per_page=101",
            "per_page=1.5",
        ] {
            assert_eq!(parse(bad).unwrap_err().code(), "invalid_query", "{bad}");
        }
    }

    #[test]
    fn offset_pages_stop_at_the_window_and_point_to_cursor() {
        for within in ["page=100&per_page=100", "page=10000&per_page=1", "page=400"] {
            assert!(parse(within).is_ok(), "{within}");
        }
        for beyond in [
            "page=101&per_page=100",
            "page=10001&per_page=1",
            "page=401",
            "page=42000000",
            "page=4294967295&per_page=100",
        ] {
            let err = parse(beyond).unwrap_err();
            assert_eq!(err.code(), "invalid_query", "{beyond}");
            assert!(err.to_string().contains("`cursor`"), "{err}");
        }
        assert_eq!(
            parse("page=4294967296").unwrap_err().code(),
            "invalid_query"
        );
    }

    #[test]
    fn slices_pages() {
        let items: Vec<u32> = (1..=7).collect();
        let p = PageParams {
            page: 2,
            per_page: 3,
        };
        assert_eq!(p.slice(&items), vec![4, 5, 6]);
        assert_eq!(
            p.meta(7),
            Meta {
                total: 7,
                page: 2,
                per_page: 3
            }
        );
        assert!(PageParams {
            page: 9,
            per_page: 3
        }
        .slice(&items)
        .is_empty());
    }
}

/// Keyset cursors are opaque to clients: the last item they saw, versioned.
pub fn encode_cursor(after: Cursor) -> String {
    use base64::Engine;
    let text = match after.at {
        None => format!("v1:{}", after.id),
        Some(at) => format!("v1:{}@{}", after.id, at.unix_timestamp_nanos()),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

pub fn decode_cursor(raw: &str) -> Result<Cursor, ApiError> {
    use base64::Engine;
    let parse = |text: &str| -> Option<Cursor> {
        let text = text.strip_prefix("v1:")?;
        let (id, at) = match text.split_once('@') {
            None => (text, None),
            Some((id, nanos)) => (
                id,
                Some(time::OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().ok()?).ok()?),
            ),
        };
        Some(Cursor {
            id: crate::ids::parse(id)?,
            at,
        })
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| parse(&text))
        .ok_or_else(|| ApiError::query("cursor", "is not a cursor this API issued."))
}

#[cfg(test)]
mod cursor_tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_malformed_strings() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id.into())).unwrap(), id.into());
        let at = time::macros::datetime!(2026-11-29 20:24:31.123456789 UTC);
        let with_expiry = Cursor { id, at: Some(at) };
        assert_eq!(
            decode_cursor(&encode_cursor(with_expiry)).unwrap(),
            with_expiry
        );
        let forged = |text: &str| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
        };
        for bad in [
            "abc".to_string(),
            String::new(),
            forged(&format!("v1:{id}@")),
            forged(&format!("v1:{id}@x")),
            forged(&format!("v1:{id}@{}", i128::MAX)),
            forged(&format!("v2:{id}")),
        ] {
            assert!(decode_cursor(&bad).is_err(), "{bad}");
        }
    }
}
