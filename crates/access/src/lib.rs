//! Roles: what a person signed in to Vigie may do.
//!
//! One enum for one concept: the console checks it at sign-in and on every
//! route, the respond stage checks it in its four-eyes rules. It lives in
//! its own small crate so that the respond stage (and the CLI) take it
//! without the console's web stack.

use serde::{Deserialize, Serialize};
use vigie_lang::{glossary, Lang};

/// One role per account. Not a ladder: `communication` writes public
/// notices and reads nothing else, `crisis` reads the scope and edits
/// service status, `viewer` only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: accounts, tokens, audit, rules.
    Admin,
    /// Reads and triages detections and incidents.
    Analyst,
    /// The mayor's crisis cell: scope, services, drafts.
    Crisis,
    /// Public notices only.
    Communication,
    /// Reads, changes nothing.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Analyst,
        Role::Crisis,
        Role::Communication,
        Role::Viewer,
    ];

    /// The key, as in the CLI, the JSON and the glossary.
    pub fn key(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Crisis => "crisis",
            Role::Communication => "communication",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == s)
    }

    /// The name a person reads.
    pub fn name(self, lang: Lang) -> &'static str {
        glossary::term(lang, self.key())
    }

    /// Whether the role reads detections, incidents and statistics.
    /// `communication` does not: it sees the public notices only.
    pub fn reads(self) -> bool {
        !matches!(self, Role::Communication)
    }

    /// A second factor is required (RFC 6238 code at each login).
    pub fn needs_totp(self) -> bool {
        self == Role::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::parse(s.trim()).ok_or_else(|| {
            format!("unknown role {s:?} (admin, analyst, crisis, communication, viewer)")
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_parses_back_and_has_a_name_in_both_languages() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.key()), Some(r));
            assert!(
                glossary::keys().any(|k| k == r.key()),
                "{r} in the glossary"
            );
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.key()));
        }
        assert_eq!(Role::Crisis.name(Lang::Fr), "cellule de crise");
        assert_eq!(Role::parse("root"), None);
    }
}
