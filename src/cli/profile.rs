//! The config file of profiles: where it is, and its TOML read into tables
//! of keys, each with the line it was written on (errors name file, line
//! and key). Its shape is an optional `[defaults]` table and
//! `[profiles.NAME]` tables; what each key means (the flag it stands for)
//! is settings.rs's business. `rpcurl profiles` prints it back with the
//! secrets masked.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::error::{Error, Result};

/// Where the config file is: `$RPCURL_CONFIG`, else
/// `$XDG_CONFIG_HOME/rpcurl/config.toml`, else
/// `~/.config/rpcurl/config.toml`; None without a home directory.
pub fn path() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var("RPCURL_CONFIG") {
        return Some(PathBuf::from(path));
    }
    // The XDG spec says a relative value is to be ignored.
    let base = match var("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => PathBuf::from(var("HOME")?).join(".config"),
    };
    Some(base.join("rpcurl").join("config.toml"))
}

/// The file's text, or None when there is no such file (which is no error:
/// profiles are optional).
pub fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::usage(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))),
    }
}

/// A config file, read.
pub struct Config {
    pub path: PathBuf,
    pub defaults: Option<Table>,
    /// By name, sorted.
    pub profiles: Vec<Table>,
}

/// `[defaults]` or one `[profiles.NAME]`.
pub struct Table {
    /// The profile's name; None for `[defaults]`.
    pub profile: Option<String>,
    /// By key, sorted.
    pub entries: Vec<Entry>,
}

pub struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Value,
}

/// A value as the file wrote it. Numbers stay text, for the flag's own
/// parser to read (`timeout = 2.5` is `--timeout=2.5`).
pub enum Value {
    Bool(bool),
    String(String),
    Number(String),
    /// Each item with its line.
    List(Vec<(Value, usize)>),
    /// A table or a date: no key takes one; the name says what it was.
    Other(&'static str),
}

impl Value {
    /// What kind of value this is, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a boolean",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::List(_) => "a list",
            Value::Other(kind) => kind,
        }
    }
}

impl Table {
    /// How errors and the listing name it: `defaults` or `profiles.NAME`.
    pub fn name(&self) -> String {
        match &self.profile {
            None => "defaults".to_string(),
            Some(name) => format!("profiles.{}", quoted_key(name)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

impl Config {
    pub fn profile(&self, name: &str) -> Option<&Table> {
        self.profiles
            .iter()
            .find(|t| t.profile.as_deref() == Some(name))
    }

    /// An error about one key of a table: `FILE:LINE: TABLE.KEY: message`.
    pub fn error_at(&self, table: &Table, entry: &Entry, line: usize, message: &str) -> Error {
        self.error_line(line, &format!("{}.{}", table.name(), entry.key), message)
    }

    pub fn error_line(&self, line: usize, what: &str, message: &str) -> Error {
        Error::usage(format!("{}:{line}: {what}: {message}", self.path.display()))
    }
}

/// Reads the file's TOML into tables; a malformed file, or a table or key
/// where none belongs, is an error naming the line.
pub fn parse(path: &Path, text: &str) -> Result<Config> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let mut config = Config {
        path: path.to_path_buf(),
        defaults: None,
        profiles: Vec::new(),
    };
    let document = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(s.start));
        config.error_line(line, "TOML", e.message().trim())
    })?;
    for (key, value) in document.get_ref().iter() {
        let line = line_of(key.span().start);
        match (key.get_ref().as_ref(), value.get_ref()) {
            ("defaults", DeValue::Table(table)) => {
                config.defaults = Some(read_table(None, table, &line_of));
            }
            ("profiles", DeValue::Table(profiles)) => {
                for (name, table) in profiles.iter() {
                    let line = line_of(name.span().start);
                    let name = name.get_ref().to_string();
                    let DeValue::Table(table) = table.get_ref() else {
                        return Err(config.error_line(
                            line,
                            &format!("profiles.{}", quoted_key(&name)),
                            &format!(
                                "a profile is a table ([profiles.{}]), not {}",
                                quoted_key(&name),
                                value_of(table.get_ref(), &line_of).kind()
                            ),
                        ));
                    };
                    config
                        .profiles
                        .push(read_table(Some(name), table, &line_of));
                }
            }
            (name @ ("defaults" | "profiles"), other) => {
                return Err(config.error_line(
                    line,
                    name,
                    &format!(
                        "expected a table ([{name}]), not {}",
                        value_of(other, &line_of).kind()
                    ),
                ));
            }
            (name, _) => {
                return Err(config.error_line(
                    line,
                    &quoted_key(name),
                    "unknown key: the file holds [defaults] and [profiles.NAME] tables",
                ));
            }
        }
    }
    Ok(config)
}

fn read_table(
    profile: Option<String>,
    table: &DeTable<'_>,
    line_of: &dyn Fn(usize) -> usize,
) -> Table {
    Table {
        profile,
        entries: table
            .iter()
            .map(|(key, value)| Entry {
                key: key.get_ref().to_string(),
                line: line_of(key.span().start),
                value: value_of(value.get_ref(), line_of),
            })
            .collect(),
    }
}

fn value_of(value: &DeValue<'_>, line_of: &dyn Fn(usize) -> usize) -> Value {
    match value {
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::String(s) => Value::String(s.to_string()),
        // Written in decimal for the flag's parser (0x10 is 16); one too
        // large for i64 is no number any flag takes.
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Number(n.to_string()),
            Err(_) => Value::Other("an integer out of range"),
        },
        DeValue::Float(f) => Value::Number(f.as_str().to_string()),
        DeValue::Array(items) => Value::List(
            items
                .iter()
                .map(|item| {
                    (
                        value_of(item.get_ref(), line_of),
                        line_of(item.span().start),
                    )
                })
                .collect(),
        ),
        DeValue::Table(_) => Value::Other("a table"),
        DeValue::Datetime(_) => Value::Other("a date"),
    }
}

/// A key as TOML writes it: bare when it can be, else quoted.
fn quoted_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_string() } else { quoted(key) }
}

/// A TOML basic string: JSON's escapes are TOML's.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// The file as `rpcurl profiles` shows it: TOML again, with each header's
/// value masked (`Name: ***`) unless it only names environment variables
/// (`Authorization: Bearer ${TOKEN}`, shown as written). A URL holds no
/// secret: one with user info or a query is refused.
pub fn listing(config: &Config) -> String {
    let mut out = format!("# {}\n", config.path.display());
    for table in config.defaults.iter().chain(&config.profiles) {
        out.push_str(&format!("\n[{}]\n", table.name()));
        for entry in &table.entries {
            let shown = match (entry.key.as_str(), &entry.value) {
                ("headers", Value::List(items)) => {
                    let items: Vec<String> = items
                        .iter()
                        .map(|(item, _)| match item {
                            Value::String(line) => quoted(&masked_header(line)),
                            other => shown(other),
                        })
                        .collect();
                    format!("[{}]", items.join(", "))
                }
                (_, value) => shown(value),
            };
            out.push_str(&format!("{} = {shown}\n", quoted_key(&entry.key)));
        }
    }
    out
}

fn shown(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::String(s) => quoted(s),
        Value::Number(n) => n.clone(),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|(v, _)| shown(v)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Other(kind) => format!("({kind})"),
    }
}

/// `Name: ***`, unless the value is made of `${VAR}` references and at
/// most one word before them (an auth scheme such as `Bearer`): then the
/// file holds no secret and the line is shown as written.
fn masked_header(line: &str) -> String {
    let Some((name, value)) = line.split_once(':') else {
        return "***".to_string();
    };
    let mut literal = String::new();
    let mut references = 0;
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        literal.push_str(&rest[..start]);
        references += 1;
        rest = &rest[start + len + 1..];
    }
    literal.push_str(rest);
    let literal = literal.trim();
    let scheme_only = literal.is_empty()
        || (!literal.contains(char::is_whitespace)
            && literal.chars().all(|c| c.is_ascii_alphabetic()));
    if references > 0 && scheme_only {
        line.to_string()
    } else {
        format!("{}: ***", name.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_masked_unless_they_only_name_variables() {
        assert_eq!(masked_header("x-api-key: abc123"), "x-api-key: ***");
        assert_eq!(
            masked_header("Authorization: Bearer ${TOKEN}"),
            "Authorization: Bearer ${TOKEN}"
        );
        assert_eq!(masked_header("x-key: ${A}${B}"), "x-key: ${A}${B}");
        // Literal text beside a reference may be a secret's half.
        assert_eq!(masked_header("x-key: abc-${A}"), "x-key: ***");
        assert_eq!(masked_header("x-key: two words ${A}"), "x-key: ***");
        assert_eq!(masked_header("x-key: Bearer"), "x-key: ***");
    }

    #[test]
    fn lines_and_shapes() {
        let path = Path::new("c.toml");
        let text = "[defaults]\ntimeout = 5\n\n[profiles.a]\nurl = \"http://h:1\"\nheaders = [\n  \"x: 1\",\n  \"y: 2\",\n]\n";
        let config = parse(path, text).unwrap();
        let defaults = config.defaults.as_ref().unwrap();
        assert_eq!(defaults.get("timeout").unwrap().line, 2);
        let a = config.profile("a").unwrap();
        let Value::List(items) = &a.get("headers").unwrap().value else {
            panic!("a list");
        };
        assert_eq!(items[1].1, 8);
        let err = parse(path, "[profile.a]\nurl = 1\n").err().unwrap();
        assert!(
            err.to_string().contains("c.toml:1: profile: unknown key"),
            "{err}"
        );
        let err = parse(path, "[defaults]\nurl = \n").err().unwrap();
        assert!(err.to_string().starts_with("c.toml:2: TOML:"), "{err}");
        let err = parse(path, "profiles = 3\n").err().unwrap();
        assert!(err.to_string().contains("not a number"), "{err}");
    }
}
