//! The public view of the crisis: what the status page (static export now,
//! `vigie serve`'s `/status` later) and its Atom feed may show, and nothing
//! else.
//!
//! Why a separate type: the page must never show a host name, an account,
//! an internal address or a rule — an attacker still inside reads it too,
//! and residents need none of it. [`PublicPage`] has no field that could
//! hold them: it is built from statuses, times, the assets file's *public*
//! texts and the update templates. Those texts are written by people, so
//! they also pass through a [`Redactor`] that removes every internal name
//! the scope and the assets file know (a test checks the rendered page
//! against the whole scope).

use serde::Serialize;
use vigie_event::Timestamp;
use vigie_lang::{glossary, tr, Lang, Zone};
use vigie_scope::{AlternativeAsset, Assets, DataCategory, LocalText, Scope};

use crate::board::{Origin, ServiceBoard, Status};
use crate::notices::{Notices, Phase, Template, Update};
use crate::overrides::OverrideLog;

/// Links of a page to its feed and its other language.
#[derive(Debug, Clone, Serialize)]
pub struct PageLinks {
    /// The Atom feed, relative to the page (`feed.atom`).
    pub feed: String,
    /// The page in the other language, relative (`en/index.html`).
    pub other_lang: Option<String>,
    /// Where the page is published (absolute), for Atom ids and links.
    pub page_url: Option<String>,
}

/// The public status page, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct PublicPage {
    pub lang: Lang,
    /// Zone the times are shown in (Europe/Paris by default).
    #[serde(skip)]
    pub zone: Zone,
    pub title: String,
    pub organisation: Option<String>,
    pub intro: Option<String>,
    /// General phone number for residents.
    pub phone: Option<String>,
    pub generated_at: Timestamp,
    /// The worst status among the services shown (`None`: no status
    /// published, on a page that shows only what people published).
    pub overall: Option<Status>,
    pub groups: Vec<PublicGroup>,
    /// Incidents not resolved, latest update first.
    pub incidents: Vec<PublicIncident>,
    /// Resolved incidents, latest first.
    pub past_incidents: Vec<PublicIncident>,
    /// Status changes, latest first.
    pub history: Vec<PublicChange>,
    pub links: PageLinks,
    /// Where `vigie serve` serves the page (`None` for the static export).
    pub served: Option<Served>,
}

/// The addresses of a page served live by `vigie serve` (absolute paths:
/// `/status`, `/status/history`), for its links and its feed's.
#[derive(Debug, Clone, Serialize)]
pub struct Served {
    /// The page itself (`/status`, `/status/quimper`).
    pub page: String,
    /// The page of the whole history (`/status/history`).
    pub history: String,
}

/// Services under one heading.
#[derive(Debug, Clone, Serialize)]
pub struct PublicGroup {
    pub name: String,
    pub services: Vec<PublicService>,
}

/// A service as residents see it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicService {
    /// Page anchor (`service-3`): positional, never an internal name.
    pub anchor: String,
    pub name: String,
    pub description: Option<String>,
    /// `None`: no person has published a status for it (the page served
    /// live shows only what people published, see [`PageInput::published`]).
    pub status: Option<Status>,
    pub since: Option<Timestamp>,
    pub alternative: Option<PublicAlternative>,
}

/// What residents can do instead.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublicAlternative {
    pub description: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub hours: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
}

/// An incident as residents see it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicIncident {
    /// Page anchor (`incident-1`).
    pub anchor: String,
    /// Stable id (Atom entry ids).
    pub id: String,
    pub title: String,
    pub phase: Phase,
    pub started: Timestamp,
    pub resolved: Option<Timestamp>,
    pub updated: Timestamp,
    /// Public names of the services it affects.
    pub services: Vec<String>,
    /// Latest first.
    pub updates: Vec<PublicUpdate>,
}

/// One public update.
#[derive(Debug, Clone, Serialize)]
pub struct PublicUpdate {
    pub at: Timestamp,
    pub phase: Phase,
    pub text: String,
}

/// One status change of a public service.
#[derive(Debug, Clone, Serialize)]
pub struct PublicChange {
    pub at: Timestamp,
    pub service: String,
    pub status: Status,
    /// Set by the crisis cell (rather than derived from the analysis).
    pub by_person: bool,
}

/// Everything a page is built from.
pub struct PageInput<'a> {
    pub scope: &'a Scope,
    pub assets: &'a Assets,
    /// With the crisis cell's overrides applied.
    pub board: &'a ServiceBoard,
    pub notices: &'a Notices,
    /// `Some`: the page shows only what people published — each service's
    /// status as the crisis cell last set it in this log (none until set),
    /// its history, and no text of the assets file's `intro` (written for
    /// the static page published outside the network). `vigie serve`'s
    /// live page: a status derived from detections must never reach the
    /// residents by itself (a false positive would announce an attack).
    /// `None`: the static export, where publishing the files is the
    /// person's act, shows the board as derived.
    pub published: Option<&'a OverrideLog>,
    pub lang: Lang,
    pub zone: Zone,
    pub now: Timestamp,
    pub links: PageLinks,
}

/// A status and when it was published.
type Stamped = (Status, Timestamp);

/// A service's status as people published it in `log`: the last override
/// with a status (an override returning to the derived status withdraws
/// it), its time, and every status published, oldest first.
fn published_status(log: &OverrideLog, service: &str) -> (Option<Stamped>, Vec<Stamped>) {
    let mut current = None;
    let mut all = Vec::new();
    for o in log.in_order().into_iter().filter(|o| o.service == service) {
        current = o.status.map(|s| (s, o.at));
        if let Some(s) = o.status {
            all.push((s, o.at));
        }
    }
    (current, all)
}

impl PublicPage {
    /// Builds the page. The second value lists the internal names removed
    /// from people-written texts (for the operator's eyes only: stderr).
    pub fn build(input: &PageInput) -> (PublicPage, Vec<String>) {
        let lang = input.lang;
        let fr = lang == Lang::Fr;
        let red = Redactor::new(input.scope, input.assets);
        let mut warnings = Vec::new();
        let mut clean = |what: &str, s: &str| -> String {
            let (t, removed) = red.clean(s);
            for r in removed {
                warnings.push(format!(
                    "{what}: internal name '{r}' removed from the public page"
                ));
            }
            t
        };
        let text = |t: &Option<LocalText>| t.as_ref().map(|t| t.get(fr).to_string());
        let assets = input.assets;
        let organisation = assets.organisation.clone();
        let title = text(&assets.status_page.title).unwrap_or_else(|| match &organisation {
            Some(o) => tr!(lang, "État des services — {o}", "Service status — {o}"),
            None => glossary::term(lang, "status_page").to_string(),
        });
        let title = clean("status_page.title", &title);
        let intro = match input.published {
            Some(_) => None,
            None => text(&assets.status_page.intro).map(|s| clean("status_page.intro", &s)),
        };
        let organisation = organisation.map(|s| clean("organisation", &s));
        let phone = assets
            .status_page
            .phone
            .as_ref()
            .map(|s| clean("status_page.phone", s));

        // Services, grouped in the order groups first appear.
        let mut groups: Vec<PublicGroup> = Vec::new();
        let mut names: Vec<(String, String)> = Vec::new();
        let mut statuses: Vec<(String, Option<Status>)> = Vec::new();
        let mut history = Vec::new();
        for (i, e) in input.board.services.iter().enumerate() {
            if e.internal {
                continue;
            }
            let what = format!("service {}", e.service);
            let name = clean(
                &what,
                &text(&e.public_name).unwrap_or_else(|| e.service.clone()),
            );
            names.push((e.service.clone(), name.clone()));
            let group = text(&e.group)
                .map(|g| clean(&what, &g))
                .unwrap_or_else(|| lang.pick("Services", "Services").to_string());
            let alternative = e
                .alternative
                .as_ref()
                .map(|a| public_alternative(a, fr, &mut |s| clean(&what, s)));
            let (status, since) = match input.published {
                Some(log) => {
                    let (current, all) = published_status(log, &e.service);
                    for (status, at) in all {
                        history.push(PublicChange {
                            at,
                            service: name.clone(),
                            status,
                            by_person: true,
                        });
                    }
                    (current.map(|c| c.0), current.map(|c| c.1))
                }
                None => {
                    for c in &e.history {
                        history.push(PublicChange {
                            at: c.at,
                            service: name.clone(),
                            status: c.status,
                            by_person: matches!(c.origin, Origin::Person { .. }),
                        });
                    }
                    (Some(e.status), e.since())
                }
            };
            statuses.push((e.service.clone(), status));
            let svc = PublicService {
                anchor: format!("service-{}", i + 1),
                name,
                description: text(&e.public_description).map(|s| clean(&what, &s)),
                status,
                since,
                alternative,
            };
            match groups.iter_mut().find(|g| g.name == group) {
                Some(g) => g.services.push(svc),
                None => groups.push(PublicGroup {
                    name: group,
                    services: vec![svc],
                }),
            }
        }
        history.sort_by_key(|c| std::cmp::Reverse(c.at));
        let shown = groups
            .iter()
            .flat_map(|g| g.services.iter().map(|s| s.status));
        let overall = match input.published {
            Some(_) => shown.flatten().max_by_key(|s| s.severity()),
            None => Some(
                shown
                    .flatten()
                    .max_by_key(|s| s.severity())
                    .unwrap_or(Status::Unknown),
            ),
        };

        let facts = PersonalDataFacts::from(input.scope, assets);
        let ctx = TemplateContext {
            lang,
            board: input.board,
            statuses: Some(statuses.as_slice()),
            names: &names,
            phone: phone.as_deref(),
            facts: &facts,
        };
        let mut incidents = Vec::new();
        let mut past = Vec::new();
        for (i, n) in input.notices.incidents.iter().enumerate() {
            let what = format!("incident {}", n.id);
            let mut updates: Vec<PublicUpdate> = n
                .updates
                .iter()
                .map(|u| PublicUpdate {
                    at: u.at,
                    phase: u.phase,
                    text: clean(&what, &render_update(u, &ctx)),
                })
                .collect();
            updates.sort_by_key(|u| std::cmp::Reverse(u.at));
            let inc = PublicIncident {
                anchor: format!("incident-{}", i + 1),
                id: clean(&what, &n.id),
                title: clean(&what, n.title.get(fr)),
                phase: n.phase(),
                started: n.started,
                resolved: n.resolved,
                updated: n.updated(),
                services: n
                    .services
                    .iter()
                    .filter_map(|s| names.iter().find(|(id, _)| id == s))
                    .map(|(_, name)| name.clone())
                    .collect(),
                updates,
            };
            if inc.resolved.is_some() {
                past.push(inc);
            } else {
                incidents.push(inc);
            }
        }
        incidents.sort_by_key(|i| std::cmp::Reverse(i.updated));
        past.sort_by_key(|i| std::cmp::Reverse(i.updated));
        let links = PageLinks {
            feed: input.links.feed.clone(),
            other_lang: input.links.other_lang.clone(),
            page_url: input.links.page_url.clone().or_else(|| {
                assets
                    .status_page
                    .url
                    .as_ref()
                    .map(|s| clean("status_page.url", s))
            }),
        };
        (
            PublicPage {
                lang,
                zone: input.zone,
                title,
                organisation,
                intro,
                phone,
                generated_at: input.now,
                overall,
                groups,
                incidents,
                past_incidents: past,
                history,
                links,
                served: None,
            },
            warnings,
        )
    }

    /// Every service shown.
    pub fn services(&self) -> impl Iterator<Item = &PublicService> {
        self.groups.iter().flat_map(|g| g.services.iter())
    }

    /// Time of the latest change shown (for "last updated" and the feed).
    pub fn updated(&self) -> Timestamp {
        self.incidents
            .iter()
            .chain(&self.past_incidents)
            .map(|i| i.updated)
            .chain(self.history.iter().map(|c| c.at))
            .max()
            .unwrap_or(self.generated_at)
    }
}

/// The text of one update written from `template` (about `service` when
/// the template speaks of one), as the page would show it now: what the
/// console offers the communication role to edit before publishing.
/// Internal names are removed, as on the page.
pub fn template_text(
    scope: &Scope,
    assets: &Assets,
    board: &ServiceBoard,
    template: Template,
    service: Option<&str>,
    lang: Lang,
) -> String {
    let fr = lang == Lang::Fr;
    let red = Redactor::new(scope, assets);
    let names: Vec<(String, String)> = board
        .services
        .iter()
        .filter(|e| !e.internal)
        .map(|e| {
            let name = e
                .public_name
                .as_ref()
                .map(|t| t.get(fr).to_string())
                .unwrap_or_else(|| e.service.clone());
            (e.service.clone(), red.clean(&name).0)
        })
        .collect();
    let phone = assets.status_page.phone.as_ref().map(|p| red.clean(p).0);
    let facts = PersonalDataFacts::from(scope, assets);
    let ctx = TemplateContext {
        lang,
        board,
        statuses: None,
        names: &names,
        phone: phone.as_deref(),
        facts: &facts,
    };
    let u = Update {
        at: board.as_of,
        phase: Phase::Investigating,
        template: Some(template),
        service: service.map(str::to_string),
        text: None,
        author: None,
    };
    red.clean(&render_update(&u, &ctx)).0
}

fn public_alternative(
    a: &AlternativeAsset,
    fr: bool,
    clean: &mut dyn FnMut(&str) -> String,
) -> PublicAlternative {
    PublicAlternative {
        description: a.description.as_ref().map(|t| clean(t.get(fr))),
        phone: a.phone.as_deref().map(&mut *clean),
        address: a.address.as_deref().map(&mut *clean),
        hours: a.hours.as_ref().map(|t| clean(t.get(fr))),
        url: a.url.as_deref().map(&mut *clean),
        email: a.email.as_deref().map(&mut *clean),
    }
}

/// What residents may be told about their personal data: only public
/// words (who the data is about, categories), never store names or paths.
#[derive(Debug, Clone, Default)]
struct PersonalDataFacts {
    /// Personal data touched by the attacker at all.
    touched: bool,
    /// Probably copied out.
    probable_exfiltration: bool,
    subjects: Vec<String>,
    categories: Vec<DataCategory>,
}

impl PersonalDataFacts {
    fn from(scope: &Scope, assets: &Assets) -> PersonalDataFacts {
        let mut f = PersonalDataFacts::default();
        for e in scope.data_exposure.iter().filter(|e| e.personal_data) {
            f.touched = true;
            f.probable_exfiltration |= e.probable_exfiltration;
            if let Some(d) = e
                .store
                .as_deref()
                .and_then(|s| assets.data_stores.iter().find(|d| d.name == s))
            {
                for s in &d.data_subjects {
                    if !f.subjects.contains(s) {
                        f.subjects.push(s.clone());
                    }
                }
                for c in &d.data_categories {
                    if !f.categories.contains(c) {
                        f.categories.push(*c);
                    }
                }
            }
        }
        f
    }
}

struct TemplateContext<'a> {
    lang: Lang,
    board: &'a ServiceBoard,
    /// (service id, status shown on the page): what a template says of a
    /// service on the page (`None`: the board's status in force).
    statuses: Option<&'a [(String, Option<Status>)]>,
    /// (service id, public name).
    names: &'a [(String, String)],
    phone: Option<&'a str>,
    facts: &'a PersonalDataFacts,
}

/// The text of an update: its free text, or its template filled in.
fn render_update(u: &Update, ctx: &TemplateContext) -> String {
    let lang = ctx.lang;
    let fr = lang == Lang::Fr;
    if let Some(t) = &u.text {
        return t.get(fr).to_string();
    }
    let service_name = |id: &str| -> String {
        ctx.names
            .iter()
            .find(|(s, _)| s == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| lang.pick("Ce service", "This service").to_string())
    };
    match u.template {
        None => String::new(),
        Some(Template::PostponeNonUrgent) => {
            let mut s = lang
                .pick(
                    "Nos services informatiques sont touchés par un incident. Merci de reporter vos démarches non urgentes. Pour chaque service, cette page indique s'il fonctionne et comment nous joindre en attendant.",
                    "Our IT systems are hit by an incident. Please postpone non-urgent requests. For each service, this page says whether it works and how to reach us meanwhile.",
                )
                .to_string();
            if let Some(p) = ctx.phone {
                s.push(' ');
                s.push_str(&tr!(
                    lang,
                    "Pour une demande urgente : {p}.",
                    "For an urgent request: {p}."
                ));
            }
            s
        }
        Some(Template::ServiceAlternative) => {
            let id = u.service.as_deref().unwrap_or_default();
            let name = service_name(id);
            let entry = ctx.board.get(id);
            let status = match ctx.statuses {
                // On a page of what people published, a service whose
                // status nobody set gets no status in the text either.
                Some(st) => st.iter().find(|(s, _)| s == id).and_then(|(_, s)| *s),
                None => Some(entry.map(|e| e.status).unwrap_or(Status::Unknown)),
            };
            let mut s = match status {
                Some(status) => {
                    let status = status.label(lang);
                    tr!(lang, "{name} : {status}.", "{name}: {status}.")
                }
                None => format!("{name}."),
            };
            match entry.and_then(|e| e.alternative.as_ref()) {
                Some(a) => {
                    if let Some(d) = &a.description {
                        s.push(' ');
                        s.push_str(d.get(fr));
                    }
                    if let Some(p) = &a.phone {
                        s.push(' ');
                        s.push_str(&match &a.hours {
                            Some(h) => {
                                tr!(lang, "Appelez le {p} ({}).", "Call {p} ({}).", h.get(fr))
                            }
                            None => tr!(lang, "Appelez le {p}.", "Call {p}."),
                        });
                    } else if let Some(h) = &a.hours {
                        s.push(' ');
                        s.push_str(&tr!(lang, "Horaires : {}.", "Hours: {}.", h.get(fr)));
                    }
                    if let Some(ad) = &a.address {
                        s.push(' ');
                        s.push_str(&tr!(lang, "Adresse : {ad}.", "Address: {ad}."));
                    }
                    if let Some(url) = &a.url {
                        s.push(' ');
                        s.push_str(&tr!(lang, "En ligne : {url}", "Online: {url}"));
                    }
                }
                None => s.push_str(lang.pick(
                    " Nous vous tiendrons informés ici de son rétablissement.",
                    " We will post here when it is back.",
                )),
            }
            s
        }
        Some(Template::ServiceRestored) => {
            let name = service_name(u.service.as_deref().unwrap_or_default());
            tr!(
                lang,
                "{name} fonctionne de nouveau normalement.",
                "{name} works normally again."
            )
        }
        Some(Template::PersonalData) => personal_data_text(ctx),
    }
}

/// "Your personal data: what we know" — what the scope supports, no more,
/// no less: "probably copied" only when the scope says probable
/// exfiltration, never "no data left".
fn personal_data_text(ctx: &TemplateContext) -> String {
    let lang = ctx.lang;
    let f = ctx.facts;
    let mut s = lang
        .pick(
            "Vos données personnelles : ce que nous savons. ",
            "Your personal data: what we know. ",
        )
        .to_string();
    if !f.touched {
        s.push_str(lang.pick(
            "À ce stade, l'analyse n'a pas établi si des données personnelles ont été consultées ou copiées ; elle se poursuit et nous publierons ici ce que nous apprendrons.",
            "At this stage the analysis has not established whether personal data was accessed or copied; it continues, and we will post here what we learn.",
        ));
        return s;
    }
    let about = if f.subjects.is_empty() {
        lang.pick(
            "des fichiers contenant des données personnelles",
            "files holding personal data",
        )
        .to_string()
    } else {
        tr!(
            lang,
            "des fichiers concernant : {}",
            "files about: {}",
            f.subjects.join(" ; ")
        )
    };
    let cats = if f.categories.is_empty() {
        String::new()
    } else {
        tr!(
            lang,
            " Ils peuvent contenir : {}.",
            " They may contain: {}.",
            f.categories
                .iter()
                .map(|c| glossary::term(lang, c.key()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if f.probable_exfiltration {
        s.push_str(&tr!(
            lang,
            "Les attaquants ont probablement copié {about}.{cats} ",
            "The attackers probably copied {about}.{cats} ",
        ));
    } else {
        s.push_str(&tr!(
            lang,
            "Les attaquants ont eu accès à {about} ; nous ne savons pas encore s'ils les ont copiés.{cats} ",
            "The attackers had access to {about}; we do not know yet whether they copied them.{cats} ",
        ));
    }
    s.push_str(lang.pick(
        "Nous le signalons à la CNIL et les personnes concernées seront contactées directement. Nous ne vous demanderons jamais votre mot de passe ni vos coordonnées bancaires par téléphone, SMS ou courriel : méfiez-vous des messages inattendus qui se réclament de nous.",
        "We are reporting it to the CNIL, and the persons concerned will be contacted directly. We will never ask for your password or bank details by phone, text or e-mail: beware of unexpected messages claiming to come from us.",
    ));
    s
}

/// Removes internal names (hosts, accounts, addresses, domains, rules,
/// paths) from texts meant for the public.
///
/// Matching is ASCII case-insensitive on whole tokens: a name is removed
/// where it is not glued to a letter, a digit or `_` on either side, so
/// `DC01` goes from "DC01 is down" but `ADC012` stays.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Lower-case ASCII names, longest first (an FQDN before its host).
    tokens: Vec<String>,
}

/// What replaces a removed name.
pub const REDACTED: &str = "[…]";

impl Redactor {
    /// Every internal name the scope and the assets file know.
    pub fn new(scope: &Scope, assets: &Assets) -> Redactor {
        let mut t: Vec<String> = Vec::new();
        for h in &scope.hosts {
            t.push(h.name.clone());
            t.extend(h.fqdns.iter().cloned());
            t.extend(h.addresses.iter().cloned());
        }
        for a in &scope.accounts {
            t.push(a.name.clone());
            t.extend(a.source_addresses.iter().cloned());
        }
        for a in &scope.addresses {
            t.push(a.address.clone());
        }
        for l in &scope.links {
            t.extend(l.from_address.iter().cloned());
        }
        if let Some(e) = &scope.entry_point {
            t.extend(e.source_address.iter().cloned());
            t.extend(e.host.iter().cloned());
            t.extend(e.account.iter().cloned());
        }
        for d in &scope.domains {
            t.push(d.domain.clone());
        }
        for d in &scope.data_exposure {
            t.extend(d.destinations.iter().cloned());
        }
        for r in &scope.detections.rules {
            t.push(r.title.clone());
            t.extend(r.rule_id.iter().cloned());
        }
        for h in &assets.hosts {
            if !h.name.contains(['*', '?']) {
                t.push(h.name.clone());
            }
            t.extend(h.addresses.iter().cloned());
        }
        for a in &assets.accounts {
            if !a.name.contains(['*', '?']) {
                t.push(a.name.clone());
            }
        }
        // Dotted AD domains (`ccpab.local`) are internal; a bare NetBIOS
        // name (`CCPAB`) is usually the organisation's own acronym, which
        // public texts rightly use.
        t.extend(assets.domains.iter().filter(|d| d.contains('.')).cloned());
        for d in &assets.data_stores {
            t.extend(d.path.iter().cloned());
        }
        t.extend(assets.networks.vpn_pools.iter().cloned());
        t.extend(assets.networks.internal.iter().cloned());
        let mut tokens: Vec<String> = t
            .into_iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| s.chars().count() >= 3)
            .collect();
        tokens.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        tokens.dedup();
        Redactor { tokens }
    }

    /// The internal names it removes.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// `s` without internal names, and the names removed.
    pub fn clean(&self, s: &str) -> (String, Vec<String>) {
        let mut out = s.to_string();
        let mut removed = Vec::new();
        for tok in &self.tokens {
            let mut from = 0;
            loop {
                let lower = out.to_ascii_lowercase();
                let Some(pos) = lower[from..].find(tok.as_str()).map(|p| p + from) else {
                    break;
                };
                let end = pos + tok.len();
                let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                if glued(out[..pos].chars().next_back()) || glued(out[end..].chars().next()) {
                    from = end;
                    continue;
                }
                removed.push(out[pos..end].to_string());
                out.replace_range(pos..end, REDACTED);
                from = pos + REDACTED.len();
            }
        }
        (out, removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(tokens: &[&str]) -> Redactor {
        let mut tokens: Vec<String> = tokens.iter().map(|s| s.to_ascii_lowercase()).collect();
        tokens.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        Redactor { tokens }
    }

    #[test]
    fn whole_names_are_removed_whatever_their_case() {
        let r = redactor(&[
            "SRV-FIC01",
            "srv-fic01.ccpab.local",
            "presta.maint",
            "10.0.10.20",
        ]);
        let (t, removed) = r.clean(
            "Le serveur srv-fic01.CCPAB.local (10.0.10.20) et SRV-FIC01, compte Presta.Maint.",
        );
        assert_eq!(t, "Le serveur […] ([…]) et […], compte […].");
        assert_eq!(removed.len(), 4);
        // Glued to a letter or digit: another word, kept.
        let (t, removed) = r.clean("XSRV-FIC012 et 110.0.10.201");
        assert_eq!(t, "XSRV-FIC012 et 110.0.10.201");
        assert!(removed.is_empty());
        // Non-ASCII text around a name keeps its characters.
        let (t, _) = r.clean("Éteint : SRV-FIC01 — réparé");
        assert_eq!(t, "Éteint : […] — réparé");
    }
}
