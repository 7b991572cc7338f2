//! FortiGate CLI (FortiOS) for the perimeter actions.
//!
//! Syntax from Fortinet's FortiOS CLI reference: `config firewall address`
//! (`set subnet`, `set type fqdn` / `set fqdn`, wildcard FQDNs such as
//! `*.example.org` being accepted by the `fqdn` type since FortiOS 6.2.2), `config firewall addrgrp`
//! (`append member` / `unselect member`), `config firewall policy`,
//! `config user local` (`set status disable`), `execute vpn sslvpn list`
//! and `execute vpn sslvpn del-tunnel <index>`.
//!
//! Quoting: names and comments are double-quoted strings, in which the
//! CLI gives `\` and `"` a meaning; both are escaped with a backslash
//! ([`quote`]). Addresses and domains are checked for their shape instead
//! (an address that does not parse, a domain with other characters than
//! letters, digits, `-`, `.` and a leading `*.`, is refused).

use std::net::IpAddr;

use vigie_lang::{tr, Lang};
use vigie_scope::ActionKind;

use super::{Commands, Unsafe};
use crate::proposal::{Plan, Proposal};

/// The address group every blocked address and domain joins.
pub const BLOCKLIST: &str = "vigie-blocklist";

/// `value` as a FortiOS CLI double-quoted string.
pub fn quote(value: &str) -> Result<String, Unsafe> {
    if value.chars().any(|c| c.is_control()) {
        return Err(Unsafe::Control {
            value: value.to_string(),
        });
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// A comment for the object (`set comment`), at most 255 characters as
/// the CLI allows, control characters removed.
fn object_comment(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(255)
        .collect();
    quote(&clean).unwrap_or_else(|_| "\"\"".into())
}

/// A checked domain name (`example.org`, `*.example.org`).
pub fn domain(value: &str) -> Result<String, Unsafe> {
    let v = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let body = v.strip_prefix("*.").unwrap_or(&v);
    let ok = !body.is_empty()
        && body.len() <= 253
        && body.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(v)
    } else {
        Err(Unsafe::Shape {
            what: "domain",
            value: value.to_string(),
        })
    }
}

fn address(value: &str) -> Result<IpAddr, Unsafe> {
    value.trim().parse().map_err(|_| Unsafe::Shape {
        what: "address",
        value: value.to_string(),
    })
}

/// The name of the address object for a blocked value.
pub fn object_name(value: &str) -> String {
    // Address names are at most 79 characters in FortiOS 7, 63 in older
    // releases: keep to 63.
    let mut n = format!("vigie-block-{value}");
    n.truncate(63);
    n
}

fn add_objects(objects: &[(String, String)], comment: &str) -> (String, String) {
    let mut a = String::from("config firewall address\n");
    for (name, body) in objects {
        let q = quote(name).unwrap_or_default();
        a.push_str(&format!(
            "    edit {q}\n{body}        set comment {}\n    next\n",
            object_comment(comment)
        ));
    }
    a.push_str("end\nconfig firewall addrgrp\n");
    a.push_str(&format!("    edit \"{BLOCKLIST}\"\n"));
    for (name, _) in objects {
        a.push_str(&format!(
            "        append member {}\n",
            quote(name).unwrap_or_default()
        ));
    }
    a.push_str("    next\nend\n");
    let mut r = String::from("config firewall addrgrp\n");
    r.push_str(&format!("    edit \"{BLOCKLIST}\"\n"));
    for (name, _) in objects {
        r.push_str(&format!(
            "        unselect member {}\n",
            quote(name).unwrap_or_default()
        ));
    }
    r.push_str("    next\nend\nconfig firewall address\n");
    for (name, _) in objects {
        r.push_str(&format!("    delete {}\n", quote(name).unwrap_or_default()));
    }
    r.push_str("end\n");
    (a, r)
}

/// The commands for one proposal; `Ok(None)` for actions that are not
/// the firewall's (accounts in the directory, hosts).
pub fn commands(p: &Proposal, lang: Lang) -> Result<Option<Commands>, Unsafe> {
    let (apply, rollback) = match p.kind {
        ActionKind::BlockAddress => {
            let ip = address(&p.target)?;
            let body = match ip {
                IpAddr::V4(v4) => format!("        set subnet {v4} 255.255.255.255\n"),
                IpAddr::V6(_) => {
                    return Err(Unsafe::Shape {
                        what: "IPv4 address",
                        value: p.target.clone(),
                    })
                }
            };
            add_objects(
                &[(object_name(&ip.to_string()), body)],
                &format!("Vigie {}: {}", p.id, p.reason),
            )
        }
        ActionKind::BlockDomain => {
            let d = domain(&p.target)?;
            let base = d.strip_prefix("*.").unwrap_or(&d).to_string();
            let objects: Vec<(String, String)> = [base.clone(), format!("*.{base}")]
                .into_iter()
                .map(|f| {
                    (
                        object_name(&f),
                        format!("        set type fqdn\n        set fqdn \"{f}\"\n"),
                    )
                })
                .collect();
            add_objects(&objects, &format!("Vigie {}: {}", p.id, p.reason))
        }
        ActionKind::RevokeRemoteAccess => {
            let u = quote(p.target.trim())?;
            let list = tr!(
                lang,
                "# puis, pour chaque tunnel de {} listé : execute vpn sslvpn del-tunnel <index>",
                "# then, for each tunnel of {} listed: execute vpn sslvpn del-tunnel <index>",
                u
            );
            (
                format!(
                    "config user local\n    edit {u}\n        set status disable\n    next\nend\nexecute vpn sslvpn list tunnel\n{list}\n"
                ),
                format!("config user local\n    edit {u}\n        set status enable\n    next\nend\n"),
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(Commands::new(p, apply, rollback)))
}

/// The deny policies that make the blocklist group effective, both ways;
/// created once, placed above the allow policies by hand (their id is only
/// known once created: `move <id> before <first id>`).
pub fn blocklist_policies(lang: Lang) -> String {
    let mut s = tr!(
        lang,
        "# une seule fois : règles de blocage du groupe {}, à placer en tête (move <id> before <id>)\n",
        "# once: deny policies for the group {}, to be moved to the top (move <id> before <id>)\n",
        BLOCKLIST
    );
    for (name, src, dst) in [
        ("vigie-blocklist-from", BLOCKLIST, "all"),
        ("vigie-blocklist-to", "all", BLOCKLIST),
    ] {
        s.push_str(&format!(
            "config firewall policy\n    edit 0\n        set name \"{name}\"\n        set srcintf \"any\"\n        set dstintf \"any\"\n        set srcaddr \"{src}\"\n        set dstaddr \"{dst}\"\n        set action deny\n        set schedule \"always\"\n        set service \"ALL\"\n        set logtraffic all\n    next\nend\n"
        ));
    }
    s
}

/// The whole plan as one CLI script: the perimeter proposals in plan
/// order (objects first, then the policies using them), then, commented
/// out, the rollback.
pub fn script(plan: &Plan) -> String {
    let lang = plan.lang;
    let mut out = tr!(
        lang,
        "# Vigie — plan de confinement, pare-feu FortiGate. N'exécuter chaque bloc qu'une fois l'action approuvée.\n",
        "# Vigie — containment plan, FortiGate firewall. Run each block only once the action is approved.\n"
    );
    let mut rollbacks = Vec::new();
    let mut blocks = false;
    for p in &plan.proposals {
        match commands(p, lang) {
            Ok(Some(c)) => {
                let head: String = format!("[{}] {} {} {}", c.order, c.id, c.kind, p.target)
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                out.push_str(&format!("# {head}\n"));
                out.push_str(&c.apply);
                blocks |= matches!(p.kind, ActionKind::BlockAddress | ActionKind::BlockDomain);
                rollbacks.push(c);
            }
            Ok(None) => {}
            Err(e) => {
                let line: String = format!("[{}] {}: {e}", p.order, p.id)
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                out.push_str(&format!("# {line}\n"));
            }
        }
    }
    if blocks {
        out.push_str(&blocklist_policies(lang));
    }
    out.push_str(&tr!(
        lang,
        "# === Retour arrière ===\n",
        "# === Rollback ===\n"
    ));
    for c in rollbacks.iter().rev() {
        out.push_str(&format!("# [{}] {} {}\n", c.order, c.id, c.kind));
        for l in c.rollback.lines() {
            out.push_str(&format!("# {l}\n"));
        }
    }
    out
}
