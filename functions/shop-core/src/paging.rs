//! Cursor paging: `?limit=` (1–100, default 20) and an opaque `?cursor=`,
//! newest first. The cursor is the last item's ObjectId, base64url-encoded.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mongodb::bson::oid::ObjectId;
use serde::Serialize;

use crate::http::Query;
use crate::validation::Errors;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageParams {
    pub limit: u32,
    /// Only items with an id below this one (older) belong to the page.
    pub before: Option<ObjectId>,
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
    /// Reads `limit` and `cursor`, recording what is wrong with them.
    pub fn from_query(query: &Query, errors: &mut Errors) -> Self {
        let mut params = Self::default();
        if let Some(limit) = query.single("limit", errors) {
            match limit.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) && !limit.starts_with('+') => {
                    params.limit = n
                }
                _ => errors.push("limit", format!("must be an integer from 1 to {MAX_LIMIT}")),
            }
        }
        if let Some(cursor) = query.single("cursor", errors) {
            match decode_cursor(cursor) {
                Some(id) => params.before = Some(id),
                None => errors.push("cursor", "is not a cursor this API issued"),
            }
        }
        params
    }

    /// How many items to fetch: one more than the page, to learn whether
    /// another page follows.
    pub fn fetch(&self) -> usize {
        self.limit as usize + 1
    }
}

fn decode_cursor(cursor: &str) -> Option<ObjectId> {
    let bytes: [u8; 12] = URL_SAFE_NO_PAD.decode(cursor).ok()?.try_into().ok()?;
    Some(ObjectId::from_bytes(bytes))
}

fn encode_cursor(id: ObjectId) -> String {
    URL_SAFE_NO_PAD.encode(id.bytes())
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
        id: impl Fn(&T) -> ObjectId,
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

    fn parse(query: &str) -> Result<PageParams, Vec<String>> {
        let query = Query::parse(query);
        let mut errors = Errors::default();
        let params = PageParams::from_query(&query, &mut errors);
        match errors.finish_request() {
            Ok(()) => Ok(params),
            Err(crate::error::ApiError::InvalidRequest(list)) => {
                Err(list.into_iter().map(|e| e.field).collect())
            }
            Err(other) => panic!("{other:?}"),
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
        let id = ObjectId::new();
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
        let ids: Vec<ObjectId> = (0..3).map(|_| ObjectId::new()).collect();
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
