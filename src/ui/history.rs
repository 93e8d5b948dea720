//! The calls made from the page, kept on disk (one JSON object per line)
//! so they survive restarts. Secret metadata values are never written: a
//! record holds their names with `null`.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

/// Records kept; older ones are dropped when the file is rewritten.
const KEEP: usize = 200;

/// `$XDG_DATA_HOME/rpcurl/ui-history.jsonl`, else under
/// `~/.local/share`; None when neither is known.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local/share"))
        })?;
    Some(base.join("rpcurl").join("ui-history.jsonl"))
}

pub struct History {
    path: Option<PathBuf>,
}

impl History {
    pub fn new(path: Option<PathBuf>) -> History {
        History { path }
    }

    /// Every record, newest first; unreadable lines are skipped.
    pub fn list(&self) -> Value {
        let mut records: Vec<Value> = self
            .path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        records.reverse();
        records.truncate(KEEP);
        Value::Array(records)
    }

    /// Appends a record (with its time); a failure to write is reported on
    /// stderr, since the call itself went fine.
    pub fn add(&self, mut record: Value) {
        let Some(path) = &self.path else {
            return;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        record["time"] = now.into();
        if let Err(e) = self.append(path, &record) {
            eprintln!(
                "warning: cannot write the history to {}: {e}",
                path.display()
            );
        }
    }

    fn append(&self, path: &PathBuf, record: &Value) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        // Requests may hold personal data: the file is the user's alone.
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        writeln!(file, "{record}")?;
        drop(file);
        // Now and then the file is cut back to the newest records.
        let text = std::fs::read_to_string(path)?;
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > 2 * KEEP {
            let kept = lines[lines.len() - KEEP..].join("\n") + "\n";
            std::fs::write(path, kept)?;
        }
        Ok(())
    }

    pub fn clear(&self) -> std::io::Result<()> {
        match &self.path {
            Some(path) if path.exists() => std::fs::write(path, ""),
            _ => Ok(()),
        }
    }
}
