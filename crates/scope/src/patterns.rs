//! The assets file's name patterns, compiled once.
//!
//! Why: the scope asks "which assets entry is this host?" for every host
//! seen, and the first matching entry wins. Trying each pattern in turn is
//! patterns × hosts wildcard matches: 10,000 entries and 10,000 hosts took
//! 23 s. Here exact names go in a hash map and wildcard patterns in one
//! [`globset::GlobSet`] (literal prefixes and suffixes through
//! Aho-Corasick, the rest through one regex set), so a lookup costs about
//! the length of the name, whatever the number of entries.

use std::collections::HashMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::names::host_key;

/// Name patterns (`*` any run of characters, `?` one character, ASCII
/// case-insensitive, as [`crate::names::wildcard`]), each with its index.
#[derive(Debug, Default)]
pub struct NamePatterns {
    /// Lower-case exact names → the first index naming them.
    exact: HashMap<String, usize>,
    globs: GlobSet,
    /// Position in `globs` → index of the pattern.
    glob_index: Vec<usize>,
}

impl NamePatterns {
    /// Compiles `patterns`; index `i` is the `i`-th pattern. An exact
    /// host name also matches by its canonical key (`SRV01.ccpab.local`
    /// names `SRV01`).
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> NamePatterns {
        let mut exact: HashMap<String, usize> = HashMap::new();
        let mut builder = GlobSetBuilder::new();
        let mut glob_index = Vec::new();
        for (i, raw) in patterns.into_iter().enumerate() {
            let pat = raw.trim().to_lowercase();
            if !pat.contains(['*', '?']) {
                if let Some(k) = host_key(&pat) {
                    exact.entry(k.to_lowercase()).or_insert(i);
                }
                exact.entry(pat).or_insert(i);
                continue;
            }
            match GlobBuilder::new(&glob_of(&pat))
                .literal_separator(false)
                .backslash_escape(true)
                .build()
            {
                Ok(g) => {
                    builder.add(g);
                    glob_index.push(i);
                }
                // Every character but `*` and `?` is escaped, so this does
                // not happen; a pattern that cannot compile matches nothing.
                Err(_) => continue,
            }
        }
        let globs = builder.build().unwrap_or_else(|_| {
            glob_index.clear();
            GlobSet::empty()
        });
        NamePatterns {
            exact,
            globs,
            glob_index,
        }
    }

    /// The smallest index among the patterns matching `name`.
    pub fn first(&self, name: &str) -> Option<usize> {
        let lc = name.to_lowercase();
        let exact = self.exact.get(&lc).copied();
        let glob = if self.glob_index.is_empty() {
            None
        } else {
            self.globs
                .matches(lc.as_str())
                .into_iter()
                .map(|g| self.glob_index[g])
                .min()
        };
        match (exact, glob) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every index whose pattern matches `name`, ascending.
    pub fn all(&self, name: &str) -> Vec<usize> {
        let lc = name.to_lowercase();
        let mut out: Vec<usize> = self
            .globs
            .matches(lc.as_str())
            .into_iter()
            .map(|g| self.glob_index[g])
            .collect();
        out.extend(self.exact.get(&lc).copied());
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A `*`/`?` pattern as a glob: runs of `*` become one (same meaning, and
/// `**` means something else to a glob), every other glob
/// metacharacter is escaped.
fn glob_of(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len() + 8);
    let mut prev_star = false;
    for c in pat.chars() {
        match c {
            '*' if prev_star => continue,
            '*' | '?' => out.push(c),
            '[' | ']' | '{' | '}' | '\\' | '!' | ',' | '-' | '^' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        prev_star = c == '*';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::wildcard;

    #[test]
    fn first_match_wins_as_with_wildcard() {
        let pats = [
            "SRV-FIC01",
            "DC0?",
            "PC-*",
            "pc-accueil-01",
            "*",
            "a[b]{c}\\d,e!",
            "x**y",
        ];
        let p = NamePatterns::new(pats);
        let cases = [
            "SRV-FIC01",
            "srv-fic01",
            "DC01",
            "DC011",
            "PC-ACCUEIL-01",
            "pc-",
            "a[b]{c}\\d,e!",
            "xy",
            "x-long-y",
            "",
            "Été-01",
        ];
        for name in cases {
            let slow = pats.iter().position(|q| wildcard(q, name));
            assert_eq!(p.first(name), slow, "{name}");
            let all: Vec<usize> = (0..pats.len())
                .filter(|&i| wildcard(pats[i], name))
                .collect();
            assert_eq!(p.all(name), all, "{name}");
        }
        // An FQDN entry names its host key too.
        let p = NamePatterns::new(["SRV01.ccpab.local"]);
        assert_eq!(p.first("SRV01"), Some(0));
        assert_eq!(p.first("srv01.ccpab.local"), Some(0));
        assert_eq!(NamePatterns::new(Vec::<&str>::new()).first("X"), None);
    }
}
