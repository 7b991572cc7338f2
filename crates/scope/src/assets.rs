//! Loading the assets file.
//!
//! The assets file is input like any other: it may come from a provider,
//! an old backup or an attacker's hands. It is read with bounds (size,
//! nesting depth) checked before the YAML parser sees it — a deeply nested
//! file otherwise takes the parser tens of seconds — and its problems are
//! listed with their place, a bounded number of them, every quoted value
//! clipped and its control characters escaped.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::model::Assets;

/// Largest assets file read, in bytes. A community of communes describes
/// a few hundred hosts in a few tens of KB; 10,000 hosts take ~1 MB.
pub const MAX_ASSETS_BYTES: u64 = 16 * 1024 * 1024;

/// Deepest nesting accepted (block indentation levels, `- ` items and
/// `[`/`{` together). The format needs five.
pub const MAX_ASSETS_DEPTH: usize = 64;

/// Problems listed in one error; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 20;

/// Longest quoted value in a problem, in characters.
const QUOTE_CHARS: usize = 80;

/// Why an assets file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AssetsError {
    #[error("cannot read assets file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid assets file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("assets file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Assets {
    /// Reads and validates a YAML assets file (at most
    /// [`MAX_ASSETS_BYTES`], only a regular file: a FIFO or `/dev/zero`
    /// would block or never end).
    pub fn load(path: &Path) -> Result<Assets, AssetsError> {
        let io = |source| AssetsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(AssetsError::Invalid {
                path: path.to_path_buf(),
                message: "not a regular file".to_string(),
            });
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_ASSETS_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_ASSETS_BYTES {
            return Err(AssetsError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "larger than {} MiB; an assets file describes hosts, zones and services in a few hundred KB at most",
                    MAX_ASSETS_BYTES / (1024 * 1024)
                ),
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| AssetsError::Parse {
            path: path.to_path_buf(),
            message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })?;
        Self::parse(&text, path)
    }

    /// Parses YAML text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Assets, AssetsError> {
        if text.trim().is_empty() {
            return Ok(Assets::default());
        }
        if let Some(line) = too_deep(text, MAX_ASSETS_DEPTH) {
            return Err(AssetsError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "line {line}: nested more than {MAX_ASSETS_DEPTH} levels deep (an assets file needs about five)"
                ),
            });
        }
        let assets: Assets = serde_yaml_ng::from_str(text).map_err(|e| AssetsError::Parse {
            path: path.to_path_buf(),
            message: clip(&e.to_string(), 600),
        })?;
        let problems = assets.problems();
        if !problems.is_empty() {
            return Err(AssetsError::Invalid {
                path: path.to_path_buf(),
                message: list_problems(&problems),
            });
        }
        Ok(assets)
    }

    /// Consistency problems, each with its place (`hosts[3]`): a wrong
    /// reference silently disables a "not reached" statement or a GDPR
    /// flag, so they are errors.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let zones: std::collections::HashSet<String> =
            self.zones.iter().map(|z| z.name.to_lowercase()).collect();
        for (i, h) in self.hosts.iter().enumerate() {
            if h.name.trim().is_empty() {
                out.push(format!("hosts[{i}]: empty name"));
            }
            if let Some(z) = &h.zone {
                if !zones.contains(&z.to_lowercase()) {
                    out.push(format!(
                        "hosts[{i}] {}: zone {} is not in zones",
                        quote(&h.name),
                        quote(z)
                    ));
                }
            }
            for a in &h.addresses {
                if a.trim().parse::<std::net::IpAddr>().is_err() {
                    out.push(format!(
                        "hosts[{i}] {}: {} is not an IP address",
                        quote(&h.name),
                        quote(a)
                    ));
                }
            }
        }
        for (i, z) in self.zones.iter().enumerate() {
            if z.name.trim().is_empty() {
                out.push(format!("zones[{i}]: empty name"));
            }
        }
        for (i, d) in self.data_stores.iter().enumerate() {
            if d.name.trim().is_empty() || d.host.trim().is_empty() {
                out.push(format!(
                    "data_stores[{i}] {}: name and host are required",
                    quote(&d.name)
                ));
            }
        }
        for (what, list) in [
            ("vpn_pools", &self.networks.vpn_pools),
            ("internal", &self.networks.internal),
        ] {
            for (i, c) in list.iter().enumerate() {
                let t = c.trim();
                if t.parse::<ipnet::IpNet>().is_err() && t.parse::<std::net::IpAddr>().is_err() {
                    out.push(format!(
                        "networks.{what}[{i}]: {} is not a CIDR range",
                        quote(c)
                    ));
                }
            }
        }
        out
    }

    /// Parses YAML text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<Assets, AssetsError> {
        Self::parse(text, Path::new("<assets>"))
    }
}

/// The problems, one a line: the first [`MAX_LISTED_PROBLEMS`], then how
/// many more (20,000 problems are not a 1 MB line).
fn list_problems(problems: &[String]) -> String {
    let mut out = match problems.len() {
        1 => "1 problem:".to_string(),
        n => format!("{n} problems:"),
    };
    for p in problems.iter().take(MAX_LISTED_PROBLEMS) {
        out.push_str("\n  - ");
        out.push_str(p);
    }
    if problems.len() > MAX_LISTED_PROBLEMS {
        out.push_str(&format!(
            "\n  … and {} more",
            problems.len() - MAX_LISTED_PROBLEMS
        ));
    }
    out
}

/// The first line where `text` nests deeper than `max`, if any: block
/// indentation levels, the `- ` items that open a line, and `[`/`{` (the
/// depth a YAML parser recurses to). A lexical over-estimate is fine: real
/// assets files are five levels deep.
fn too_deep(text: &str, max: usize) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        if flow == 0 {
            while indents.last().is_some_and(|&l| l > indent) {
                indents.pop();
            }
            if indents.last().is_none_or(|&l| l < indent) {
                indents.push(indent);
            }
        }
        let mut rest = body;
        let mut dashes = 0usize;
        while let Some(r) = rest
            .strip_prefix("- ")
            .or_else(|| (rest == "-").then_some(""))
        {
            dashes += 1;
            rest = r.trim_start_matches(' ');
        }
        let mut deepest = flow;
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in rest.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' if flow > 0 || prev == ' ' || prev == ':' => quote = Some(c),
                    '#' if prev == ' ' => break,
                    '[' | '{' => {
                        flow += 1;
                        deepest = deepest.max(flow);
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
        }
        if indents.len() + dashes + deepest > max {
            return Some(n + 1);
        }
    }
    None
}

/// `s` quoted for a message: control and bidirectional characters escaped,
/// at most [`QUOTE_CHARS`] characters, a cut marked with `…`.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", clip(s, QUOTE_CHARS))
}

/// The first `max` characters of `s`, escaped, `…` when cut.
fn clip(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 8));
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountKind, Sensitivity};

    #[test]
    fn the_documented_example_loads() {
        let p = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/assets.example.yml"
        ));
        let a = Assets::load(p).expect("example loads");
        assert_eq!(
            a.hosts
                .iter()
                .find(|h| h.name == "TES-01")
                .unwrap()
                .zone
                .as_deref(),
            Some("state-id")
        );
        assert!(a
            .zones
            .iter()
            .any(|z| z.name == "state-id" && z.isolated && z.critical));
        let cias = a.data_stores.iter().find(|d| d.name == "CIAS").unwrap();
        assert_eq!(cias.sensitivity, Sensitivity::SpecialCategory);
        assert!(cias.personal_data);
        assert_eq!(a.accounts[0].kind, AccountKind::Provider);
        assert_eq!(a.networks.vpn_pools, vec!["10.212.134.0/24"]);
        // Serialising and reading back gives the same assets (the scenario
        // generator writes its assets file this way).
        let y = serde_yaml_ng::to_string(&a).unwrap();
        assert_eq!(Assets::from_str(&y).unwrap(), a);
    }

    #[test]
    fn mistakes_are_clear_errors() {
        let e = Assets::from_str("hosts:\n  - name: A\n    zonne: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("zonne") && e.contains("line"), "{e}");
        let e = Assets::from_str("hosts: [{name: A, zone: nowhere}]")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hosts[0] 'A': zone 'nowhere' is not in zones"),
            "{e}"
        );
        let e = Assets::from_str("networks: {vpn_pools: [10.0.0.0/33]}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a CIDR"), "{e}");
        let e = Assets::from_str("data_stores: [{name: X, host: A, sensitivity: secret}]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret"), "{e}");
        let e = Assets::load(Path::new("/nonexistent/assets.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
        assert_eq!(Assets::from_str("").unwrap(), Assets::default());
    }

    #[test]
    fn nesting_is_bounded_and_real_files_pass() {
        let deep = "hosts: ".to_string() + &"[".repeat(100) + &"]".repeat(100);
        let e = Assets::from_str(&deep).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("nested"), "{e}");
        let mut block = String::from("zones:\n");
        for i in 0..100 {
            block.push_str(&" ".repeat(i + 1));
            block.push_str("- \n");
        }
        let e = Assets::from_str(&block).unwrap_err().to_string();
        assert!(e.contains("line 64") && e.contains("nested"), "{e}");
        let e = Assets::from_str(&format!("{}x", "- ".repeat(100)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested"), "{e}");
        // Brackets inside quoted values and comments do not count.
        let ok = format!(
            "organisation: '{}'  # {}\nhosts: [{{name: A, services: [x]}}]\n",
            "[".repeat(200),
            "{".repeat(200)
        );
        assert!(Assets::from_str(&ok).is_ok());
    }

    #[test]
    fn many_problems_are_listed_bounded_and_escaped() {
        let mut y = String::from("hosts:\n");
        for i in 0..5000 {
            y.push_str(&format!("  - {{name: \"H{i}\\e[2J\", zone: nowhere{i}}}\n"));
        }
        let e = Assets::from_str(&y).unwrap_err().to_string();
        assert!(e.len() < 4000, "{} bytes", e.len());
        assert!(e.contains("5000 problems"), "{e}");
        assert!(
            e.contains("hosts[0] 'H0\\u{1b}[2J': zone 'nowhere0'"),
            "{e}"
        );
        assert!(e.contains("… and 4980 more"), "{e}");
        assert!(!e.contains('\u{1b}'));
        assert!(clip(&"x".repeat(1000), 80).chars().count() == 81);
    }
}
