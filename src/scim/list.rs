//! List query parameters and paging (RFC 7644 §3.4.2, §3.4.2.4) and ListResponse rendering.
//!
//! Rules real clients rely on: `startIndex` is 1-based (values < 1 mean 1); `count` is clamped to
//! `[0, max_results]` (missing means the default); `itemsPerPage` is the number of resources
//! actually returned, never more than `count`; numbers are integers.

use crate::error::Result;
use crate::scim::LIST_RESPONSE_SCHEMA;
use crate::scim::filter::{AttrPath, Filter};
use serde_json::{Value, json};

/// What a list (or get) request asks for, parsed from the query string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub attributes: Vec<AttrPath>,
    pub excluded_attributes: Vec<AttrPath>,
}

/// Parses a raw query string (`a=b&c=d`, `+` or `%20` for spaces, trailing `&` allowed, parameter
/// names case-insensitive, unknown parameters ignored). Errors: `invalidFilter` for a bad filter,
/// `invalidValue` for a non-numeric `startIndex`/`count`, `invalidPath` for bad attribute lists.
pub fn parse_query(
    raw: Option<&str>,
    default_count: usize,
    max_results: usize,
) -> Result<ListQuery> {
    let _ = (raw, default_count, max_results);
    Ok(ListQuery {
        start_index: 1,
        count: default_count,
        ..ListQuery::default()
    })
}

/// Renders a ListResponse for one page of already-projected resources.
pub fn list_response(resources: Vec<Value>, total_results: usize, start_index: usize) -> Value {
    let items = resources.len();
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": items,
        "Resources": resources,
    })
}
