//! The deployment's administrators' page of the console accounts
//! (`GET /accounts`, `GET /api/v1/accounts`, `POST
//! /api/v1/accounts/{name}`): each account with its role, commune or
//! communes, state and last login; its role and communes changed, it
//! disabled or enabled, its password reset (typed twice in the page, sent
//! in the body of a POST: never in a URL, never written anywhere but as
//! its hash), or it deleted. Every change is audited with what it was
//! before and what it is after; a refusal too.
//!
//! Two refusals keep the deployment administrable: the last enabled
//! administrator of the deployment is neither demoted, moved to a
//! commune, disabled nor deleted; and an administrator changes no role,
//! commune or state of their own account (they would lock themself out
//! halfway through) — their own password only.
//!
//! Why the store is read whole for each change: the "last administrator"
//! question is about all of them, and a deployment has tens of accounts,
//! not millions.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vigie_console::audit::{Action, Outcome};
use vigie_console::pages::{self as ui, Table};
use vigie_console::users::{self, User, UserError};
use vigie_console::{Principal, Role};
use vigie_lang::{tr, Lang};
use vigie_report::html::escape;

use crate::pages::Reader;
use crate::{error, Shared};

/// An account as the API lists it (never its password nor its second
/// factor's secret).
fn listed(u: &User, now: i64) -> Value {
    json!({
        "name": u.name,
        "role": u.role.key(),
        "tenant": u.tenant,
        "assigned": u.assigned,
        "state": state(u, now),
        "second_factor": u.totp.is_some(),
        "created": u.created,
        "last_login": u.last_login.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    })
}

/// `active`, `disabled` or `locked` (too many failures, for a while).
fn state(u: &User, now: i64) -> &'static str {
    if u.disabled {
        "disabled"
    } else if u.locked_at(now) {
        "locked"
    } else {
        "active"
    }
}

/// What the account reads, as the page and the audit log say it: its
/// commune, its communes, or every one.
fn reads(u: &User) -> String {
    match u.communes_text() {
        t if t.is_empty() => "every commune".to_string(),
        t => t,
    }
}

/// An administrator of the deployment, able to sign in: the ones that
/// keep it administrable.
fn deployment_admin(u: &User) -> bool {
    u.role == Role::Admin && u.tenant.is_none() && u.assigned.is_empty() && !u.disabled
}

async fn load(s: &Shared) -> Result<Vec<User>, Box<Response>> {
    let store = s.console.users.clone();
    tokio::task::spawn_blocking(move || store.list())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| Box::new(crate::unavailable(&format!("accounts unreadable now: {e}"))))
}

/// `GET /api/v1/accounts` (the deployment's administrators).
pub(crate) async fn list(State(s): State<Shared>) -> Response {
    let now = vigie_console::now();
    match load(&s).await {
        Ok(all) => Json(all.iter().map(|u| listed(u, now)).collect::<Vec<_>>()).into_response(),
        Err(r) => *r,
    }
}

/// What a POST asks, from a form or a JSON object of strings.
fn fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, String> {
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Ok(vigie_console::web::form_fields(body));
    }
    serde_json::from_slice(body).map_err(|e| {
        format!("a form or a JSON object of strings is expected ({e}): {{\"change\": \"role|communes|disable|enable|password|delete\", …}}")
    })
}

/// A change refused: its status and why (said to the caller, audited).
struct Refused(StatusCode, String);

/// The account after `change`, from `f`; `Ok(None)`: deleted.
fn changed(
    before: &User,
    change: &str,
    f: &HashMap<String, String>,
) -> Result<Option<User>, Refused> {
    let bad = |m: String| Refused(StatusCode::BAD_REQUEST, m);
    // A key misspelt by a script (`tenants` for `communes`) would change
    // something else than asked — the account reading every commune:
    // refused, naming it.
    const KEYS: [&str; 8] = [
        "change",
        "role",
        "communes",
        "password",
        "password2",
        "csrf",
        "back",
        "lang",
    ];
    if let Some(k) = f.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown field `{k}` (expected {}): nothing was changed",
            KEYS[..5].join(", ")
        )));
    }
    let mut after = before.clone();
    match change {
        "role" => {
            let text = f.get("role").map(String::as_str).unwrap_or("");
            let role = Role::parse(text).ok_or_else(|| {
                bad(format!(
                    "role {text:?}: one of {}",
                    Role::ALL.map(Role::key).join(", ")
                ))
            })?;
            if role.needs_totp() && before.totp.is_none() {
                return Err(bad(format!(
                    "{}: an administrator signs in with a second factor, which this account has none of; make the administrator's account with `vigie user add --role {}`",
                    before.name,
                    role.key()
                )));
            }
            after.role = role;
            let communes = if before.assigned.is_empty() {
                before.tenant.iter().cloned().collect()
            } else {
                before.assigned.clone()
            };
            users::assign(&mut after, &communes).map_err(|e| bad(e.to_string()))?;
        }
        "communes" => {
            // Given, always: empty means every commune (a deployment's
            // administrator), never what a missing key gives.
            let text = f.get("communes").map(String::as_str).ok_or_else(|| {
                bad("the change `communes` names them in `communes` (empty: every commune): nothing was changed".to_string())
            })?;
            let names: Vec<String> = text
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            users::assign(&mut after, &names).map_err(|e| bad(e.to_string()))?;
        }
        "disable" => after.disabled = true,
        "enable" => after.disabled = false,
        "password" => {
            let one = f.get("password").map(String::as_str).unwrap_or("");
            let two = f.get("password2").map(String::as_str).unwrap_or("");
            if one != two {
                return Err(bad(
                    "the two passwords typed differ: nothing was changed".to_string()
                ));
            }
            let n = one.chars().count();
            if !(users::MIN_PASSWORD..=users::MAX_PASSWORD).contains(&n) {
                return Err(bad(UserError::BadPassword.to_string()));
            }
            after.password = users::hash_password(one);
        }
        "delete" => return Ok(None),
        other => {
            return Err(bad(format!(
                "change {other:?}: role, communes, disable, enable, password or delete"
            )))
        }
    }
    Ok(Some(after))
}

/// What the audit log says of a change: `name: before → after`.
fn said(before: &User, after: Option<&User>) -> (Action, String) {
    let name = &before.name;
    match after {
        None => (
            Action::UserRemove,
            format!("{name}: deleted ({}, {})", before.role.key(), reads(before)),
        ),
        Some(a) if a.disabled != before.disabled => {
            if a.disabled {
                (Action::UserDisable, format!("{name}: enabled → disabled"))
            } else {
                (Action::UserEnable, format!("{name}: disabled → enabled"))
            }
        }
        Some(a) if a.password != before.password => (
            Action::UserPassword,
            format!("{name}: password reset, its sessions ended"),
        ),
        Some(a) => (
            Action::UserChange,
            format!(
                "{name}: {} ({}) → {} ({})",
                before.role.key(),
                reads(before),
                a.role.key(),
                reads(a)
            ),
        ),
    }
}

/// `POST /api/v1/accounts/{name}` (the deployment's administrators):
/// `change` = `role` (with `role`), `communes` (with `communes`: names
/// separated by commas or spaces; empty: every commune), `disable`,
/// `enable`, `password` (with `password` and `password2`, the same) or
/// `delete`. From a form: back to `back`; else JSON.
pub(crate) async fn change(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let f = match fields(&headers, &body) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let what = f.get("change").cloned().unwrap_or_default();
    let (who, from) = crate::triage::who_and_from(&p, ci);
    let me = match &p {
        Principal::Person { session, .. } => Some(session.user.clone()),
        Principal::Token { .. } => None,
    };
    let store = s.console.users.clone();
    let sessions = s.console.sessions.clone();
    let target = name.clone();
    let done = tokio::task::spawn_blocking(move || -> Result<(Action, String), Refused> {
        let all = store
            .list()
            .map_err(|e| Refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        let before = all
            .iter()
            .find(|u| u.name == target)
            .cloned()
            .ok_or_else(|| Refused(StatusCode::NOT_FOUND, format!("no account {target:?}")))?;
        if me.as_deref() == Some(target.as_str()) && what != "password" {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                "an administrator changes no role, commune or state of their own account, nor deletes it (another administrator does): their own password only".to_string(),
            ));
        }
        let after = changed(&before, &what, &f)?;
        let others = all
            .iter()
            .filter(|u| u.name != target && deployment_admin(u))
            .count();
        if deployment_admin(&before) && !after.as_ref().is_some_and(deployment_admin) && others == 0 {
            return Err(Refused(
                StatusCode::CONFLICT,
                format!("{target} is the deployment's last enabled administrator: make or enable another first (`vigie user add NAME --role admin`)"),
            ));
        }
        let (action, mut text) = said(&before, after.as_ref());
        match &after {
            None => store.remove(&target),
            Some(a) => store.amend(a),
        }
        .map_err(|e| match e {
            UserError::NoSuch(_) => Refused(StatusCode::NOT_FOUND, e.to_string()),
            e => Refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        })?;
        // A password reset, a disabled or deleted account: its sessions
        // end now (a role or commune changed ends them at their next
        // request: the session no longer matches the account).
        if matches!(action, Action::UserPassword | Action::UserDisable | Action::UserRemove) {
            // Said in the answer and the audit, never "ended" when not.
            if let Err(e) = sessions.close_user(&target) {
                eprintln!("vigie serve: sessions of {target} not ended: {e}");
                text = format!(
                    "{}; its open sessions could NOT be ended ({e}): retry the change",
                    text.replace(", its sessions ended", "")
                );
            }
        }
        Ok((action, text))
    })
    .await;
    let back = vigie_console::web::form_fields(&body).remove("back");
    match done {
        Ok(Ok((action, text))) => {
            s.console
                .audit(&who, &from, action, &text, Outcome::Success);
            crate::triage::answer(&headers, back.as_deref(), json!({ "changed": text }))
        }
        Ok(Err(Refused(status, why))) => {
            if status != StatusCode::SERVICE_UNAVAILABLE {
                s.console.audit(
                    &who,
                    &from,
                    Action::UserChange,
                    &format!("{name}: {why}"),
                    Outcome::Refused,
                );
                error(status, &why)
            } else {
                crate::unavailable(&format!("accounts unreadable now: {why}"))
            }
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A path segment with every byte but letters, digits, `-`, `_` and `.`
/// percent-encoded (an account's name may hold spaces and accents).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn when(t: Option<i64>, lang: Lang) -> String {
    match t.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
        Some(t) => ui::time(Some(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
        None => tr!(lang, "jamais", "never"),
    }
}

/// One form of a row: `change` with the fields given, and its button.
fn form(
    name: &str,
    csrf: &str,
    back: &str,
    change: &str,
    inner: &str,
    button: &str,
    danger: bool,
) -> String {
    format!(
        "<form method=\"post\" action=\"/api/v1/accounts/{action}\" class=\"account-{change}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><input type=\"hidden\" name=\"change\" value=\"{change}\">{inner}<button type=\"submit\"{class}>{button}</button></form>",
        action = segment(name),
        back = escape(back),
        class = if danger { " class=\"danger\"" } else { "" },
    )
}

/// `GET /accounts` (the deployment's administrators).
pub(crate) async fn page(
    State(s): State<Shared>,
    Reader { ref session, lang }: Reader,
) -> Response {
    let path = ui::with_lang("/accounts", lang);
    let title = tr!(lang, "Comptes", "Accounts");
    let all = match load(&s).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let now = vigie_console::now();
    let heads = [
        tr!(lang, "Compte", "Account"),
        tr!(lang, "Rôle", "Role"),
        tr!(lang, "Communes", "Communes"),
        tr!(lang, "État", "State"),
        tr!(lang, "Dernière connexion", "Last login"),
        tr!(lang, "Mot de passe", "Password"),
        tr!(lang, "Supprimer", "Delete"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("accounts", &heads);
    let csrf = session.csrf.as_str();
    for u in &all {
        let id = segment(&u.name);
        let own = u.name == session.user;
        let options: String = Role::ALL
            .iter()
            .map(|r| {
                format!(
                    "<option value=\"{}\"{}>{}</option>",
                    r.key(),
                    if *r == u.role { " selected" } else { "" },
                    escape(r.name(lang))
                )
            })
            .collect();
        let role = if own {
            escape(u.role.name(lang))
        } else {
            form(
                &u.name,
                csrf,
                &path,
                "role",
                &format!(
                    "<label class=\"sr\" for=\"role-{id}\">{}</label><select name=\"role\" id=\"role-{id}\">{options}</select>",
                    escape(&tr!(lang, "Rôle de {}", "Role of {}", u.name))
                ),
                &tr!(lang, "Changer", "Change"),
                false,
            )
        };
        let communes = if own {
            escape(&u.communes_text())
        } else {
            form(
                &u.name,
                csrf,
                &path,
                "communes",
                &format!(
                    "<label class=\"sr\" for=\"communes-{id}\">{}</label><input type=\"text\" name=\"communes\" id=\"communes-{id}\" value=\"{}\" placeholder=\"{}\">",
                    escape(&tr!(lang, "Communes de {}", "Communes of {}", u.name)),
                    escape(&u.communes_text()),
                    escape(&tr!(lang, "toutes", "every one"))
                ),
                &tr!(lang, "Changer", "Change"),
                false,
            )
        };
        let state_word = match state(u, now) {
            "disabled" => format!(
                "<span class=\"pill tone-grey\">{}</span>",
                tr!(lang, "désactivé", "disabled")
            ),
            "locked" => format!(
                "<span class=\"pill tone-orange\">{}</span>",
                tr!(lang, "verrouillé", "locked")
            ),
            _ => format!(
                "<span class=\"pill tone-green\">{}</span>",
                tr!(lang, "actif", "active")
            ),
        };
        let state_cell = if own {
            state_word
        } else if u.disabled {
            format!(
                "{state_word} {}",
                form(
                    &u.name,
                    csrf,
                    &path,
                    "enable",
                    "",
                    &tr!(lang, "Réactiver", "Enable"),
                    false
                )
            )
        } else {
            format!(
                "{state_word} {}",
                form(
                    &u.name,
                    csrf,
                    &path,
                    "disable",
                    "",
                    &tr!(lang, "Désactiver", "Disable"),
                    true
                )
            )
        };
        let password = form(
            &u.name,
            csrf,
            &path,
            "password",
            &format!(
                "<label for=\"password-{id}\">{}</label><input type=\"password\" name=\"password\" id=\"password-{id}\" autocomplete=\"new-password\" minlength=\"{min}\" required><label for=\"password2-{id}\">{}</label><input type=\"password\" name=\"password2\" id=\"password2-{id}\" autocomplete=\"new-password\" minlength=\"{min}\" required>",
                tr!(lang, "Nouveau", "New"),
                tr!(lang, "Encore", "Again"),
                min = users::MIN_PASSWORD,
            ),
            &tr!(lang, "Réinitialiser", "Reset"),
            false,
        );
        let delete = if own {
            String::new()
        } else {
            form(
                &u.name,
                csrf,
                &path,
                "delete",
                "",
                &tr!(lang, "Supprimer", "Delete"),
                true,
            )
        };
        t.row(
            "account",
            &[
                format!(
                    "<span data-account=\"{}\">{}</span>",
                    escape(&u.name),
                    escape(&u.name)
                ),
                role,
                communes,
                state_cell,
                when(u.last_login, lang),
                password,
                delete,
            ],
        );
    }
    let body = format!(
        "<p class=\"intro\">{}</p>{}",
        tr!(
            lang,
            "Chaque changement est inscrit au journal d'audit (qui, quoi, avant → après). Communes : leurs noms séparés par des virgules ; vide, toutes. Un mot de passe réinitialisé met fin aux sessions du compte, comme sa désactivation. Le dernier administrateur actif ne peut être ni rétrogradé, ni désactivé, ni supprimé ; votre propre compte ne change ici que de mot de passe. Un compte se crée avec <code>vigie user add</code>.",
            "Every change is written to the audit log (who, what, before → after). Communes: their names separated by commas; empty, every one. A password reset ends the account's sessions, as disabling it does. The last enabled administrator can be neither demoted, disabled nor deleted; your own account changes here only its password. Accounts are made with <code>vigie user add</code>."
        ),
        if all.is_empty() {
            format!("<p class=\"empty\">{}</p>", tr!(lang, "Aucun compte.", "No account."))
        } else {
            t.html()
        }
    );
    ui::frame(session, lang, &path, &title, &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, role: Role) -> User {
        User {
            name: name.into(),
            role,
            password: users::hash_password("a long enough password"),
            totp: (role == Role::Admin).then(|| "SECRET".into()),
            totp_step: None,
            created: String::new(),
            failures: 0,
            locked_until: None,
            tenant: None,
            assigned: Vec::new(),
            disabled: false,
            last_login: None,
        }
    }

    fn f(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_change_and_what_the_audit_says_of_it() {
        let ana = user("ana", Role::Analyst);
        let a = changed(&ana, "communes", &f(&[("communes", "quimper, concarneau")]))
            .ok()
            .flatten()
            .unwrap();
        assert_eq!(a.assigned, ["concarneau", "quimper"]);
        assert_eq!(
            said(&ana, Some(&a)).1,
            "ana: analyst (every commune) → analyst (concarneau,quimper)"
        );
        // Made an administrator: refused without a second factor, and an
        // administrator of several communes is no role.
        assert!(changed(&ana, "role", &f(&[("role", "admin")])).is_err());
        let mut with_totp = a.clone();
        with_totp.totp = Some("S".into());
        assert!(changed(&with_totp, "role", &f(&[("role", "admin")])).is_err());
        // Passwords typed twice, the same, long enough.
        assert!(changed(
            &ana,
            "password",
            &f(&[
                ("password", "un mot de passe long"),
                ("password2", "un mot de passe lonG")
            ])
        )
        .is_err());
        assert!(changed(
            &ana,
            "password",
            &f(&[("password", "court"), ("password2", "court")])
        )
        .is_err());
        let p = changed(
            &ana,
            "password",
            &f(&[
                ("password", "un mot de passe long"),
                ("password2", "un mot de passe long"),
            ]),
        )
        .ok()
        .flatten()
        .unwrap();
        assert!(users::verify_password(&p.password, "un mot de passe long"));
        let (action, text) = said(&ana, Some(&p));
        assert_eq!(action, Action::UserPassword);
        assert!(!text.contains("un mot de passe long"));
        assert!(changed(&ana, "rename", &f(&[])).is_err());
        // A key missing or misspelt never makes the account read every
        // commune.
        assert!(changed(&ana, "communes", &f(&[])).is_err());
        assert!(changed(&ana, "communes", &f(&[("tenants", "quimper")])).is_err());
        let every = changed(&ana, "communes", &f(&[("communes", "")]))
            .ok()
            .flatten()
            .unwrap();
        assert!(every.assigned.is_empty() && every.tenant.is_none());
        assert!(matches!(changed(&ana, "delete", &f(&[])), Ok(None)));
        assert_eq!(segment("Anne Le Goff/é"), "Anne%20Le%20Goff%2F%C3%A9");
    }
}
