//! `/actions`: the containment plan for people, plain HTML with forms
//! (no script needed), French by default, English with `?lang=en`. Each
//! proposal in the sequence's order with its impact on services, its
//! state and trail, the commands to copy (with their rollback), and one
//! button per step the signed-in person may take now — the state machine
//! itself decides which (a dry run of `Record::apply`), so the page never
//! offers what the API would refuse.

use crate::http::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use vigie_console::{Principal, Role};
use vigie_lang::{glossary, tr, Lang};
use vigie_report::html::escape as esc;
use vigie_respond::{Record, State as Stage, Step};

use super::{actor, commands, executable, notice_draft, records, Kind};
use crate::crisis::pages::badge;
use crate::{ReadTenant, Shared};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    lang: Option<String>,
}

fn state_label(lang: Lang, s: Stage) -> &'static str {
    match s {
        Stage::Proposed => lang.pick("proposée", "proposed"),
        Stage::Requested => lang.pick("demandée, à approuver", "requested, to approve"),
        Stage::Approved => lang.pick("approuvée", "approved"),
        Stage::Rejected => lang.pick("refusée", "rejected"),
        Stage::Executed => lang.pick("exécutée", "executed"),
        Stage::Failed => lang.pick("échec de l'exécution", "execution failed"),
        Stage::RolledBack => lang.pick("annulée", "rolled back"),
    }
}

fn tone(s: Stage) -> &'static str {
    match s {
        Stage::Proposed | Stage::Requested => "tone-amber",
        Stage::Approved | Stage::Executed => "tone-green",
        Stage::Rejected | Stage::RolledBack => "tone-grey",
        Stage::Failed => "tone-red",
    }
}

fn what_label(lang: Lang, what: &str) -> String {
    match what {
        "proposed" => lang.pick("proposée", "proposed").into(),
        "request" => lang.pick("demandée", "requested").into(),
        "approve" => lang.pick("approuvée", "approved").into(),
        "reject" => lang.pick("refusée", "rejected").into(),
        "execute" => lang.pick("exécutée", "executed").into(),
        "fail" => lang.pick("échec", "failed").into(),
        "roll_back" => lang.pick("annulée", "rolled back").into(),
        "publish" => lang.pick("avis publié", "notice published").into(),
        other => other.into(),
    }
}

/// A form posting one step; `field`: the name and label of a text field
/// (a reason, a note), `required` for a rejection.
struct Button<'a> {
    kind: Kind,
    label: &'a str,
    field: Option<(&'a str, &'a str, bool)>,
}

/// Who looks at the page, and at which tenant's actions.
struct Viewer<'a> {
    who: &'a vigie_respond::Actor,
    csrf: &'a str,
    lang: Lang,
    /// The tenant asked for (an admin may look at another's).
    tenant: &'a str,
}

impl Viewer<'_> {
    /// `?tenant=…` (so the forms act on the tenant shown, never on one
    /// chosen since in another tab), with `lang=en` when asked.
    fn query(&self, with_lang: bool) -> String {
        let mut q = Vec::new();
        if with_lang && self.lang == Lang::En {
            q.push("lang=en".to_string());
        }
        let t: String = form_urlencoded::byte_serialize(self.tenant.as_bytes()).collect();
        q.push(format!("tenant={t}"));
        format!("?{}", q.join("&"))
    }
}

fn form(h: &mut String, v: &Viewer, id: &str, back: &str, b: &Button) {
    h.push_str(&format!(
        "<form method=\"post\" action=\"/api/v1/actions/{}/{}{}\" class=\"step\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"back\" value=\"{}\">",
        esc(id),
        b.kind.path(),
        esc(&v.query(false)),
        esc(v.csrf),
        esc(back),
    ));
    if let Some((name, label, required)) = b.field {
        let fid = format!("{}-{}-{name}", b.kind.path(), esc(id));
        h.push_str(&format!(
            "<label for=\"{fid}\">{}</label> <input id=\"{fid}\" name=\"{name}\" maxlength=\"2000\"{}> ",
            esc(label),
            if required { " required" } else { "" }
        ));
    }
    h.push_str(&format!(
        "<button type=\"submit\" name=\"step\" value=\"{}\">{}</button></form>\n",
        b.kind.path(),
        esc(b.label)
    ));
}

/// The steps `who` may take on `r` now, as the state machine says.
fn buttons<'a>(
    s: &Shared,
    tenant: &str,
    r: &Record,
    who: &vigie_respond::Actor,
    lang: Lang,
) -> Vec<Button<'a>> {
    let now = chrono::Utc::now();
    let ok = |step: Step| r.apply(&step, who, now).is_ok();
    let mut v = Vec::new();
    if ok(Step::Request {
        reason: String::new(),
    }) {
        v.push(Button {
            kind: Kind::Request,
            label: lang.pick("Demander l'exécution", "Request execution"),
            field: Some((
                "reason",
                lang.pick("Motif (facultatif)", "Reason (optional)"),
                false,
            )),
        });
    }
    if ok(Step::Approve) {
        v.push(Button {
            kind: Kind::Approve,
            label: lang.pick("Approuver (double validation)", "Approve (four-eyes)"),
            field: None,
        });
    }
    if ok(Step::Reject { reason: "x".into() }) {
        v.push(Button {
            kind: Kind::Reject,
            label: lang.pick("Refuser", "Reject"),
            field: Some(("reason", lang.pick("Motif", "Reason"), true)),
        });
    }
    if ok(Step::Execute { how: String::new() }) {
        if executable(s, tenant, r).is_some() {
            v.push(Button {
                kind: Kind::Execute,
                label: lang.pick(
                    "Exécuter dans l'annuaire (LDAP)",
                    "Execute in the directory (LDAP)",
                ),
                field: None,
            });
        } else {
            v.push(Button {
                kind: Kind::Done,
                label: lang.pick("Marquer « fait à la main »", "Mark as done by hand"),
                field: Some((
                    "note",
                    lang.pick("Ce qui a été fait (facultatif)", "What was done (optional)"),
                    false,
                )),
            });
        }
    }
    if ok(Step::RollBack { how: String::new() }) {
        v.push(Button {
            kind: Kind::RollBack,
            label: lang.pick("Annuler (retour arrière)", "Roll back"),
            field: None,
        });
    }
    if ok(Step::Publish) && notice_draft(r, lang).is_some() {
        v.push(Button {
            kind: Kind::Publish,
            label: lang.pick(
                "Publier l'avis aux habitants",
                "Publish the notice to residents",
            ),
            field: None,
        });
    }
    v
}

fn card(h: &mut String, s: &Shared, r: &Record, in_plan: bool, v: &Viewer) {
    let lang = v.lang;
    let p = &r.proposal;
    let plang = s.config.hunt.lang;
    let id = &p.id;
    h.push_str(&format!(
        "<section class=\"card action\" id=\"a-{}\" data-state=\"{}\">\n<h2>{}. {} — <code>{}</code></h2>\n",
        esc(id),
        esc(&serde_json::to_value(r.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()),
        p.order,
        esc(glossary::term(lang, &vigie_respond::proposal::kind_key(p.kind))),
        esc(&p.target),
    ));
    h.push_str(&format!(
        "<p><span class=\"pill {}\">{}</span> · {} <span class=\"small\">({})</span>{}{}</p>\n",
        tone(r.state),
        esc(state_label(lang, r.state)),
        esc(&p.phase.label(lang)),
        esc(p.phase.guidance()),
        if p.four_eyes {
            format!(
                " · <strong>{}</strong>",
                lang.pick("double validation requise", "four-eyes approval required")
            )
        } else {
            String::new()
        },
        if in_plan {
            String::new()
        } else {
            format!(
                " · {}",
                lang.pick("plus dans le plan actuel", "no longer in the current plan")
            )
        },
    ));
    h.push_str(&format!(
        "<p>{}</p>\n<p><strong>{}</strong> {}</p>\n",
        esc(&p.reason),
        lang.pick("Impact :", "Impact:"),
        esc(&p.impact.summary)
    ));
    if !p.impact.services.is_empty() {
        h.push_str(&format!(
            "<table class=\"impact\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>\n",
            lang.pick("Service", "Service"),
            lang.pick("Maintenant", "Now"),
            lang.pick("Après la mesure", "After the action"),
            lang.pick("Qui en dépend", "Who depends on it"),
            lang.pick("Page publique", "Public page"),
        ));
        for x in &p.impact.services {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(x.public_name.as_deref().unwrap_or(&x.service)),
                badge(lang, x.before),
                badge(lang, x.after),
                esc(x.dependants.as_deref().unwrap_or("")),
                esc(x
                    .status_page
                    .as_deref()
                    .unwrap_or(lang.pick("(service interne)", "(internal service)"))),
            ));
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str(&format!(
        "<p><strong>{}</strong> {}</p>\n",
        lang.pick("Pour annuler :", "To undo:"),
        esc(&p.undo)
    ));
    if plang != lang {
        h.push_str(&format!(
            "<p class=\"small\">{}</p>\n",
            lang.pick(
                "(Les textes de la mesure sont dans la langue du serveur.)",
                "(The action's texts are in the server's language.)"
            )
        ));
    }
    // The trail.
    h.push_str(&format!(
        "<h3>{}</h3><ol class=\"trail\">\n",
        lang.pick("Historique", "Trail")
    ));
    for e in &r.trail {
        h.push_str(&format!(
            "<li>{} — <strong>{}</strong> ({}) : {}{}</li>\n",
            vigie_console::pages::time_of(e.at),
            esc(&e.author),
            esc(
                if e.what == "proposed" && e.author == vigie_respond::lifecycle::SYSTEM {
                    lang.pick("son plan", "its plan")
                } else {
                    glossary::term(lang, e.role.key())
                }
            ),
            esc(&what_label(lang, &e.what)),
            if e.detail.is_empty() {
                String::new()
            } else {
                format!(" — {}", esc(&e.detail))
            }
        ));
    }
    h.push_str("</ol>\n");
    // The commands to copy.
    let c = commands(s, r);
    for (lang_key, title) in [("powershell", "PowerShell"), ("fortigate", "FortiGate")] {
        let x = &c[lang_key];
        if x.is_null() {
            continue;
        }
        h.push_str(&format!(
            "<details class=\"commands\"><summary>{title}</summary>\n"
        ));
        if let Some(why) = x["refused"].as_str() {
            h.push_str(&format!(
                "<p>{} {}</p>\n",
                lang.pick("Commandes non générées :", "Commands not generated:"),
                esc(why)
            ));
        } else {
            h.push_str(&format!(
                "<p>{}</p><pre><code>{}</code></pre><p>{}</p><pre><code>{}</code></pre>\n",
                lang.pick("Appliquer :", "Apply:"),
                esc(x["apply"].as_str().unwrap_or_default()),
                lang.pick("Retour arrière :", "Rollback:"),
                esc(x["rollback"].as_str().unwrap_or_default()),
            ));
        }
        h.push_str("</details>\n");
    }
    if let Some(d) = notice_draft(r, plang).filter(|_| r.state == Stage::Executed) {
        h.push_str(&format!(
            "<p><strong>{}</strong> {}{}</p>\n",
            lang.pick(
                "Avis préparé pour la page publique :",
                "Notice prepared for the public page:"
            ),
            esc(&d),
            if r.published {
                format!(" ({})", lang.pick("publié", "published"))
            } else {
                format!(
                    " ({})",
                    lang.pick(
                        "non publié : le rôle communication le publie",
                        "not published: the communication role publishes it"
                    )
                )
            }
        ));
    }
    let back = format!("/actions{}#a-{id}", v.query(true));
    let bs = buttons(s, v.tenant, r, v.who, lang);
    if !bs.is_empty() {
        h.push_str("<div class=\"steps\">\n");
        for b in &bs {
            form(h, v, id, &back, b);
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

/// `GET /actions`.
pub(crate) async fn page(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ReadTenant(tenant): ReadTenant,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = vigie_console::web::lang_of(q.lang.as_deref(), &headers);
    let Principal::Person { session, .. } = &p else {
        return crate::error(
            axum::http::StatusCode::FORBIDDEN,
            "the console's pages are for people signed in; scripts use /api/v1/actions",
        );
    };
    let (list, in_plan) = match records(&s, &tenant).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = actor(&p);
    let viewer = Viewer {
        who: &who,
        csrf: &session.csrf,
        lang,
        tenant: &tenant,
    };
    let mut h = String::new();
    h.push_str(&format!(
        "<p class=\"small\">{}</p>\n",
        tr!(
            lang,
            "Les mesures de confinement que Vigie propose d'après le périmètre de l'incident, dans l'ordre recommandé par l'ANSSI et le CERT-FR (périmètre et VPN, sauvegardes, comptes, postes isolés sans être éteints). Une mesure qui coupe un service ou touche un compte est demandée par une personne et approuvée par une autre (rôles administrateur ou cellule de crise). Chaque étape est gardée avec son auteur et son heure, au journal d'audit et à la main courante. {}",
            "The containment actions Vigie proposes from the incident's scope, in the order ANSSI and CERT-FR recommend (perimeter and VPN, backups, accounts, hosts isolated without being powered off). An action that cuts a service or touches an account is requested by one person and approved by another (admin or crisis roles). Every step is kept with its author and time, in the audit log and the crisis log. {}",
            if s.actions.config.directory.is_some() {
                lang.pick("Les mesures sur les comptes sont exécutées dans l'annuaire (LDAP).", "Account actions are executed in the directory (LDAP).")
            } else {
                lang.pick("Aucun annuaire n'est configuré : chaque mesure se fait à la main avec les commandes indiquées, puis se marque « faite à la main ».", "No directory is configured: each action is carried out by hand with the commands given, then marked done by hand.")
            }
        )
    ));
    if session.role == Role::Communication {
        let drafts: Vec<&Record> = list
            .iter()
            .filter(|r| r.state == Stage::Executed && notice_draft(r, s.config.hunt.lang).is_some())
            .collect();
        if drafts.is_empty() {
            h.push_str(&format!(
                "<p>{}</p>\n",
                lang.pick(
                    "Aucun avis à publier : aucune mesure exécutée n'arrête de service public.",
                    "No notice to publish: no executed action stops a public service."
                )
            ));
        }
        let back = format!("/actions{}", viewer.query(true));
        for r in drafts {
            h.push_str(&format!(
                "<section class=\"card action\" id=\"a-{}\"><p>{}</p><p>{}</p>\n",
                esc(&r.proposal.id),
                esc(&notice_draft(r, s.config.hunt.lang).unwrap_or_default()),
                if r.published {
                    lang.pick("Publié.", "Published.")
                } else {
                    lang.pick("Non publié.", "Not published.")
                },
            ));
            for b in buttons(&s, &tenant, r, &who, lang) {
                form(&mut h, &viewer, &r.proposal.id, &back, &b);
            }
            h.push_str("</section>\n");
        }
    } else if list.is_empty() {
        h.push_str(&format!(
            "<p>{}</p>\n",
            lang.pick(
                "Aucune mesure proposée : le périmètre de l'incident n'en demande aucune (ou aucun événement n'a été reçu).",
                "No action proposed: the incident's scope asks for none (or no event was received)."
            )
        ));
    } else {
        for r in &list {
            card(&mut h, &s, r, in_plan.contains(&r.proposal.id), &viewer);
        }
    }
    vigie_console::pages::frame(
        session,
        lang,
        &format!("/actions{}", viewer.query(true)),
        lang.pick(
            "Confinement : mesures proposées",
            "Containment: proposed actions",
        ),
        &h,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_and_links_keep_the_tenant_shown_and_the_language() {
        let who = vigie_respond::Actor::new("anne", Role::Admin);
        let v = |lang, tenant| Viewer {
            who: &who,
            csrf: "c",
            lang,
            tenant,
        };
        // `default` named too: a form never falls back to the commune
        // chosen (in another tab) since the page was drawn.
        assert_eq!(v(Lang::Fr, "default").query(true), "?tenant=default");
        assert_eq!(
            v(Lang::En, "default").query(true),
            "?lang=en&tenant=default"
        );
        assert_eq!(v(Lang::En, "default").query(false), "?tenant=default");
        assert_eq!(
            v(Lang::En, "pont-l'abbé & co").query(true),
            "?lang=en&tenant=pont-l%27abb%C3%A9+%26+co"
        );
        let mut h = String::new();
        let b = Button {
            kind: Kind::Approve,
            label: "Approuver",
            field: None,
        };
        form(&mut h, &v(Lang::Fr, "quimper"), "p-1", "/actions", &b);
        assert!(
            h.contains("action=\"/api/v1/actions/p-1/approve?tenant=quimper\""),
            "{h}"
        );
        assert!(h.contains("name=\"csrf\" value=\"c\""));
    }
}
