//! The frame of the console's pages (incidents, detections, filters) and
//! the small pieces they share: times in Europe/Paris with UTC on hover,
//! level badges, status pills, tables that become cards on a phone.
//!
//! The look is the HTML report's: its theme and its own rules
//! ([`vigie_report::style`]) are the console's stylesheet, and the
//! incident pages show the report's own sections
//! ([`vigie_report::render_sections`]); only what the report has no
//! need of (the navigation, forms) is added here.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::Response;
use vigie_lang::{glossary, tr, Lang, Precision, Zone};
use vigie_report::html::escape;

use crate::sessions::random_token;
use crate::web::{page, CSRF_FIELD};
use crate::Session;

/// The commune selector of a session that reads several communes (a
/// CSIRT's analyst: every commune, or those assigned): what Wazuh,
/// Security Onion or DFIR-IRIS users expect at the top of every page.
/// Filled per request by the server's authorisation check; a commune's
/// own account never has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picker {
    /// The communes the session may choose, sorted.
    pub communes: Vec<String>,
    /// The commune this page is of (`?tenant=`, else the choice kept),
    /// if any.
    pub chosen: Option<String>,
}

/// Where the selector sends its choice (kept in [`crate::web::COMMUNE_COOKIE`]).
pub const CHOOSE_PATH: &str = "/communes/choose";
/// The deployment's landing page: every commune and its figures.
pub const LANDING_PATH: &str = "/communes";

/// The selector's form: a `<select>` of the communes (and "every
/// commune", the landing page), sent to [`CHOOSE_PATH`] with the page to
/// come back to. Plain HTML: it works without script.
fn picker_form(p: &Picker, lang: Lang, path: &str) -> String {
    let mut options = format!(
        "<option value=\"\"{}>{}</option>",
        if p.chosen.is_none() { " selected" } else { "" },
        tr!(lang, "Toutes les communes", "Every commune"),
    );
    for c in &p.communes {
        let _ = write!(
            options,
            "<option value=\"{v}\"{sel}>{v}</option>",
            v = escape(c),
            sel = if p.chosen.as_deref() == Some(c.as_str()) {
                " selected"
            } else {
                ""
            },
        );
    }
    let next = back_to(path);
    format!(
        "<form method=\"get\" action=\"{CHOOSE_PATH}\" id=\"commune-picker\" class=\"picker\"><label for=\"commune\">{label}</label> <select name=\"tenant\" id=\"commune\">{options}</select><input type=\"hidden\" name=\"next\" value=\"{next}\">{lang_field}<button type=\"submit\" id=\"commune-choose\">{go}</button></form>",
        label = tr!(lang, "Commune", "Commune"),
        next = escape(&next),
        lang_field = match lang {
            Lang::Fr => String::new(),
            Lang::En => "<input type=\"hidden\" name=\"lang\" value=\"en\">".to_string(),
        },
        go = tr!(lang, "Afficher", "Show"),
    )
}

/// Where the selector comes back to from the page at `path`: the same
/// page without its own `?tenant=` (it would win over the choice just
/// made); from one incident or detection, the incidents (that one is the
/// other commune's: a 404 in this one); from the landing page, the page
/// it was come to from (its `next`), else the incidents.
fn back_to(path: &str) -> String {
    let (here, query) = path.split_once('?').unwrap_or((path, ""));
    if here == LANDING_PATH {
        let next = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
            .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\"))
            .filter(|n| !n.starts_with(LANDING_PATH))
            .unwrap_or_else(|| "/incidents".to_string());
        return back_to(&next);
    }
    let here = match here.trim_start_matches('/').split_once('/') {
        Some(("detections", _)) => "/incidents",
        Some(("incidents", "table")) => here,
        Some(("incidents", _)) => "/incidents",
        _ => here,
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("tenant="))
        .collect();
    if kept.is_empty() {
        here.to_string()
    } else {
        format!("{here}?{}", kept.join("&"))
    }
}

/// The zone people read times in (the console's default, as decided for
/// the console and the status page).
pub fn zone() -> Zone {
    Zone::paris()
}

/// What only the console has: navigation, forms, the raw event.
const CONSOLE_CSS: &str = "
header.top{background:var(--navy);color:#fff;padding:10px 0;margin:0 0 18px}
header.top .wrap{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:center;justify-content:space-between}
header.top a{color:#fff;font-weight:650;text-decoration:none;padding:6px 2px;display:inline-block}
header.top a[aria-current=page]{border-bottom:3px solid #fff}
header.top nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;margin:0;padding:0}
header.top .who{color:var(--on-navy);font-size:13.5px}
header.top form{display:inline;margin:0}
header.top form.picker{display:inline-flex;gap:6px;align-items:center}
header.top form.picker label{display:inline;margin:0;color:#fff}
header.top form.picker select{width:auto;min-height:34px}
button,select,input,textarea{font:inherit}
button{min-height:40px;padding:6px 14px;border-radius:6px;border:1px solid var(--navy);background:var(--navy);color:#fff;font-weight:650;cursor:pointer}
button.secondary{background:#fff;color:var(--navy)}
button.danger{background:var(--red);border-color:var(--red)}
header.top button{background:#fff;color:var(--navy);min-height:34px}
label{display:block;font-weight:650;margin:10px 0 4px}
select,input[type=text],textarea{width:100%;max-width:36rem;min-height:40px;padding:6px 8px;border:1px solid var(--muted);border-radius:6px;background:#fff;color:var(--ink)}
textarea{min-height:6rem}
textarea.yaml{max-width:none;min-height:16rem;font-family:ui-monospace,monospace;font-size:13px}
pre.raw{background:#0f172a;color:#e2e8f0;padding:14px;border-radius:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:12.5px;max-height:70vh}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.facts dt{font-weight:650;color:var(--ink-2)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end}
.actions form{margin:0}
mark.matched{background:#fef0c7;color:#7a2e0e;padding:0 2px}
@media screen and (max-width:720px){dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:6px}}
";

/// The stylesheet: the report's theme and rules, then the console's.
pub fn css() -> String {
    format!(
        "{}\n{}\n{}",
        vigie_report::style::THEME_CSS,
        vigie_report::style::REPORT_CSS,
        CONSOLE_CSS
    )
}

/// The navigation's entries: (path, French, English).
const NAV: &[(&str, &str, &str)] = &[
    ("/incidents", "Incidents", "Incidents"),
    ("/", "Détections", "Detections"),
    ("/search", "Recherche", "Search"),
    (
        "/filters",
        "Filtres de faux positifs",
        "False-positive filters",
    ),
    ("/rules", "Règles", "Rules"),
    ("/sources", "Sources", "Sources"),
    ("/crisis", "Cellule de crise", "Crisis cell"),
    ("/actions", "Confinement", "Containment"),
];

/// What only administrators see in the navigation.
const ADMIN_NAV: &[(&str, &str, &str)] = &[
    ("/accounts", "Comptes", "Accounts"),
    ("/tokens", "Jetons", "Tokens"),
    ("/audit", "Audit", "Audit"),
];

/// A page of the console: the header (navigation, who, sign out, the
/// other language), `body` inside, and `script` (if any) run with the
/// response's nonce. `path` is the page's own path and query, for the
/// language switch and the current navigation entry.
pub fn frame(
    session: &Session,
    lang: Lang,
    path: &str,
    title: &str,
    body: &str,
    script: Option<&str>,
) -> Response {
    let nonce = random_token();
    let mut out = String::with_capacity(body.len() + 64 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} — Vigie</title><style nonce=\"{nonce}\">{css}</style></head><body>",
        code = lang.code(),
        title = escape(title),
        css = css(),
    );
    let _ = write!(
        out,
        "<a class=\"skip\" href=\"#main\">{}</a><header class=\"top\"><div class=\"wrap\"><nav aria-label=\"{}\"><ul>",
        tr!(lang, "Aller au contenu", "Skip to content"),
        tr!(lang, "Console", "Console"),
    );
    let here = path.split('?').next().unwrap_or(path);
    let admin: &[_] = if session.role == crate::Role::Admin {
        ADMIN_NAV
    } else {
        &[]
    };
    for (href, fr, en) in NAV.iter().chain(admin) {
        let current = if here == *href || (*href != "/" && here.starts_with(&format!("{href}/"))) {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li><a href=\"{}\"{current}>{}</a></li>",
            with_lang(href, lang),
            lang.pick(*fr, *en)
        );
    }
    let (other, other_name) = lang.pick(("en", "English"), ("fr", "Français"));
    let _ = write!(
        out,
        "<li><a href=\"{}\" lang=\"{other}\">{other_name}</a></li></ul></nav>{}<span class=\"who\" id=\"who\">{} — {}</span><form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{}\"><button type=\"submit\" id=\"logout\">{}</button></form></div></header>",
        escape(&switch_lang(path, other)),
        session
            .picker
            .as_ref()
            .map(|p| picker_form(p, lang, path))
            .unwrap_or_default(),
        escape(&session.user),
        escape(session.role.name(lang)),
        session.csrf,
        tr!(lang, "Se déconnecter", "Sign out"),
    );
    let _ = write!(
        out,
        "<main class=\"wrap\" id=\"main\"><h1>{}</h1>{body}<p class=\"small\">{}</p></main>",
        escape(title),
        tr!(
            lang,
            "Heures de Paris ; l'heure UTC s'affiche au survol.",
            "Paris times; UTC on hover."
        ),
    );
    if let Some(js) = script {
        let _ = write!(out, "<script nonce=\"{nonce}\">{js}</script>");
    }
    out.push_str("</body></html>");
    page(StatusCode::OK, &nonce, out)
}

/// `href` in `lang` (French is the default: no query).
pub fn with_lang(href: &str, lang: Lang) -> String {
    match lang {
        Lang::Fr => href.to_string(),
        Lang::En if href.contains('?') => format!("{href}&lang=en"),
        Lang::En => format!("{href}?lang=en"),
    }
}

/// `path` with its `lang` parameter set to `code`.
fn switch_lang(path: &str, code: &str) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let mut kept: Vec<&str> = q
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
        .collect();
    let param = format!("lang={code}");
    kept.push(&param);
    format!("{p}?{}", kept.join("&"))
}

/// A time: Paris local in the text, UTC in `title` (hover) and in
/// `datetime`; `—` when unknown or unreadable (shown as it is, escaped).
pub fn time(rfc3339: Option<&str>) -> String {
    let Some(s) = rfc3339 else {
        return "—".into();
    };
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => time_of(t.with_timezone(&chrono::Utc)),
        Err(_) => escape(s),
    }
}

/// [`time`] of a parsed instant.
pub fn time_of(t: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        escape(&Zone::Utc.format(t, Precision::Second)),
        escape(&zone().format(t, Precision::Second)),
    )
}

/// A Sigma level as the report shows it.
pub fn level(lang: Lang, key: Option<&str>) -> String {
    let rank = match key {
        Some("critical") => 4,
        Some("high") => 3,
        Some("medium") => 2,
        Some("low") => 1,
        _ => 0,
    };
    let name = key.map_or("—", |k| glossary::term(lang, k));
    format!("<span class=\"lvl lvl-{rank}\">{}</span>", escape(name))
}

/// A triage status (`new`, `acknowledged`, `resolved`, `false_positive`)
/// as a pill of the report's status language.
pub fn status(lang: Lang, key: &str) -> String {
    let tone = match key {
        "new" => "tone-red",
        "acknowledged" => "tone-amber",
        "resolved" => "tone-green",
        _ => "tone-grey",
    };
    format!(
        "<span class=\"pill {tone}\" data-status=\"{}\">{}</span>",
        escape(key),
        escape(glossary::term(lang, key))
    )
}

/// A table whose rows become cards on a phone (each cell names its
/// column), as the report's tables.
pub struct Table {
    heads: Vec<String>,
    rows: String,
    id: String,
}

impl Table {
    pub fn new(id: &str, heads: &[&str]) -> Table {
        Table {
            heads: heads.iter().map(|h| h.to_string()).collect(),
            rows: String::new(),
            id: id.to_string(),
        }
    }

    /// A row of cells already HTML; `class` names the row (tests find
    /// rows by it).
    pub fn row(&mut self, class: &str, cells: &[String]) {
        let _ = write!(self.rows, "<tr class=\"{}\">", escape(class));
        for (h, c) in self.heads.iter().zip(cells) {
            let _ = write!(self.rows, "<td data-label=\"{}\">{c}</td>", escape(h));
        }
        self.rows.push_str("</tr>");
    }

    pub fn html(&self) -> String {
        let mut out = format!(
            "<div class=\"tablewrap\"><table class=\"sortable\" id=\"{}\"><thead><tr>",
            escape(&self.id)
        );
        for h in &self.heads {
            let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
        }
        let _ = write!(
            out,
            "</tr></thead><tbody>{}</tbody></table></div>",
            self.rows
        );
        out
    }
}

/// The triage form of a detection or incident: status, assignee,
/// comment; posted with the session's CSRF token, back to `back`, for
/// `tenant` (the commune the page was drawn for: never the one chosen
/// since in another tab — live ids are per commune).
#[allow(clippy::too_many_arguments)]
pub fn triage_form(
    lang: Lang,
    session: &Session,
    tenant: &str,
    kind: &str,
    id: &str,
    current: &str,
    assignee: Option<&str>,
    back: &str,
) -> String {
    let mut options = String::new();
    for k in ["new", "acknowledged", "resolved", "false_positive"] {
        let _ = write!(
            options,
            "<option value=\"{k}\"{}>{}</option>",
            if k == current { " selected" } else { "" },
            escape(glossary::term(lang, k))
        );
    }
    format!(
        "<form method=\"post\" action=\"/api/v1/triage?tenant={tenant_q}\" id=\"triage\">
<input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">
<input type=\"hidden\" name=\"kind\" value=\"{kind}\"><input type=\"hidden\" name=\"id\" value=\"{id}\">
<input type=\"hidden\" name=\"back\" value=\"{back}\"><input type=\"hidden\" name=\"lang\" value=\"{code}\">
<label for=\"status\">{status_l}</label><select id=\"status\" name=\"status\">{options}</select>
<label for=\"assignee\">{assignee_l}</label><input type=\"text\" id=\"assignee\" name=\"assignee\" value=\"{assignee}\" autocomplete=\"off\">
<label for=\"comment\">{comment_l}</label><textarea id=\"comment\" name=\"comment\"></textarea>
<p class=\"small\">{fp_note}</p>
<button type=\"submit\" id=\"triage-submit\">{save}</button>
</form>",
        csrf = session.csrf,
        tenant_q = escape(&form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>()),
        kind = escape(kind),
        id = escape(id),
        back = escape(back),
        code = lang.code(),
        status_l = tr!(lang, "Statut", "Status"),
        assignee_l = tr!(lang, "Attribué à", "Assigned to"),
        assignee = escape(assignee.unwrap_or("")),
        comment_l = tr!(lang, "Commentaire (facultatif)", "Comment (optional)"),
        fp_note = if kind == "detection" {
            tr!(
                lang,
                "« Faux positif » crée un filtre Sigma qui écarte désormais les mêmes événements pour cette règle (modifiable et retirable dans Filtres).",
                "“False positive” makes a Sigma filter that drops the same events for this rule from then on (editable and removable in Filters)."
            )
        } else {
            String::new()
        },
        save = tr!(lang, "Enregistrer", "Save"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_comes_back_to_a_page_of_the_commune_chosen() {
        assert_eq!(back_to("/incidents?tenant=a&lang=en"), "/incidents?lang=en");
        assert_eq!(back_to("/incidents/L12?tenant=a"), "/incidents");
        assert_eq!(back_to("/detections/abc"), "/incidents");
        assert_eq!(back_to("/search?q=x"), "/search?q=x");
        assert_eq!(back_to("/communes?next=%2Fsearch%3Fq%3Dx"), "/search?q=x");
        assert_eq!(back_to("/communes?next=%2Fdetections%2Fabc"), "/incidents");
        for bad in ["//evil.example", "%2F%2Fevil.example", "%2Fcommunes", ""] {
            assert_eq!(back_to(&format!("/communes?next={bad}")), "/incidents");
        }
        assert_eq!(back_to("/communes"), "/incidents");
    }

    #[test]
    fn times_are_paris_with_utc_on_hover() {
        let h = time(Some("2026-01-10T01:11:07Z"));
        assert!(h.contains("title=\"2026-01-10 01:11:07 UTC\""), "{h}");
        assert!(h.contains(">2026-01-10 02:11:07 CET<"), "{h}");
        assert_eq!(time(None), "—");
        assert_eq!(time(Some("<b>")), "&lt;b&gt;");
    }

    #[test]
    fn language_links() {
        assert_eq!(
            switch_lang("/incidents/L1?lang=fr", "en"),
            "/incidents/L1?lang=en"
        );
        assert_eq!(
            switch_lang("/detections/x?a=1", "fr"),
            "/detections/x?a=1&lang=fr"
        );
        assert_eq!(with_lang("/filters", Lang::En), "/filters?lang=en");
        assert_eq!(with_lang("/filters", Lang::Fr), "/filters");
    }
}
