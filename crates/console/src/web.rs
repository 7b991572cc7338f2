//! The pages and handlers of the console: `/login`, `/logout`,
//! `/api/v1/me`, `/api/v1/audit`, and the console page at `/`.
//!
//! Pages are plain HTML built here, French by default (`?lang=en` or an
//! `Accept-Language` that prefers English gives English), readable on a
//! phone, usable from the keyboard. Every page is sent with a strict
//! Content-Security-Policy (scripts only by a per-response nonce) and is
//! never cached.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use vigie_lang::{tr, Lang};
// The report's escaping: the console and the report share their look.
use vigie_report::html::escape;

use crate::audit::{Action, Outcome};
use crate::sessions::{random_token, same_secret, Session, ABSOLUTE_SECONDS};
use crate::{Console, Principal, Refusal};

/// The session cookie.
pub const SESSION_COOKIE: &str = "vigie_session";
/// The commune a CSIRT's analyst chose in the console's selector (a
/// choice of view, not a right: what may be read is decided from the
/// account at every request, and `?tenant=` wins over it).
pub const COMMUNE_COOKIE: &str = "vigie_commune";
/// The login form's own anti-forgery cookie (double submit: a page of
/// another site cannot read it to put it in the form).
pub const LOGIN_COOKIE: &str = "vigie_login";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field that carries it.
pub const CSRF_FIELD: &str = "csrf";

/// The value of cookie `name` in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The page's language: `?lang=`, else the browser's first preference
/// when it is English, else French.
pub fn lang_of(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
    match query_lang {
        Some("en") => return Lang::En,
        Some("fr") => return Lang::Fr,
        _ => {}
    }
    let first = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if first.starts_with("en") {
        Lang::En
    } else {
        Lang::Fr
    }
}

/// Whether a state-changing request of `session` carries its token.
pub fn csrf_ok(session: &Session, headers: &HeaderMap, form_field: Option<&str>) -> bool {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form_field);
    presented.is_some_and(|t| same_secret(t, &session.csrf))
}

/// The value of `name` in a form body (`application/x-www-form-urlencoded`).
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Every field of a form body (the first value of each name).
pub fn form_fields(body: &[u8]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// An HTML page with the headers every console page carries.
pub(crate) fn page(status: StatusCode, nonce: &str, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("a CSP of hex nonces is a header value"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// The look shared by the pages: system fonts, large targets, contrast
/// above WCAG AA, one column on a phone.
const STYLE: &str = "
:root{color-scheme:light;--ink:#14213d;--mute:#44506a;--line:#c9d1e0;--accent:#0b4f9c;--bad:#a4161a}
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);background:#f6f8fb}
main{max-width:64rem;margin:0 auto;padding:1rem}
.card{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:1.25rem;max-width:26rem;margin:3rem auto}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
label{display:block;font-weight:600;margin:.8rem 0 .25rem}
input{width:100%;font:inherit;padding:.65rem;border:1px solid var(--mute);border-radius:.35rem}
input:focus,button:focus,a:focus{outline:3px solid #ffbf47;outline-offset:2px}
button{font:inherit;font-weight:600;margin-top:1.2rem;width:100%;padding:.7rem;border:0;border-radius:.35rem;background:var(--accent);color:#fff;cursor:pointer}
.alert{border-left:4px solid var(--bad);background:#fdecec;padding:.6rem .8rem;margin:.8rem 0}
.hint{color:var(--mute);font-size:.95rem}
code{background:#eef1f6;padding:.1rem .3rem;border-radius:.2rem;word-break:break-all}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;background:var(--ink);color:#fff;padding:.6rem 1rem}
header form button{margin:0;width:auto;padding:.45rem .9rem;background:#fff;color:var(--ink)}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
@media (max-width:40rem){thead{display:none}tr{display:block;border-bottom:2px solid var(--line)}td{display:block;border:0;padding:.15rem .5rem}}
";

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// The login page, with a fresh anti-forgery value in its cookie and form.
pub fn login_page(
    console: &Console,
    lang: Lang,
    alert: Option<String>,
    status: StatusCode,
) -> Response {
    let nonce = random_token();
    let form_token = random_token();
    let no_account = if console.has_users() {
        String::new()
    } else {
        format!(
            "<p class=\"alert\" role=\"status\">{}</p>",
            tr!(
                lang,
                "Aucun compte n'existe encore. Sur le serveur, créez le premier administrateur : <code>vigie user add NOM --role admin --data DOSSIER</code> (<code>--db URL</code> pour un déploiement régional ; le mot de passe est demandé, le code du second facteur est affiché une fois).",
                "No account exists yet. On the server, create the first administrator: <code>vigie user add NAME --role admin --data DIR</code> (<code>--db URL</code> for a regional deployment; the password is asked for, the second factor's code is shown once)."
            )
        )
    };
    let alert = alert
        .map(|a| {
            format!(
                "<p class=\"alert\" role=\"alert\" id=\"login-error\">{}</p>",
                escape(&a)
            )
        })
        .unwrap_or_default();
    let other = lang.pick(("en", "English"), ("fr", "Français"));
    let html = format!(
        "<!doctype html>
<html lang=\"{code}\"><head><meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>{title}</title><style nonce=\"{nonce}\">{STYLE}</style></head>
<body><main><div class=\"card\">
<h1>{title}</h1>
{no_account}{alert}
<form method=\"post\" action=\"/login\" autocomplete=\"on\">
<input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{form_token}\">
<input type=\"hidden\" name=\"lang\" value=\"{code}\">
<label for=\"name\">{name}</label>
<input id=\"name\" name=\"name\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required>
<label for=\"password\">{password}</label>
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>
<label for=\"code\">{code_label}</label>
<input id=\"code\" name=\"code\" inputmode=\"numeric\" pattern=\"[0-9 ]*\" autocomplete=\"one-time-code\" aria-describedby=\"code-hint\">
<p class=\"hint\" id=\"code-hint\">{code_hint}</p>
<button type=\"submit\">{submit}</button>
</form>
<p class=\"hint\"><a href=\"/login?lang={other_code}\" lang=\"{other_code}\">{other_name}</a></p>
</div></main></body></html>",
        code = lang.code(),
        title = tr!(lang, "Vigie — connexion", "Vigie — sign in"),
        name = tr!(lang, "Identifiant", "User name"),
        password = tr!(lang, "Mot de passe", "Password"),
        code_label = tr!(lang, "Code à usage unique", "One-time code"),
        code_hint = tr!(
            lang,
            "Les 6 chiffres de l'application d'authentification (obligatoire pour les administrateurs).",
            "The 6 digits from the authenticator app (required for administrators)."
        ),
        submit = tr!(lang, "Se connecter", "Sign in"),
        other_code = other.0,
        other_name = other.1,
    );
    let mut r = page(status, &nonce, html);
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{LOGIN_COOKIE}={form_token}; HttpOnly; Secure; SameSite=Strict; Path=/login; Max-Age=3600"
        ))
        .expect("cookie"),
    );
    r
}

/// `GET /login`.
pub async fn login_get(console: Arc<Console>, headers: HeaderMap, q: LangQuery) -> Response {
    let lang = lang_of(q.lang.as_deref(), &headers);
    login_page(&console, lang, None, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub csrf: String,
    pub lang: Option<String>,
}

/// `POST /login`.
pub async fn login_post(
    console: Arc<Console>,
    ip: IpAddr,
    headers: HeaderMap,
    form: LoginForm,
) -> Response {
    let lang = lang_of(form.lang.as_deref(), &headers);
    let form_ok = cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same_secret(c, &form.csrf));
    if !form_ok {
        return login_page(
            &console,
            lang,
            Some(tr!(
                lang,
                "Le formulaire a expiré ou ne vient pas de cette page : réessayez.",
                "The form expired or did not come from this page: try again."
            )),
            StatusCode::FORBIDDEN,
        );
    }
    let c = console.clone();
    let result = tokio::task::spawn_blocking(move || {
        c.login(&form.name, &form.password, &form.code, ip, crate::now())
    })
    .await;
    match result {
        Ok(Ok((id, session))) => {
            // An account assigned several communes lands on their picker
            // (the deployment's landing page); any other on `/`, which
            // sends a session reading every commune of a regional
            // deployment there too, and one commune's account to its
            // own pages.
            let to = if session.assigned.is_empty() {
                lang.pick("/", "/?lang=en")
            } else {
                lang.pick(crate::pages::LANDING_PATH, "/communes?lang=en")
            };
            let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
            let h = r.headers_mut();
            // A new session starts with no commune chosen: the choice of
            // an earlier one (its cookie outlives it) is not carried
            // into this one.
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_str(&format!(
                    "{COMMUNE_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
                ))
                .expect("cookie"),
            );
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_str(&format!(
                    "{SESSION_COOKIE}={id}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={ABSOLUTE_SECONDS}"
                ))
                .expect("cookie"),
            );
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_str(&format!(
                    "{LOGIN_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/login; Max-Age=0"
                ))
                .expect("cookie"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Ok(Err(refusal)) => {
            let (status, text) = match refusal {
                Refusal::Wrong => (
                    StatusCode::UNAUTHORIZED,
                    tr!(
                        lang,
                        "Identifiant, mot de passe ou code incorrect.",
                        "Wrong user name, password or code."
                    ),
                ),
                Refusal::Locked => (
                    StatusCode::UNAUTHORIZED,
                    tr!(
                        lang,
                        "Trop d'échecs : ce compte est verrouillé pendant 15 minutes. Un administrateur peut le déverrouiller (vigie user unlock).",
                        "Too many failures: this account is locked for 15 minutes. An administrator can unlock it (vigie user unlock)."
                    ),
                ),
                Refusal::Disabled => (
                    StatusCode::FORBIDDEN,
                    tr!(
                        lang,
                        "Ce compte est désactivé : un administrateur peut le réactiver (page Comptes).",
                        "This account is disabled: an administrator can enable it again (Accounts page)."
                    ),
                ),
                Refusal::Throttled => (
                    StatusCode::TOO_MANY_REQUESTS,
                    tr!(
                        lang,
                        "Trop d'échecs depuis cette adresse : réessayez dans 15 minutes.",
                        "Too many failures from this address: try again in 15 minutes."
                    ),
                ),
                Refusal::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    tr!(
                        lang,
                        "La base des comptes ne peut pas être jointe : réessayez dans un instant.",
                        "The account database cannot be reached: try again in a moment."
                    ),
                ),
            };
            let mut page = login_page(&console, lang, Some(text), status);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                page.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            page
        }
        Err(_) => login_page(&console, lang, None, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `POST /logout`: ends the session (its CSRF token was checked before).
pub async fn logout(
    console: Arc<Console>,
    ip: IpAddr,
    principal: Principal,
    headers: HeaderMap,
) -> Response {
    let ip = ip.to_string();
    match principal {
        Principal::Person { id, session } => {
            if let Err(e) = console.sessions.close(&id) {
                eprintln!("vigie serve: sessions: {e}");
            }
            console.audit(
                &session.user,
                &ip,
                Action::Logout,
                &session.user,
                Outcome::Success,
            );
            let wants_html = accepts_html(&headers);
            let mut r = if wants_html {
                (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response()
            } else {
                StatusCode::NO_CONTENT.into_response()
            };
            r.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(&format!(
                    "{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
                ))
                .expect("cookie"),
            );
            // The commune chosen goes with the session.
            r.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(&format!(
                    "{COMMUNE_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
                ))
                .expect("cookie"),
            );
            r
        }
        Principal::Token { .. } => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "a token has no session to end"})),
        )
            .into_response(),
    }
}

/// Whether the client is a browser asking for a page.
pub fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// `GET /api/v1/me`: who is calling, with which rights, and (for a
/// session) the CSRF token to send back.
pub fn me(principal: &Principal, lang: Lang) -> Response {
    match principal {
        Principal::Person { session, .. } => Json(json!({
            "kind": "session",
            "who": session.user,
            "role": session.role,
            "role_name": session.role.name(lang),
            "csrf": session.csrf,
            "expires_idle_seconds": crate::sessions::IDLE_SECONDS,
            // What it reads: its commune; the communes it is assigned; or
            // (both null/empty) every commune, the deployment's account.
            "tenant": session.tenant,
            "assigned": session.assigned,
            // The commune selector's list and choice (a session reading
            // several communes), null otherwise.
            "communes": session.picker.as_ref().map(|p| &p.communes),
            "commune_chosen": session.picker.as_ref().and_then(|p| p.chosen.as_deref()),
        })),
        Principal::Token { name, scope } => Json(json!({
            "kind": "token",
            "who": name,
            "scope": scope,
        })),
    }
    .into_response()
}

/// `GET /api/v1/audit`: the log as it is kept (JSON Lines), the export
/// itself audited.
pub async fn audit_export(console: Arc<Console>, ip: IpAddr, principal: Principal) -> Response {
    let ip = ip.to_string();
    console.audit(
        &principal.who(),
        &ip,
        Action::AuditExport,
        "audit.jsonl",
        Outcome::Success,
    );
    let read = tokio::task::spawn_blocking(move || console.audit_text())
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    match read {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/x-ndjson")], bytes).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": format!("audit log unreadable: {e}")})),
        )
            .into_response(),
    }
}

/// The console's first page: who is signed in, sign out, the latest
/// detections (read from `/api/v1/detections` by the page itself, with
/// the session's cookie).
pub fn console_page(session: &Session, lang: Lang) -> Response {
    let nonce = random_token();
    let html = format!(
        "<!doctype html>
<html lang=\"{code}\"><head><meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>Vigie — {title}</title><style nonce=\"{nonce}\">{STYLE}</style></head>
<body>
<header><strong>Vigie</strong>
<span id=\"who\">{who} — {role}</span>
<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\"><button type=\"submit\" id=\"logout\">{logout}</button></form>
</header>
<main>
<h1>{title}</h1>
<p id=\"status\" role=\"status\">{loading}</p>
<table id=\"detections\" hidden><thead><tr><th scope=\"col\">{time}</th><th scope=\"col\">{level}</th><th scope=\"col\">{rule}</th><th scope=\"col\">{host}</th></tr></thead><tbody></tbody></table>
</main>
<script nonce=\"{nonce}\">
(async () => {{
  const status = document.getElementById('status');
  const table = document.getElementById('detections');
  const levels = {levels};
  const paris = new Intl.DateTimeFormat({locale}, {{timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short'}});
  try {{
    const r = await fetch('/api/v1/detections?limit=500', {{credentials: 'same-origin', headers: {{'Accept': 'application/json'}}}});
    if (!r.ok) throw new Error(r.status);
    const list = await r.json();
    const body = table.tBodies[0];
    for (const d of list) {{
      const tr = body.insertRow();
      for (const v of [d.time || '', levels[d.level] || d.level || '', d.rule_title || d.rule_id || '', d.computer || '']) {{
        tr.insertCell().textContent = v;
      }}
      if (d.time) {{
        const cell = tr.cells[0];
        const t = document.createElement('time');
        t.dateTime = d.time;
        t.title = d.time.replace('T', ' ').replace(/\\.\\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
        t.textContent = paris.format(new Date(d.time));
        cell.textContent = '';
        cell.appendChild(t);
      }}
      if (d.kind !== 'correlation' && d.id) {{
        const cell = tr.cells[2];
        const a = document.createElement('a');
        a.href = '/detections/' + encodeURIComponent(d.id) + location.search;
        a.textContent = cell.textContent;
        cell.textContent = '';
        cell.appendChild(a);
      }}
      tr.className = 'detection';
    }}
    status.textContent = list.length === 0 ? {none} : {count}.replace('N', list.length);
    table.hidden = list.length === 0;
  }} catch (e) {{
    status.textContent = {failed} + ' (' + e.message + ')';
  }}
}})();
</script>
</body></html>",
        code = lang.code(),
        title = tr!(lang, "Détections", "Detections"),
        who = escape(&session.user),
        role = escape(session.role.name(lang)),
        csrf = session.csrf,
        logout = tr!(lang, "Se déconnecter", "Sign out"),
        loading = tr!(lang, "Chargement…", "Loading…"),
        time = tr!(lang, "Heure (Paris ; UTC au survol)", "Time (Paris; UTC on hover)"),
        locale = lang.pick("'fr-FR'", "'en-GB'"),
        level = tr!(lang, "Niveau", "Level"),
        rule = tr!(lang, "Règle", "Rule"),
        host = tr!(lang, "Machine", "Host"),
        levels = serde_json::to_string(&level_names(lang)).expect("names serialise"),
        none = serde_json::to_string(&tr!(lang, "Aucune détection pour l'instant (ce qui n'est pas une absence d'attaque : voir les sources).", "No detection yet (which is not the absence of an attack: see the sources).")).expect("string"),
        count = serde_json::to_string(&tr!(lang, "N détection(s), dans l'ordre de leur arrivée (500 au plus).", "N detection(s), in the order they arrived (500 at most).")).expect("string"),
        failed = serde_json::to_string(&tr!(lang, "Les détections n'ont pas pu être lues", "The detections could not be read")).expect("string"),
    );
    page(StatusCode::OK, &nonce, html)
}

fn level_names(lang: Lang) -> serde_json::Map<String, serde_json::Value> {
    ["informational", "low", "medium", "high", "critical"]
        .iter()
        .map(|k| (k.to_string(), json!(vigie_lang::glossary::term(lang, k))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_and_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(lang_of(None, &h), Lang::Fr, "French by default");
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-GB,en;q=0.9,fr;q=0.5"),
        );
        assert_eq!(lang_of(None, &h), Lang::En);
        assert_eq!(lang_of(Some("fr"), &h), Lang::Fr);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vigie_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
