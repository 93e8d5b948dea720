//! A JSON value written as block-style YAML. YAML 1.2 is a superset of
//! JSON, so the only care needed is which strings may go unquoted: anything
//! that could read as another type, or holds a character YAML gives a
//! meaning, is written as a JSON string (whose escapes YAML's double-quoted
//! strings share).

use serde_json::Value;

pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => block(value, 0, &mut out),
        Value::Array(items) if !items.is_empty() => block(value, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

/// A non-empty object or array, each entry on its own line at `indent`.
fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                out.push_str(&pad);
                out.push_str(&string(key));
                out.push(':');
                entry(v, indent + 2, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                out.push_str(&pad);
                out.push('-');
                match v {
                    // An object's first key goes on the dash's line.
                    Value::Object(map) if !map.is_empty() => {
                        let mut inner = String::new();
                        block(v, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(&inner[indent + 2..]);
                    }
                    _ => entry(v, indent + 2, out),
                }
            }
        }
        _ => {}
    }
}

/// What follows `key:` or `-`: a scalar on the same line, or a block below.
fn entry(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            block(value, indent, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            block(value, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Plain when it cannot be misread, else a JSON (double-quoted) string.
fn string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./-".contains(c))
        && !s.ends_with(' ')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml() {
        let value = json!({
            "openapi": "3.1.0",
            "paths": {"/v1/{name}": {"get": {"tags": ["a.B"], "x": [], "y": {}}}},
            "list": [{"a": 1, "b": [true, null]}, "s", [1, 2]],
            "odd": ["", "true", "No", "1", "a: b", "#x", "-x", "é", "line\nbreak", " x", "x "],
        });
        let yaml = to_yaml(&value);
        assert_eq!(
            yaml,
            r##"openapi: "3.1.0"
paths:
  "/v1/{name}":
    get:
      tags:
        - a.B
      x: []
      "y": {}
list:
  - a: 1
    b:
      - true
      - null
  - s
  -
    - 1
    - 2
odd:
  - ""
  - "true"
  - "No"
  - "1"
  - "a: b"
  - "#x"
  - "-x"
  - "é"
  - "line\nbreak"
  - " x"
  - "x "
"##
        );
    }
}
