//! The console's pages of the crisis cell, plain HTML with forms (no
//! script needed): `/crisis`, the service board with, for `crisis` and
//! `admin`, a form per service to set its status with a reason; and
//! `/crisis/notices`, the notices published for residents with the form
//! to publish one from a template whose text is filled in to be edited.
//! French by default, English with `?lang=en`.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use vigie_communicate::board::Origin;
use vigie_communicate::{public, Phase, Status, Template};
use vigie_console::{Principal, Session};
use vigie_lang::{tr, Lang};
use vigie_report::html::escape as esc;

use super::{board, current, PUBLISHERS, STATUS_SETTERS};
use crate::Shared;

const STYLE: &str = "
:root{color-scheme:light;--ink:#14213d;--mute:#44506a;--line:#c9d1e0;--accent:#0b4f9c}
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);background:#f6f8fb}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;background:var(--ink);color:#fff;padding:.6rem 1rem}
header a{color:#fff}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:1rem;padding:0;margin:0}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.3rem;border:1px solid var(--mute);font-weight:600;white-space:nowrap}
.s-operational{background:#e3f4e8}.s-degraded,.s-maintenance{background:#fff4d6}.s-unknown{background:#eceff4}.s-partial_outage{background:#ffe3cc}.s-major_outage{background:#fbdcdc}
.hint{color:var(--mute);font-size:.95rem}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}
input,select,textarea{font:inherit;padding:.45rem;border:1px solid var(--mute);border-radius:.3rem;width:100%;max-width:40rem}
textarea{min-height:7rem}
button{font:inherit;font-weight:600;margin-top:.6rem;padding:.5rem .9rem;border:0;border-radius:.3rem;background:var(--accent);color:#fff;cursor:pointer}
header button{background:#fff;color:var(--ink);margin:0}
input:focus,select:focus,textarea:focus,button:focus,a:focus,summary:focus{outline:3px solid #ffbf47;outline-offset:2px}
.card{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:1rem;margin:1rem 0}
@media (max-width:48rem){thead{display:none}tr{display:block;border-bottom:2px solid var(--line)}td{display:block;border:0;padding:.15rem .5rem}}
";

/// A page with the console's headers: no script at all, styles by nonce,
/// forms to this server only.
fn html_page(html: String, nonce: &str) -> Response {
    super::with_headers(
        html,
        "text/html; charset=utf-8",
        &format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "no-store",
    )
}

fn nonce() -> String {
    vigie_console::sessions::random_token()
}

fn session(p: &Principal) -> Option<&Session> {
    match p {
        Principal::Person { session, .. } => Some(session),
        Principal::Token { .. } => None,
    }
}

/// The frame: header with who and sign-out, navigation, `body`.
fn frame(lang: Lang, title: &str, who: Option<&Session>, body: &str) -> Response {
    let n = nonce();
    let q = match lang {
        Lang::Fr => "",
        Lang::En => "?lang=en",
    };
    let (who_html, logout) = match who {
        Some(s) => (
            format!(
                "<span id=\"who\">{} — {}</span>",
                esc(&s.user),
                esc(s.role.name(lang))
            ),
            format!(
                "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                esc(&s.csrf),
                lang.pick("Se déconnecter", "Sign out")
            ),
        ),
        None => (String::new(), String::new()),
    };
    let other = lang.pick(("en", "English"), ("fr", "Français"));
    let html = format!(
        "<!doctype html>
<html lang=\"{code}\"><head><meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>Vigie — {title}</title><style nonce=\"{n}\">{STYLE}</style></head>
<body>
<header><strong>Vigie</strong>{who_html}{logout}</header>
<main>
<nav aria-label=\"{navl}\"><ul>
<li><a href=\"/{q}\">{det}</a></li>
<li><a href=\"/crisis{q}\">{board}</a></li>
<li><a href=\"/crisis/notices{q}\">{notices}</a></li>
<li><a href=\"/status{q}\">{public}</a></li>
<li><a href=\"?lang={oc}\" lang=\"{oc}\">{on}</a></li>
</ul></nav>
<h1>{title}</h1>
{body}
</main></body></html>",
        code = lang.code(),
        title = esc(title),
        navl = lang.pick("Cellule de crise", "Crisis cell"),
        det = lang.pick("Détections", "Detections"),
        board = lang.pick("Services", "Services"),
        notices = lang.pick("Avis aux habitants", "Notices to residents"),
        public = lang.pick("Page publique", "Public page"),
        oc = other.0,
        on = other.1,
    );
    html_page(html, &n)
}

fn badge(lang: Lang, s: Status) -> String {
    format!(
        "<span class=\"badge s-{}\">{}</span>",
        s.key(),
        esc(s.label(lang))
    )
}

fn when(t: vigie_event::Timestamp) -> String {
    let z = vigie_lang::Zone::paris();
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        esc(&t.to_rfc3339()),
        esc(&vigie_lang::Zone::Utc.format(t, vigie_lang::Precision::Second)),
        esc(&z.format(t, vigie_lang::Precision::Minute))
    )
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    lang: Option<String>,
    template: Option<String>,
    service: Option<String>,
    incident: Option<String>,
}

fn lang_of(q: &PageQuery, headers: &HeaderMap) -> Lang {
    vigie_console::web::lang_of(q.lang.as_deref(), headers)
}

/// `GET /crisis`: the board, and the forms of those who set statuses.
pub(crate) async fn board_page(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let tenant = "default";
    let (scope, kept) = match current(&s, tenant, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b = board(&s, &scope, &kept, lang);
    let who = session(&p);
    let may_set = who.is_some_and(|s| STATUS_SETTERS.contains(&s.role));
    let csrf = who.map(|s| s.csrf.clone()).unwrap_or_default();
    let mut h = String::new();
    h.push_str(&format!(
        "<p class=\"hint\">{}</p>\n",
        tr!(
            lang,
            "Chaque service du fichier des actifs, avec l'état que Vigie déduit du périmètre de l'incident ({} événements observés) et l'état en vigueur. La cellule de crise peut changer un état, avec un motif ; chaque changement est gardé avec son auteur et son heure, et publié sur la page publique.",
            "Every service of the assets file, with the status Vigie derives from the incident's scope ({} events observed) and the status in force. The crisis cell may change a status, with a reason; every change is kept with its author and time, and published on the public page.",
            s.live.events(tenant)
        )
    ));
    if b.services.is_empty() {
        h.push_str(&format!(
            "<p>{}</p>",
            lang.pick(
                "Aucun service : démarrez vigie serve avec --assets FICHIER.",
                "No service: start vigie serve with --assets FILE."
            )
        ));
    }
    h.push_str(&format!(
        "<table id=\"board\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>\n",
        lang.pick("Service", "Service"),
        lang.pick("État en vigueur", "Status in force"),
        lang.pick("Déduit de l'analyse", "Derived from the analysis"),
        lang.pick("Historique", "History"),
    ));
    for (i, e) in b.services.iter().enumerate() {
        row(&mut h, lang, i, e, may_set, &csrf);
    }
    h.push_str("</tbody></table>\n");
    frame(
        lang,
        lang.pick("État des services", "Service status"),
        who,
        &h,
    )
}

fn service_name(lang: Lang, e: &vigie_communicate::BoardEntry) -> String {
    e.public_name
        .as_ref()
        .map(|t| t.get(lang == Lang::Fr).to_string())
        .unwrap_or_else(|| e.service.clone())
}

fn row(
    h: &mut String,
    lang: Lang,
    i: usize,
    e: &vigie_communicate::BoardEntry,
    may_set: bool,
    csrf: &str,
) {
    let q = match lang {
        Lang::Fr => "",
        Lang::En => "?lang=en",
    };
    h.push_str(&format!(
        "<tr id=\"svc-{}\" data-service=\"{}\" data-status=\"{}\"><td><strong>{}</strong><br><code>{}</code>{}</td>",
        i + 1,
        esc(&e.service),
        e.status.key(),
        esc(&service_name(lang, e)),
        esc(&e.service),
        if e.internal {
            format!(" <span class=\"hint\">({})</span>", lang.pick("interne", "internal"))
        } else {
            String::new()
        }
    ));
    // In force, with who set it and why.
    h.push_str(&format!("<td>{}", badge(lang, e.status)));
    if let Some(o) = &e.overridden {
        h.push_str(&format!(
            "<br><span class=\"hint\">{} {} — {}</span>",
            esc(&o.author),
            when(o.at),
            esc(&o.reason)
        ));
    }
    if may_set {
        let id = format!("svc-{}", i + 1);
        h.push_str(&format!(
            "<form method=\"post\" action=\"/api/v1/services/{}/status\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"back\" value=\"/crisis{q}\">\n<label for=\"{id}-status\">{}</label><select id=\"{id}-status\" name=\"status\">",
            esc(&form_urlencoded::byte_serialize(e.service.as_bytes()).collect::<String>()),
            esc(csrf),
            lang.pick("Nouvel état", "New status"),
        ));
        h.push_str(&format!(
            "<option value=\"derived\">{}</option>",
            tr!(
                lang,
                "Revenir à l'état déduit ({})",
                "Back to the derived status ({})",
                e.derived.status.label(lang)
            )
        ));
        for st in Status::ALL {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                st.key(),
                if st == e.status { " selected" } else { "" },
                esc(st.label(lang))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"{id}-reason\">{}</label><input id=\"{id}-reason\" name=\"reason\" required maxlength=\"2000\">\n<button type=\"submit\">{}</button></form>",
            lang.pick("Motif (obligatoire)", "Reason (required)"),
            lang.pick("Changer l'état", "Change the status"),
        ));
    }
    h.push_str("</td>");
    h.push_str(&format!(
        "<td>{}<br><span class=\"hint\">{}</span></td>",
        badge(lang, e.derived.status),
        esc(&e.derived.reason)
    ));
    h.push_str("<td><ol>");
    for c in e.history.iter().rev() {
        let by = match &c.origin {
            Origin::Scope => lang.pick("analyse", "analysis").to_string(),
            Origin::Person { author } => author.clone(),
        };
        h.push_str(&format!(
            "<li>{} {} — {} : {}</li>",
            when(c.at),
            badge(lang, c.status),
            esc(&by),
            esc(&c.reason)
        ));
    }
    h.push_str("</ol></td></tr>\n");
}

/// `GET /crisis/notices`: the notices, and the form to publish one.
/// `?template=…&service=…` fills the text from the template, to edit.
pub(crate) async fn notices_page(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let tenant = "default";
    let (scope, kept) = match current(&s, tenant, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = session(&p);
    let may_publish = who.is_some_and(|s| PUBLISHERS.contains(&s.role));
    let csrf = who.map(|s| s.csrf.clone()).unwrap_or_default();
    let fr_board = board(&s, &scope, &kept, Lang::Fr);
    let public: Vec<&vigie_communicate::BoardEntry> =
        fr_board.services.iter().filter(|e| !e.internal).collect();
    let qs = match lang {
        Lang::Fr => "",
        Lang::En => "?lang=en",
    };
    let mut h = String::new();
    if may_publish {
        let template = q.template.as_deref().and_then(Template::parse);
        let service = q.service.as_deref().filter(|s| !s.is_empty());
        let (text_fr, text_en) = match template {
            Some(t) => {
                let en_board = board(&s, &scope, &kept, Lang::En);
                (
                    public::template_text(&scope, s.live.assets(), &fr_board, t, service, Lang::Fr),
                    public::template_text(&scope, s.live.assets(), &en_board, t, service, Lang::En),
                )
            }
            None => (String::new(), String::new()),
        };
        let incident = q.incident.as_deref().unwrap_or("");
        // Step 1: a template (and its service) fills the text.
        h.push_str(&format!(
            "<section class=\"card\" aria-labelledby=\"prep-h\"><h2 id=\"prep-h\">{}</h2>\n<form method=\"get\" action=\"/crisis/notices\">\n<input type=\"hidden\" name=\"lang\" value=\"{}\">\n<input type=\"hidden\" name=\"incident\" value=\"{}\">\n<label for=\"template\">{}</label><select id=\"template\" name=\"template\">",
            lang.pick("1. Partir d'un modèle", "1. Start from a template"),
            lang.code(),
            esc(incident),
            lang.pick("Modèle", "Template"),
        ));
        for t in Template::ALL {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                t.key(),
                if Some(t) == template { " selected" } else { "" },
                esc(t.label(lang))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"service\">{}</label><select id=\"service\" name=\"service\"><option value=\"\">—</option>",
            lang.pick("Service concerné (selon le modèle)", "Service concerned (as the template needs)")
        ));
        for e in &public {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(&e.service),
                if Some(e.service.as_str()) == service {
                    " selected"
                } else {
                    ""
                },
                esc(&service_name(lang, e))
            ));
        }
        h.push_str(&format!(
            "</select>\n<button type=\"submit\">{}</button></form></section>\n",
            lang.pick("Remplir le texte", "Fill in the text")
        ));
        // Step 2: edit and publish.
        h.push_str(&format!(
            "<section class=\"card\" aria-labelledby=\"pub-h\"><h2 id=\"pub-h\">{}</h2>\n<form method=\"post\" action=\"/api/v1/notices\" id=\"publish\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"back\" value=\"/crisis/notices{qs}\">\n<input type=\"hidden\" name=\"service\" value=\"{}\">\n<label for=\"incident\">{}</label><select id=\"incident\" name=\"incident\"><option value=\"\">{}</option>",
            lang.pick("2. Relire et publier", "2. Review and publish"),
            esc(&csrf),
            esc(service.unwrap_or("")),
            lang.pick("Incident", "Incident"),
            lang.pick("Nouvel incident (titre ci-dessous)", "New incident (title below)"),
        ));
        for n in kept
            .notices
            .incidents
            .iter()
            .filter(|n| n.resolved.is_none())
        {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(&n.id),
                if n.id == incident { " selected" } else { "" },
                esc(n.title.get(lang == Lang::Fr))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"title\">{}</label><input id=\"title\" name=\"title\" maxlength=\"200\">\n<label for=\"phase\">{}</label><select id=\"phase\" name=\"phase\">",
            lang.pick("Titre d'un nouvel incident", "Title of a new incident"),
            lang.pick("Phase", "Phase"),
        ));
        for ph in Phase::ALL {
            h.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                ph.key(),
                esc(ph.label(lang))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"text\">{}</label><textarea id=\"text\" name=\"text\" required maxlength=\"5000\">{}</textarea>\n<label for=\"text_en\">{}</label><textarea id=\"text_en\" name=\"text_en\" maxlength=\"5000\">{}</textarea>\n<p class=\"hint\">{}</p><button type=\"submit\">{}</button></form></section>\n",
            lang.pick("Texte (français)", "Text (French)"),
            esc(&text_fr),
            lang.pick("Texte (anglais, facultatif)", "Text (English, optional)"),
            esc(&text_en),
            lang.pick(
                "Publié tel quel sur la page publique et dans son flux Atom, avec l'heure ; les noms internes (machines, comptes, adresses) en sont retirés.",
                "Published as written on the public page and its Atom feed, with the time; internal names (hosts, accounts, addresses) are removed from it."
            ),
            lang.pick("Publier", "Publish"),
        ));
    }
    h.push_str(&format!(
        "<section aria-labelledby=\"list-h\"><h2 id=\"list-h\">{}</h2>\n",
        lang.pick("Avis publiés", "Notices published")
    ));
    if kept.notices.incidents.is_empty() {
        h.push_str(&format!(
            "<p>{}</p>",
            lang.pick("Aucun avis publié.", "No notice published.")
        ));
    }
    for n in kept.notices.incidents.iter().rev() {
        h.push_str(&format!(
            "<article class=\"card notice\" data-id=\"{}\"><h3>{}</h3><p class=\"hint\">{} · {}</p><ol>",
            esc(&n.id),
            esc(n.title.get(lang == Lang::Fr)),
            esc(&n.id),
            esc(n.phase().label(lang)),
        ));
        for u in n.updates.iter().rev() {
            let text = match (&u.text, u.template) {
                (Some(t), _) => t.get(lang == Lang::Fr).to_string(),
                (None, Some(t)) => format!("[{}]", t.label(lang)),
                _ => String::new(),
            };
            h.push_str(&format!(
                "<li>{} — {} — {} : {}</li>",
                when(u.at),
                esc(u.phase.label(lang)),
                esc(u.author.as_deref().unwrap_or("")),
                esc(&text)
            ));
        }
        h.push_str("</ol></article>\n");
    }
    h.push_str("</section>\n");
    frame(
        lang,
        lang.pick("Avis aux habitants", "Notices to residents"),
        who,
        &h,
    )
}
