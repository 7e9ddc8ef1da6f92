//! List query parameters and paging (RFC 7644 §3.4.2, §3.4.2.4) and ListResponse rendering.
//!
//! Rules real clients rely on: `startIndex` is 1-based (values < 1 mean 1); `count` is clamped to
//! `[0, max_results]` (missing means the default); `itemsPerPage` is the number of resources
//! actually returned, never more than `count`; numbers are integers.

use crate::error::{Error, Result};
use crate::scim::LIST_RESPONSE_SCHEMA;
use crate::scim::filter::{self, AttrPath, Filter};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::borrow::Cow;

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
///
/// Empty values (`count=`) count as missing. When a parameter repeats, the last one wins.
pub fn parse_query(
    raw: Option<&str>,
    default_count: usize,
    max_results: usize,
) -> Result<ListQuery> {
    let mut filter_text: Option<String> = None;
    let mut start_text: Option<String> = None;
    let mut count_text: Option<String> = None;
    let mut attributes_text: Option<String> = None;
    let mut excluded_text: Option<String> = None;

    for piece in raw.unwrap_or("").split('&') {
        if piece.is_empty() {
            // OneLogin leaves a trailing `&`; `a=1&&b=2` is harmless too.
            continue;
        }
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        // Names are decoded too, so `start%49ndex` is as good as `startIndex`; an undecodable
        // name cannot be one we know, so it is ignored like any unknown parameter.
        let Ok(name) = decode(raw_name) else {
            continue;
        };
        let slot = if name.eq_ignore_ascii_case("filter") {
            &mut filter_text
        } else if name.eq_ignore_ascii_case("startIndex") {
            &mut start_text
        } else if name.eq_ignore_ascii_case("count") {
            &mut count_text
        } else if name.eq_ignore_ascii_case("attributes") {
            &mut attributes_text
        } else if name.eq_ignore_ascii_case("excludedAttributes") {
            &mut excluded_text
        } else {
            continue;
        };
        let value = decode(raw_value).map_err(|()| {
            let msg = format!("the query parameter `{name}` is not valid UTF-8 once decoded");
            if name.eq_ignore_ascii_case("filter") {
                Error::invalid_filter(msg)
            } else {
                Error::invalid_value(msg)
            }
        })?;
        *slot = Some(value);
    }

    let filter = match filter_text.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(filter::parse_filter(text)?),
    };

    let start_index = match parse_int("startIndex", start_text.as_deref())? {
        None => 1,
        // Below 1 means 1 (RFC 7644 §3.4.2.4).
        Some(n) if n < 1 => 1,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };

    let count = match parse_int("count", count_text.as_deref())? {
        None => default_count.min(max_results),
        // Negative means 0 (RFC 7644 §3.4.2.4).
        Some(n) if n < 0 => 0,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(max_results),
    };

    Ok(ListQuery {
        filter,
        start_index,
        count,
        attributes: parse_attr_list(attributes_text.as_deref())?,
        excluded_attributes: parse_attr_list(excluded_text.as_deref())?,
    })
}

/// Percent-decodes one query component, with `+` meaning a space (form encoding). A literal `+`
/// arrives as `%2B`, so turning `+` into a space first is safe.
fn decode(raw: &str) -> std::result::Result<String, ()> {
    let spaced: Cow<'_, str> = if raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| ())
}

/// Parses an optional integer parameter. Absent or blank → `None`. Values outside `i64` saturate,
/// so an absurd `count` is clamped rather than refused.
fn parse_int(name: &str, text: Option<&str>) -> Result<Option<i64>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let (negative, digits) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_value(format!(
            "`{name}` must be an integer, got `{text}`"
        )));
    }
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX);
    Ok(Some(if negative { -magnitude } else { magnitude }))
}

/// Parses a comma-separated attribute list (`userName, name.givenName`); blank entries skipped.
fn parse_attr_list(text: Option<&str>) -> Result<Vec<AttrPath>> {
    text.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(filter::parse_attr_path)
        .collect()
}

/// Renders a ListResponse for one page of already-projected resources.
pub fn list_response(resources: Vec<Value>, total_results: usize, start_index: usize) -> Value {
    let items = resources.len();
    let mut body = json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": items,
    });
    // Moved in, not through `json!`: that would serialise every resource into a copy.
    if let Some(obj) = body.as_object_mut() {
        obj.insert("Resources".into(), Value::Array(resources));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::scim::filter::{CompValue, CompareOp};

    fn q(raw: &str) -> Result<ListQuery> {
        parse_query(Some(raw), 100, 200)
    }

    fn scim_type(e: &Error) -> Option<&'static str> {
        e.class().scim_type.map(ScimType::as_str)
    }

    fn user_name_eq(v: &str) -> Filter {
        Filter::Compare {
            path: AttrPath {
                urn: None,
                name: "userName".into(),
                sub: None,
            },
            op: CompareOp::Eq,
            value: CompValue::String(v.into()),
        }
    }

    fn attr(name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: sub.map(str::to_string),
        }
    }

    #[test]
    fn missing_query_gives_defaults() {
        let lq = parse_query(None, 50, 200).unwrap();
        assert_eq!(lq.start_index, 1);
        assert_eq!(lq.count, 50);
        assert!(lq.filter.is_none());
        assert!(lq.attributes.is_empty() && lq.excluded_attributes.is_empty());
        assert_eq!(parse_query(Some(""), 50, 200).unwrap(), lq);
        assert_eq!(parse_query(Some("&&"), 50, 200).unwrap(), lq);
    }

    #[test]
    fn default_count_never_exceeds_max_results() {
        assert_eq!(parse_query(None, 500, 200).unwrap().count, 200);
    }

    #[test]
    fn okta_paging_parameters() {
        let lq = q("startIndex=1&count=2").unwrap();
        assert_eq!((lq.start_index, lq.count), (1, 2));
        let lq = q("startIndex=101&count=100").unwrap();
        assert_eq!((lq.start_index, lq.count), (101, 100));
    }

    #[test]
    fn names_are_case_insensitive() {
        let lq = q("STARTINDEX=3&Count=4&ATTRIBUTES=userName&excludedattributes=emails").unwrap();
        assert_eq!((lq.start_index, lq.count), (3, 4));
        assert_eq!(lq.attributes, vec![attr("userName", None)]);
        assert_eq!(lq.excluded_attributes, vec![attr("emails", None)]);
    }

    #[test]
    fn start_index_below_one_is_one() {
        assert_eq!(q("startIndex=0").unwrap().start_index, 1);
        assert_eq!(q("startIndex=-5").unwrap().start_index, 1);
        assert_eq!(q("startIndex=+7").unwrap().start_index, 7);
        assert_eq!(q("startIndex= 9 ").unwrap().start_index, 9);
    }

    #[test]
    fn count_is_clamped() {
        assert_eq!(q("count=-1").unwrap().count, 0);
        assert_eq!(q("count=0").unwrap().count, 0);
        assert_eq!(q("count=201").unwrap().count, 200);
        assert_eq!(q("count=200").unwrap().count, 200);
        assert_eq!(q("count=99999999999999999999999").unwrap().count, 200);
        assert_eq!(q("count=-99999999999999999999999").unwrap().count, 0);
    }

    #[test]
    fn empty_numbers_mean_missing() {
        let lq = q("startIndex=&count").unwrap();
        assert_eq!((lq.start_index, lq.count), (1, 100));
    }

    #[test]
    fn non_integer_numbers_are_invalid_value() {
        for raw in [
            "startIndex=abc",
            "count=1.5",
            "count=ten",
            "startIndex=-",
            "count=1e3",
            "count=0x10",
        ] {
            let e = q(raw).unwrap_err();
            assert_eq!(scim_type(&e), Some("invalidValue"), "{raw}");
        }
        let e = q("count=ten").unwrap_err();
        assert!(e.detail().contains("count"), "{}", e.detail());
        assert!(e.detail().contains("ten"), "{}", e.detail());
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let lq = q("aadOptscim062020&sortBy=userName&sortOrder=descending&count=5&x=%ZZ").unwrap();
        assert_eq!(lq.count, 5);
        assert!(lq.filter.is_none());
    }

    #[test]
    fn trailing_ampersand_is_fine() {
        let lq = q("startIndex=2&count=3&").unwrap();
        assert_eq!((lq.start_index, lq.count), (2, 3));
    }

    #[test]
    fn last_repeated_parameter_wins() {
        assert_eq!(q("count=3&count=4").unwrap().count, 4);
    }

    #[test]
    fn decode_handles_plus_and_percent() {
        assert_eq!(decode("a+b%20c").unwrap(), "a b c");
        assert_eq!(decode("a%2Bb").unwrap(), "a+b");
        assert_eq!(decode("%22a%40b.c%22").unwrap(), "\"a@b.c\"");
        assert_eq!(decode("%").unwrap(), "%");
        assert!(decode("%FF%FE").is_err());
    }

    #[test]
    fn filter_with_percent_encoding() {
        let lq = q("filter=userName%20eq%20%22a%40b.c%22&startIndex=1&count=100").unwrap();
        assert_eq!(lq.filter, Some(user_name_eq("a@b.c")));
    }

    #[test]
    fn filter_with_plus_for_spaces() {
        let lq = q("filter=userName+eq+\"a\"&").unwrap();
        assert_eq!(lq.filter, Some(user_name_eq("a")));
        let lq = q("FILTER=userName+eq+%22a%2Bb%40c%22").unwrap();
        assert_eq!(lq.filter, Some(user_name_eq("a+b@c")));
    }

    #[test]
    fn blank_filter_is_no_filter() {
        assert!(q("filter=").unwrap().filter.is_none());
        assert!(q("filter=++").unwrap().filter.is_none());
    }

    #[test]
    fn bad_filter_is_invalid_filter() {
        let e = q("filter=userName+eq").unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidFilter"));
        let e = q("filter=%FF").unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidFilter"));
    }

    #[test]
    fn non_utf8_number_is_invalid_value() {
        let e = q("count=%FF").unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidValue"));
    }

    #[test]
    fn attribute_lists_are_split_and_trimmed() {
        let lq =
            q("attributes=userName,+name.givenName+,,emails&excludedAttributes=members").unwrap();
        assert_eq!(
            lq.attributes,
            vec![
                attr("userName", None),
                attr("name", Some("givenName")),
                attr("emails", None)
            ]
        );
        assert_eq!(lq.excluded_attributes, vec![attr("members", None)]);
        let lq = q("attributes=urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Aextension%3Aenterprise%3A2.0%3AUser%3Adepartment").unwrap();
        assert_eq!(
            lq.attributes,
            vec![AttrPath {
                urn: Some(crate::scim::ENTERPRISE_USER_SCHEMA.into()),
                name: "department".into(),
                sub: None,
            }]
        );
    }

    #[test]
    fn bad_attribute_list_is_invalid_path() {
        let e = q("attributes=userName,na%20me").unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidPath"));
        let e = q("excludedAttributes=emails[type eq \"work\"]").unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidPath"));
    }

    #[test]
    fn list_response_counts_what_it_holds() {
        let r = list_response(vec![json!({"id": "1"}), json!({"id": "2"})], 10, 3);
        assert_eq!(r["schemas"][0], LIST_RESPONSE_SCHEMA);
        assert_eq!(r["totalResults"], 10);
        assert_eq!(r["startIndex"], 3);
        assert_eq!(r["itemsPerPage"], 2);
        assert_eq!(r["Resources"].as_array().unwrap().len(), 2);
        let r = list_response(vec![], 0, 1);
        assert_eq!(r["itemsPerPage"], 0);
        assert_eq!(r["Resources"], json!([]));
    }
}
