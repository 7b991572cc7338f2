//! PowerShell (ActiveDirectory and NetSecurity modules) for each proposal.
//!
//! Quoting: every value is a single-quoted string, where PowerShell
//! expands nothing (`$`, backticks, `;` are literal) and the only special
//! characters are the single quotes themselves — the ASCII one and the
//! typographic ones PowerShell also accepts (U+2018, U+2019, U+201A,
//! U+201B) — which are doubled ([`quote`]).

use std::fmt::Write;
use std::net::IpAddr;

use vigie_lang::{tr, Lang};
use vigie_scope::ActionKind;

use super::{Commands, Unsafe};
use crate::proposal::{Plan, Proposal};

/// The quote characters PowerShell treats as a single quote.
const QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// `value` as a PowerShell single-quoted string literal.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A comment line: the text with line breaks removed (a comment cannot
/// be ended early by a hostile name).
fn comment(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("# {clean}\n")
}

fn no_control(value: &str) -> Result<(), Unsafe> {
    if value.chars().any(|c| c.is_control()) {
        return Err(Unsafe::Control {
            value: value.to_string(),
        });
    }
    Ok(())
}

/// Options of the generated commands.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Addresses the isolated hosts keep talking to (the responders'
    /// workstations, the EDR or log collector).
    pub responders: Vec<IpAddr>,
}

/// The commands for one proposal; `Ok(None)` when PowerShell has nothing
/// to do for it (perimeter actions: see the FortiGate output).
pub fn commands(p: &Proposal, opts: &Options, lang: Lang) -> Result<Option<Commands>, Unsafe> {
    no_control(&p.target)?;
    for g in &p.groups {
        no_control(g)?;
    }
    let t = quote(p.target.trim());
    let (apply, rollback) = match p.kind {
        ActionKind::DisableAccount | ActionKind::DeleteAccount => {
            let mut a = format!("Disable-ADAccount -Identity {t}\n");
            let mut r = format!("Enable-ADAccount -Identity {t}\n");
            for g in &p.groups {
                let g = quote(g);
                writeln!(a, "Remove-ADGroupMember -Identity {g} -Members {t} -Confirm:$false").ok();
                r.push_str(&comment(&tr!(
                    lang,
                    "seulement si cette appartenance était légitime :",
                    "only if this membership was legitimate:"
                )));
                r.push_str(&format!("# Add-ADGroupMember -Identity {g} -Members {t}\n"));
            }
            if p.kind == ActionKind::DeleteAccount {
                a.push_str(&comment(&tr!(
                    lang,
                    "supprimer le compte seulement une fois l'enquête terminée : Remove-ADUser -Identity {}",
                    "delete the account only once the investigation is over: Remove-ADUser -Identity {}",
                    t
                )));
            }
            (a, r)
        }
        ActionKind::ResetPassword => (
            format!(
                "$password = Read-Host -AsSecureString -Prompt {}\nSet-ADAccountPassword -Identity {t} -Reset -NewPassword $password\nRemove-Variable password\n",
                quote(&tr!(lang, "Nouveau mot de passe pour {}", "New password for {}", p.target.trim()))
            ),
            comment(&tr!(
                lang,
                "un changement de mot de passe ne se défait pas",
                "a password change cannot be undone"
            )),
        ),
        ActionKind::ResetKrbtgt => (krbtgt(lang), comment(&tr!(
            lang,
            "ne se défait pas (l'ancienne clé reste dans l'historique jusqu'à la seconde réinitialisation)",
            "cannot be undone (the old key stays in the history until the second reset)"
        ))),
        ActionKind::IsolateHost => isolate(p, opts, lang)?,
        ActionKind::RemoveService => {
            let host = p.host.as_deref().unwrap_or_default();
            no_control(host)?;
            let name = service_name(&p.target, host);
            let (h, s) = (quote(host), quote(&name));
            (
                format!(
                    "Invoke-Command -ComputerName {h} -ScriptBlock {{\n    Get-Service -DisplayName {s} | Stop-Service -Force -PassThru | Set-Service -StartupType Disabled\n}}\n"
                ),
                format!(
                    "Invoke-Command -ComputerName {h} -ScriptBlock {{\n    Get-Service -DisplayName {s} | Set-Service -StartupType Automatic -PassThru | Start-Service\n}}\n"
                ),
            )
        }
        ActionKind::RevokeRemoteAccess
        | ActionKind::BlockAddress
        | ActionKind::BlockDomain
        | ActionKind::CollectLogs => return Ok(None),
    };
    Ok(Some(Commands::new(p, apply, rollback)))
}

/// The service's display name from the scope's target `NAME sur HOST` /
/// `NAME on HOST`.
fn service_name(target: &str, host: &str) -> String {
    for sep in [" sur ", " on "] {
        if let Some(name) = target.strip_suffix(&format!("{sep}{host}")) {
            return name.to_string();
        }
    }
    target.to_string()
}

/// Microsoft's procedure (AD Forest Recovery — Resetting the krbtgt
/// password): reset, let it replicate to every domain controller, and
/// only then reset again, so that tickets signed with either old key stop
/// being accepted. The value typed is irrelevant (the DC replaces it with
/// a random one), so a random value is generated.
fn krbtgt(lang: Lang) -> String {
    let mut s = String::new();
    s.push_str(&comment(&tr!(
        lang,
        "1re réinitialisation de krbtgt (sur le contrôleur de domaine émulateur PDC)",
        "1st krbtgt reset (on the PDC emulator domain controller)"
    )));
    s.push_str(
        "$pdc = (Get-ADDomain).PDCEmulator\n\
         $bytes = New-Object byte[] 48\n\
         [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($bytes)\n\
         Set-ADAccountPassword -Identity 'krbtgt' -Server $pdc -Reset -NewPassword (ConvertTo-SecureString -AsPlainText -Force -String ([Convert]::ToBase64String($bytes)))\n\
         $first = (Get-ADUser -Identity 'krbtgt' -Server $pdc -Properties PasswordLastSet).PasswordLastSet\n",
    );
    s.push_str(&comment(&tr!(
        lang,
        "attendre que chaque contrôleur de domaine ait la nouvelle clé",
        "wait until every domain controller has the new key"
    )));
    s.push_str(
        "repadmin /syncall $pdc /AdeP\n\
         foreach ($dc in Get-ADDomainController -Filter *) {\n    \
             while ((Get-ADUser -Identity 'krbtgt' -Server $dc.HostName -Properties PasswordLastSet).PasswordLastSet -lt $first) {\n        \
                 Start-Sleep -Seconds 30\n    \
             }\n\
         }\n",
    );
    s.push_str(&comment(&tr!(
        lang,
        "2e réinitialisation : après la réplication ; attendre aussi la durée de vie maximale des tickets (10 h par défaut) évite de couper toutes les sessions, la faire tout de suite invalide immédiatement les tickets forgés",
        "2nd reset: after replication; waiting for the maximum ticket lifetime (10 h by default) as well avoids cutting every session, doing it at once invalidates forged tickets immediately"
    )));
    s.push_str(
        "[System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($bytes)\n\
         Set-ADAccountPassword -Identity 'krbtgt' -Server $pdc -Reset -NewPassword (ConvertTo-SecureString -AsPlainText -Force -String ([Convert]::ToBase64String($bytes)))\n\
         repadmin /syncall $pdc /AdeP\n",
    );
    s
}

/// Isolation by the host's own firewall: a block rule for every address
/// except the responders' (block rules win over allow rules in Windows
/// Firewall, so no existing rule reopens the host), in both directions,
/// on every profile. The host stays on: memory holds evidence.
fn isolate(p: &Proposal, opts: &Options, lang: Lang) -> Result<(String, String), Unsafe> {
    let host = p.host.as_deref().unwrap_or(&p.target);
    no_control(host)?;
    let h = quote(host);
    let group = quote("Vigie isolation");
    if opts.responders.is_empty() {
        let msg = tr!(
            lang,
            "isoler {} : relancer avec --responders ADRESSE (le poste d'où vous intervenez) pour générer l'isolement par pare-feu ; sinon débrancher le câble réseau sans éteindre la machine",
            "isolate {}: run again with --responders ADDRESS (the workstation you respond from) to generate the firewall isolation; otherwise unplug the network cable without powering the host off",
            host
        );
        return Ok((comment(&msg), comment(&msg)));
    }
    let ranges = complement(&opts.responders);
    let list = ranges
        .iter()
        .map(|r| quote(r))
        .collect::<Vec<_>>()
        .join(", ");
    let keep = opts
        .responders
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut a = comment(&tr!(
        lang,
        "isoler {} sans l'éteindre ; seules restent ouvertes les adresses {}",
        "isolate {} without powering it off; only {} stay reachable",
        host,
        keep
    ));
    write!(
        a,
        "Invoke-Command -ComputerName {h} -ScriptBlock {{\n    \
         Set-NetFirewallProfile -Profile Domain, Private, Public -Enabled True\n    \
         New-NetFirewallRule -DisplayName 'Vigie isolation (in)' -Group {group} -Direction Inbound -Action Block -Profile Any -RemoteAddress {list}\n    \
         New-NetFirewallRule -DisplayName 'Vigie isolation (out)' -Group {group} -Direction Outbound -Action Block -Profile Any -RemoteAddress {list}\n\
         }}\n"
    )
    .ok();
    let r = format!(
        "Invoke-Command -ComputerName {h} -ScriptBlock {{\n    Remove-NetFirewallRule -Group {group}\n}}\n"
    );
    Ok((a, r))
}

/// Every address except `keep`, as `first-last` ranges (IPv4 and IPv6).
pub fn complement(keep: &[IpAddr]) -> Vec<String> {
    let mut v4: Vec<u32> = keep
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(x) => Some(u32::from(*x)),
            _ => None,
        })
        .collect();
    let mut v6: Vec<u128> = keep
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(x) => Some(u128::from(*x)),
            _ => None,
        })
        .collect();
    v4.sort();
    v4.dedup();
    v6.sort();
    v6.dedup();
    let mut out = Vec::new();
    let mut start: u64 = 0;
    for k in v4 {
        if u64::from(k) > start {
            out.push(format!(
                "{}-{}",
                std::net::Ipv4Addr::from(start as u32),
                std::net::Ipv4Addr::from(k - 1)
            ));
        }
        start = u64::from(k) + 1;
    }
    if start <= u64::from(u32::MAX) {
        out.push(format!(
            "{}-{}",
            std::net::Ipv4Addr::from(start as u32),
            std::net::Ipv4Addr::from(u32::MAX)
        ));
    }
    let mut start6: Option<u128> = Some(0);
    for k in v6 {
        if let Some(s) = start6 {
            if k > s {
                out.push(format!(
                    "{}-{}",
                    std::net::Ipv6Addr::from(s),
                    std::net::Ipv6Addr::from(k - 1)
                ));
            }
        }
        start6 = k.checked_add(1);
    }
    if let Some(s) = start6 {
        out.push(format!(
            "{}-{}",
            std::net::Ipv6Addr::from(s),
            std::net::Ipv6Addr::from(u128::MAX)
        ));
    }
    out
}

/// The whole plan as one script: apply blocks in plan order, then the
/// rollback blocks. Proposals whose values cannot be quoted safely are
/// listed as comments with the reason (never emitted).
pub fn script(plan: &Plan, opts: &Options) -> String {
    let lang = plan.lang;
    let mut out = String::new();
    out.push_str(&comment(&tr!(
        lang,
        "Vigie — plan de confinement ({} actions). Chaque bloc n'est à exécuter qu'une fois l'action approuvée.",
        "Vigie — containment plan ({} actions). Run each block only once the action is approved.",
        plan.proposals.len()
    )));
    out.push_str("#Requires -Modules ActiveDirectory\n\n");
    let mut rollbacks = Vec::new();
    for p in &plan.proposals {
        match commands(p, opts, lang) {
            Ok(Some(c)) => {
                out.push_str(&comment(&format!(
                    "[{}] {} {} {} — {}",
                    c.order, c.id, c.kind, p.target, p.reason
                )));
                out.push_str(&c.apply);
                out.push('\n');
                rollbacks.push(c);
            }
            Ok(None) => {}
            Err(e) => out.push_str(&comment(&tr!(
                lang,
                "[{}] {} non généré : {}",
                "[{}] {} not generated: {}",
                p.order,
                p.id,
                e
            ))),
        }
    }
    out.push_str(&comment(&tr!(
        lang,
        "=== Retour arrière ===",
        "=== Rollback ==="
    )));
    out.push_str("return\n");
    for c in rollbacks.iter().rev() {
        out.push_str(&comment(&format!("[{}] {} {}", c.order, c.id, c.kind)));
        out.push_str(&c.rollback);
        out.push('\n');
    }
    out
}
