//! A small Chrome DevTools Protocol client over `--remote-debugging-pipe`,
//! for the browser tests (the report's layout, the console): set a
//! viewport (desktop, phone) or the print media, open a file or a URL,
//! run a script in the page and read its result, print to PDF, take a
//! screenshot.
//!
//! Why not a crate: `headless_chrome` and `chromiumoxide` bring a
//! WebSocket stack and (for the latter) an async runtime for what is five
//! commands over a pipe. The pipe protocol is JSON messages separated by
//! NUL bytes, Chromium reading on its fd 3 and writing on its fd 4; `sh`
//! maps our stdin/stdout pipes onto those (no unsafe `pre_exec`).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The Chromium binary: `$CHROMIUM`, else `chromium` or
/// `chromium-browser` on the PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    which(&["chromium", "chromium-browser"])
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Chromium, or `None` with "skipped" printed; under `CI=true` its
/// absence fails the test (`.ci/run` installs it).
pub fn chromium_or_skip() -> Option<PathBuf> {
    match chromium() {
        Some(p) => Some(p),
        None if on_ci() => {
            panic!("chromium not found on PATH under CI=true: .ci/run must install Debian's `chromium` package")
        }
        None => {
            println!("skipped: chromium not found (apt-get install chromium)");
            None
        }
    }
}

/// Whether poppler's `pdfinfo` and `pdftotext` are there (page counts);
/// under `CI=true` their absence fails the test.
pub fn poppler_or_skip() -> bool {
    if which(&["pdfinfo"]).is_some() && which(&["pdftotext"]).is_some() {
        return true;
    }
    assert!(
        !on_ci(),
        "pdfinfo/pdftotext not found under CI=true: .ci/run must install poppler-utils"
    );
    println!("skipped: pdfinfo not found (apt-get install poppler-utils)");
    false
}

/// Headless Chromium as the tests run it: no sandbox (containers), no
/// network of its own, no first-run or background work, one CSS pixel per
/// device pixel.
pub const HEADLESS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
];

/// How long one command may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(90);

pub struct Browser {
    child: Child,
    to_chrome: ChildStdin,
    from_chrome: Receiver<Value>,
    next_id: u64,
    session: String,
    /// Console messages and exceptions seen so far.
    pub console: Vec<String>,
}

impl Browser {
    /// Starts headless Chromium (`bin`) with a fresh profile in `profile`
    /// and attaches to a blank page.
    pub fn start(bin: &Path, profile: &Path) -> Browser {
        std::fs::create_dir_all(profile).unwrap();
        let stderr = std::fs::File::create(profile.with_extension("stderr.txt")).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >&2"#)
            .arg(bin)
            .args(HEADLESS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start chromium");
        let to_chrome = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut buf = Vec::new();
            match out.read_until(0, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    buf.pop_if(|b| *b == 0);
                    if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to_chrome,
            from_chrome: rx,
            next_id: 0,
            session: String::new(),
            console: Vec::new(),
        };
        let target = b.call_browser("Target.createTarget", json!({"url": "about:blank"}));
        let id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = b.call_browser(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().expect("sessionId").into();
        b.call("Page.enable", json!({}));
        b.call("Runtime.enable", json!({}));
        b
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> u64 {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if session {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_chrome.write_all(&bytes).expect("write to chromium");
        self.to_chrome.flush().unwrap();
        self.next_id
    }

    /// Waits for the answer to `id`, or for an event named `event`.
    fn wait(&mut self, id: Option<u64>, event: Option<&str>) -> Value {
        let start = Instant::now();
        loop {
            let left = TIMEOUT.saturating_sub(start.elapsed());
            let msg = match self.from_chrome.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => panic!("chromium: no answer within {TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("chromium exited"),
            };
            match msg["method"].as_str() {
                Some("Runtime.consoleAPICalled") => self.console.push(format!(
                    "{}: {}",
                    msg["params"]["type"], msg["params"]["args"]
                )),
                Some("Runtime.exceptionThrown") => {
                    self.console.push(format!("exception: {}", msg["params"]))
                }
                Some(m) if Some(m) == event => return msg,
                _ => {}
            }
            if id.is_some() && msg["id"].as_u64() == id {
                if let Some(e) = msg.get("error") {
                    if navigated(e) {
                        return json!({ "navigated": true });
                    }
                    panic!("chromium error: {e}");
                }
                return msg["result"].clone();
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params, false);
        self.wait(Some(id), None)
    }

    /// Sends a command to the page and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params, true);
        self.wait(Some(id), None)
    }

    /// A viewport of `width` × `height` CSS pixels; `mobile` makes the
    /// page's `<meta name="viewport">` apply, as on a phone.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    /// `print` or `screen` (empty string resets).
    pub fn media(&mut self, media: &str) {
        self.call("Emulation.setEmulatedMedia", json!({ "media": media }));
    }

    /// Opens `page` and waits for its load event.
    pub fn open(&mut self, page: &Path) {
        self.open_url(&format!("file://{}", page.display()));
    }

    /// Opens `url` (e.g. a local `vigie serve`) and waits for its load event.
    pub fn open_url(&mut self, url: &str) {
        self.send("Page.navigate", json!({ "url": url }), true);
        self.wait(None, Some("Page.loadEventFired"));
    }

    /// Waits until `expr` evaluates to `true` in the page (after a form
    /// submission or a script's fetch), or fails after the timeout.
    pub fn wait_for(&mut self, expr: &str) {
        let start = Instant::now();
        while start.elapsed() < TIMEOUT {
            let r = self.call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true}),
            );
            if r["result"]["value"] == json!(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the page never satisfied {expr} within {TIMEOUT:?}");
    }

    /// Evaluates `expr` in the page; its value, as JSON (`null` when the
    /// script navigated the page away before it answered: a click on a
    /// link or a submit).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("script failed: {e}");
        }
        r["result"]["value"].clone()
    }

    /// The page printed as Chromium prints it (A4 from the page's CSS).
    pub fn pdf(&mut self) -> Vec<u8> {
        let r = self.call(
            "Page.printToPDF",
            json!({"preferCSSPageSize": true, "printBackground": true}),
        );
        decode(r["data"].as_str().expect("pdf data"))
    }

    /// A PNG of the viewport (`full` = the whole page).
    pub fn screenshot(&mut self, full: bool) -> Vec<u8> {
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": full}),
        );
        decode(r["data"].as_str().expect("png data"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.send("Browser.close", json!({}), false);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn decode(b64: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 from chromium")
}

/// The number of pages of a PDF and the text of each, by poppler's
/// `pdfinfo` and `pdftotext`.
pub fn pdf_pages(pdf: &Path) -> Vec<String> {
    let info = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    let info = String::from_utf8_lossy(&info.stdout);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo gives the page count");
    let mut text = String::new();
    let mut child = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext");
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    child.wait().unwrap();
    // pdftotext ends each page with a form feed.
    let mut v: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
    v.truncate(pages);
    assert_eq!(v.len(), pages, "pdftotext pages");
    v
}

/// Chromium's answer to a command on a page that navigated away (or
/// closed) meanwhile: a script that clicked a link, a poll during a
/// navigation. The caller sees no result (and polls again).
fn navigated(error: &Value) -> bool {
    error["message"]
        .as_str()
        .is_some_and(|m| m.contains("Inspected target navigated or closed"))
}
