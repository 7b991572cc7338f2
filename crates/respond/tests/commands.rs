//! The commands to copy: the PowerShell parses with the Tree-sitter
//! PowerShell grammar (hostile names included: a name never becomes code),
//! and the FortiGate CLI follows the CLI reference's syntax.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::{demo, noon};
use vigie_lang::Lang;
use vigie_respond::commands::{fortigate, powershell};
use vigie_respond::{plan, Plan};
use vigie_scope::ActionKind;

fn parse_ps(src: &str) -> tree_sitter::Tree {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("the PowerShell grammar loads");
    parser.parse(src, None).expect("parsed")
}

/// Counts nodes by kind; panics with the place of the first error. (A
/// trailing statement is added: the grammar wants one, and a rollback may
/// be a comment only.)
fn kinds(src: &str) -> BTreeMap<String, usize> {
    let src = &format!("{src}\nWrite-Output 0\n");
    let tree = parse_ps(src);
    let mut out = BTreeMap::new();
    let mut cursor = tree.walk();
    let mut stack = vec![tree.root_node()];
    while let Some(n) = stack.pop() {
        if n.is_error() || n.is_missing() {
            let line = src.lines().nth(n.start_position().row).unwrap_or("");
            panic!(
                "PowerShell syntax error at {}:{}: {line}\n{src}",
                n.start_position().row + 1,
                n.start_position().column + 1
            );
        }
        *out.entry(n.kind().to_string()).or_insert(0) += 1;
        for c in n.children(&mut cursor) {
            stack.push(c);
        }
    }
    assert!(!tree.root_node().has_error(), "{src}");
    out
}

fn responders() -> powershell::Options {
    powershell::Options {
        responders: vec!["10.0.0.50".parse::<IpAddr>().unwrap()],
    }
}

fn demo_plan(lang: Lang) -> Plan {
    let d = demo();
    plan(&d.scope, &d.assets, noon(), lang)
}

#[test]
fn the_demo_plan_in_powershell_parses_in_both_languages() {
    for lang in [Lang::Fr, Lang::En] {
        let p = demo_plan(lang);
        let script = powershell::script(&p, &responders());
        let k = kinds(&script);
        assert!(k.get("command").copied().unwrap_or(0) > 20, "{k:?}");
        for needle in [
            "Disable-ADAccount -Identity 'presta.maint'",
            "Enable-ADAccount -Identity 'presta.maint'",
            "Remove-ADGroupMember -Identity 'Admins du domaine' -Members 'svc_sauvegarde' -Confirm:$false",
            "Set-ADAccountPassword -Identity 'svc_veeam' -Reset -NewPassword $password",
            "Set-ADAccountPassword -Identity 'krbtgt' -Server $pdc -Reset",
            "repadmin /syncall $pdc /AdeP",
            "New-NetFirewallRule -DisplayName 'Vigie isolation (in)' -Group 'Vigie isolation' -Direction Inbound -Action Block -Profile Any -RemoteAddress '0.0.0.0-10.0.0.49', '10.0.0.51-255.255.255.255', '::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'",
            "Set-NetFirewallProfile -Profile Domain, Private, Public -Enabled True",
            "Invoke-Command -ComputerName 'SRV-FIC01'",
            "Remove-NetFirewallRule -Group 'Vigie isolation'",
            "Get-Service -DisplayName 'AnyDesk Service' | Stop-Service -Force -PassThru | Set-Service -StartupType Disabled",
        ] {
            assert!(script.contains(needle), "missing {needle:?} in\n{script}");
        }
        // The krbtgt resets: two, with the replication wait between.
        let k1 = script
            .find("Set-ADAccountPassword -Identity 'krbtgt'")
            .unwrap();
        let wait = script
            .find("while ((Get-ADUser -Identity 'krbtgt'")
            .unwrap();
        let k2 = script
            .rfind("Set-ADAccountPassword -Identity 'krbtgt'")
            .unwrap();
        assert!(k1 < wait && wait < k2, "reset, wait, reset");
        // Rollback blocks come after a `return`: running the file whole
        // never undoes what it just did.
        let ret = script.find("\nreturn\n").unwrap();
        assert!(script.find("Enable-ADAccount").unwrap() > ret);
    }
}

/// Names that would run code if pasted unquoted.
const HOSTILE: &[&str] = &[
    "x'; Remove-ADUser -Identity 'Administrator' -Confirm:$false; '",
    "a;b",
    "$(Stop-Computer)",
    "`$env:USERNAME`n",
    "quote’; Get-Process; ‘",
    "‛x‚",
    "\"double\"; calc",
    "name # comment",
    "@(1,2)|%{$_}",
    "x' + (Invoke-Expression 'calc') + '",
];

#[test]
fn hostile_names_stay_names_in_powershell() {
    let p = demo_plan(Lang::En);
    let pick = |k: ActionKind| p.proposals.iter().find(|x| x.kind == k).unwrap().clone();
    let templates = [
        pick(ActionKind::DisableAccount),
        pick(ActionKind::ResetPassword),
        pick(ActionKind::IsolateHost),
        pick(ActionKind::RemoveService),
    ];
    let opts = responders();
    let with = |t: &vigie_respond::Proposal, h: &str| {
        let mut x = t.clone();
        match x.kind {
            ActionKind::IsolateHost => {
                x.target = h.to_string();
                x.host = Some(h.to_string());
            }
            ActionKind::RemoveService => {
                x.target = format!("{h} on {h}");
                x.host = Some(h.to_string());
            }
            _ => {
                x.target = h.to_string();
                x.groups = vec![h.to_string()];
            }
        }
        x
    };
    for t in &templates {
        let benign = powershell::commands(&with(t, "benign.name"), &opts, Lang::En)
            .unwrap()
            .unwrap();
        let shape_apply = kinds(&benign.apply);
        let shape_rollback = kinds(&benign.rollback);
        for h in HOSTILE {
            let x = with(t, h);
            let c = powershell::commands(&x, &opts, Lang::En).unwrap().unwrap();
            // Same commands, pipelines and strings as with a benign name:
            // the hostile value added no code.
            let ka = kinds(&c.apply);
            let kr = kinds(&c.rollback);
            for key in [
                "command",
                "pipeline",
                "verbatim_string_characters",
                "sub_expression",
                "variable",
            ] {
                assert_eq!(
                    ka.get(key),
                    shape_apply.get(key),
                    "{key} in apply for {h:?} ({:?}):\n{}",
                    x.kind,
                    c.apply
                );
                assert_eq!(
                    kr.get(key),
                    shape_rollback.get(key),
                    "{key} in rollback for {h:?}:\n{}",
                    c.rollback
                );
            }
        }
    }
    // A line break in a name is refused, never emitted.
    let mut x = templates[0].clone();
    x.target = "a\nRemove-ADUser b".into();
    assert!(powershell::commands(&x, &opts, Lang::En).is_err());
    // The whole script with hostile names still parses and lists the refusal.
    let mut hostile_plan = p.clone();
    for (i, q) in hostile_plan.proposals.iter_mut().enumerate() {
        if q.kind == ActionKind::DisableAccount {
            q.target = HOSTILE[i % HOSTILE.len()].to_string();
        }
    }
    hostile_plan.proposals[1].target = "bad\r\nname".into();
    kinds(&powershell::script(&hostile_plan, &opts));
}

#[test]
fn powershell_quoting_doubles_every_single_quote_character() {
    assert_eq!(powershell::quote("a'b"), "'a''b'");
    assert_eq!(powershell::quote("a’b‘c"), "'a’’b‘‘c'");
    assert_eq!(powershell::quote("$x;`y"), "'$x;`y'");
}

/// A minimal reader of the FortiOS CLI: `config PATH` / `edit "NAME"` /
/// `set KEY VALUE` / `append|unselect member "NAME"` / `delete "NAME"` /
/// `next` / `end`, plus `execute`. Checks every key and value against the
/// transcribed reference.
fn check_fortios(script: &str) -> usize {
    let reference = include_str!("fortigate/cli-reference.txt");
    let mut schema: BTreeMap<(String, String), String> = BTreeMap::new();
    for l in reference
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut it = l.splitn(3, '|');
        let (p, k, t) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        schema.insert((p.to_string(), k.to_string()), t.to_string());
    }
    let quoted = |v: &str| -> bool {
        v.len() >= 2 && v.starts_with('"') && v.ends_with('"') && {
            let inner = &v[1..v.len() - 1];
            let mut esc = false;
            let mut ok = true;
            for c in inner.chars() {
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '"' {
                    ok = false;
                }
            }
            ok && !esc
        }
    };
    let mut path: Option<String> = None;
    let mut in_edit = false;
    let mut statements = 0;
    for (n, raw) in script.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        statements += 1;
        let at = format!("line {}: {raw}", n + 1);
        let (word, rest) = l.split_once(' ').unwrap_or((l, ""));
        match word {
            "config" => {
                assert!(path.is_none(), "nested config unexpected: {at}");
                path = Some(rest.to_string());
            }
            "edit" => {
                assert!(path.is_some() && !in_edit, "{at}");
                assert!(
                    quoted(rest) || rest == "0",
                    "edit takes a quoted name: {at}"
                );
                in_edit = true;
            }
            "next" => {
                assert!(in_edit, "{at}");
                in_edit = false;
            }
            "end" => {
                assert!(path.is_some() && !in_edit, "{at}");
                path = None;
            }
            "delete" => assert!(path.is_some() && !in_edit && quoted(rest), "{at}"),
            "append" | "unselect" => {
                let (k, v) = rest.split_once(' ').unwrap();
                assert_eq!(k, "member", "{at}");
                assert!(in_edit && quoted(v), "{at}");
            }
            "set" => {
                assert!(in_edit, "{at}");
                let p = path.clone().unwrap();
                let (k, v) = rest.split_once(' ').unwrap();
                let t = schema
                    .get(&(p.clone(), k.to_string()))
                    .unwrap_or_else(|| panic!("{p} has no key {k} in the reference: {at}"));
                match t.as_str() {
                    "string" | "member" => assert!(quoted(v), "{at}"),
                    "ipv4-classnet" => {
                        let (a, m) = v.split_once(' ').unwrap();
                        a.parse::<std::net::Ipv4Addr>().expect(&at);
                        m.parse::<std::net::Ipv4Addr>().expect(&at);
                    }
                    o if o.starts_with("option:") => {
                        assert!(o["option:".len()..].split('|').any(|x| x == v), "{at}")
                    }
                    other => panic!("type {other}"),
                }
            }
            "execute" => {
                assert!(path.is_none(), "{at}");
                let known =
                    schema
                        .iter()
                        .filter(|((p, _), _)| p == "execute")
                        .any(|((_, k), t)| {
                            rest.strip_prefix(k.as_str()).is_some_and(|arg| {
                                let arg = arg.trim();
                                match t.as_str() {
                                    "integer" => arg.parse::<u32>().is_ok(),
                                    o => o["option:".len()..].split('|').any(|x| x == arg),
                                }
                            })
                        });
                assert!(known, "unknown execute command: {at}");
            }
            other => panic!("unknown statement {other}: {at}"),
        }
    }
    assert!(path.is_none() && !in_edit, "unterminated block");
    statements
}

#[test]
fn fortigate_commands_follow_the_cli_reference() {
    let p = demo_plan(Lang::Fr);
    let script = fortigate::script(&p);
    assert!(check_fortios(&script) > 20);
    for needle in [
        "config user local\n    edit \"presta.maint\"\n        set status disable\n    next\nend\n",
        "execute vpn sslvpn list tunnel\n",
        "    edit \"vigie-block-203.0.113.45\"\n        set subnet 203.0.113.45 255.255.255.255\n",
        "        set type fqdn\n        set fqdn \"mega.co.nz\"\n",
        "        set fqdn \"*.anydesk.com\"\n",
        "        append member \"vigie-block-203.0.113.45\"\n",
        "        set action deny\n",
    ] {
        assert!(script.contains(needle), "missing {needle:?} in\n{script}");
    }
    // The rollback, commented out, is itself valid once uncommented.
    let rollback: String = script
        .split("# === Retour arrière ===\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("# ["))
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
        .filter(|l| !l.starts_with("# "))
        .collect();
    assert!(check_fortios(&rollback) > 5, "{rollback}");
    assert!(rollback.contains("set status enable"));
    assert!(rollback.contains("unselect member \"vigie-block-203.0.113.45\""));
}

#[test]
fn hostile_values_never_reach_the_fortigate_cli() {
    let p = demo_plan(Lang::En);
    let pick = |k: ActionKind| p.proposals.iter().find(|x| x.kind == k).unwrap().clone();
    // A VPN user name is quoted and escaped.
    let mut vpn = pick(ActionKind::RevokeRemoteAccess);
    vpn.target = "evil\" \nend\nexecute factoryreset".into();
    assert!(
        fortigate::commands(&vpn, Lang::En).is_err(),
        "line breaks refused"
    );
    vpn.target = "evil\"; set status enable; \\".into();
    let c = fortigate::commands(&vpn, Lang::En).unwrap().unwrap();
    assert!(
        c.apply
            .contains("edit \"evil\\\"; set status enable; \\\\\"\n"),
        "{}",
        c.apply
    );
    check_fortios(&c.apply);
    check_fortios(&c.rollback);
    // Addresses and domains must have their shape.
    let mut addr = pick(ActionKind::BlockAddress);
    addr.target = "1.2.3.4 255.0.0.0\nset action accept".into();
    assert!(fortigate::commands(&addr, Lang::En).is_err());
    let mut dom = pick(ActionKind::BlockDomain);
    for bad in [
        "evil.com\" \nnext",
        "a b.com",
        "-x.com",
        "x..com",
        "\"q\".com",
    ] {
        dom.target = bad.into();
        assert!(fortigate::commands(&dom, Lang::En).is_err(), "{bad:?}");
    }
    // The whole script with a refused value still reads, and says why.
    let mut bad = p.clone();
    for q in &mut bad.proposals {
        if q.kind == ActionKind::BlockDomain {
            q.target = "evil.com\"\nend".into();
        }
    }
    let s = fortigate::script(&bad);
    check_fortios(&s);
    assert!(s.contains("is not a valid domain"), "{s}");
}

/// The check can fail: an unterminated string is a syntax error, and a
/// name pasted without quoting adds commands.
#[test]
fn the_grammar_check_catches_broken_and_injected_powershell() {
    assert!(parse_ps("Disable-ADAccount -Identity 'x\n")
        .root_node()
        .has_error());
    let naive = format!("Disable-ADAccount -Identity '{}'", HOSTILE[0]);
    let safe = format!(
        "Disable-ADAccount -Identity {}",
        powershell::quote(HOSTILE[0])
    );
    assert!(kinds(&naive)["command"] > kinds(&safe)["command"]);
}
