//! Every word the report writes, in French and in English, in one place.
//!
//! Why a table of fields rather than strings scattered in the renderer:
//! the two languages sit side by side (a change to one is seen to need
//! the other), the compiler checks that French has every word English
//! has, and the console and the status page can take the same words
//! (`vigie_report::text::FR`) so that the crisis cell reads one
//! vocabulary everywhere. Terms shared beyond the report (levels,
//! tactics, roles, actions, sensitivities) come from
//! [`vigie_lang::glossary`]; sentences with values are [`Voice`] methods
//! built with [`vigie_lang::tr!`].
//!
//! Times are shown in the reader's [`Zone`] with the year and the zone's
//! abbreviation (`2026-01-10 02:11 CET`); the UTC time is in the `title`
//! (hover) and the `datetime` attribute.

use std::ops::Deref;

use chrono::Datelike;
use vigie_event::Timestamp;
use vigie_lang::{glossary, tr, Lang, Precision, Zone};

/// The report's vocabulary in one language.
#[derive(Debug, Clone)]
pub struct Strings {
    pub months: [&'static str; 12],
    pub title: &'static str,
    pub generated: &'static str,
    pub confidential: &'static str,
    pub skip_to_answer: &'static str,
    pub sections: &'static str,
    // navigation / section titles
    pub s_answer: &'static str,
    pub s_progression: &'static str,
    pub s_timeline: &'static str,
    pub s_graph: &'static str,
    pub s_hosts: &'static str,
    pub s_accounts: &'static str,
    pub s_services: &'static str,
    pub s_zones: &'static str,
    pub s_data: &'static str,
    pub s_containment: &'static str,
    pub s_coverage: &'static str,
    pub s_detections: &'static str,
    // section introductions, for non-specialists
    pub i_progression: &'static str,
    pub i_timeline: &'static str,
    pub i_graph: &'static str,
    pub i_hosts: &'static str,
    pub i_accounts: &'static str,
    pub i_services: &'static str,
    pub i_zones: &'static str,
    pub i_data: &'static str,
    pub i_containment: &'static str,
    pub i_coverage: &'static str,
    pub i_detections: &'static str,
    // answer block
    pub a_what: &'static str,
    pub a_entry: &'static str,
    pub a_when: &'static str,
    pub a_extent: &'static str,
    pub a_act_now: &'static str,
    pub a_isolated: &'static str,
    pub a_data: &'static str,
    pub a_hosts: &'static str,
    pub a_accounts: &'static str,
    pub a_services_down: &'static str,
    pub a_detections: &'static str,
    pub a_not_analysed: &'static str,
    // graph
    pub g_entry: &'static str,
    pub g_hop: &'static str,
    pub g_unlinked: &'static str,
    pub g_more: &'static str,
    pub g_legend_red: &'static str,
    pub g_legend_amber: &'static str,
    pub g_legend_green: &'static str,
    pub g_legend_grey: &'static str,
    pub g_legend_ext: &'static str,
    pub g_empty: &'static str,
    pub g_public_address: &'static str,
    pub g_vpn_address: &'static str,
    pub g_internal_address: &'static str,
    // timeline
    pub t_per_hour: &'static str,
    pub t_per_bin: &'static str,
    pub t_steps: &'static str,
    pub t_empty: &'static str,
    // progression
    pub p_not_seen: &'static str,
    pub p_seen: &'static str,
    pub p_tactic: &'static str,
    pub p_first: &'static str,
    pub p_techniques: &'static str,
    pub p_where: &'static str,
    pub p_empty: &'static str,
    pub p_from_entry: &'static str,
    // tables
    pub c_host: &'static str,
    pub c_zone: &'static str,
    pub c_state: &'static str,
    pub c_first: &'static str,
    pub c_last: &'static str,
    pub c_role: &'static str,
    pub c_evidence: &'static str,
    pub c_account: &'static str,
    pub c_kind: &'static str,
    pub c_service: &'static str,
    pub c_depends: &'static str,
    pub c_time: &'static str,
    pub c_level: &'static str,
    pub c_rule: &'static str,
    pub c_details: &'static str,
    pub c_tactics: &'static str,
    pub c_action: &'static str,
    pub c_target: &'static str,
    pub c_why: &'static str,
    pub c_priority: &'static str,
    pub c_source: &'static str,
    pub c_events: &'static str,
    pub c_period: &'static str,
    pub c_gaps: &'static str,
    pub c_what: &'static str,
    pub c_count: &'static str,
    pub none: &'static str,
    pub c_first_sign: &'static str,
    pub c_last_sign: &'static str,
    pub print_rows_note: &'static str,
    pub probable_exfiltration: &'static str,
    pub all_services: &'static str,
    pub unknown: &'static str,
    pub filter_placeholder: &'static str,
    pub filter_min_level: &'static str,
    pub shown: &'static str,
    pub more_rows: &'static str,
    pub more_rows_print: &'static str,
    // status words
    pub v_confirmed: &'static str,
    pub v_suspected: &'static str,
    pub v_clear: &'static str,
    pub v_gaps: &'static str,
    pub v_nothing_read: &'static str,
    pub v_period: &'static str,
    pub compromise: [&'static str; 3],
    pub reach: [&'static str; 3],
    pub service_state: [&'static str; 4],
    pub confidence: [&'static str; 3],
    pub link_short: [&'static str; 11],
    pub link_long: [&'static str; 11],
    pub exposure: [&'static str; 5],
    pub account_kind: [&'static str; 7],
    pub lane_outside: &'static str,
    pub lane_outside_status: &'static str,
    pub lane_no_zone: &'static str,
    pub lane_reached: &'static str,
    pub entry_card: &'static str,
    pub e_source: &'static str,
    pub links_table: &'static str,
    pub c_from: &'static str,
    pub c_to: &'static str,
    pub c_method: &'static str,
    pub c_destinations: &'static str,
    pub c_bytes_out: &'static str,
    pub c_personal: &'static str,
    pub c_rules: &'static str,
    pub c_incident: &'static str,
    pub c_severity: &'static str,
    pub c_hosts: &'static str,
    pub c_accounts: &'static str,
    pub c_services: &'static str,
    pub c_groups: &'static str,
    pub c_privileged: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub caveats: &'static str,
    pub incidents_title: &'static str,
    pub rules_title: &'static str,
    pub correlations_title: &'static str,
    pub rows_title: &'static str,
    pub artifacts_title: &'static str,
    pub processes: &'static str,
    pub services_installed: &'static str,
    pub tasks: &'static str,
    pub domains: &'static str,
    pub c_command: &'static str,
    pub c_parent: &'static str,
    /// After a parent chain the live scope cut at its horizon.
    pub parent_beyond_horizon: &'static str,
    pub c_user: &'static str,
    pub c_name: &'static str,
    pub c_domain: &'static str,
    pub record_gap: &'static str,
    pub cleared: &'static str,
    pub silence: &'static str,
    pub zone_hosts: &'static str,
    pub zone_coverage: &'static str,
    pub zone_evidence: &'static str,
    pub critical_zone: &'static str,
    pub isolated_zone: &'static str,
    pub timeline_fallback: &'static str,
    pub new_account: &'static str,
    pub nothing_to_do: &'static str,
    pub no_data_exposure: &'static str,
    pub act_more: &'static str,
    pub gdpr: &'static str,
    pub scope_schema: &'static str,
}

/// English.
pub const EN: Strings = Strings {
    months: [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    title: "Incident report",
    generated: "Generated by Vigie",
    confidential: "Confidential — contains personal data and attack details. Do not forward outside the crisis cell.",
    skip_to_answer: "Skip to the answer",
    sections: "Sections of the report",
    s_answer: "What happened",
    s_progression: "How the attack progressed",
    s_timeline: "Timeline",
    s_graph: "How the attacker moved",
    s_hosts: "Machines",
    s_accounts: "Accounts",
    s_services: "Services to residents",
    s_zones: "Network zones",
    s_data: "Data exposure",
    s_containment: "What to do now",
    s_coverage: "What the logs let us see",
    s_detections: "Detections",
    i_progression: "The stages of the attack, in the order attackers usually follow them (MITRE ATT&CK). Coloured stages were seen in the logs.",
    i_timeline: "Detections over time, by severity. Numbered markers are the attack steps identified in the logs.",
    i_graph: "Each box is a machine, grouped by network zone. Arrows show how the attacker went from one machine to the next, with the method and the account used. Columns follow the order of first contact.",
    i_hosts: "Every machine involved, and what the logs show about it.",
    i_accounts: "User and service accounts used or created by the attacker. Their passwords must be considered known to the attacker.",
    i_services: "Public services and the machines they depend on.",
    i_zones: "Which parts of the network the attacker reached, and on what evidence we say so.",
    i_data: "Data that may have been read, copied or sent out of the organisation.",
    i_containment: "Actions to take now, most urgent first.",
    i_coverage: "Which logs were analysed, for which period, and where they are missing. A machine without logs is not a machine without attack.",
    i_detections: "Detections raised by the rules (Sigma). Some may be false positives on ordinary activity.",
    a_what: "What",
    a_entry: "How they got in",
    a_when: "When",
    a_extent: "What they reached",
    a_act_now: "Act now",
    a_isolated: "Critical and isolated systems",
    a_data: "Data",
    a_hosts: "machines compromised",
    a_accounts: "accounts compromised",
    a_services_down: "services affected",
    a_detections: "detections",
    a_not_analysed: "Not analysed",
    g_entry: "Entry",
    g_hop: "Hop",
    g_unlinked: "No observed link",
    g_more: "more",
    g_legend_red: "Compromised",
    g_legend_amber: "Suspect",
    g_legend_green: "No sign of attack",
    g_legend_grey: "Unknown (no evidence)",
    g_legend_ext: "Attacker (outside)",
    g_empty: "No movement between machines was observed.",
    g_public_address: "public address",
    g_vpn_address: "VPN address",
    g_internal_address: "internal address",
    t_per_hour: "detections per hour",
    t_per_bin: "detections per bar",
    t_steps: "Attack steps",
    t_empty: "No timed detections to chart.",
    p_not_seen: "not seen",
    p_seen: "seen",
    p_tactic: "Stage (tactic)",
    p_first: "First seen",
    p_techniques: "Techniques",
    p_where: "Where",
    p_empty: "No ATT&CK technique was identified.",
    p_from_entry: "entry point",
    c_host: "Machine",
    c_zone: "Zone",
    c_state: "Status",
    c_first: "First seen",
    c_last: "Last seen",
    c_role: "Role",
    c_evidence: "Evidence",
    c_account: "Account",
    c_kind: "Kind",
    c_service: "Service",
    c_depends: "Depends on",
    c_time: "Time",
    c_level: "Level",
    c_rule: "Rule",
    c_details: "Details",
    c_tactics: "ATT&CK",
    c_action: "Action",
    c_target: "Target",
    c_why: "Why",
    c_priority: "Priority",
    c_source: "Log source",
    c_events: "Events",
    c_period: "Period covered",
    c_gaps: "Gaps",
    c_what: "What",
    c_count: "Count",
    none: "none",
    c_first_sign: "First sign of attack",
    c_last_sign: "Last sign",
    print_rows_note: "The list of every detection is left out of the printed report: open the HTML file, or the JSON/CSV timeline written by vigie hunt.",
    probable_exfiltration: "probably left the organisation",
    all_services: "every service",
    unknown: "unknown",
    filter_placeholder: "Filter (machine, rule, account, command…)",
    filter_min_level: "Minimum level",
    shown: "shown",
    more_rows: "more rows not shown here: every row is in the timeline (JSON/CSV) and the scope JSON written by vigie hunt.",
    more_rows_print: "more rows on screen, in the HTML report.",
    v_confirmed: "Attack confirmed",
    v_suspected: "Suspicious activity",
    v_clear: "No sign of attack in the logs analysed",
    v_gaps: "No sign of attack found — but the analysis is incomplete",
    v_nothing_read: "Nothing could be analysed",
    v_period: "Attack period",
    compromise: ["No sign", "Suspect", "Compromised"],
    reach: ["Reached", "Not reached", "Unknown"],
    service_state: ["Affected", "Degraded", "Unaffected", "Unknown"],
    confidence: ["low confidence", "medium confidence", "high confidence"],
    link_short: [
        "RDP", "PsExec", "Admin share", "Network logon", "Explicit creds", "VPN", "WinRM", "WMI",
        "Remote task", "Remote service", "DCOM",
    ],
    link_long: [
        "Remote desktop (RDP)",
        "PsExec (remote command)",
        "Administrative share (ADMIN$, C$)",
        "Network logon",
        "Explicit credentials",
        "VPN session",
        "WinRM (remote PowerShell)",
        "WMI",
        "Remote scheduled task",
        "Remote service creation",
        "DCOM (remote Office or MMC automation)",
    ],
    exposure: ["Archived", "Copied in bulk", "Uploaded out", "Share accessed", "Large transfer out"],
    account_kind: ["Administrator", "Service", "Outside provider", "Staff", "Computer", "Built-in", "Unknown"],
    lane_outside: "Outside / remote access",
    lane_outside_status: "attacker side",
    lane_no_zone: "Zone not declared",
    lane_reached: "reached",
    entry_card: "Entry point",
    e_source: "From",
    links_table: "All movements (table)",
    c_from: "From",
    c_to: "To",
    c_method: "Method",
    c_destinations: "Destinations",
    c_bytes_out: "Sent out",
    c_personal: "Personal data",
    c_rules: "Rules",
    c_incident: "Incident",
    c_severity: "Severity",
    c_hosts: "Machines",
    c_accounts: "Accounts",
    c_services: "Services",
    c_groups: "Added to groups",
    c_privileged: "Privileged",
    yes: "yes",
    no: "no",
    caveats: "Limits of this analysis",
    incidents_title: "Incidents (detections grouped)",
    rules_title: "Rules that fired",
    correlations_title: "Correlations (several events together)",
    rows_title: "Every detection",
    artifacts_title: "Technical traces",
    processes: "Suspicious processes",
    services_installed: "Services installed",
    tasks: "Scheduled tasks",
    domains: "Domains contacted",
    c_command: "Command line",
    c_parent: "Parent",
    parent_beyond_horizon: "parent not held: it may be older than the live scope's horizon (its event is then in the store)",
    c_user: "User",
    c_name: "Name",
    c_domain: "Domain",
    record_gap: "records missing",
    cleared: "log cleared",
    silence: "silence",
    zone_hosts: "Machines",
    zone_coverage: "Logs that cover it",
    zone_evidence: "Evidence",
    critical_zone: "critical",
    isolated_zone: "isolated",
    timeline_fallback: "Per-detection times were not provided: the chart shows each attack step at its first occurrence, with its count.",
    new_account: "created by the attacker",
    nothing_to_do: "No containment action was derived from the logs.",
    no_data_exposure: "No data archiving, bulk copy or transfer out was seen in the logs.",
    act_more: "see all actions",
    gdpr: "Personal data exposed: a GDPR Art. 33 notification to the CNIL is due within 72 hours of becoming aware.",
    scope_schema: "scope schema",
};

/// French: written for a mayor's crisis cell and a municipal technician
/// ("poste", "compte", "rançongiciel", "RGPD", "CNIL").
pub const FR: Strings = Strings {
    months: [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ],
    title: "Rapport d'incident",
    generated: "Produit par Vigie",
    confidential: "Confidentiel — contient des données personnelles et le détail de l'attaque. Ne pas diffuser hors de la cellule de crise.",
    skip_to_answer: "Aller à la réponse",
    sections: "Parties du rapport",
    s_answer: "Ce qui s'est passé",
    s_progression: "Déroulement de l'attaque",
    s_timeline: "Chronologie",
    s_graph: "Parcours de l'attaquant",
    s_hosts: "Postes et serveurs",
    s_accounts: "Comptes",
    s_services: "Services aux usagers",
    s_zones: "Zones du réseau",
    s_data: "Données exposées",
    s_containment: "Que faire maintenant",
    s_coverage: "Ce que les journaux permettent de voir",
    s_detections: "Détections",
    i_progression: "Les étapes de l'attaque, dans l'ordre que suivent habituellement les attaquants (MITRE ATT&CK). Les étapes en couleur ont été vues dans les journaux.",
    i_timeline: "Les détections dans le temps, par gravité. Les repères numérotés sont les étapes de l'attaque identifiées dans les journaux.",
    i_graph: "Chaque case est un poste ou un serveur, regroupé par zone du réseau. Les flèches montrent comment l'attaquant est passé d'une machine à l'autre, par quel moyen et avec quel compte. Les colonnes suivent l'ordre du premier contact.",
    i_hosts: "Chaque poste ou serveur concerné, et ce que les journaux en disent.",
    i_accounts: "Comptes d'utilisateurs et de service utilisés ou créés par l'attaquant. Leurs mots de passe doivent être considérés comme connus de l'attaquant.",
    i_services: "Les services publics et les machines dont ils dépendent.",
    i_zones: "Les parties du réseau atteintes par l'attaquant, et sur quels éléments nous l'affirmons.",
    i_data: "Les données qui ont pu être lues, copiées ou envoyées hors de la collectivité.",
    i_containment: "Les actions à mener maintenant, les plus urgentes d'abord.",
    i_coverage: "Quels journaux ont été analysés, sur quelle période, et où ils manquent. Une machine sans journaux n'est pas une machine sans attaque.",
    i_detections: "Les détections levées par les règles (Sigma). Certaines peuvent être des faux positifs sur une activité ordinaire.",
    a_what: "Quoi",
    a_entry: "Comment ils sont entrés",
    a_when: "Quand",
    a_extent: "Ce qu'ils ont atteint",
    a_act_now: "À faire tout de suite",
    a_isolated: "Systèmes critiques et isolés",
    a_data: "Données",
    a_hosts: "postes ou serveurs compromis",
    a_accounts: "comptes compromis",
    a_services_down: "services touchés",
    a_detections: "détections",
    a_not_analysed: "Non analysé",
    g_entry: "Entrée",
    g_hop: "Rebond",
    g_unlinked: "Sans lien observé",
    g_more: "de plus",
    g_legend_red: "Compromis",
    g_legend_amber: "Suspect",
    g_legend_green: "Aucun signe d'attaque",
    g_legend_grey: "Inconnu (aucun élément)",
    g_legend_ext: "Attaquant (extérieur)",
    g_empty: "Aucun déplacement entre machines n'a été observé.",
    g_public_address: "adresse publique",
    g_vpn_address: "adresse VPN",
    g_internal_address: "adresse interne",
    t_per_hour: "détections par heure",
    t_per_bin: "détections par barre",
    t_steps: "Étapes de l'attaque",
    t_empty: "Aucune détection datée à représenter.",
    p_not_seen: "non vu",
    p_seen: "vu",
    p_tactic: "Étape (tactique)",
    p_first: "Vu la première fois",
    p_techniques: "Techniques",
    p_where: "Où",
    p_empty: "Aucune technique ATT&CK n'a été identifiée.",
    p_from_entry: "point d'entrée",
    c_host: "Poste ou serveur",
    c_zone: "Zone",
    c_state: "État",
    c_first: "Première fois",
    c_last: "Dernière fois",
    c_role: "Rôle",
    c_evidence: "Preuve",
    c_account: "Compte",
    c_kind: "Type",
    c_service: "Service",
    c_depends: "Dépend de",
    c_time: "Heure",
    c_level: "Niveau",
    c_rule: "Règle",
    c_details: "Détails",
    c_tactics: "ATT&CK",
    c_action: "Action",
    c_target: "Cible",
    c_why: "Pourquoi",
    c_priority: "Priorité",
    c_source: "Journal",
    c_events: "Événements",
    c_period: "Période couverte",
    c_gaps: "Manques",
    c_what: "Quoi",
    c_count: "Nombre",
    none: "aucun",
    c_first_sign: "Premier signe d'attaque",
    c_last_sign: "Dernier signe",
    print_rows_note: "La liste de toutes les détections n'est pas imprimée : ouvrez le fichier HTML, ou la chronologie JSON/CSV écrite par vigie hunt.",
    probable_exfiltration: "probablement sorties de la collectivité",
    all_services: "tous les services",
    unknown: "inconnu",
    filter_placeholder: "Filtrer (machine, règle, compte, commande…)",
    filter_min_level: "Niveau minimal",
    shown: "affichées",
    more_rows: "lignes de plus non affichées ici : toutes figurent dans la chronologie (JSON/CSV) et le périmètre JSON écrits par vigie hunt.",
    more_rows_print: "lignes de plus à l'écran, dans le rapport HTML.",
    v_confirmed: "Attaque confirmée",
    v_suspected: "Activité suspecte",
    v_clear: "Aucun signe d'attaque dans les journaux analysés",
    v_gaps: "Aucun signe d'attaque trouvé — mais l'analyse est incomplète",
    v_nothing_read: "Rien n'a pu être analysé",
    v_period: "Période de l'attaque",
    compromise: ["Aucun signe", "Suspect", "Compromis"],
    reach: ["Atteinte", "Non atteinte", "Inconnu"],
    service_state: ["Touché", "Dégradé", "Non touché", "Inconnu"],
    confidence: ["confiance faible", "confiance moyenne", "confiance élevée"],
    link_short: [
        "RDP",
        "PsExec",
        "Partage admin",
        "Connexion réseau",
        "Identifiants explicites",
        "VPN",
        "WinRM",
        "WMI",
        "Tâche à distance",
        "Service à distance",
        "DCOM",
    ],
    link_long: [
        "Bureau à distance (RDP)",
        "PsExec (commande à distance)",
        "Partage d'administration (ADMIN$, C$)",
        "Connexion réseau",
        "Identifiants fournis explicitement",
        "Session VPN",
        "WinRM (PowerShell à distance)",
        "WMI",
        "Tâche planifiée à distance",
        "Création de service à distance",
        "DCOM (automatisation Office ou MMC à distance)",
    ],
    exposure: [
        "Archivées",
        "Copiées en masse",
        "Envoyées à l'extérieur",
        "Partage consulté",
        "Gros transfert sortant",
    ],
    account_kind: [
        "Administrateur",
        "Compte de service",
        "Prestataire",
        "Agent",
        "Compte machine",
        "Compte intégré",
        "Inconnu",
    ],
    lane_outside: "Extérieur / accès à distance",
    lane_outside_status: "côté attaquant",
    lane_no_zone: "Zone non déclarée",
    lane_reached: "atteinte",
    entry_card: "Point d'entrée",
    e_source: "Depuis",
    links_table: "Tous les déplacements (tableau)",
    c_from: "Depuis",
    c_to: "Vers",
    c_method: "Moyen",
    c_destinations: "Destinations",
    c_bytes_out: "Volume sorti",
    c_personal: "Données personnelles",
    c_rules: "Règles",
    c_incident: "Incident",
    c_severity: "Gravité",
    c_hosts: "Postes et serveurs",
    c_accounts: "Comptes",
    c_services: "Services",
    c_groups: "Ajouté aux groupes",
    c_privileged: "Privilégié",
    yes: "oui",
    no: "non",
    caveats: "Limites de cette analyse",
    incidents_title: "Incidents (détections regroupées)",
    rules_title: "Règles déclenchées",
    correlations_title: "Corrélations (plusieurs événements ensemble)",
    rows_title: "Toutes les détections",
    artifacts_title: "Traces techniques",
    processes: "Processus suspects",
    services_installed: "Services installés",
    tasks: "Tâches planifiées",
    domains: "Domaines contactés",
    c_command: "Ligne de commande",
    c_parent: "Parent",
    parent_beyond_horizon: "parent non conservé : il peut être plus ancien que l'horizon du périmètre en direct (son événement est alors dans le stockage)",
    c_user: "Utilisateur",
    c_name: "Nom",
    c_domain: "Domaine",
    record_gap: "enregistrements manquants",
    cleared: "journal effacé",
    silence: "silence",
    zone_hosts: "Postes et serveurs",
    zone_coverage: "Journaux qui la couvrent",
    zone_evidence: "Preuves",
    critical_zone: "critique",
    isolated_zone: "isolée",
    timeline_fallback: "L'heure de chaque détection n'a pas été fournie : le graphique place chaque étape de l'attaque à sa première occurrence, avec son nombre.",
    new_account: "créé par l'attaquant",
    nothing_to_do: "Aucune action de confinement n'a été déduite des journaux.",
    no_data_exposure: "Aucun archivage, copie en masse ni transfert sortant de données n'a été vu dans les journaux.",
    act_more: "voir toutes les actions",
    gdpr: "Données personnelles exposées : une notification à la CNIL (RGPD, art. 33) est due dans les 72 heures suivant la prise de connaissance.",
    scope_schema: "schéma du périmètre",
};

impl Strings {
    /// The vocabulary of `lang`.
    pub fn of(lang: Lang) -> &'static Strings {
        match lang {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }
}

/// The report's voice: its language, the reader's time zone, and the
/// words. Dereferences to [`Strings`], so `v.s_answer` reads a word and
/// `v.time(t)` formats a time.
#[derive(Debug, Clone, Copy)]
pub struct Voice {
    pub lang: Lang,
    pub zone: Zone,
    pub words: &'static Strings,
}

impl Deref for Voice {
    type Target = Strings;
    fn deref(&self) -> &Strings {
        self.words
    }
}

impl Voice {
    pub fn new(lang: Lang, zone: Zone) -> Voice {
        Voice {
            lang,
            zone,
            words: Strings::of(lang),
        }
    }

    /// `2026-01-10 02:11 CET`: minute precision for people, always with
    /// the year and the zone.
    pub fn short_time(&self, t: &Timestamp) -> String {
        self.zone.format(*t, Precision::Minute)
    }

    /// `2026-01-10 02:11:07 CET`: second precision (tooltips, evidence).
    pub fn long_time(&self, t: &Timestamp) -> String {
        self.zone.format(*t, Precision::Second)
    }

    /// `2026-01-10 01:11:07 UTC`: what a `title` shows on hover.
    pub fn utc_time(&self, t: &Timestamp) -> String {
        Zone::Utc.format(*t, Precision::Second)
    }

    /// `10 janv.` / `10 Jan` (local day), with the year when `year` is set:
    /// chart axes, where the year is written on the first label and where
    /// it changes.
    pub fn day(&self, t: &Timestamp, year: bool) -> String {
        let d = self.zone.date(*t);
        let m = self.months[d.month0() as usize];
        if year {
            format!("{} {m} {}", d.day(), d.year())
        } else {
            format!("{} {m}", d.day())
        }
    }

    /// `label:` as the language writes it: French puts a (no-break)
    /// space before the colon (`Période couverte :`).
    pub fn label(&self, s: &str) -> String {
        match self.lang {
            Lang::Fr => format!("{s}\u{a0}:"),
            Lang::En => format!("{s}:"),
        }
    }

    /// A glossary term.
    pub fn term<'a>(&self, key: &'a str) -> &'a str {
        glossary::term(self.lang, key)
    }

    /// A glossary term with a capital first letter (table cells, buttons).
    pub fn term_cap(&self, key: &str) -> String {
        capitalise(glossary::term(self.lang, key))
    }

    pub fn number(&self, n: u64) -> String {
        self.lang.number(n)
    }

    /// The header line: which zone times are shown in, and where UTC is.
    pub fn times_note(&self) -> String {
        match self.zone {
            Zone::Utc => tr!(self.lang, "Heures en UTC.", "All times are UTC."),
            z => tr!(
                self.lang,
                "Heures du fuseau {zone} ; survolez une heure pour la voir en UTC.",
                "Times in {zone}; hover over a time to see it in UTC.",
                zone = z.name()
            ),
        }
    }

    /// `334 détections` split into its two kinds, so the figure is the
    /// terminal's and the difference with the per-rule table is said.
    pub fn detections_breakdown(&self, single: u64, correlations: u64) -> String {
        tr!(
            self.lang,
            "{s} sur un événement + {c} corrélations",
            "{s} single-event + {c} correlations",
            s = self.number(single),
            c = self.number(correlations)
        )
    }

    /// Level counts under the detections figure.
    pub fn critical_high(&self, critical: u64, high: u64) -> String {
        format!(
            "{} {} · {} {}",
            self.number(critical),
            self.term("critical"),
            self.number(high),
            self.term("high")
        )
    }

    /// The chart's note for detections outside its period (a clock set to
    /// 9999 would otherwise stretch the axis over millennia).
    pub fn outliers(&self, n: u64, first: &Timestamp, last: &Timestamp) -> String {
        let (a, b) = (self.short_time(first), self.short_time(last));
        let range = if a == b { a } else { format!("{a} → {b}") };
        tr!(
            self.lang,
            "{n} détection(s) hors de la période du graphique, à des dates très éloignées des autres (horloge erronée ?) : {range}.",
            "{n} detection(s) outside the chart's period, at dates far from the others (wrong clock?): {range}.",
            n = self.number(n)
        )
    }

    /// The unit of the chart's bars.
    pub fn per_bin(&self, label: &str) -> String {
        tr!(
            self.lang,
            "détections par tranche de {label}",
            "detections per {label}",
        )
    }

    /// The width of a chart bar in words (`6 h`, `1 jour`, `7 days`).
    pub fn span_words(&self, hours: i64) -> String {
        let days = hours / 24;
        match (hours, self.lang) {
            (h, _) if h < 24 => format!("{h} h"),
            (_, Lang::Fr) if days == 1 => "1 jour".into(),
            (_, Lang::Fr) => format!("{} jours", self.number(days as u64)),
            (_, Lang::En) if days == 1 => "day".into(),
            (_, Lang::En) => format!("{} days", self.number(days as u64)),
        }
    }
}

/// `isoler la machine` → `Isoler la machine`.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_carry_the_year_and_the_zone() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 3, 14, 2, 5, 9).unwrap();
        let en = Voice::new(Lang::En, Zone::Utc);
        assert_eq!(en.short_time(&t), "2026-03-14 02:05 UTC");
        assert_eq!(en.long_time(&t), "2026-03-14 02:05:09 UTC");
        assert_eq!(en.day(&t, false), "14 Mar");
        let fr = Voice::new(Lang::Fr, "Europe/Paris".parse().unwrap());
        assert_eq!(fr.short_time(&t), "2026-03-14 03:05 CET");
        assert_eq!(fr.utc_time(&t), "2026-03-14 02:05:09 UTC");
        assert_eq!(fr.day(&t, true), "14 mars 2026");
        assert_eq!(fr.term_cap("isolate_host"), "Isoler la machine du réseau");
        assert_eq!(fr.span_words(48), "2 jours");
    }
}
