//! Cursor paging: `?limit=` (1–100, default 20) and an opaque `?cursor=`,
//! newest first. The cursor is the last item's id (its twelve bytes),
//! base64url-encoded.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::validation::Errors;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageParams {
    pub limit: u32,
    /// Only items with an id below this one (older) belong to the page.
    pub before: Option<[u8; 12]>,
}

impl Default for PageParams {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            before: None,
        }
    }
}

impl PageParams {
    /// Reads the `limit` parameter (1–[`MAX_LIMIT`]), recording what is wrong with it.
    pub fn read_limit(&mut self, limit: &str, errors: &mut Errors) {
        match limit.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) && !limit.starts_with('+') => self.limit = n,
            _ => errors.push("limit", format!("must be an integer from 1 to {MAX_LIMIT}")),
        }
    }

    /// Reads the `cursor` parameter, recording a cursor this API did not issue.
    pub fn read_cursor(&mut self, cursor: &str, errors: &mut Errors) {
        match decode_cursor(cursor) {
            Some(id) => self.before = Some(id),
            None => errors.push("cursor", "is not a cursor this API issued"),
        }
    }

    /// How many items to fetch: one more than the page, to learn whether
    /// another page follows.
    pub fn fetch(&self) -> usize {
        self.limit as usize + 1
    }
}

fn decode_cursor(cursor: &str) -> Option<[u8; 12]> {
    URL_SAFE_NO_PAD.decode(cursor).ok()?.try_into().ok()
}

fn encode_cursor(id: [u8; 12]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// One page of a listing, as the API writes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `params.fetch()` items sorted newest first.
    pub fn from_fetched(
        mut items: Vec<T>,
        params: &PageParams,
        id: impl Fn(&T) -> [u8; 12],
    ) -> Self {
        let more = items.len() > params.limit as usize;
        items.truncate(params.limit as usize);
        let next_cursor = more
            .then(|| items.last().map(|last| encode_cursor(id(last))))
            .flatten();
        Self { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `limit=…&cursor=…` (each at most once, as the API's query reader
    /// hands them over).
    fn parse(query: &str) -> Result<PageParams, Vec<String>> {
        let value = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        };
        let mut errors = Errors::default();
        let mut params = PageParams::default();
        if let Some(limit) = value("limit") {
            params.read_limit(limit, &mut errors);
        }
        if let Some(cursor) = value("cursor") {
            params.read_cursor(cursor, &mut errors);
        }
        let fields: Vec<String> = errors.into_fields().into_iter().map(|e| e.field).collect();
        if fields.is_empty() {
            Ok(params)
        } else {
            Err(fields)
        }
    }

    #[test]
    fn limit_is_1_to_100_with_20_by_default() {
        assert_eq!(parse("").unwrap().limit, 20);
        assert_eq!(parse("limit=1").unwrap().limit, 1);
        assert_eq!(parse("limit=100").unwrap().limit, 100);
        for bad in [
            "limit=0",
            "limit=101",
            "limit=abc",
            "limit=",
            "limit=-1",
            "limit=2.5",
            "limit=+5",
        ] {
            assert_eq!(parse(bad).unwrap_err(), ["limit"], "{bad}");
        }
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let id = crate::ProductId::new().bytes();
        let params = parse(&format!("cursor={}", encode_cursor(id))).unwrap();
        assert_eq!(params.before, Some(id));
        for bad in [
            "cursor=",
            "cursor=abc",
            "cursor=%24%24%24",
            "cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(parse(bad).unwrap_err(), ["cursor"], "{bad}");
        }
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        assert_eq!(parse("limit=0&cursor=x").unwrap_err(), ["limit", "cursor"]);
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_items_follow() {
        let ids: Vec<[u8; 12]> = (0..3).map(|_| crate::OrderId::new().bytes()).collect();
        let params = PageParams {
            limit: 2,
            before: None,
        };
        let page = Page::from_fetched(ids.clone(), &params, |id| *id);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, Some(encode_cursor(ids[1])));
        let last = Page::from_fetched(ids[..2].to_vec(), &params, |id| *id);
        assert_eq!(last.next_cursor, None);
    }
}
