//! The shared terms: one word per concept, in both languages, everywhere.
//!
//! Keys are the snake_case names the JSON contracts already use
//! (`critical`, `partial_outage`, `false_positive`, `data_theft`…), so
//! any stage can show an enum value it serialises without this crate
//! knowing the enum. A key that is not here is shown as it is: a missing
//! term is visible, never silently blank.

use crate::Lang;

/// `(key, French, English)`.
const TERMS: &[(&str, &str, &str)] = &[
    // Sigma levels.
    ("informational", "information", "informational"),
    ("low", "faible", "low"),
    ("medium", "moyen", "medium"),
    ("high", "élevé", "high"),
    ("critical", "critique", "critical"),
    // Confidence.
    ("confidence_low", "confiance faible", "low confidence"),
    (
        "confidence_medium",
        "confiance moyenne",
        "medium confidence",
    ),
    ("confidence_high", "confiance élevée", "high confidence"),
    // Compromise of a host or account.
    ("compromised", "compromis", "compromised"),
    ("suspected", "suspect", "suspected"),
    ("not_compromised", "non compromis", "not compromised"),
    // Zones.
    ("reached", "atteinte", "reached"),
    ("not_reached", "non atteinte", "not reached"),
    ("unknown", "inconnu", "unknown"),
    // Services (status board, status page).
    ("operational", "opérationnel", "operational"),
    ("degraded", "dégradé", "degraded"),
    ("partial_outage", "interruption partielle", "partial outage"),
    ("major_outage", "interruption majeure", "major outage"),
    ("maintenance", "maintenance", "maintenance"),
    // Incidents on the status page (Statuspage's phases).
    ("investigating", "analyse en cours", "investigating"),
    ("identified", "cause identifiée", "identified"),
    ("monitoring", "sous surveillance", "monitoring"),
    // Crisis log entries.
    ("decision", "décision", "decision"),
    ("communication", "communication", "communication"),
    ("information", "information", "information"),
    // Categories of personal data (CNIL breach notification form).
    (
        "identity",
        "identité et état civil",
        "identity and civil status",
    ),
    (
        "family_situation",
        "situation familiale",
        "family situation",
    ),
    ("personal_life", "vie personnelle", "personal life"),
    (
        "professional_life",
        "vie professionnelle",
        "professional life",
    ),
    (
        "economic_financial",
        "informations d'ordre économique et financier",
        "economic and financial information",
    ),
    (
        "social",
        "situation sociale et aides",
        "social situation and benefits",
    ),
    ("connection_data", "données de connexion", "connection data"),
    ("location", "données de localisation", "location data"),
    (
        "nir",
        "numéro de sécurité sociale (NIR)",
        "social security number (NIR)",
    ),
    (
        "identity_documents",
        "copies de pièces d'identité",
        "copies of identity documents",
    ),
    (
        "credentials",
        "identifiants et mots de passe",
        "credentials and passwords",
    ),
    ("health", "données de santé", "health data"),
    (
        "offences",
        "infractions, condamnations et mesures de sûreté",
        "offences, convictions and security measures",
    ),
    (
        "other_special",
        "autres données sensibles (origine, opinions, religion, orientation sexuelle, biométrie…)",
        "other special categories (origin, opinions, religion, sexual orientation, biometrics…)",
    ),
    // Triage.
    ("new", "nouveau", "new"),
    ("acknowledged", "pris en compte", "acknowledged"),
    ("resolved", "résolu", "resolved"),
    ("false_positive", "faux positif", "false positive"),
    // Natures of an attack.
    ("ransomware", "rançongiciel", "ransomware"),
    ("data_theft", "vol de données", "data theft"),
    ("credential_theft", "vol d'identifiants", "credential theft"),
    (
        "remote_access_persistence",
        "accès distant persistant",
        "persistent remote access",
    ),
    ("lateral_movement", "mouvement latéral", "lateral movement"),
    (
        "account_manipulation",
        "manipulation de comptes",
        "account manipulation",
    ),
    (
        "defence_evasion",
        "contournement des défenses",
        "defence evasion",
    ),
    ("discovery", "reconnaissance", "discovery"),
    (
        "command_and_control",
        "commande et contrôle",
        "command and control",
    ),
    ("persistence", "persistance", "persistence"),
    ("execution", "exécution", "execution"),
    ("initial_access", "accès initial", "initial access"),
    // Objects.
    ("incident", "incident", "incident"),
    ("detection", "détection", "detection"),
    ("host", "poste ou serveur", "host"),
    ("account", "compte", "account"),
    ("service", "service", "service"),
    ("entry_point", "point d'entrée", "entry point"),
    ("evidence", "preuve", "evidence"),
    ("containment", "confinement", "containment"),
    ("action", "action", "action"),
    ("timeline", "chronologie", "timeline"),
    ("coverage", "couverture des journaux", "log coverage"),
    ("crisis_log", "main courante", "crisis log"),
    ("status_page", "page d'état des services", "status page"),
    // Law and authorities: French names for French readers.
    ("gdpr", "RGPD", "GDPR"),
    ("cnil", "CNIL", "CNIL (French data protection authority)"),
    ("complaint", "plainte", "complaint"),
    ("personal_data", "données personnelles", "personal data"),
    // ATT&CK tactics (the kill-chain strip of the report and the console).
    // `tactic_` + the Sigma tag slug with `_`. French follows the glossary
    // where a nature has the same meaning (Discovery is "reconnaissance"
    // there, so TA0043 Reconnaissance is "repérage préalable").
    (
        "tactic_reconnaissance",
        "repérage préalable",
        "reconnaissance",
    ),
    (
        "tactic_resource_development",
        "préparation des moyens",
        "resource development",
    ),
    ("tactic_initial_access", "accès initial", "initial access"),
    ("tactic_execution", "exécution", "execution"),
    ("tactic_persistence", "persistance", "persistence"),
    (
        "tactic_privilege_escalation",
        "élévation de privilèges",
        "privilege escalation",
    ),
    (
        "tactic_defense_evasion",
        "contournement des défenses",
        "defense evasion",
    ),
    (
        "tactic_defense_impairment",
        "neutralisation des défenses",
        "defense impairment",
    ),
    (
        "tactic_credential_access",
        "accès aux identifiants",
        "credential access",
    ),
    ("tactic_discovery", "reconnaissance", "discovery"),
    (
        "tactic_lateral_movement",
        "mouvement latéral",
        "lateral movement",
    ),
    ("tactic_collection", "collecte", "collection"),
    (
        "tactic_command_and_control",
        "commande et contrôle",
        "command and control",
    ),
    ("tactic_exfiltration", "exfiltration", "exfiltration"),
    ("tactic_impact", "impact", "impact"),
    // Host roles the assets file understands (`hosts[].role`).
    (
        "domain_controller",
        "contrôleur de domaine",
        "domain controller",
    ),
    ("file_server", "serveur de fichiers", "file server"),
    (
        "application_server",
        "serveur d'applications",
        "application server",
    ),
    (
        "database_server",
        "serveur de bases de données",
        "database server",
    ),
    ("backup_server", "serveur de sauvegarde", "backup server"),
    (
        "remote_desktop",
        "serveur de bureau à distance",
        "remote desktop server",
    ),
    ("web_server", "serveur web", "web server"),
    ("workstation", "poste de travail", "workstation"),
    ("firewall", "pare-feu", "firewall"),
    ("vpn_gateway", "passerelle VPN", "VPN gateway"),
    ("isolated_station", "poste isolé", "isolated station"),
    // How the attacker got in (`entry_point.method`).
    ("network_logon", "connexion réseau", "network logon"),
    ("rdp", "RDP", "RDP"),
    ("psexec", "PsExec", "PsExec"),
    ("winrm", "WinRM", "WinRM"),
    ("wmi", "WMI", "WMI"),
    ("dcom", "DCOM", "DCOM"),
    ("local_execution", "exécution locale", "local execution"),
    (
        "admin_share",
        "partage d'administration",
        "administrative share",
    ),
    (
        "explicit_credentials",
        "identifiants fournis explicitement",
        "explicit credentials",
    ),
    (
        "remote_task",
        "tâche planifiée à distance",
        "remote scheduled task",
    ),
    (
        "remote_service",
        "service créé à distance",
        "remote service creation",
    ),
    ("first_detection", "première détection", "first detection"),
    // Why a domain is of interest (`domains[].reasons` categories).
    (
        "remote_access",
        "outil d'accès à distance",
        "remote access tool",
    ),
    ("file_sharing", "partage de fichiers", "file sharing"),
    // Containment actions (`ActionKind`).
    (
        "revoke_remote_access",
        "couper l'accès à distance (VPN)",
        "cut remote (VPN) access",
    ),
    (
        "disable_account",
        "désactiver le compte",
        "disable the account",
    ),
    (
        "delete_account",
        "supprimer le compte",
        "delete the account",
    ),
    (
        "reset_password",
        "changer le mot de passe",
        "reset the password",
    ),
    (
        "isolate_host",
        "isoler la machine du réseau",
        "isolate the machine from the network",
    ),
    ("block_address", "bloquer l'adresse", "block the address"),
    ("block_domain", "bloquer le domaine", "block the domain"),
    (
        "remove_service",
        "supprimer le service",
        "remove the service",
    ),
    (
        "reset_krbtgt",
        "changer deux fois le mot de passe krbtgt",
        "reset the krbtgt password twice",
    ),
    (
        "collect_logs",
        "collecter les journaux de la machine",
        "collect the host's logs",
    ),
    // Data sensitivity (`Sensitivity`).
    ("public", "public", "public"),
    ("internal", "interne", "internal"),
    ("confidential", "confidentiel", "confidential"),
    ("personal", "données personnelles", "personal data"),
    (
        "special_category",
        "données personnelles sensibles",
        "sensitive personal data",
    ),
    // Kinds of address (`AddressKind`).
    ("external", "externe", "external"),
    ("vpn", "VPN", "VPN"),
    // Indicators of compromise (`vigie-intel`): the timeline's `kind: ioc`.
    (
        "ioc",
        "indicateur de compromission",
        "indicator of compromise",
    ),
    // Accounts named by their role in exports (`--include-accounts` off).
    (
        "account_role_admin",
        "compte administrateur",
        "administrator account",
    ),
    (
        "account_role_domain_admin",
        "compte administrateur du domaine",
        "domain administrator account",
    ),
    (
        "account_role_service",
        "compte de service",
        "service account",
    ),
    (
        "account_role_provider",
        "compte de prestataire",
        "outside provider's account",
    ),
    ("account_role_user", "compte d'agent", "staff account"),
    ("account_role_machine", "compte machine", "computer account"),
    (
        "account_role_builtin",
        "compte intégré de Windows",
        "built-in Windows account",
    ),
    ("account_role_unknown", "compte", "account"),
    // The verdict of a run (`assessment`): what the banner says.
    ("attack", "attaque", "attack"),
    ("suspicious", "activité suspecte", "suspicious activity"),
    (
        "nothing_found_with_gaps",
        "rien trouvé, analyse incomplète",
        "nothing found, analysis incomplete",
    ),
    (
        "nothing_found",
        "aucun signe d'attaque",
        "no sign of attack",
    ),
    // Console roles (the communication role shares the service's key).
    ("admin", "administrateur", "administrator"),
    ("analyst", "analyste", "analyst"),
    ("crisis", "cellule de crise", "crisis cell"),
    ("viewer", "lecteur", "viewer"),
];

/// The term for `key` in `lang`, or `key` itself when it is not in the
/// glossary.
pub fn term(lang: Lang, key: &str) -> &str {
    TERMS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, fr, en)| lang.pick(*fr, *en))
        .unwrap_or(key)
}

/// Every key of the glossary (tests of other crates check that the enum
/// values they show have a term).
pub fn keys() -> impl Iterator<Item = &'static str> {
    TERMS.iter().map(|(k, _, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_filled() {
        let mut seen = std::collections::HashSet::new();
        for (k, fr, en) in TERMS {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!fr.is_empty() && !en.is_empty(), "{k}");
        }
    }

    #[test]
    fn unknown_keys_show_as_themselves() {
        assert_eq!(term(Lang::Fr, "gdpr"), "RGPD");
        assert_eq!(term(Lang::En, "partial_outage"), "partial outage");
        assert_eq!(term(Lang::Fr, "no_such_term"), "no_such_term");
        assert_eq!(
            term(Lang::Fr, "tactic_discovery"),
            term(Lang::Fr, "discovery")
        );
        assert_eq!(
            term(Lang::Fr, "isolate_host"),
            "isoler la machine du réseau"
        );
    }
}
