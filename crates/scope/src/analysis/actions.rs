//! The containment plan: what to do now, in order, each action with its
//! evidence and how to undo it — and never an action that hurts the
//! organisation itself.
//!
//! Safety rules (an action plan is followed under stress, by people who
//! will not second-guess it):
//!
//! * never block the organisation's own domains (Active Directory domains
//!   seen in the logs: `Computer` FQDN suffixes, account domains, the
//!   assets file's `domains`), internal names (single labels, `.local`,
//!   `.lan`, `.internal`, `.corp`…, SRV records such as `_ldap._tcp…`,
//!   host names seen) or internal addresses, nor hosts of the assets file;
//! * block a service's registrable domain once (`mega.co.nz`, not each
//!   `gfs*.userstorage.mega.co.nz`), found with the public suffix list;
//! * never block the platforms every Windows network needs (Microsoft,
//!   certificate authorities…): they are listed in the caveats instead.

use std::collections::{BTreeMap, BTreeSet};

use vigie_lang::{tr, Lang};

use super::Ctx;
use crate::exposure;
use crate::model::*;
use crate::names::host_key;
use crate::text;

/// Name suffixes that only exist inside an organisation.
const INTERNAL_SUFFIXES: &[&str] = &[
    "local",
    "lan",
    "internal",
    "intranet",
    "corp",
    "home",
    "localdomain",
    "localhost",
    "private",
    "arpa",
    "lab",
    "test",
    "invalid",
    "example",
    "domain",
];

/// Registrable domains a Windows network cannot work without.
const ESSENTIAL: &[&str] = &[
    "microsoft.com",
    "windowsupdate.com",
    "windows.com",
    "windows.net",
    "microsoftonline.com",
    "office.com",
    "office.net",
    "office365.com",
    "live.com",
    "msftncsi.com",
    "msftconnecttest.com",
    "msn.com",
    "bing.com",
    "azure.com",
    "azureedge.net",
    "digicert.com",
    "verisign.com",
    "globalsign.com",
    "sectigo.com",
    "letsencrypt.org",
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "apple.com",
    "mozilla.org",
    "mozilla.net",
    "gouv.fr",
    "service-public.fr",
];

/// The organisation's own names: what must never be blocked.
pub(crate) struct OwnNames {
    /// DNS domains (lower case, no trailing dot).
    pub domains: BTreeSet<String>,
    /// Host short names (lower case).
    pub hosts: BTreeSet<String>,
    /// The assets file's host names and patterns, compiled once.
    patterns: crate::patterns::NamePatterns,
    /// Its exact (pattern-free) names, lower case.
    exact: std::collections::HashSet<String>,
}

impl OwnNames {
    /// From the FQDNs seen, account domains and the assets file.
    pub fn new<'a>(
        fqdns: impl Iterator<Item = &'a String>,
        account_domains: impl Iterator<Item = &'a String>,
        hosts: impl Iterator<Item = &'a String>,
        assets: &'a Assets,
    ) -> OwnNames {
        let mut domains = BTreeSet::new();
        for f in fqdns {
            if let Some((_, d)) = f.split_once('.') {
                domains.insert(d.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        for d in account_domains.chain(assets.domains.iter()) {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            if !d.is_empty() {
                domains.insert(d);
            }
        }
        let mut hs: BTreeSet<String> = hosts.map(|h| h.to_ascii_lowercase()).collect();
        for h in &assets.hosts {
            if !h.name.contains('*') && !h.name.contains('?') {
                if let Some(k) = host_key(&h.name) {
                    hs.insert(k.to_ascii_lowercase());
                }
            }
        }
        let patterns =
            crate::patterns::NamePatterns::new(assets.hosts.iter().map(|h| h.name.trim()));
        let exact = assets
            .hosts
            .iter()
            .map(|h| h.name.trim().to_ascii_lowercase())
            .filter(|p| !p.contains(['*', '?']))
            .collect();
        OwnNames {
            domains,
            hosts: hs,
            patterns,
            exact,
        }
    }

    /// Is `name` the organisation's own or internal (never to block)?
    pub fn is_own(&self, name: &str, _assets: &Assets) -> bool {
        let d = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if d.is_empty() || d.parse::<std::net::IpAddr>().is_ok() {
            return true;
        }
        if !d.contains('.') || d.starts_with('_') || d.contains("._") {
            return true;
        }
        let tld = d.rsplit('.').next().unwrap_or("");
        if INTERNAL_SUFFIXES.contains(&tld) || d.ends_with(".home.arpa") {
            return true;
        }
        if self
            .domains
            .iter()
            .any(|o| d == *o || d.ends_with(&format!(".{o}")))
        {
            return true;
        }
        let first = d.split('.').next().unwrap_or("");
        if self.hosts.contains(first) && self.domains.iter().any(|o| d.ends_with(o.as_str())) {
            return true;
        }
        self.patterns.first(&d).is_some()
            || (self.exact.contains(first) && self.hosts.contains(first))
    }
}

/// The registrable domain of a name (`gfs262n301.userstorage.mega.co.nz`
/// → `mega.co.nz`), or the name itself when the list does not know it.
pub(crate) fn registrable(name: &str) -> String {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&n).map(str::to_string).unwrap_or(n)
}

fn undo(lang: Lang, k: ActionKind) -> String {
    match k {
        ActionKind::RevokeRemoteAccess => lang.pick(
            "Rétablir l'accès VPN du compte une fois son mot de passe changé et l'authentification multifacteur activée.",
            "Restore the account's VPN access once its password is changed and multi-factor authentication enabled.",
        ),
        ActionKind::DisableAccount => lang.pick(
            "Réactiver le compte (Enable-ADAccount) après avoir changé son mot de passe.",
            "Re-enable the account (Enable-ADAccount) after changing its password.",
        ),
        ActionKind::DeleteAccount => lang.pick(
            "Le désactiver d'abord (réversible) ; ne le supprimer qu'une fois l'enquête terminée : une suppression ne se défait pas.",
            "Disable it first (reversible); delete it only once the investigation is over: a deletion cannot be undone.",
        ),
        ActionKind::ResetPassword => lang.pick(
            "Un changement de mot de passe ne se défait pas : transmettre le nouveau au titulaire par un canal sûr.",
            "A password change cannot be undone: give the new one to its owner through a trusted channel.",
        ),
        ActionKind::IsolateHost => lang.pick(
            "Le reconnecter au réseau une fois nettoyé ou réinstallé ; le laisser allumé pendant l'enquête (mémoire).",
            "Reconnect it once cleaned or rebuilt; keep it powered on for the investigation (memory).",
        ),
        ActionKind::BlockAddress => lang.pick(
            "Retirer la règle de blocage du pare-feu.",
            "Remove the firewall blocking rule.",
        ),
        ActionKind::BlockDomain => lang.pick(
            "Retirer le blocage DNS ou du proxy.",
            "Remove the DNS or proxy block.",
        ),
        ActionKind::RemoveService => lang.pick(
            "Réinstaller le service s'il était légitime (garder une copie de son programme avant de le supprimer).",
            "Reinstall the service if it was legitimate (keep a copy of its binary before removing it).",
        ),
        ActionKind::ResetKrbtgt => lang.pick(
            "Ne se défait pas ; attendre la réplication et la durée de vie des tickets (10 h) entre les deux changements.",
            "Cannot be undone; wait for replication and the ticket lifetime (10 h) between the two resets.",
        ),
        ActionKind::CollectLogs => lang.pick("Rien à défaire.", "Nothing to undo."),
    }
    .to_string()
}

/// What the plan needs.
pub(crate) struct Input<'a> {
    pub entry: Option<&'a EntryPoint>,
    pub hosts: &'a [Host],
    pub accounts: &'a [Account],
    pub addresses: &'a [Address],
    pub domains: &'a [Domain],
    pub services: &'a [ServiceInstall],
    pub credential_attacks: &'a [CredentialAttack],
    /// Accounts the attacker created: (account, reason, evidence).
    pub backdoors: &'a [(String, String, Evidence)],
    /// Hosts the attack reached that sent no logs: (host, evidence).
    pub unlogged: &'a [(String, Evidence)],
    pub own: &'a OwnNames,
}

struct Plan {
    out: Vec<Action>,
    lang: Lang,
}

impl Plan {
    fn has(&self, kind: ActionKind, target: &str) -> bool {
        self.out
            .iter()
            .any(|a| a.kind == kind && a.target == target)
    }
    fn push(&mut self, kind: ActionKind, target: &str, reason: String, evidence: Vec<Evidence>) {
        if self.has(kind, target) {
            return;
        }
        self.out.push(Action {
            priority: 0,
            kind,
            target: target.to_string(),
            reason,
            evidence,
            undo: undo(self.lang, kind),
        });
    }
}

/// The plan, most urgent first, and the caveats it raises (domains not
/// blocked because they are essential or internal).
pub(crate) fn plan(inp: &Input, ctx: &Ctx) -> (Vec<Action>, Vec<String>) {
    let lang = ctx.lang;
    let zone = ctx.zone;
    let mut p = Plan {
        out: Vec::new(),
        lang,
    };
    let mut caveats = Vec::new();
    let comp_hosts: BTreeSet<&str> = inp
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Yes)
        .map(|h| h.name.as_str())
        .collect();
    // 1. The way in.
    if let Some(e) = inp.entry {
        let ev: Vec<Evidence> = e.evidence.iter().take(2).cloned().collect();
        if let Some(a) = &e.account {
            if e.method == "vpn"
                || matches!(
                    e.source_kind,
                    Some(AddressKind::External | AddressKind::Vpn)
                )
            {
                p.push(
                    ActionKind::RevokeRemoteAccess,
                    a,
                    tr!(
                        lang,
                        "point d'entrée ({} depuis {}, {})",
                        "entry point ({} from {}, {})",
                        vigie_lang::glossary::term(lang, &e.method),
                        e.source_address
                            .as_deref()
                            .unwrap_or(lang.pick("une adresse inconnue", "an unknown address")),
                        text::time(lang, zone, e.time)
                    ),
                    ev.clone(),
                );
            }
            p.push(
                ActionKind::DisableAccount,
                a,
                lang.pick("compte utilisé pour entrer", "account used to get in")
                    .into(),
                ev.clone(),
            );
        }
        if let Some(h) = &e.host {
            p.push(
                ActionKind::IsolateHost,
                h,
                lang.pick(
                    "premier poste ou serveur utilisé par l'attaquant",
                    "first host the attacker used",
                )
                .into(),
                ev.clone(),
            );
        }
        if let (Some(ad), Some(AddressKind::External)) = (&e.source_address, e.source_kind) {
            p.push(
                ActionKind::BlockAddress,
                ad,
                lang.pick(
                    "adresse d'où venait l'attaquant",
                    "address the attacker came from",
                )
                .into(),
                e.evidence.iter().take(1).cloned().collect(),
            );
        }
    }
    // 2. Accounts the attacker made.
    for (name, why, ev) in inp.backdoors {
        p.push(
            ActionKind::DeleteAccount,
            name,
            why.clone(),
            vec![ev.clone()],
        );
    }
    // 3. Passwords the attacker has or can crack.
    for a in inp.credential_attacks {
        for t in &a.targets {
            let why = match t.outcome {
                AttemptOutcome::Succeeded => tr!(
                    lang,
                    "mot de passe trouvé par {} depuis {} ({} échec(s) avant)",
                    "password found by {} from {} ({} failure(s) before)",
                    super::compromise::attack_words(lang, a.kind),
                    a.source,
                    t.attempts
                ),
                AttemptOutcome::TicketObtained => tr!(
                    lang,
                    "ticket de service RC4 obtenu par {} (Kerberoasting) : le mot de passe peut être cassé hors ligne",
                    "RC4 service ticket obtained by {} (Kerberoasting): the password can be cracked offline",
                    a.by_account.as_deref().unwrap_or("?")
                ),
                AttemptOutcome::Failed => continue,
            };
            p.push(
                ActionKind::ResetPassword,
                &t.account,
                why,
                t.evidence.iter().take(2).cloned().collect(),
            );
        }
    }
    // 4. Remote-access and file-sharing services, and domains a rule named
    // that compromised hosts contacted: one block per registrable domain,
    // never an internal or essential one.
    let mut blocks: BTreeMap<String, (Vec<&Domain>, BTreeSet<String>)> = BTreeMap::new();
    let mut skipped_essential: BTreeSet<String> = BTreeSet::new();
    for d in inp.domains {
        let category = d
            .reasons
            .iter()
            .any(|r| r == "remote_access" || r == "file_sharing");
        let flagged =
            !d.reasons.is_empty() && d.hosts.iter().any(|h| comp_hosts.contains(h.as_str()));
        if !(category || flagged) {
            continue;
        }
        if inp.own.is_own(&d.domain, ctx.assets) {
            continue;
        }
        let reg = registrable(&d.domain);
        if inp.own.is_own(&reg, ctx.assets) {
            continue;
        }
        if ESSENTIAL.contains(&reg.as_str()) {
            skipped_essential.insert(reg);
            continue;
        }
        let e = blocks.entry(reg).or_default();
        e.0.push(d);
        e.1.extend(d.hosts.iter().cloned());
    }
    for (reg, (ds, hosts)) in &blocks {
        let mut reasons: BTreeSet<String> = BTreeSet::new();
        for d in ds {
            for r in &d.reasons {
                reasons.insert(match r.as_str() {
                    "file_sharing" => lang.pick("partage de fichiers", "file sharing").into(),
                    "remote_access" => lang.pick("accès à distance", "remote access").into(),
                    other => other.to_string(),
                });
            }
        }
        let names: Vec<String> = ds.iter().map(|d| d.domain.clone()).collect();
        let hosts: Vec<String> = hosts.iter().cloned().collect();
        let mut evidence = Vec::new();
        for d in ds {
            if let Some(e) = d.evidence.first() {
                crate::observer::push_top_ref(&mut evidence, e);
            }
        }
        evidence.truncate(3);
        p.push(
            ActionKind::BlockDomain,
            reg,
            tr!(
                lang,
                "contacté depuis {} ({}) : {}",
                "contacted from {} ({}): {}",
                text::list(lang, &hosts, 6),
                text::list(lang, &names, 4),
                reasons
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(lang.pick(" ; ", "; "))
            ),
            evidence,
        );
    }
    if !skipped_essential.is_empty() {
        let v: Vec<String> = skipped_essential.into_iter().collect();
        caveats.push(tr!(
            lang,
            "Domaines signalés mais non bloqués parce que le réseau en a besoin ({}) : vérifier le trafic vers eux plutôt que de les bloquer.",
            "Domains flagged but not blocked because the network needs them ({}): review the traffic to them rather than blocking them.",
            v.join(", ")
        ));
    }
    // 5. External addresses used in the attack.
    for a in inp
        .addresses
        .iter()
        .filter(|a| a.implicated && a.kind == AddressKind::External)
    {
        p.push(
            ActionKind::BlockAddress,
            &a.address,
            lang.pick(
                "adresse externe utilisée pendant l'attaque",
                "external address used in the attack",
            )
            .into(),
            a.evidence.iter().take(1).cloned().collect(),
        );
    }
    // 6. Compromised hosts and accounts.
    for h in inp
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Yes)
    {
        p.push(
            ActionKind::IsolateHost,
            &h.name,
            h.compromise_reasons.first().cloned().unwrap_or_default(),
            h.evidence.iter().take(1).cloned().collect(),
        );
    }
    for a in inp
        .accounts
        .iter()
        .filter(|a| a.compromised == Compromise::Yes)
    {
        if p.has(ActionKind::DeleteAccount, &a.name) || p.has(ActionKind::ResetPassword, &a.name) {
            continue;
        }
        let kind = if a.kind == AccountKind::Service {
            ActionKind::ResetPassword
        } else {
            ActionKind::DisableAccount
        };
        let why = a.compromise_reasons.first().cloned().unwrap_or_default();
        let why = if kind == ActionKind::DisableAccount {
            tr!(
                lang,
                "{why} ; puis changer son mot de passe",
                "{why}; then reset its password"
            )
        } else {
            why
        };
        p.push(
            kind,
            &a.name,
            why,
            a.evidence.iter().take(1).cloned().collect(),
        );
    }
    // 7. Remote-access tools installed as services.
    for s in inp.services.iter().filter(|s| {
        s.suspicious
            && comp_hosts.contains(s.host.as_str())
            && exposure::remote_access_name(&format!(
                "{} {}",
                s.name,
                s.image_path.as_deref().unwrap_or("")
            ))
    }) {
        p.push(
            ActionKind::RemoveService,
            &tr!(lang, "{} sur {}", "{} on {}", s.name, s.host),
            lang.pick(
                "outil d'accès à distance installé comme service",
                "remote-access tool installed as a service",
            )
            .into(),
            vec![s.evidence.clone()],
        );
    }
    // 8. A compromised domain controller: Kerberos tickets can be forged.
    if let Some(dc) = inp.hosts.iter().find(|h| {
        h.compromised == Compromise::Yes && h.role.as_deref() == Some("domain_controller")
    }) {
        p.push(
            ActionKind::ResetKrbtgt,
            "krbtgt",
            tr!(
                lang,
                "le contrôleur de domaine {} est compromis : des tickets Kerberos peuvent être forgés",
                "domain controller {} is compromised: Kerberos tickets may be forged",
                dc.name
            ),
            dc.evidence.iter().take(2).cloned().collect(),
        );
    }
    // 9. Hosts the attack reached that sent no logs.
    for (h, ev) in inp.unlogged {
        p.push(
            ActionKind::CollectLogs,
            h,
            tr!(
                lang,
                "{h} a été atteint ({}) mais n'a envoyé aucun journal : collecter ses journaux",
                "{h} was reached ({}) but sent no logs: collect them",
                crate::say::render(lang, &ev.summary)
            ),
            vec![ev.clone()],
        );
    }
    // 10. Suspected hosts.
    for h in inp
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Suspected)
    {
        p.push(
            ActionKind::IsolateHost,
            &h.name,
            tr!(
                lang,
                "suspect : {}",
                "suspected: {}",
                h.compromise_reasons.first().cloned().unwrap_or_default()
            ),
            h.evidence.iter().take(1).cloned().collect(),
        );
    }
    for (i, a) in p.out.iter_mut().enumerate() {
        a.priority = i as u32 + 1;
    }
    (p.out, caveats)
}

/// An action's verb in the run's language (`Isolate host`).
pub(crate) fn verb(lang: Lang, k: ActionKind) -> &'static str {
    match k {
        ActionKind::RevokeRemoteAccess => lang.pick(
            "Couper l'accès à distance (VPN) de",
            "Cut remote (VPN) access of",
        ),
        ActionKind::DisableAccount => lang.pick("Désactiver le compte", "Disable account"),
        ActionKind::DeleteAccount => lang.pick(
            "Désactiver puis supprimer le compte",
            "Disable then delete account",
        ),
        ActionKind::ResetPassword => {
            lang.pick("Changer le mot de passe de", "Reset the password of")
        }
        ActionKind::IsolateHost => lang.pick("Isoler", "Isolate host"),
        ActionKind::BlockAddress => lang.pick("Bloquer l'adresse", "Block address"),
        ActionKind::BlockDomain => lang.pick("Bloquer le domaine", "Block domain"),
        ActionKind::RemoveService => lang.pick("Supprimer le service", "Remove service"),
        ActionKind::ResetKrbtgt => lang.pick(
            "Changer deux fois le mot de passe de",
            "Reset twice the password of",
        ),
        ActionKind::CollectLogs => lang.pick("Collecter les journaux de", "Collect the logs of"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_and_internal_names_are_never_blocked() {
        let assets = Assets::default();
        let fqdns = [
            "mordordc.theshire.local".to_string(),
            "pc01.example.corp".to_string(),
        ];
        let doms = ["THESHIRE".to_string(), "insecurebank.local".to_string()];
        let hosts = ["IEWIN7".to_string(), "MORDORDC".to_string()];
        let own = OwnNames::new(fqdns.iter(), doms.iter(), hosts.iter(), &assets);
        for n in [
            "_ldap._tcp.mordordc.theshire.local",
            "iewin7",
            "msedgewin10",
            "theshire.local",
            "dc1.insecurebank.local",
            "wpad",
            "intranet.corp",
            "10.0.0.5",
            "router.home.arpa",
        ] {
            assert!(own.is_own(n, &assets), "{n}");
        }
        for n in [
            "mega.co.nz",
            "g.api.mega.co.nz",
            "anydesk.com",
            "evil.example.org",
        ] {
            assert!(!own.is_own(n, &assets), "{n}");
        }
        assert_eq!(
            registrable("gfs262n301.userstorage.mega.co.nz"),
            "mega.co.nz"
        );
        assert_eq!(registrable("relay-1.net.anydesk.com."), "anydesk.com");
    }
}
