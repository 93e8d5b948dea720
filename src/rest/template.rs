//! Path templates of `google.api.http` rules, by the grammar in
//! google/api/http.proto:
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! One parser for the three users: `openapi` (paths and parameters), the
//! client (a request's fields expanded into a path) and `serve` (a path
//! matched, its variables read back).

use std::fmt;

/// One segment of the flattened template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    Single,
    /// `**`: the rest of the path (zero or more segments); last only.
    Multi,
}

/// A `{field.path=pattern}` variable over segments `start..end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub field_path: Vec<String>,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub segments: Vec<Segment>,
    pub variables: Vec<Variable>,
    pub verb: Option<String>,
    /// The text it was parsed from.
    pub text: String,
}

/// Why a template does not parse: what was expected where.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters of a literal segment: anything but the grammar's own.
fn literal_char(c: char) -> bool {
    !matches!(c, '/' | '{' | '}' | '*' | ':' | '=' | '?' | '#') && !c.is_whitespace()
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn fail<T>(&self, expected: &str) -> Result<T, ParseError> {
        let found = match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "the end".to_string(),
        };
        Err(ParseError(format!(
            "path template '{}': expected {expected} at offset {}, found {found}",
            self.text, self.pos
        )))
    }

    fn literal(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !literal_char(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.text[start..self.pos].to_string()
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let ok = if self.pos == start {
                c.is_ascii_alphabetic() || c == '_'
            } else {
                c.is_ascii_alphanumeric() || c == '_'
            };
            if !ok {
                break;
            }
            self.pos += 1;
        }
        if start == self.pos {
            return self.fail("a field name");
        }
        Ok(self.text[start..self.pos].to_string())
    }

    /// Segments until a `}`, `:` verb or the end; variables only outside
    /// variables.
    fn segments(
        &mut self,
        out: &mut Vec<Segment>,
        variables: Option<&mut Vec<Variable>>,
    ) -> Result<(), ParseError> {
        let mut variables = variables;
        loop {
            if self.eat('*') {
                if self.eat('*') {
                    out.push(Segment::Multi);
                } else {
                    out.push(Segment::Single);
                }
            } else if self.peek() == Some('{') {
                let Some(vars) = variables.as_deref_mut() else {
                    return self.fail("a literal, '*' or '**' (variables do not nest)");
                };
                self.pos += 1;
                let mut field_path = vec![self.ident()?];
                while self.eat('.') {
                    field_path.push(self.ident()?);
                }
                let start = out.len();
                if self.eat('=') {
                    self.segments(out, None)?;
                } else {
                    out.push(Segment::Single);
                }
                if !self.eat('}') {
                    return self.fail("'}'");
                }
                vars.push(Variable {
                    field_path,
                    start,
                    end: out.len(),
                });
            } else {
                let literal = self.literal();
                if literal.is_empty() {
                    return self.fail("a segment (a literal, '*', '**' or '{field}')");
                }
                out.push(Segment::Literal(literal));
            }
            if !self.eat('/') {
                return Ok(());
            }
        }
    }
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, ParseError> {
        let mut parser = Parser { text, pos: 0 };
        if !parser.eat('/') {
            return parser.fail("'/' at the start");
        }
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        parser.segments(&mut segments, Some(&mut variables))?;
        let verb = if parser.eat(':') {
            let verb = parser.literal();
            if verb.is_empty() {
                return parser.fail("a verb after ':'");
            }
            Some(verb)
        } else {
            None
        };
        if parser.pos != text.len() {
            return parser.fail("'/', ':' or the end");
        }
        if let Some(i) = segments.iter().position(|s| *s == Segment::Multi)
            && i + 1 != segments.len()
        {
            return Err(ParseError(format!(
                "path template '{text}': '**' must be the last segment"
            )));
        }
        for (i, v) in variables.iter().enumerate() {
            if variables[..i].iter().any(|w| w.field_path == v.field_path) {
                return Err(ParseError(format!(
                    "path template '{text}': field '{}' is bound twice",
                    v.field_path.join(".")
                )));
            }
        }
        Ok(Template {
            segments,
            variables,
            verb,
            text: text.to_string(),
        })
    }

    /// The variable's own pattern, as in the template (`messages/*`).
    pub fn pattern(&self, variable: &Variable) -> String {
        show(&self.segments[variable.start..variable.end])
    }

    /// Whether a value of the variable may span segments (and so keeps `/`).
    pub fn is_multi_segment(&self, variable: &Variable) -> bool {
        let segs = &self.segments[variable.start..variable.end];
        segs.len() > 1 || segs.contains(&Segment::Multi)
    }

    /// Matches a request path (undecoded, without the query). On a match,
    /// each variable's value, decoded, and how specific the match is
    /// (lower is more specific: literals before `*` before `**`).
    pub fn matches(&self, path: &str) -> Option<(Vec<String>, Vec<u8>)> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut bounds = Vec::with_capacity(self.segments.len());
        let mut rank = Vec::with_capacity(self.segments.len());
        let mut at = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => {
                    if parts.get(at) != Some(&l.as_str()) {
                        return None;
                    }
                    bounds.push((at, at + 1));
                    rank.push(0);
                    at += 1;
                }
                Segment::Single => {
                    let part = parts.get(at)?;
                    if part.is_empty() {
                        return None;
                    }
                    bounds.push((at, at + 1));
                    rank.push(1);
                    at += 1;
                }
                Segment::Multi => {
                    bounds.push((at, parts.len()));
                    rank.push(2);
                    at = parts.len();
                }
            }
        }
        if at != parts.len() {
            return None;
        }
        let mut values = Vec::with_capacity(self.variables.len());
        for variable in &self.variables {
            let from = bounds[variable.start].0;
            let to = bounds[variable.end - 1].1;
            let raw = parts[from..to].join("/");
            values.push(decode(&raw, self.is_multi_segment(variable))?);
        }
        // A template with a verb is more specific than one without.
        rank.push(u8::from(self.verb.is_none()));
        Some((values, rank))
    }

    /// The path with each variable's value (in the order of
    /// `self.variables`) percent-encoded in place. A value must match its
    /// variable's pattern.
    pub fn expand(&self, values: &[String]) -> Result<String, String> {
        let mut out = String::new();
        let mut i = 0;
        while i < self.segments.len() {
            out.push('/');
            if let Some(index) = self.variables.iter().position(|v| v.start == i) {
                let variable = &self.variables[index];
                let value = &values[index];
                let pattern = &self.segments[variable.start..variable.end];
                if !value_matches(pattern, value) {
                    return Err(format!(
                        "field '{}' is '{value}', which does not match the path template's '{}'",
                        variable.field_path.join("."),
                        show(pattern)
                    ));
                }
                out.push_str(&encode(value, self.is_multi_segment(variable)));
                i = variable.end;
                continue;
            }
            match &self.segments[i] {
                Segment::Literal(l) => out.push_str(l),
                // A wildcard outside a variable binds nothing: any segment
                // will do, and the server ignores it.
                Segment::Single | Segment::Multi => out.push('-'),
            }
            i += 1;
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        Ok(out)
    }

    /// Whether two templates match exactly the same paths (conflicting
    /// bindings when their HTTP methods agree too).
    pub fn same_shape(&self, other: &Template) -> bool {
        self.segments == other.segments && self.verb == other.verb
    }
}

fn show(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => l.as_str(),
            Segment::Single => "*",
            Segment::Multi => "**",
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a (decoded) value fits a variable's pattern.
fn value_matches(pattern: &[Segment], value: &str) -> bool {
    if pattern == [Segment::Single] {
        // One segment: any non-empty value; a `/` in it is percent-encoded.
        return !value.is_empty();
    }
    let parts: Vec<&str> = value.split('/').collect();
    let mut at = 0;
    for segment in pattern {
        match segment {
            Segment::Literal(l) => {
                if parts.get(at) != Some(&l.as_str()) {
                    return false;
                }
                at += 1;
            }
            Segment::Single => {
                if parts.get(at).is_none_or(|p| p.is_empty()) {
                    return false;
                }
                at += 1;
            }
            Segment::Multi => at = parts.len(),
        }
    }
    at == parts.len()
}

/// Single-segment values: everything but unreserved characters is encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Multi-segment values keep `/`.
const SEGMENTS: &percent_encoding::AsciiSet = &SEGMENT.remove(b'/');

pub fn encode(value: &str, multi: bool) -> String {
    percent_encoding::utf8_percent_encode(value, if multi { SEGMENTS } else { SEGMENT }).to_string()
}

/// The reverse of [`encode`]: multi-segment values keep `%2F` as it is
/// (http.proto). None when the bytes are not UTF-8.
fn decode(raw: &str, multi: bool) -> Option<String> {
    if multi {
        let pieces: Option<Vec<String>> = split_keep_slash(raw)
            .into_iter()
            .map(|(piece, escape)| {
                if escape {
                    Some(piece.to_string())
                } else {
                    percent_encoding::percent_decode_str(piece)
                        .decode_utf8()
                        .ok()
                        .map(|s| s.into_owned())
                }
            })
            .collect();
        return pieces.map(|p| p.concat());
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// `raw` cut around each `%2F`/`%2f` (marked true, kept as is).
fn split_keep_slash(raw: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i + 3 <= bytes.len() {
        if bytes[i] == b'%' && bytes[i + 1] == b'2' && (bytes[i + 2] | 0x20) == b'f' {
            out.push((&raw[start..i], false));
            out.push((&raw[i..i + 3], true));
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push((&raw[start..], false));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.into())
    }

    /// A template, its segments, its variables (field, start, end), its verb.
    type Case = (
        &'static str,
        Vec<Segment>,
        Vec<(&'static str, usize, usize)>,
        Option<&'static str>,
    );

    /// The examples of google/api/http.proto, and the grammar's corners.
    #[test]
    fn parses_the_documented_templates() {
        let cases: &[Case] = &[
            (
                "/v1/{name=messages/*}",
                vec![lit("v1"), lit("messages"), Segment::Single],
                vec![("name", 1, 3)],
                None,
            ),
            (
                "/v1/messages/{message_id}",
                vec![lit("v1"), lit("messages"), Segment::Single],
                vec![("message_id", 2, 3)],
                None,
            ),
            (
                "/v1/messages/{message_id}/{sub.subfield}",
                vec![lit("v1"), lit("messages"), Segment::Single, Segment::Single],
                vec![("message_id", 2, 3), ("sub.subfield", 3, 4)],
                None,
            ),
            (
                "/v1/users/{user_id}/messages/{message_id}",
                vec![
                    lit("v1"),
                    lit("users"),
                    Segment::Single,
                    lit("messages"),
                    Segment::Single,
                ],
                vec![("user_id", 2, 3), ("message_id", 4, 5)],
                None,
            ),
            (
                "/v1/{name=shelves/*/books/*}",
                vec![
                    lit("v1"),
                    lit("shelves"),
                    Segment::Single,
                    lit("books"),
                    Segment::Single,
                ],
                vec![("name", 1, 5)],
                None,
            ),
            (
                "/v1/{name=**}",
                vec![lit("v1"), Segment::Multi],
                vec![("name", 1, 2)],
                None,
            ),
            (
                "/v1/*/foo/**",
                vec![lit("v1"), Segment::Single, lit("foo"), Segment::Multi],
                vec![],
                None,
            ),
            (
                "/v1/{name=operations/*}:cancel",
                vec![lit("v1"), lit("operations"), Segment::Single],
                vec![("name", 1, 3)],
                Some("cancel"),
            ),
            ("/v1:batchGet", vec![lit("v1")], vec![], Some("batchGet")),
        ];
        for (text, segments, variables, verb) in cases {
            let t = Template::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(&t.segments, segments, "{text}");
            let vars: Vec<(String, usize, usize)> = t
                .variables
                .iter()
                .map(|v| (v.field_path.join("."), v.start, v.end))
                .collect();
            let want: Vec<(String, usize, usize)> = variables
                .iter()
                .map(|(n, s, e)| (n.to_string(), *s, *e))
                .collect();
            assert_eq!(vars, want, "{text}");
            assert_eq!(t.verb.as_deref(), *verb, "{text}");
        }
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let cases = [
            ("v1/x", "expected '/' at the start"),
            ("/", "expected a segment"),
            ("/v1//x", "expected a segment"),
            ("/v1/{name", "expected '}'"),
            ("/v1/{}", "expected a field name"),
            ("/v1/{1a}", "expected a field name"),
            ("/v1/{a={b}}", "variables do not nest"),
            ("/v1/**/x", "'**' must be the last segment"),
            ("/v1/{a}/{a}", "field 'a' is bound twice"),
            ("/v1/x:", "expected a verb"),
            ("/v1/x:a/b", "expected '/', ':' or the end"),
            ("/v1/***", "expected '/', ':' or the end"),
            ("/v1/{a.}", "expected a field name"),
        ];
        for (text, want) in cases {
            let err = Template::parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(err.contains(text), "{text}: {err}");
        }
    }

    #[test]
    fn matches_and_decodes_paths() {
        let t = Template::parse("/v1/{name=messages/*}").unwrap();
        assert_eq!(t.matches("/v1/messages/123").unwrap().0, ["messages/123"]);
        assert!(t.matches("/v1/messages").is_none());
        assert!(t.matches("/v1/messages/").is_none());
        assert!(t.matches("/v1/messages/1/2").is_none());
        assert!(t.matches("/v1/users/1").is_none());
        // Single segment: everything decoded, %2F included.
        let t = Template::parse("/v1/messages/{id}").unwrap();
        assert_eq!(t.matches("/v1/messages/a%2Fb%20c").unwrap().0, ["a/b c"]);
        // Multi-segment: %2F stays as it is.
        let t = Template::parse("/v1/{name=files/**}").unwrap();
        assert_eq!(
            t.matches("/v1/files/a/b%2Fc/%C3%A9").unwrap().0,
            ["files/a/b%2Fc/é"]
        );
        assert_eq!(t.matches("/v1/files").unwrap().0, ["files"]);
        // Verbs.
        let t = Template::parse("/v1/{name=operations/*}:cancel").unwrap();
        assert_eq!(
            t.matches("/v1/operations/op1:cancel").unwrap().0,
            ["operations/op1"]
        );
        assert!(t.matches("/v1/operations/op1").is_none());
        assert!(t.matches("/v1/operations/op1:other").is_none());
        // Invalid UTF-8 after decoding: no match, no panic.
        let t = Template::parse("/v1/{id}").unwrap();
        assert!(t.matches("/v1/%FF").is_none());
    }

    #[test]
    fn literals_rank_before_wildcards() {
        let literal = Template::parse("/v1/messages/special").unwrap();
        let single = Template::parse("/v1/messages/{id}").unwrap();
        let multi = Template::parse("/v1/{name=**}").unwrap();
        let path = "/v1/messages/special";
        let (_, a) = literal.matches(path).unwrap();
        let (_, b) = single.matches(path).unwrap();
        let (_, c) = multi.matches(path).unwrap();
        assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
    }

    #[test]
    fn expands_values_into_paths() {
        let t = Template::parse("/v1/{name=shelves/*/books/*}").unwrap();
        assert_eq!(
            t.expand(&["shelves/1/books/a b".into()]).unwrap(),
            "/v1/shelves/1/books/a%20b"
        );
        let err = t.expand(&["shelves/1".into()]).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let t = Template::parse("/v1/messages/{id}:get").unwrap();
        assert_eq!(
            t.expand(&["a/b?".into()]).unwrap(),
            "/v1/messages/a%2Fb%3F:get"
        );
        let t = Template::parse("/v1/{path=**}").unwrap();
        assert_eq!(t.expand(&["a/b c/d".into()]).unwrap(), "/v1/a/b%20c/d");
        // Round trip through matching.
        for (text, value) in [
            ("/v1/{name=messages/*}", "messages/ü:x"),
            ("/v1/x/{id}", "a/b%c"),
            ("/v1/{p=**}", "a/b/c"),
        ] {
            let t = Template::parse(text).unwrap();
            let path = t.expand(&[value.to_string()]).unwrap();
            assert_eq!(t.matches(&path).unwrap().0, [value], "{text} {path}");
        }
    }
}
