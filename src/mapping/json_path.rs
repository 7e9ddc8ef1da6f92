//! Dotted paths into application JSON (`user`, `meta.total`, `profile.first_name`): parsed once,
//! used to read records out of answers and to write fields into request bodies.

use serde_json::{Map, Value};

/// A parsed dotted path; the empty path means the value itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPath(Vec<String>);

impl JsonPath {
    /// Parses `a.b.c`. Empty segments (`a..b`, a leading or trailing dot) are errors.
    pub fn parse(s: &str) -> Result<JsonPath, String> {
        if s.is_empty() {
            return Ok(JsonPath(Vec::new()));
        }
        let segments: Vec<String> = s.split('.').map(str::to_string).collect();
        if segments.iter().any(String::is_empty) {
            return Err(format!("`{s}` has an empty segment"));
        }
        Ok(JsonPath(segments))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The value at this path, if every step is an object with that key.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.0
            .iter()
            .try_fold(value, |v, seg| v.as_object()?.get(seg))
    }

    /// Removes and returns the value at this path (moves a record out of an answer, no clone).
    pub fn take(&self, value: &mut Value) -> Option<Value> {
        let Some((last, parents)) = self.0.split_last() else {
            return Some(value.take());
        };
        let mut cur = value;
        for seg in parents {
            cur = cur.as_object_mut()?.get_mut(seg)?;
        }
        cur.as_object_mut()?.remove(last)
    }

    /// Sets the value at this path, creating objects on the way (replacing non-objects).
    pub fn set(&self, target: &mut Value, new: Value) {
        let Some((last, parents)) = self.0.split_last() else {
            *target = new;
            return;
        };
        let mut cur = target;
        for seg in parents {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            cur = cur
                .as_object_mut()
                .expect("just made an object")
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur.as_object_mut()
            .expect("just made an object")
            .insert(last.clone(), new);
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// A JSON value's kind as messages name it ("a string", "an object", …).
pub fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_set_take() {
        let p = JsonPath::parse("meta.total").unwrap();
        let mut v = json!({"meta": {"total": 3}});
        assert_eq!(p.get(&v), Some(&json!(3)));
        p.set(&mut v, json!(4));
        assert_eq!(v, json!({"meta": {"total": 4}}));
        let mut empty = json!({});
        JsonPath::parse("a.b").unwrap().set(&mut empty, json!("x"));
        assert_eq!(empty, json!({"a": {"b": "x"}}));
        assert_eq!(p.take(&mut v), Some(json!(4)));
        assert_eq!(v, json!({"meta": {}}));
        assert!(JsonPath::parse("a..b").is_err());
        assert!(JsonPath::parse("").unwrap().is_root());
    }
}
