//! The public status page as static files: `index.html` (no JavaScript,
//! one inline stylesheet, nothing loaded from elsewhere, RGAA / WCAG 2.1
//! AA) and its Atom 1.0 feed `feed.atom`, rendered from a [`PublicPage`]
//! only — so it can be copied to a host outside the compromised network
//! and published from there.
//!
//! `vigie serve` will answer `/status` with the same [`render_html`] and
//! `/status/feed.atom` with the same [`render_atom`].

use std::io;
use std::path::{Path, PathBuf};

use atom_syndication as atom;
use sha2::{Digest, Sha256};
use vigie_lang::{glossary, tr, Lang};

use crate::board::Status;
use crate::public::{PublicIncident, PublicPage, PublicService};
use crate::style::{csp, esc, tel_uri, time_tag, when};

const CSS: &str = include_str!("status.css");

/// Updates of an incident shown before "show earlier updates".
const SHOWN_UPDATES: usize = 3;

/// Status changes shown on a page served live before "the whole
/// history" (the history page has them all).
const SHOWN_CHANGES: usize = 10;

/// The Content-Security-Policy of the page (also in its `<meta>`), for a
/// server to send as a header: nothing loads, no script runs.
pub fn content_security_policy() -> String {
    format!("{}; frame-ancestors 'none'", csp(CSS))
}

/// The page's HTML.
pub fn render_html(p: &PublicPage) -> String {
    render(p, false)
}

/// The history page of a page served live (`/status/history`): the
/// resolved incidents and every status change, in the page's frame.
pub fn render_history_html(p: &PublicPage) -> String {
    render(p, true)
}

fn render(p: &PublicPage, history_page: bool) -> String {
    let lang = p.lang;
    let l = lang;
    let mut h = String::with_capacity(32 * 1024);
    h.push_str("<!DOCTYPE html>\n");
    h.push_str(&format!("<html lang=\"{}\">\n<head>\n", lang.code()));
    h.push_str("<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        esc(&csp(CSS))
    ));
    h.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    // No icon to fetch: a browser asks for /favicon.ico otherwise, which
    // the host of a static copy (and `vigie serve`) does not have.
    h.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    if history_page {
        h.push_str(&format!(
            "<title>{} — {}</title>\n",
            l.pick("Historique", "History"),
            esc(&p.title)
        ));
    } else {
        h.push_str(&format!("<title>{}</title>\n", esc(&p.title)));
    }
    h.push_str(&format!(
        "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"{}\" title=\"{}\">\n",
        esc(&p.links.feed),
        esc(&tr!(l, "Flux Atom : {}", "Atom feed: {}", p.title))
    ));
    let other = other_lang(lang);
    if let Some(href) = &p.links.other_lang {
        h.push_str(&format!(
            "<link rel=\"alternate\" hreflang=\"{}\" href=\"{}\">\n",
            other.code(),
            esc(href)
        ));
    }
    h.push_str(&format!("<style>{CSS}</style>\n</head>\n<body>\n"));
    h.push_str(&format!(
        "<a class=\"skip\" href=\"#contenu\">{}</a>\n",
        l.pick("Aller au contenu", "Skip to content")
    ));

    // Header: organisation, title, language switch.
    h.push_str("<header class=\"top\">\n<div class=\"wrap\">\n<div>\n");
    if let Some(o) = &p.organisation {
        h.push_str(&format!("<p class=\"org\">{}</p>\n", esc(o)));
    }
    h.push_str(&format!("<h1>{}</h1>\n</div>\n", esc(&p.title)));
    if let Some(href) = &p.links.other_lang {
        h.push_str(&format!(
            "<nav aria-label=\"{}\"><a href=\"{}\" hreflang=\"{}\" lang=\"{}\">{}</a></nav>\n",
            l.pick("Langue", "Language"),
            esc(href),
            other.code(),
            other.code(),
            other.pick("Version française", "English version"),
        ));
    }
    h.push_str("</div>\n</header>\n");

    h.push_str("<main id=\"contenu\">\n<div class=\"wrap\">\n");
    if history_page {
        history(&mut h, p, None);
        if let Some(s) = &p.served {
            h.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                esc(&with_lang(&s.page, p)),
                l.pick("Retour à l'état des services", "Back to the service status")
            ));
        }
        h.push_str("</div>\n</main>\n");
        footer(&mut h, p);
        return h;
    }
    overall(&mut h, p);
    // Incidents in progress come before the services: residents come for
    // what to do now.
    if !p.incidents.is_empty() {
        h.push_str(&format!(
            "<section aria-labelledby=\"incidents-h\">\n<h2 id=\"incidents-h\">{}</h2>\n",
            l.pick("Incidents en cours", "Current incidents")
        ));
        for i in &p.incidents {
            incident(&mut h, p, i);
        }
        h.push_str("</section>\n");
    }
    h.push_str(&format!(
        "<section class=\"card\" aria-labelledby=\"services-h\">\n<h2 id=\"services-h\">{}</h2>\n",
        l.pick("État des services", "Service status")
    ));
    if p.groups.is_empty() {
        h.push_str(&format!(
            "<p>{}</p>\n",
            l.pick(
                "Aucun service n'est encore décrit pour cette page.",
                "No service is described for this page yet."
            )
        ));
    }
    for g in &p.groups {
        h.push_str(&format!(
            "<h3>{}</h3>\n<ul class=\"services\">\n",
            esc(&g.name)
        ));
        for s in &g.services {
            service(&mut h, p, s);
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");

    // History: resolved incidents and status changes (served live: the
    // latest, the whole on the history page).
    let shown = p.served.as_ref().map(|_| SHOWN_CHANGES);
    history(&mut h, p, shown);
    h.push_str("</div>\n</main>\n");
    footer(&mut h, p);
    h
}

/// `href` with the page's language when it is not French (the served
/// pages take `?lang=en`).
fn with_lang(href: &str, p: &PublicPage) -> String {
    match p.lang {
        Lang::Fr => href.to_string(),
        Lang::En => format!("{href}?lang=en"),
    }
}

/// The resolved incidents and the status changes: at most `shown` of
/// them, with a link to the history page when there are more.
fn history(h: &mut String, p: &PublicPage, shown: Option<usize>) {
    let (l, z) = (p.lang, p.zone);
    h.push_str(&format!(
        "<section class=\"card\" aria-labelledby=\"history-h\">\n<h2 id=\"history-h\">{}</h2>\n",
        l.pick("Historique", "History")
    ));
    if p.past_incidents.is_empty() && p.history.is_empty() {
        h.push_str(&format!(
            "<p>{}</p>\n",
            l.pick("Aucun événement passé.", "No past event.")
        ));
    }
    if !p.past_incidents.is_empty() {
        h.push_str(&format!(
            "<h3>{}</h3>\n",
            l.pick("Incidents résolus", "Resolved incidents")
        ));
        for i in &p.past_incidents {
            h.push_str(&format!(
                "<p id=\"{}\"><strong>{}</strong> — {} {} ; {} {}</p>\n",
                esc(&i.anchor),
                esc(&i.title),
                l.pick("du", "from"),
                time_tag(l, z, i.started),
                l.pick("résolu le", "resolved"),
                i.resolved.map(|t| time_tag(l, z, t)).unwrap_or_default(),
            ));
        }
    }
    if !p.history.is_empty() {
        h.push_str(&format!(
            "<h3>{}</h3>\n<ul class=\"history\">\n",
            l.pick("Changements d'état des services", "Service status changes")
        ));
        for c in p.history.iter().take(shown.unwrap_or(usize::MAX)) {
            h.push_str(&format!(
                "<li>{} — {} : {} <span class=\"meta\">({})</span></li>\n",
                time_tag(l, z, c.at),
                esc(&c.service),
                c.status.label(l),
                if c.by_person {
                    l.pick("décision de la cellule de crise", "crisis cell decision")
                } else {
                    l.pick("constat de l'analyse", "from the analysis")
                },
            ));
        }
        h.push_str("</ul>\n");
    }
    if let (Some(n), Some(s)) = (shown, &p.served) {
        if p.history.len() > n {
            h.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                esc(&with_lang(&s.history, p)),
                tr!(
                    l,
                    "Tout l'historique ({} changements)",
                    "The whole history ({} changes)",
                    p.history.len()
                )
            ));
        }
    }
    h.push_str("</section>\n");
}

fn footer(h: &mut String, p: &PublicPage) {
    let (l, z) = (p.lang, p.zone);
    // Footer: when, the feed, how the page is made.
    h.push_str("<footer>\n<div class=\"wrap\">\n");
    h.push_str(&format!(
        "<p>{} {}.</p>\n",
        l.pick("Page mise à jour le", "Page updated on"),
        time_tag(l, z, p.generated_at)
    ));
    h.push_str(&format!(
        "<p><a href=\"{}\" type=\"application/atom+xml\">{}</a> — {}</p>\n",
        esc(&p.links.feed),
        l.pick("S'abonner au flux Atom", "Subscribe to the Atom feed"),
        l.pick(
            "pour être prévenu de chaque nouvelle information.",
            "to be told of every new update."
        )
    ));
    // Where the page is published is only known of the static export
    // (made to be copied outside); a page served live says what it is.
    h.push_str(&format!(
        "<p>{}</p>\n",
        match p.served {
            None => l.pick(
                "Cette page est publiée hors du réseau de la collectivité ; elle ne contient aucun détail technique interne.",
                "This page is published outside the organisation's network; it holds no internal technical detail."
            ),
            Some(_) => l.pick(
                "Cette page ne contient aucun détail technique interne.",
                "This page holds no internal technical detail."
            ),
        }
    ));
    h.push_str("</div>\n</footer>\n</body>\n</html>\n");
}

fn other_lang(l: Lang) -> Lang {
    l.pick(Lang::En, Lang::Fr)
}

/// The class of a service whose status nobody published.
const NONE: &str = "none";

/// A status in words (`None`: nobody published one — said so, never a
/// status guessed for the residents).
fn status_badge(l: Lang, s: Option<Status>) -> String {
    match s {
        Some(s) => format!(
            "<span class=\"status s-{}\">{}</span>",
            s.key(),
            esc(&capitalise(s.label(l)))
        ),
        None => format!(
            "<span class=\"status s-{NONE}\">{}</span>",
            l.pick("Aucune information publiée", "No information published")
        ),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn overall(h: &mut String, p: &PublicPage) {
    let l = p.lang;
    let services: Vec<&PublicService> = p.services().collect();
    let stated: Vec<Status> = services.iter().filter_map(|s| s.status).collect();
    let down = stated.iter().filter(|s| s.is_down()).count();
    let unknown = stated.iter().filter(|s| **s == Status::Unknown).count();
    let degraded = stated
        .iter()
        .filter(|s| matches!(s, Status::Degraded | Status::Maintenance))
        .count();
    let unstated = services.len() - stated.len();
    let total = services.len();
    let summary = if total == 0 {
        l.pick("Aucun service décrit.", "No service described.")
            .to_string()
    } else if stated.is_empty() {
        l.pick(
            "Aucune information n'a été publiée sur l'état des services.",
            "No information has been published on the state of the services.",
        )
        .to_string()
    } else if down == 0 && unknown == 0 && degraded == 0 && unstated == 0 {
        l.pick(
            "Tous les services fonctionnent normalement.",
            "All services work normally.",
        )
        .to_string()
    } else {
        let mut parts = Vec::new();
        if down > 0 {
            parts.push(tr!(
                l,
                "{down} service(s) sur {total} interrompu(s)",
                "{down} of {total} service(s) interrupted"
            ));
        }
        if degraded > 0 {
            parts.push(tr!(
                l,
                "{degraded} perturbé(s) ou en maintenance",
                "{degraded} disrupted or in maintenance"
            ));
        }
        if unknown > 0 {
            parts.push(tr!(
                l,
                "{unknown} dont l'état n'est pas encore connu",
                "{unknown} whose state is not known yet"
            ));
        }
        if down + degraded + unknown == 0 {
            parts.push(tr!(
                l,
                "{} service(s) sur {total} fonctionne(nt) normalement",
                "{} of {total} service(s) work normally",
                stated.len()
            ));
        }
        if unstated > 0 {
            parts.push(tr!(
                l,
                "{unstated} sans information publiée",
                "{unstated} with no information published"
            ));
        }
        format!("{}.", capitalise(&parts.join(", ")))
    };
    h.push_str(&format!(
        "<section class=\"card overall s-{}\" aria-labelledby=\"overall-h\">\n",
        p.overall.map(Status::key).unwrap_or(NONE)
    ));
    h.push_str(&format!(
        "<h2 id=\"overall-h\">{} {}</h2>\n",
        l.pick("Situation au", "Situation on"),
        time_tag(l, p.zone, p.updated())
    ));
    // No badge when nothing is published: the summary says so.
    if p.overall.is_some() {
        h.push_str(&format!("<p>{}</p>\n", status_badge(l, p.overall)));
    }
    h.push_str(&format!("<p class=\"summary\">{}</p>\n", esc(&summary)));
    if let Some(i) = &p.intro {
        h.push_str(&format!("<p>{}</p>\n", esc(i)));
    }
    if let Some(ph) = &p.phone {
        h.push_str(&format!(
            "<p class=\"urgent\">{} {}</p>\n",
            l.pick(
                "Pour une demande urgente, appelez le",
                "For an urgent request, call"
            ),
            phone_link(ph)
        ));
    }
    h.push_str("</section>\n");
}

fn phone_link(ph: &str) -> String {
    match tel_uri(ph) {
        Some(uri) => format!("<a href=\"{}\">{}</a>", esc(&uri), esc(ph)),
        None => esc(ph),
    }
}

fn service(h: &mut String, p: &PublicPage, s: &PublicService) {
    let l = p.lang;
    h.push_str(&format!("<li id=\"{}\">\n", esc(&s.anchor)));
    h.push_str(&format!(
        "<div class=\"svc-head\"><h4>{}</h4>{}</div>\n",
        esc(&s.name),
        status_badge(l, s.status)
    ));
    if let Some(since) = s.since {
        h.push_str(&format!(
            "<p class=\"since\">{} {}</p>\n",
            l.pick("Depuis le", "Since"),
            time_tag(l, p.zone, since)
        ));
    }
    if let Some(d) = &s.description {
        h.push_str(&format!("<p class=\"desc\">{}</p>\n", esc(d)));
    }
    if let Some(a) = &s.alternative {
        // The alternative matters while the service is not fully working
        // (as published: nothing is said of a service nobody set).
        if s.status.is_some_and(|st| st != Status::Operational) {
            h.push_str("<div class=\"alt\">\n");
            h.push_str(&format!(
                "<p><strong>{}</strong>{}</p>\n",
                l.pick("En attendant : ", "Meanwhile: "),
                a.description.as_deref().map(esc).unwrap_or_default()
            ));
            let mut dl = String::new();
            let mut row = |k: &str, v: String| {
                dl.push_str(&format!("<dt>{k}</dt><dd>{v}</dd>\n"));
            };
            if let Some(ph) = &a.phone {
                row(l.pick("Téléphone", "Phone"), phone_link(ph));
            }
            if let Some(x) = &a.hours {
                row(l.pick("Horaires", "Hours"), esc(x));
            }
            if let Some(x) = &a.address {
                row(l.pick("Adresse", "Address"), esc(x));
            }
            if let Some(x) = &a.email {
                row(
                    l.pick("Courriel", "E-mail"),
                    format!("<a href=\"mailto:{}\">{}</a>", esc(x), esc(x)),
                );
            }
            if let Some(x) = &a.url {
                let link = if x.starts_with("https://") || x.starts_with("http://") {
                    format!("<a href=\"{}\">{}</a>", esc(x), esc(x))
                } else {
                    esc(x)
                };
                row(l.pick("En ligne", "Online"), link);
            }
            if !dl.is_empty() {
                h.push_str(&format!("<dl>\n{dl}</dl>\n"));
            }
            h.push_str("</div>\n");
        }
    }
    h.push_str("</li>\n");
}

fn incident(h: &mut String, p: &PublicPage, i: &PublicIncident) {
    let l = p.lang;
    let z = p.zone;
    let head = format!("{}-h", i.anchor);
    h.push_str(&format!(
        "<article class=\"incident\" id=\"{}\" aria-labelledby=\"{}\">\n<h3 id=\"{}\">{}</h3>\n",
        esc(&i.anchor),
        esc(&head),
        esc(&head),
        esc(&i.title)
    ));
    h.push_str(&format!(
        "<p class=\"meta\"><strong>{}</strong> · {} {}",
        esc(&capitalise(i.phase.label(l))),
        l.pick("depuis le", "since"),
        time_tag(l, z, i.started)
    ));
    if !i.services.is_empty() {
        h.push_str(&format!(
            " · {} {}",
            l.pick("services concernés :", "services affected:"),
            esc(&i.services.join(", "))
        ));
    }
    h.push_str("</p>\n");
    let update = |u: &crate::public::PublicUpdate| {
        format!(
            "<li><p class=\"when\">{} — <strong>{}</strong></p><p>{}</p></li>\n",
            time_tag(l, z, u.at),
            esc(&capitalise(u.phase.label(l))),
            esc(&u.text)
        )
    };
    // The latest updates in full; older ones one click away (a native
    // <details>, which needs no script and is keyboard-accessible).
    h.push_str("<ol class=\"updates\">\n");
    for u in i.updates.iter().take(SHOWN_UPDATES) {
        h.push_str(&update(u));
    }
    h.push_str("</ol>\n");
    if i.updates.len() > SHOWN_UPDATES {
        let rest = i.updates.len() - SHOWN_UPDATES;
        h.push_str(&format!(
            "<details>\n<summary>{}</summary>\n<ol class=\"updates\">\n",
            tr!(
                l,
                "Voir les {rest} autres informations",
                "Show {rest} more updates"
            )
        ));
        for u in i.updates.iter().skip(SHOWN_UPDATES) {
            h.push_str(&update(u));
        }
        h.push_str("</ol>\n</details>\n");
    }
    h.push_str("</article>\n");
}

/// A stable `urn:uuid:` (name-based, from SHA-256) for Atom ids when the
/// page has no public address of its own.
fn urn(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0]);
    }
    let d = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The page's Atom 1.0 feed: one entry per public update and per change
/// of a service's status, newest first.
pub fn render_atom(p: &PublicPage) -> String {
    let l = p.lang;
    let z = p.zone;
    let fixed = |t: vigie_event::Timestamp| t.fixed_offset();
    let page_href = match &p.served {
        Some(s) => with_lang(&s.page, p),
        None => p
            .links
            .page_url
            .clone()
            .unwrap_or_else(|| "index.html".to_string()),
    };
    let base = p.links.page_url.clone().unwrap_or_default();
    let feed_id = urn(&["vigie-status-feed", &base, &p.title, l.code()]);
    let mut entries: Vec<atom::Entry> = Vec::new();
    for i in p.incidents.iter().chain(&p.past_incidents) {
        for u in &i.updates {
            let at = u.at.to_rfc3339();
            entries.push(atom::Entry {
                id: urn(&[&feed_id, &i.id, &at, &u.text]),
                title: atom::Text::plain(format!("{} — {}", i.title, capitalise(u.phase.label(l)))),
                updated: fixed(u.at),
                published: Some(fixed(u.at)),
                links: vec![atom::Link {
                    href: format!("{page_href}#{}", i.anchor),
                    rel: "alternate".into(),
                    mime_type: Some("text/html".into()),
                    ..Default::default()
                }],
                content: Some(atom::Content {
                    value: Some(u.text.clone()),
                    content_type: Some("text".into()),
                    lang: Some(l.code().into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    for c in &p.history {
        let text = tr!(
            l,
            "{} : {} (depuis le {}).",
            "{}: {} (since {}).",
            c.service,
            c.status.label(l),
            when(l, z, c.at)
        );
        entries.push(atom::Entry {
            id: urn(&[
                &feed_id,
                "status",
                &c.service,
                &c.at.to_rfc3339(),
                c.status.key(),
            ]),
            title: atom::Text::plain(format!("{} : {}", c.service, capitalise(c.status.label(l)))),
            updated: fixed(c.at),
            published: Some(fixed(c.at)),
            links: vec![atom::Link {
                href: page_href.clone(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            }],
            content: Some(atom::Content {
                value: Some(text),
                content_type: Some("text".into()),
                lang: Some(l.code().into()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    entries.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.id.cmp(&b.id)));
    let self_href = match &p.links.page_url {
        _ if p.served.is_some() => p.links.feed.clone(),
        Some(u) => format!("{}{}", u.trim_end_matches("index.html"), p.links.feed),
        None => p.links.feed.clone(),
    };
    let feed = atom::Feed {
        title: atom::Text::plain(p.title.clone()),
        id: feed_id,
        updated: fixed(p.updated()),
        authors: vec![atom::Person {
            name: p.organisation.clone().unwrap_or_else(|| p.title.clone()),
            ..Default::default()
        }],
        links: vec![
            atom::Link {
                href: self_href,
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            },
            atom::Link {
                href: page_href,
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                hreflang: Some(l.code().into()),
                ..Default::default()
            },
        ],
        subtitle: Some(atom::Text::plain(
            glossary::term(l, "status_page").to_string(),
        )),
        lang: Some(l.code().into()),
        entries,
        ..Default::default()
    };
    let mut out = Vec::new();
    feed.write_with_config(
        &mut out,
        atom::WriteConfig {
            write_document_declaration: true,
            indent_size: Some(2),
        },
    )
    .expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the Atom writer writes UTF-8")
}

/// Writes `index.html` and `feed.atom` of `page` into `dir`, and of each
/// page of `others` into `dir/<lang>/` (the language switch's target).
/// Existing files are replaced; nothing else in `dir` is touched.
pub fn export(dir: &Path, page: &PublicPage, others: &[PublicPage]) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut write = |dir: &Path, p: &PublicPage| -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let index = dir.join("index.html");
        std::fs::write(&index, render_html(p))?;
        let feed = dir.join("feed.atom");
        std::fs::write(&feed, render_atom(p))?;
        written.push(index);
        written.push(feed);
        Ok(())
    };
    write(dir, page)?;
    for o in others {
        write(&dir.join(o.lang.code()), o)?;
    }
    Ok(written)
}
