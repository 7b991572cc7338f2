//! The crisis cell on the demo's incident (the reference scenario, hunted
//! for real): the service board, the overrides, the public page and its
//! feed, the drafts and their deadlines.

mod common;

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use common::{demo, noon, noticed};
use vigie_communicate::draft::render::{render_html, render_markdown};
use vigie_communicate::draft::{self, Block, Certainty, DraftOptions, RunManifest};
use vigie_communicate::public::{PageInput, PageLinks};
use vigie_communicate::{
    status_page, BoardInput, CrisisLog, DeadlineKind, Deadlines, DraftKind, HostState, KnownAt,
    LogEntry, LogKind, Notices, Override, OverrideLog, PublicPage, ServiceBoard, Status, Template,
};
use vigie_event::Locator;
use vigie_lang::{Lang, Zone};
use vigie_scope::{Assets, Scope};

fn board(scope: &Scope, assets: &Assets, lang: Lang) -> ServiceBoard {
    ServiceBoard::derive(
        scope,
        assets,
        &BoardInput {
            as_of: noticed(),
            isolated: BTreeSet::new(),
            lang,
        },
    )
}

fn opts(lang: Lang, known: Option<chrono::DateTime<Utc>>) -> DraftOptions {
    let d = demo();
    DraftOptions {
        lang,
        zone: Zone::paris(),
        known_at: KnownAt::resolve(known, &d.scope).unwrap(),
        now: noon(),
        manifest: None,
        complementary: false,
    }
}

/// Every internal name a public page must not show: hosts (and their
/// FQDNs and addresses), accounts, addresses, domains contacted, rules.
fn internal_names(scope: &Scope) -> Vec<String> {
    let mut v = Vec::new();
    for h in &scope.hosts {
        v.push(h.name.clone());
        v.extend(h.fqdns.iter().cloned());
        v.extend(h.addresses.iter().cloned());
    }
    for a in &scope.accounts {
        v.push(a.name.clone());
    }
    for a in &scope.addresses {
        v.push(a.address.clone());
    }
    for d in &scope.domains {
        v.push(d.domain.clone());
    }
    for r in &scope.detections.rules {
        v.push(r.title.clone());
    }
    v.retain(|s| s.len() >= 3);
    v
}

fn assert_no_internal_names(what: &str, text: &str, scope: &Scope) {
    let lower = text.to_lowercase();
    for n in internal_names(scope) {
        assert!(
            !lower.contains(&n.to_lowercase()),
            "{what} shows the internal name {n:?}"
        );
    }
}

#[test]
fn the_demo_services_are_in_the_right_state() {
    let d = demo();
    let b = board(&d.scope, &d.assets, Lang::Fr);
    let get = |s: &str| {
        b.get(s)
            .unwrap_or_else(|| panic!("service {s} on the board"))
    };
    // The domain controllers every logon needs are compromised: the CIAS,
    // the aquatic centre and every other service are down...
    for s in [
        "social-action",
        "pool",
        "civil-registry",
        "finance-payroll",
        "family-portal",
        "front-desk",
        "backups",
        "remote-work",
    ] {
        let e = get(s);
        assert_eq!(e.status, Status::MajorOutage, "{s}: {}", e.derived.reason);
        assert!(
            e.derived.hosts.iter().any(|h| h.starts_with("DC0")),
            "{s}: {:?}",
            e.derived.hosts
        );
        assert!(!e.derived.evidence.is_empty(), "{s} has no evidence");
    }
    // ...except the State's passport station on its isolated line, logged
    // over the whole attack and never reached.
    let p = get("passports-id-cards");
    assert_eq!(p.status, Status::Operational, "{}", p.derived.reason);
    assert!(p.hosts.iter().all(|h| !h.shared), "no shared host for it");
    // The CIAS's own servers and its data.
    let cias = get("social-action");
    for h in ["SRV-FIC01", "SRV-SOC01"] {
        let bh = cias.hosts.iter().find(|x| x.name == h).unwrap();
        assert_eq!(bh.state, HostState::Compromised, "{h}");
        assert!(!bh.shared);
    }
    assert!(cias.data_stores.contains(&"CIAS".to_string()));
    assert_eq!(cias.dependants_count, Some(3_400));
    assert_eq!(
        cias.alternative.as_ref().unwrap().phone.as_deref(),
        Some("02 61 91 00 12")
    );
    // Internal services stay on the board, off the public page.
    assert!(get("backups").internal);
    assert_eq!(b.worst_public(), Status::MajorOutage);
}

#[test]
fn no_logs_is_unknown_never_operational_and_isolation_takes_services_down() {
    let d = demo();
    let mut assets = d.assets.clone();
    // A service on a host that never logged anything (in the isolated
    // zone, so that the compromised domain controllers do not decide).
    assets.hosts.insert(
        0,
        vigie_scope::HostAsset {
            name: "SRV-MED01".into(),
            zone: Some("state-id".into()),
            services: vec!["library".into()],
            ..Default::default()
        },
    );
    let b = board(&d.scope, &assets, Lang::En);
    let lib = b.get("library").unwrap();
    assert_eq!(lib.status, Status::Unknown, "{}", lib.derived.reason);
    assert_eq!(lib.hosts[0].state, HostState::NoLogs);
    assert!(lib.derived.reason.contains("SRV-MED01"));

    // The passport station cut from the network: its service is down.
    let isolated = ServiceBoard::derive(
        &d.scope,
        &d.assets,
        &BoardInput {
            as_of: noticed(),
            isolated: ["tes-01.ccpab.local".to_string()].into(),
            lang: Lang::En,
        },
    );
    let p = isolated.get("passports-id-cards").unwrap();
    assert_eq!(p.status, Status::MajorOutage, "{}", p.derived.reason);
    assert_eq!(p.hosts[0].state, HostState::Isolated);
}

#[test]
fn overrides_win_and_the_history_keeps_every_change() {
    let d = demo();
    let mut b = board(&d.scope, &d.assets, Lang::Fr);
    let t1 = noticed() + Duration::hours(3);
    let t2 = noticed() + Duration::hours(30);
    let mut log = OverrideLog::default();
    // Recorded out of order: applied by time.
    log.push(Override {
        service: "pool".into(),
        status: None,
        reason: "Caisses de nouveau hors service".into(),
        author: "R. Le Bihan (DGS)".into(),
        at: t2,
    });
    log.push(Override {
        service: "pool".into(),
        status: Some(Status::Degraded),
        reason: "Ouvert, paiement en espèces uniquement".into(),
        author: "R. Le Bihan (DGS)".into(),
        at: t1,
    });
    assert!(log.problems(&b).is_empty());
    let mut only_first = OverrideLog::default();
    only_first.push(log.overrides[1].clone());
    let mut b1 = b.clone();
    b1.apply(&only_first);
    let pool = b1.get("pool").unwrap();
    assert_eq!(pool.status, Status::Degraded);
    assert_eq!(pool.derived.status, Status::MajorOutage);
    assert_eq!(
        pool.overridden.as_ref().unwrap().author,
        "R. Le Bihan (DGS)"
    );
    assert_eq!(pool.since(), Some(t1));

    b.apply(&log);
    let pool = b.get("pool").unwrap();
    assert_eq!(
        pool.status,
        Status::MajorOutage,
        "back to the derived status"
    );
    assert!(pool.overridden.is_none());
    let h: Vec<(Status, bool)> = pool
        .history
        .iter()
        .map(|c| {
            (
                c.status,
                matches!(c.origin, vigie_communicate::board::Origin::Person { .. }),
            )
        })
        .collect();
    assert_eq!(
        h,
        vec![
            (Status::MajorOutage, false),
            (Status::Degraded, true),
            (Status::MajorOutage, true)
        ]
    );

    // Overrides of services the assets file does not have are refused.
    let mut bad = OverrideLog::default();
    bad.push(Override {
        service: "piscine".into(),
        status: Some(Status::Maintenance),
        reason: "".into(),
        author: "x".into(),
        at: t1,
    });
    let p = bad.problems(&b).join("; ");
    assert!(
        p.contains("piscine") && p.contains("reason is empty"),
        "{p}"
    );

    // The YAML form the CLI reads.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("overrides.yml");
    std::fs::write(
        &f,
        "overrides:\n  - service: pool\n    status: degraded\n    reason: Ouvert\n    author: DGS\n    at: 2026-01-17T11:00:00+01:00\n",
    )
    .unwrap();
    let l = OverrideLog::load(&f).unwrap();
    assert_eq!(l.overrides[0].status, Some(Status::Degraded));
    assert_eq!(
        l.overrides[0].at,
        Utc.with_ymd_and_hms(2026, 1, 17, 10, 0, 0).unwrap()
    );
    std::fs::write(&f, "overrides:\n  - service: pool\n    statut: degraded\n").unwrap();
    let e = OverrideLog::load(&f).unwrap_err().to_string();
    assert!(e.contains("statut"), "{e}");
}

fn page(lang: Lang, b: &ServiceBoard, notices: &Notices) -> (PublicPage, Vec<String>) {
    let d = demo();
    PublicPage::build(&PageInput {
        scope: &d.scope,
        assets: &d.assets,
        board: b,
        notices,
        published: None,
        lang,
        zone: Zone::paris(),
        now: noon(),
        links: PageLinks {
            feed: "feed.atom".into(),
            other_lang: Some(lang.pick("en/index.html", "../index.html").into()),
            page_url: None,
        },
    })
}

#[test]
fn the_public_page_and_feed_show_no_internal_name() {
    let d = demo();
    for lang in [Lang::Fr, Lang::En] {
        let b = board(&d.scope, &d.assets, lang);
        let notices = Notices::defaults(&d.scope, &b, noticed());
        let (p, warnings) = page(lang, &b, &notices);
        assert!(warnings.is_empty(), "{warnings:?}");
        let html = status_page::render_html(&p);
        let atom = status_page::render_atom(&p);
        assert_no_internal_names("the page", &html, &d.scope);
        assert_no_internal_names("the feed", &atom, &d.scope);
        // Static, self-contained, no script.
        assert!(!html.contains("<script"));
        assert!(!html.contains(" src="));
        assert!(!html.contains("stylesheet"));
        assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
        // Grouped services, the alternative of the CIAS, the switch.
        assert!(html.contains(lang.pick("<h3>Solidarité</h3>", "<h3>Social support</h3>")));
        assert!(
            html.contains(lang.pick("<h3>Sports et loisirs</h3>", "<h3>Sport and leisure</h3>"))
        );
        assert!(html.contains("href=\"tel:+33261910012\""));
        assert!(html.contains(lang.pick("English version", "Version française")));
        // Internal services never appear.
        assert!(!html.contains("Sauvegardes") && !html.contains("Télétravail"));
        assert_eq!(p.services().count(), 7);
        assert_eq!(
            p.services()
                .find(|s| s.name.starts_with(lang.pick("Passeports", "Passports")))
                .unwrap()
                .status,
            Some(Status::Operational)
        );
    }
}

#[test]
fn internal_names_written_by_people_are_removed_from_the_page() {
    let d = demo();
    let mut assets = d.assets.clone();
    let cias = assets
        .services
        .iter_mut()
        .find(|s| s.name == "social-action")
        .unwrap();
    cias.public_description = Some(
        "Serveur SRV-SOC01 (10.0.10.25) en panne ; compte Presta.Maint désactivé ; voir srv-fic01.ccpab.local".into(),
    );
    let b = board(&d.scope, &assets, Lang::Fr);
    let (p, warnings) = PublicPage::build(&PageInput {
        scope: &d.scope,
        assets: &assets,
        board: &b,
        notices: &Notices::default(),
        published: None,
        lang: Lang::Fr,
        zone: Zone::paris(),
        now: noon(),
        links: PageLinks {
            feed: "feed.atom".into(),
            other_lang: None,
            page_url: None,
        },
    });
    let html = status_page::render_html(&p);
    assert_no_internal_names("the page", &html, &d.scope);
    assert!(
        html.contains("Serveur […]"),
        "the sentence stays, the name goes"
    );
    assert!(
        warnings.iter().any(|w| w.contains("SRV-SOC01")),
        "{warnings:?}"
    );
    assert!(warnings
        .iter()
        .any(|w| w.to_lowercase().contains("presta.maint")));
}

#[test]
fn the_atom_feed_is_valid_atom_1_0() {
    let d = demo();
    let mut b = board(&d.scope, &d.assets, Lang::Fr);
    let mut log = OverrideLog::default();
    log.push(Override {
        service: "pool".into(),
        status: Some(Status::Degraded),
        reason: "Ouvert, espèces".into(),
        author: "DGS".into(),
        at: noticed() + Duration::hours(2),
    });
    b.apply(&log);
    let notices = Notices::defaults(&d.scope, &b, noticed());
    let (p, _) = page(Lang::Fr, &b, &notices);
    let xml = status_page::render_atom(&p);

    // Parsed by two independent parsers.
    let feed =
        atom_syndication::Feed::read_from(xml.as_bytes()).expect("atom_syndication parses it");
    let parsed = feed_rs::parser::parse(xml.as_bytes()).expect("feed-rs parses it");
    assert_eq!(parsed.feed_type, feed_rs::model::FeedType::Atom);
    assert!(xml.contains("xmlns=\"http://www.w3.org/2005/Atom\""));

    // RFC 4287: feed id, title, updated, author; each entry id, title,
    // updated; ids are unique IRIs.
    assert!(feed.id.starts_with("urn:uuid:"));
    assert!(!feed.title.value.is_empty());
    assert!(!feed.authors.is_empty() && !feed.authors[0].name.is_empty());
    assert!(feed.links.iter().any(|l| l.rel == "self"));
    let updates: usize = p.incidents.iter().map(|i| i.updates.len()).sum();
    assert_eq!(feed.entries.len(), updates + p.history.len());
    let mut ids = BTreeSet::new();
    for e in &feed.entries {
        assert!(
            e.id.starts_with("urn:uuid:") && e.id.len() == 45,
            "{}",
            e.id
        );
        assert!(ids.insert(e.id.clone()), "duplicate id {}", e.id);
        assert!(!e.title.value.is_empty());
        assert!(e.updated <= feed.updated);
        assert!(e.content.as_ref().and_then(|c| c.value.as_ref()).is_some());
    }
    // The crisis cell's decision is in the feed.
    assert!(feed
        .entries
        .iter()
        .any(|e| e.title.value == "Centre aquatique : Dégradé"));
    assert_eq!(parsed.entries.len(), feed.entries.len());
    // Same page, same feed (ids are stable across exports).
    assert_eq!(status_page::render_atom(&p), xml);
}

#[test]
fn default_notices_use_the_templates_and_an_updates_file_is_checked() {
    let d = demo();
    let b = board(&d.scope, &d.assets, Lang::Fr);
    let n = Notices::defaults(&d.scope, &b, noticed());
    assert_eq!(n.incidents.len(), 1);
    let i = &n.incidents[0];
    assert_eq!(i.started, noticed());
    let templates: Vec<(Template, Option<&str>)> = i
        .updates
        .iter()
        .map(|u| (u.template.unwrap(), u.service.as_deref()))
        .collect();
    assert_eq!(templates[0], (Template::PostponeNonUrgent, None));
    assert!(templates.contains(&(Template::ServiceAlternative, Some("social-action"))));
    assert!(templates.contains(&(Template::PersonalData, None)));
    assert!(!templates.contains(&(Template::ServiceAlternative, Some("passports-id-cards"))));
    // Every update is on the page; beyond the latest three, in a <details>.
    let (p0, _) = page(Lang::Fr, &b, &n);
    let html = status_page::render_html(&p0);
    assert!(html.contains("<details>") && html.contains("autres informations"));
    for u in &p0.incidents[0].updates {
        assert!(
            html.contains(&vigie_report::html::escape(&u.text)),
            "{}",
            u.text
        );
    }

    let (p, _) = page(Lang::Fr, &b, &n);
    let texts: Vec<&str> = p.incidents[0]
        .updates
        .iter()
        .map(|u| u.text.as_str())
        .collect();
    assert!(texts
        .iter()
        .any(|t| t.contains("reporter vos démarches non urgentes")));
    assert!(texts.iter().any(
        |t| t.starts_with("Action sociale (CIAS) : interruption majeure.")
            && t.contains("Appelez le 02 61 91 00 12")
    ));
    let data = texts
        .iter()
        .find(|t| t.starts_with("Vos données personnelles"))
        .unwrap();
    assert!(data.contains("ont probablement copié"), "{data}");
    assert!(data.contains("Bénéficiaires de l'action sociale"), "{data}");
    assert!(data.contains("données de santé"), "{data}");

    // A file written by the communication role.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("updates.yml");
    std::fs::write(
        &f,
        "incidents:\n  - id: cyber-2026-01\n    title: {fr: Cyberattaque, en: Cyberattack}\n    started: 2026-01-17T08:30:00+01:00\n    services: [social-action]\n    updates:\n      - at: 2026-01-17T10:00:00+01:00\n        template: service_alternative\n        service: social-action\n      - at: 2026-01-18T09:00:00+01:00\n        phase: monitoring\n        text: {fr: Le CIAS reçoit de nouveau sur rendez-vous., en: The CIAS sees people again by appointment.}\n",
    )
    .unwrap();
    let n = Notices::load(&f).unwrap();
    assert!(n.problems(&b).is_empty(), "{:?}", n.problems(&b));
    let (p, _) = page(Lang::En, &b, &n);
    assert_eq!(
        p.incidents[0].updates[0].text,
        "The CIAS sees people again by appointment."
    );
    assert_eq!(p.incidents[0].phase.key(), "monitoring");
    std::fs::write(
        &f,
        "incidents:\n  - id: x\n    title: X\n    started: 2026-01-17T08:30:00+01:00\n    updates:\n      - at: 2026-01-17T10:00:00+01:00\n        template: service_alternative\n        service: piscine\n      - at: 2026-01-17T10:00:00+01:00\n",
    )
    .unwrap();
    let problems = Notices::load(&f).unwrap().problems(&b).join("; ");
    assert!(
        problems.contains("piscine") && problems.contains("neither template nor text"),
        "{problems}"
    );
}

fn all_text(d: &vigie_communicate::Draft) -> String {
    render_markdown(d)
}

/// Every footnote of a draft points at a real record of a real file.
fn assert_footnotes_resolve(d: &vigie_communicate::Draft) {
    assert!(!d.footnotes.is_empty(), "{:?} cites no evidence", d.kind);
    for f in &d.footnotes {
        if f.locator == Locator::None {
            // A correlation's evidence names its rule, not a record.
            assert!(
                f.source.starts_with("builtin:") || f.source.ends_with(".yml"),
                "{f:?}"
            );
            continue;
        }
        let text = std::fs::read_to_string(&f.source)
            .unwrap_or_else(|e| panic!("footnote {} cites {}: {e}", f.n, f.source));
        match f.locator {
            Locator::Line(n) => assert!(
                (n as usize) <= text.lines().count(),
                "footnote {}: line {n} of {}",
                f.n,
                f.source
            ),
            ref other => panic!("the scenario writes text logs, got {other:?}"),
        }
    }
    // Every citation number exists.
    let max = d.footnotes.len();
    for s in &d.sections {
        for b in &s.blocks {
            let texts: Vec<&draft::Text> = match b {
                Block::Field { value, .. } => vec![value],
                Block::Para { text } => vec![text],
                Block::List { items } | Block::Items { items, .. } => items.iter().collect(),
                Block::Table { rows, .. } => rows.iter().flatten().collect(),
            };
            for t in texts {
                assert!(t.notes.iter().all(|n| *n >= 1 && *n <= max));
            }
        }
    }
}

#[test]
fn the_cnil_draft_names_the_cias_files_with_the_assets_counts() {
    let d = demo();
    let b = board(&d.scope, &d.assets, Lang::Fr);
    let cnil = draft::build(
        DraftKind::Cnil,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::Fr, Some(noticed())),
    );
    let md = all_text(&cnil);
    // The CIAS social files, their categories and approximate counts.
    assert!(md.contains("CIAS (Dossiers sociaux du CIAS)"), "{md}");
    for cat in [
        "identité et état civil",
        "situation familiale",
        "situation sociale et aides",
        "numéro de sécurité sociale (NIR)",
        "données de santé",
    ] {
        assert!(md.contains(cat), "{cat}");
    }
    assert!(md.contains("environ 3\u{202f}400"));
    assert!(md.contains("environ 12\u{202f}800"));
    assert!(md.contains("Bénéficiaires de l'action sociale et leurs familles"));
    // Probable exfiltration: to be confirmed, with its evidence.
    let conf = cnil
        .sections
        .iter()
        .flat_map(|s| &s.blocks)
        .find_map(|b| match b {
            Block::Field { label, value } if label == "Perte de confidentialité" => Some(value),
            _ => None,
        })
        .unwrap();
    assert_eq!(conf.certainty, Certainty::ToConfirm);
    assert!(conf.text.contains("probable"));
    assert!(!conf.notes.is_empty());
    let sources: Vec<&str> = conf
        .notes
        .iter()
        .map(|n| cnil.footnotes[n - 1].summary.as_str())
        .collect();
    assert!(
        sources
            .iter()
            .any(|s| s.contains("rar.exe") || s.contains("rclone")),
        "{sources:?}"
    );
    // DPO contact, from the assets file.
    assert!(md.contains("Cécile Le Gall") && md.contains("dpo@ccpab.example"));
    // Measures from the action plan, each to be confirmed as done.
    assert!(md.contains("couper l'accès à distance (VPN) du compte presta.maint"));
    // Deadlines from the detection time.
    let cnil_due = cnil.deadlines.get(DeadlineKind::CnilNotification).unwrap();
    assert_eq!(cnil_due.due, Some(noticed() + Duration::hours(72)));
    assert_eq!(
        cnil_due.remaining_secs,
        Some((noticed() + Duration::hours(72) - noon()).num_seconds())
    );
    assert!(md.contains("2026-01-20 08:30 CET"));
    assert_footnotes_resolve(&cnil);

    // English.
    let en = draft::build(
        DraftKind::Cnil,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::En, Some(noticed())),
    );
    let md = all_text(&en);
    assert!(md.contains("about 3,400") && md.contains("health data"));
    let html = render_html(&en);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"en\">"));
    assert!(html.contains("@media print") && html.contains("contenteditable=\"true\""));
}

#[test]
fn deadlines_run_from_the_first_signal_unless_a_time_is_given() {
    let d = demo();
    let k = KnownAt::from_scope(&d.scope).unwrap();
    let entry = d.scope.entry_point.as_ref().unwrap().time.unwrap();
    assert_eq!(k.time, entry, "the VPN login precedes every detection");
    assert!(k.to_confirm());
    let dl = Deadlines::compute(&d.scope, &d.assets, k, noon(), Lang::Fr);
    let due = |kind| dl.get(kind).unwrap().due.unwrap();
    assert_eq!(
        due(DeadlineKind::Nis2EarlyWarning),
        entry + Duration::hours(24)
    );
    assert_eq!(
        due(DeadlineKind::CnilNotification),
        entry + Duration::hours(72)
    );
    assert_eq!(
        due(DeadlineKind::InsuranceComplaint),
        entry + Duration::hours(72)
    );
    assert_eq!(
        due(DeadlineKind::Nis2Notification),
        entry + Duration::hours(72)
    );
    assert_eq!(
        due(DeadlineKind::Nis2FinalReport),
        (entry + Duration::hours(72))
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
    );
    // A week before discovery: all the 72-hour clocks have run out.
    assert!(dl.get(DeadlineKind::CnilNotification).unwrap().overdue());
    // The draft says the detection time is to be confirmed, and asks for
    // the reasons of the delay.
    let b = board(&d.scope, &d.assets, Lang::Fr);
    let cnil = draft::build(
        DraftKind::Cnil,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::Fr, None),
    );
    let md = render_markdown(&cnil);
    assert!(
        md.contains("premier signal des journaux, à confirmer"),
        "{md}"
    );
    assert!(md.contains("le délai de 72 heures est dépassé"), "{md}");

    // NIS2 not applicable: said so, not hidden.
    let mut assets = d.assets.clone();
    assets.organisation_details.nis2 = vigie_scope::Nis2Status::NotCovered;
    let dl = Deadlines::compute(
        &d.scope,
        &assets,
        KnownAt::explicit(noticed()),
        noon(),
        Lang::Fr,
    );
    assert_eq!(
        dl.get(DeadlineKind::Nis2EarlyWarning).unwrap().applies,
        vigie_communicate::deadlines::Applies::No
    );
    assert_eq!(
        dl.get(DeadlineKind::CnilNotification).unwrap().applies,
        vigie_communicate::deadlines::Applies::Yes
    );
}

#[test]
fn the_letter_to_residents_keeps_internal_names_out_of_what_is_sent() {
    let d = demo();
    let b = board(&d.scope, &d.assets, Lang::Fr);
    let letter = draft::build(
        DraftKind::Letter,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::Fr, Some(noticed())),
    );
    assert!(letter.internal_sources);
    let html = render_html(&letter);
    let body = html
        .split("<section class=\"notes internal\">")
        .next()
        .unwrap();
    assert!(html.contains("<section class=\"notes internal\">"));
    assert!(html.contains("section.notes.internal { display: none; }"));
    assert_no_internal_names("the letter", body, &d.scope);
    assert!(body.contains("cybermalveillance.gouv.fr"));
    assert!(body.contains("données de santé"));
    assert!(body.contains("Cécile Le Gall"));
}

#[test]
fn nis2_reports_and_the_complaint_carry_indicators_and_hashes() {
    let d = demo();
    let b = board(&d.scope, &d.assets, Lang::Fr);
    let early = draft::build(
        DraftKind::Nis2Early,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::Fr, Some(noticed())),
    );
    assert!(early.addressee.starts_with("ANSSI"));
    let md = render_markdown(&early);
    assert!(md.contains("alerte précoce") || md.contains("Alerte précoce"));
    assert!(md.contains("entité importante"));
    assert!(md.contains("2026-01-18 08:30 CET"), "24 h after discovery");

    let notif = draft::build(
        DraftKind::Nis2Notification,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::Fr, Some(noticed())),
    );
    let md = render_markdown(&notif);
    let entry = d.scope.entry_point.as_ref().unwrap();
    assert!(
        md.contains(entry.source_address.as_deref().unwrap()),
        "entry address as an indicator"
    );
    assert!(md.contains("mega"), "the exfiltration destination");
    assert!(md.contains("svc\\_sauvegarde"), "the backdoor account");
    assert_footnotes_resolve(&notif);

    let fin = draft::build(
        DraftKind::Nis2Final,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::Fr, Some(noticed())),
    );
    let md = render_markdown(&fin);
    assert!(
        md.contains("sans authentification multifacteur"),
        "presta.maint has mfa: false"
    );

    // The complaint without, then with, the hunt's manifest.
    let p = draft::build(
        DraftKind::Plainte,
        &d.scope,
        &d.assets,
        &b,
        &opts(Lang::Fr, Some(noticed())),
    );
    assert!(render_markdown(&p).contains("joindre le manifeste de la collecte"));
    let manifest = RunManifest::load(&d.manifest_path).unwrap();
    assert!(!manifest.inputs.is_empty());
    let mut o = opts(Lang::Fr, Some(noticed()));
    o.manifest = Some(manifest.clone());
    let p = draft::build(DraftKind::Plainte, &d.scope, &d.assets, &b, &o);
    let md = render_markdown(&p);
    for i in &manifest.inputs {
        assert_eq!(i.sha256.len(), 64);
        assert!(md.contains(&i.sha256), "{}", i.path);
    }
    assert!(md.contains("323-1"));
    assert!(md.contains("L.12-10-1"));
    assert!(md.contains("CYB-2025-0042"));
    assert_footnotes_resolve(&p);
}

#[test]
fn the_crisis_log_renders_in_time_order_in_three_formats() {
    let mut log = CrisisLog::default();
    let t = |h, m| Utc.with_ymd_and_hms(2026, 1, 17, h, m, 0).unwrap();
    log.push(LogEntry {
        at: t(8, 10),
        kind: LogKind::Decision,
        author: "Président".into(),
        text: "Activation de la cellule de crise, \"plan B\"; courrier aux agents".into(),
        refs: vec!["note 2026-001".into()],
    });
    log.push(LogEntry {
        at: t(7, 30),
        kind: LogKind::Information,
        author: "Accueil centre aquatique".into(),
        text: "Caisses bloquées | message de rançon <à l'écran>".into(),
        refs: vec![],
    });
    let csv_text = log.render_csv();
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][0], "2026-01-17T07:30:00Z");
    assert_eq!(&rows[0][1], "information");
    assert_eq!(
        &rows[1][3],
        "Activation de la cellule de crise, \"plan B\"; courrier aux agents"
    );
    let md = log.render_markdown(Lang::Fr, Zone::paris());
    assert!(md.contains("| 2026-01-17 08:30 CET | information | Accueil centre aquatique | Caisses bloquées \\| message de rançon \\<à l'écran\\> |"), "{md}");
    let html = log.render_html(Lang::En, Zone::paris());
    assert!(html.contains("&lt;à l&#39;écran&gt;"));
    assert!(html.find("Accueil").unwrap() < html.find("Président").unwrap());
    // Round trip through the YAML file `vigie crisis-log add` writes.
    let back: CrisisLog = serde_yaml_ng::from_str(&log.to_yaml()).unwrap();
    assert_eq!(back, log);
}

#[test]
fn the_documented_assets_example_has_the_crisis_fields() {
    let p = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/assets.example.yml"
    ));
    let a = Assets::load(p).expect("example loads");
    let cias = a.data_stores.iter().find(|d| d.name == "CIAS").unwrap();
    assert_eq!(cias.persons, Some(3400));
    assert!(cias
        .data_categories
        .contains(&vigie_scope::DataCategory::Health));
    let s = a
        .services
        .iter()
        .find(|s| s.name == "social-action")
        .unwrap();
    assert_eq!(
        s.public_name.as_ref().unwrap().en(),
        "Social services (CIAS)"
    );
    assert_eq!(
        s.alternative.as_ref().unwrap().hours.as_ref().unwrap().fr(),
        "du lundi au vendredi, 9 h – 17 h"
    );
    assert!(
        a.services
            .iter()
            .find(|s| s.name == "backups")
            .unwrap()
            .internal
    );
    assert_eq!(
        a.organisation_details.nis2,
        vigie_scope::Nis2Status::Important
    );
    assert_eq!(
        a.organisation_details.dpo.name.as_deref(),
        Some("Cécile Le Gall")
    );
    assert!(a.status_page.url.is_some());
    // A typo in the new keys is an error, as everywhere in the file.
    let e = Assets::from_str("services:\n  - name: x\n    alternative: {telephone: '3939'}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("telephone"), "{e}");
    let e = Assets::from_str("data_stores:\n  - {name: X, host: A, data_categories: [sante]}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("sante"), "{e}");
}

#[test]
fn the_export_writes_both_languages_with_working_links() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let b = board(&d.scope, &d.assets, Lang::Fr);
    let n = Notices::defaults(&d.scope, &b, noticed());
    let (fr, _) = page(Lang::Fr, &b, &n);
    let (en, _) = page(Lang::En, &board(&d.scope, &d.assets, Lang::En), &n);
    let written = status_page::export(dir.path(), &fr, &[en]).unwrap();
    assert_eq!(written.len(), 4);
    let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(index.contains("href=\"en/index.html\""));
    let en_index = std::fs::read_to_string(dir.path().join("en/index.html")).unwrap();
    assert!(en_index.contains("href=\"../index.html\""));
    assert!(dir.path().join("en/feed.atom").is_file());
    assert!(index.contains("href=\"feed.atom\""));
}
