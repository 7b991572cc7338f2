//! State-changing bodies refuse a key they do not know, through the
//! binary: a 400 naming it, nothing changed.
//!
//! Why (issue 16): `{"status":…,"reason":…,"tenant":"quimper"}` on the
//! service-status API, without `?tenant=`, acted on the caller's own
//! commune without a word. The console's forms (urlencoded, with their
//! `csrf`, `back` and `lang` fields) still pass.

mod common;

use common::console::http;
use common::serve::{start, token};

#[test]
fn an_unknown_key_in_a_state_changing_body_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = format!("Bearer {}", token(&data, "admin"));
    let server = start(&data);
    let post = |path: &str, ctype: &str, body: &str| {
        http(
            &server.base,
            "POST",
            path,
            &[("Authorization", &admin), ("Content-Type", ctype)],
            Some(body.as_bytes()),
        )
    };
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";

    // The service status: `tenant` in the body is refused, named.
    let r = post(
        "/api/v1/services/mairie/status",
        json,
        r#"{"status":"degraded","reason":"panne","tenant":"quimper"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tenant"), "{}", r.body);
    // Without it the body is read (no assets here: no such service).
    let r = post(
        "/api/v1/services/mairie/status",
        json,
        r#"{"status":"degraded","reason":"panne"}"#,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    // The console's form with its own fields: read too.
    let r = post(
        "/api/v1/services/mairie/status",
        form,
        "csrf=x&back=%2Fcrisis&status=degraded&reason=panne",
    );
    assert_eq!(r.status, 404, "{}", r.body);

    // Triage: the same.
    let r = post(
        "/api/v1/triage",
        json,
        r#"{"kind":"detection","id":"d1","status":"acknowledged","tenant":"quimper"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tenant"), "{}", r.body);
    let r = post(
        "/api/v1/triage",
        form,
        "csrf=x&kind=detection&id=d1&back=%2Fdetections&lang=fr&status=acknowledged&tenant=quimper",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post(
        "/api/v1/triage",
        form,
        "csrf=x&kind=detection&id=d1&back=%2Fdetections&lang=fr&status=acknowledged",
    );
    assert_ne!(r.status, 400, "{}", r.body);
    let r = post(
        "/api/v1/triage",
        json,
        r#"{"kind":"detection","id":"d1","status":"acknowledged"}"#,
    );
    assert_ne!(r.status, 400, "{}", r.body);
}
