//! Build script of `vigie-rules`: keeps the embedded rule pack fresh, and
//! embeds the vetted SigmaHQ snapshot.
//!
//! * Vigie's own pack is embedded with `include_dir!`, which cannot tell
//!   Cargo which files it read: without `rerun-if-changed` on `rules/vigie`,
//!   editing a rule would not rebuild the crate.
//! * The SigmaHQ snapshot: the rules of a SigmaHQ directory selected by
//!   `rules/sigmahq-selection.yml` (see `src/selection.rs`) are written,
//!   deflate-compressed, into `OUT_DIR/sigmahq.bin` for `include_bytes!`,
//!   with what identifies them in `OUT_DIR/sigmahq_info.rs`. The directory
//!   is `$VIGIE_SIGMAHQ`, else `$VIGIE_CORPUS/sigma`, else the shared corpus
//!   `../shared/corpus/sigma` beside the workspace. Nothing fetched is
//!   committed: the repository holds only the vetting. Without a SigmaHQ
//!   directory the build still succeeds, with a warning, and the binary says
//!   "SigmaHQ snapshot: not embedded in this build" wherever it reports its
//!   rules.

#[path = "src/selection.rs"]
#[allow(dead_code)]
mod selection;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let workspace = manifest.join("../..");
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    println!("cargo:rerun-if-changed=../../rules/vigie");
    println!("cargo:rerun-if-changed=../../rules/sigmahq-selection.yml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/selection.rs");
    println!("cargo:rerun-if-env-changed=VIGIE_SIGMAHQ");
    println!("cargo:rerun-if-env-changed=VIGIE_CORPUS");

    let policy_path = workspace.join("rules/sigmahq-selection.yml");
    let policy = std::fs::read_to_string(&policy_path)
        .map_err(|e| e.to_string())
        .and_then(|t| selection::Selection::parse(&t))
        .unwrap_or_else(|e| panic!("{}: {e}", policy_path.display()));

    let (root, named) = sigmahq_dir(&workspace);
    let usable = root.join("rules").is_dir();
    // Watch the directory if it exists, else its nearest existing ancestor
    // (watching a missing path would rerun the script on every build).
    let mut watch = root.clone();
    while !watch.exists() {
        match watch.parent() {
            Some(p) => watch = p.to_path_buf(),
            None => break,
        }
    }
    println!("cargo:rerun-if-changed={}", watch.display());

    let info = if usable {
        embed(&root, &policy, &out)
    } else {
        let why = if named {
            format!("{} holds no SigmaHQ `rules/` directory", root.display())
        } else {
            format!(
                "no SigmaHQ rules directory (set VIGIE_SIGMAHQ; looked at {})",
                root.display()
            )
        };
        println!(
            "cargo:warning=SigmaHQ snapshot not embedded: {why}. The binary will say so in \
             `vigie rules check`, the hunt summary and the manifest."
        );
        std::fs::write(out.join("sigmahq.bin"), []).expect("write OUT_DIR");
        format!("None /* {why} */")
    };
    std::fs::write(
        out.join("sigmahq_info.rs"),
        format!("pub(crate) const EMBEDDED: Option<EmbeddedInfo> = {info};\n"),
    )
    .expect("write OUT_DIR");
}

/// The SigmaHQ directory to embed, and whether it was named explicitly.
fn sigmahq_dir(workspace: &Path) -> (PathBuf, bool) {
    if let Some(d) = std::env::var_os("VIGIE_SIGMAHQ").filter(|d| !d.is_empty()) {
        return (PathBuf::from(d), true);
    }
    if let Some(c) = std::env::var_os("VIGIE_CORPUS").filter(|d| !d.is_empty()) {
        return (PathBuf::from(c).join("sigma"), true);
    }
    let dir = workspace.join("../shared/corpus/sigma");
    (dir.canonicalize().unwrap_or(dir), false)
}

/// Writes the compressed snapshot; returns the Rust expression of its info.
fn embed(root: &Path, policy: &selection::Selection, out: &Path) -> String {
    let files = selection::rule_files(root, &policy.directories);
    let mut tree = Sha256::new();
    let mut newest = String::new();
    let mut blob = Vec::new();
    let (mut selected, mut excluded, mut unreadable) = (0usize, 0usize, 0usize);
    for (rel, path) in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            unreadable += 1;
            continue;
        };
        tree.update((rel.len() as u64).to_le_bytes());
        tree.update(rel.as_bytes());
        tree.update((text.len() as u64).to_le_bytes());
        tree.update(text.as_bytes());
        let Some(info) = selection::rule_info(&text) else {
            unreadable += 1;
            continue;
        };
        if let Some(d) = &info.last_change {
            if *d > newest {
                newest = d.clone();
            }
        }
        match policy.judge(&info) {
            v if v.selected() => {
                selected += 1;
                for part in [rel.as_str(), text.as_str()] {
                    blob.extend_from_slice(&(part.len() as u32).to_le_bytes());
                    blob.extend_from_slice(part.as_bytes());
                }
            }
            selection::Verdict::Excluded => excluded += 1,
            _ => {}
        }
    }
    let digest = hex(&tree.finalize());
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&blob).expect("in memory");
    std::fs::write(out.join("sigmahq.bin"), z.finish().expect("in memory")).expect("write OUT_DIR");

    // Identity: the vetted snapshot (same tree digest), a git checkout's
    // HEAD, or the release `vigie rules update` installed.
    let vetted = policy.vetted.as_ref().filter(|v| v.digest == digest);
    let commit = vetted.map(|v| v.commit.clone()).or_else(|| git_head(root));
    let commit_date = vetted.map(|v| v.date.clone());
    let release = release_tag(root);
    if vetted.is_none() {
        println!(
            "cargo:warning=SigmaHQ snapshot from {} (rules dated up to {newest}) is not the one \
             rules/sigmahq-selection.yml was vetted on; its digest is {digest}",
            root.display()
        );
    }
    let opt = |v: Option<String>| match v {
        Some(s) => format!("Some({s:?})"),
        None => "None".into(),
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "Some(EmbeddedInfo {{ commit: {}, commit_date: {}, release: {}, newest_rule: {newest:?}, \
         rules: {selected}, excluded: {excluded}, considered: {}, unreadable: {unreadable}, \
         vetted: {}, tree_digest: {digest:?} }})",
        opt(commit),
        opt(commit_date),
        opt(release),
        files.len(),
        vetted.is_some(),
    );
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The commit a git checkout is at (short form), without running git.
fn git_head(root: &Path) -> Option<String> {
    let git = root.join(".git");
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let full = match head.strip_prefix("ref: ") {
        None => head.to_string(),
        Some(r) => match std::fs::read_to_string(git.join(r)) {
            Ok(s) => s.trim().to_string(),
            Err(_) => std::fs::read_to_string(git.join("packed-refs"))
                .ok()?
                .lines()
                .find(|l| l.ends_with(&format!(" {r}")))?
                .split(' ')
                .next()?
                .to_string(),
        },
    };
    (full.len() >= 7 && full.bytes().all(|b| b.is_ascii_hexdigit())).then(|| full[..7].to_string())
}

/// The release tag `vigie rules update` recorded in `vigie-snapshot.json`.
fn release_tag(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("vigie-snapshot.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("release")?.as_str().map(str::to_string)
}
