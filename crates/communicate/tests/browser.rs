//! The public status page in a real browser: Debian's headless Chromium,
//! driven by playwright-core (`tests/browser/`), runs axe-core on the demo's
//! page in French and English, at desktop and phone widths. The page must
//! have no axe violation (WCAG 2.0/2.1 A and AA, and best practices), no
//! console error, load nothing but itself (it is published from a host
//! outside the compromised network, with no external resource), and not
//! scroll sideways on a phone.
//!
//! Without node, Chromium or `tests/browser/node_modules` the test prints
//! "skipped" and passes, except under `CI=true`, where `.ci/run` installs
//! them (`apt-get install chromium`, `npm ci`) and their absence fails.
//!
//! `VIGIE_UPDATE_SCREENSHOT=1` also refreshes `docs/status-page*.png` and
//! `docs/cnil-draft.png` from the same run.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{demo, noon, noticed};
use vigie_communicate::draft::{self, render, DraftOptions};
use vigie_communicate::public::{PageInput, PageLinks};
use vigie_communicate::{
    status_page, BoardInput, DraftKind, KnownAt, Notices, PublicPage, ServiceBoard,
};
use vigie_lang::{Lang, Zone};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn export_pages(dir: &Path) {
    let d = demo();
    let mut pages = Vec::new();
    for (lang, other) in [(Lang::Fr, "en/index.html"), (Lang::En, "../index.html")] {
        let board = ServiceBoard::derive(
            &d.scope,
            &d.assets,
            &BoardInput {
                as_of: noticed(),
                isolated: BTreeSet::new(),
                lang,
            },
        );
        let notices = Notices::defaults(&d.scope, &board, noticed());
        let (p, _) = PublicPage::build(&PageInput {
            scope: &d.scope,
            assets: &d.assets,
            board: &board,
            notices: &notices,
            published: None,
            lang,
            zone: Zone::paris(),
            now: noon(),
            links: PageLinks {
                feed: "feed.atom".into(),
                other_lang: Some(other.into()),
                page_url: None,
            },
        });
        pages.push(p);
    }
    let en = pages.pop().unwrap();
    let fr = pages.pop().unwrap();
    status_page::export(dir, &fr, &[en]).unwrap();
}

fn write_draft(dir: &Path) -> PathBuf {
    let d = demo();
    let board = ServiceBoard::derive(
        &d.scope,
        &d.assets,
        &BoardInput {
            as_of: noticed(),
            isolated: BTreeSet::new(),
            lang: Lang::Fr,
        },
    );
    let cnil = draft::build(
        DraftKind::Cnil,
        &d.scope,
        &d.assets,
        &board,
        &DraftOptions {
            lang: Lang::Fr,
            zone: Zone::paris(),
            known_at: KnownAt::explicit(noticed()),
            now: noon(),
            manifest: None,
            complementary: false,
        },
    );
    let p = dir.join("cnil.html");
    std::fs::write(&p, render::render_html(&cnil)).unwrap();
    p
}

#[test]
fn the_status_page_passes_axe_in_chromium_at_two_widths_in_two_languages() {
    let Some(tools) = vigie_testkit::axe::tools_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    export_pages(&site);
    let cnil = write_draft(dir.path());
    let shots = std::env::var("VIGIE_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1");
    let docs = repo().join("docs");
    let mut pages = Vec::new();
    for (lang, path) in [
        ("fr", site.join("index.html")),
        ("en", site.join("en/index.html")),
    ] {
        for (form, w, h) in [("desktop", 1280, 900), ("phone", 390, 844)] {
            // Screenshots show the top of the page at a readable height.
            let h = if shots { h * 2 } else { h };
            let shot = match (shots, lang, form) {
                (true, "fr", "desktop") => Some(docs.join("status-page.png")),
                (true, "fr", "phone") => Some(docs.join("status-page-phone.png")),
                _ => None,
            };
            pages.push(serde_json::json!({
                "name": format!("status {lang} {form}"),
                "path": path,
                "width": w,
                "height": h,
                "screenshot": shot,
            }));
        }
    }
    if shots {
        pages.push(serde_json::json!({
            "name": "cnil draft (screenshot)",
            "path": cnil,
            "width": 1100,
            "height": 3000,
            "screenshot": docs.join("cnil-draft.png"),
        }));
    }
    let results = vigie_testkit::axe::run(&tools, pages, dir.path());
    let status_runs: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("status"))
        .collect();
    assert_eq!(status_runs.len(), 4);
    let mut problems = Vec::new();
    for r in status_runs {
        let name = r["name"].as_str().unwrap();
        problems.extend(vigie_testkit::axe::problems(r, &name[7..9]));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    println!(
        "axe-core {}: no violation on 4 runs",
        results[0]["version"].as_str().unwrap_or("?")
    );
}
