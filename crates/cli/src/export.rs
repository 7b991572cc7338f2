//! `vigie export`: the incident of a scope, for the CSIRT and the
//! firewall.
//!
//! `vigie export stix|misp|misp-feed|navigator|blocklist --scope FILE
//! --out PATH [--tlp clear|green|amber|amber+strict|red] [--assets FILE]
//! [--include-accounts] [--lang fr|en]`
//!
//! * `stix` — a STIX 2.1 bundle (file);
//! * `misp` — a MISP event (file);
//! * `misp-feed` — a MISP feed directory (`manifest.json`,
//!   `<uuid>.json`, `hashes.csv`); other events already in it are kept;
//! * `navigator` — an ATT&CK Navigator layer (file);
//! * `blocklist` — FortiGate threat-feed lists (`addresses.txt`,
//!   `domains.txt`, `hashes.txt`) and `blocklist.csv` (directory).
//!
//! TLP AMBER unless `--tlp` says otherwise; accounts named by their role
//! unless `--include-accounts`; private addresses and the organisation's
//! own names never exported as indicators (what was left out is listed on
//! stderr). The tools' digests are read from the evidence files the scope
//! points at, when they are still where the hunt read them.
//!
//! Exit codes: `0` written; `2` usage error or nothing written (unreadable
//! scope or assets, output refused or unwritable).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use vigie_intel::export::{blocklist, misp, read_evidence, stix, ExportOptions, Findings};
use vigie_intel::Tlp;
use vigie_lang::{tr, Lang};
use vigie_scope::{Assets, Scope};

/// The formats of `vigie export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A STIX 2.1 bundle (file).
    Stix,
    /// A MISP event (file).
    Misp,
    /// A MISP feed (directory).
    MispFeed,
    /// An ATT&CK Navigator layer (file).
    Navigator,
    /// FortiGate threat-feed lists and a CSV (directory).
    Blocklist,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// What to write.
    #[arg(value_enum)]
    pub format: Format,
    /// The scope written by `vigie hunt --scope FILE.json`.
    #[arg(long, value_name = "FILE.json")]
    pub scope: PathBuf,
    /// Where to write: a file (stix, misp, navigator) or a directory
    /// (misp-feed, blocklist).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The TLP of what is shared.
    #[arg(long, value_name = "clear|green|amber|amber+strict|red", default_value = "amber", value_parser = parse_tlp)]
    pub tlp: Tlp,
    /// The organisation's assets file: its name, VPN pools and internal
    /// ranges (never exported), its domains.
    #[arg(long, value_name = "FILE.yml")]
    pub assets: Option<PathBuf>,
    /// Name the accounts involved (otherwise only their role: "compte de
    /// service"…). Account names are personal data.
    #[arg(long)]
    pub include_accounts: bool,
    /// Language of descriptions (default: the locale's).
    #[arg(long, value_name = "fr|en", value_parser = crate::status::parse_lang)]
    pub lang: Option<Lang>,
}

fn parse_tlp(s: &str) -> Result<Tlp, String> {
    Tlp::parse(s)
        .ok_or_else(|| format!("'{s}' is not a TLP: clear, green, amber, amber+strict or red"))
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    let lang = Lang::resolve(args.lang);
    let text = std::fs::read_to_string(&args.scope)
        .with_context(|| format!("cannot read scope file {}", args.scope.display()))?;
    let scope = Scope::from_json(&text).with_context(|| {
        format!(
            "invalid scope file {} (expected the JSON written by `vigie hunt --scope`)",
            args.scope.display()
        )
    })?;
    let assets = match &args.assets {
        Some(p) => Assets::load(p).with_context(|| format!("assets file {}", p.display()))?,
        None => {
            eprintln!(
                "{}",
                tr!(
                    lang,
                    "note : sans --assets, l'organisation n'est pas nommée et seules les plages privées (RFC 1918…) sont connues comme internes",
                    "note: without --assets, the organisation is not named and only private ranges (RFC 1918…) are known as internal"
                )
            );
            Assets::default()
        }
    };
    let inputs = Inputs::of(&args);
    let (events, notes) = read_evidence(&scope);
    let opts = ExportOptions {
        tlp: args.tlp,
        include_accounts: args.include_accounts,
        lang,
    };
    let findings = Findings::collect(&scope, &assets, &events, &opts);
    let written = match args.format {
        Format::Stix => {
            let b = stix::bundle(&findings, args.tlp, lang);
            write_file(&args.out, &pretty(&b), &inputs)?;
            vec![args.out.clone()]
        }
        Format::Misp => {
            let e = misp::event(&findings, args.tlp, args.include_accounts, lang);
            write_file(&args.out, &pretty(&e), &inputs)?;
            vec![args.out.clone()]
        }
        Format::Navigator => {
            let l = findings.layer(lang);
            write_file(&args.out, &serde_json::to_string_pretty(&l)?, &inputs)?;
            vec![args.out.clone()]
        }
        Format::MispFeed => {
            let e = misp::event(&findings, args.tlp, args.include_accounts, lang);
            write_feed(&args.out, &e, &inputs)?
        }
        Format::Blocklist => write_dir(
            &args.out,
            &blocklist::files(&findings, args.tlp, lang),
            &inputs,
        )?,
    };
    summary(&findings, args.tlp, &written, &notes, lang);
    Ok(ExitCode::SUCCESS)
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Where not to write: the inputs (never overwritten).
struct Inputs(Vec<PathBuf>);

impl Inputs {
    fn of(args: &ExportArgs) -> Inputs {
        Inputs(
            std::iter::once(&args.scope)
                .chain(args.assets.iter())
                .filter_map(|p| p.canonicalize().ok())
                .collect(),
        )
    }

    fn check(&self, path: &Path) -> Result<()> {
        if path.canonicalize().is_ok_and(|c| self.0.contains(&c)) {
            bail!(
                "{} is an input: refused (inputs are never overwritten)",
                path.display()
            );
        }
        Ok(())
    }
}

/// Writes a file whole or not at all (a temporary file beside it, then
/// renamed).
fn write_file(path: &Path, content: &str, inputs: &Inputs) -> Result<()> {
    inputs.check(path)?;
    if path.is_dir() {
        bail!(
            "--out {} is a directory: this format is one file",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("export");
    let tmp = dir.join(format!(".{name}.vigie-tmp"));
    std::fs::write(&tmp, content).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn write_dir(dir: &Path, files: &[(String, String)], inputs: &Inputs) -> Result<Vec<PathBuf>> {
    if dir.is_file() {
        bail!(
            "--out {} is a file: this format is a directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = Vec::new();
    for (name, content) in files {
        let p = dir.join(name);
        write_file(&p, content, inputs)?;
        out.push(p);
    }
    Ok(out)
}

/// Adds (or replaces) the event in a MISP feed directory, keeping the
/// other events its manifest lists.
fn write_feed(dir: &Path, event: &serde_json::Value, inputs: &Inputs) -> Result<Vec<PathBuf>> {
    let files = misp::feed(event);
    let uuid = event["Event"]["uuid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut manifest: serde_json::Map<String, serde_json::Value> =
        match std::fs::read_to_string(dir.join("manifest.json")) {
            Ok(t) => match serde_json::from_str::<serde_json::Value>(&t) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => bail!(
                    "{} is not a MISP feed manifest: refused (not overwritten)",
                    dir.join("manifest.json").display()
                ),
            },
            Err(_) => serde_json::Map::new(),
        };
    let mut hashes: Vec<String> = std::fs::read_to_string(dir.join("hashes.csv"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.ends_with(&format!(",{uuid}")))
        .map(str::to_string)
        .collect();
    let mut out_files = Vec::new();
    for (name, content) in files {
        match name.as_str() {
            "manifest.json" => {
                let ours: serde_json::Value = serde_json::from_str(&content)?;
                if let Some(o) = ours.as_object() {
                    for (k, v) in o {
                        manifest.insert(k.clone(), v.clone());
                    }
                }
            }
            "hashes.csv" => hashes.extend(content.lines().map(str::to_string)),
            _ => out_files.push((name, content)),
        }
    }
    out_files.push((
        "manifest.json".into(),
        pretty(&serde_json::Value::Object(manifest)),
    ));
    let mut h = hashes.join("\n");
    h.push('\n');
    out_files.push(("hashes.csv".into(), h));
    write_dir(dir, &out_files, inputs)
}

fn summary(f: &Findings, tlp: Tlp, written: &[PathBuf], notes: &[String], lang: Lang) {
    let digests: usize = f.tools.iter().map(|t| t.hashes.len()).sum();
    eprintln!(
        "{}",
        tr!(
            lang,
            "{} : {} adresse(s), {} domaine(s), {} outil(s) ({} empreinte(s)), {} technique(s) ATT&CK, {}",
            "{}: {} address(es), {} domain(s), {} tool(s) ({} digest(s)), {} ATT&CK technique(s), {}",
            written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            f.addresses.len(),
            f.domains.len(),
            f.tools.len(),
            digests,
            f.techniques.len(),
            tlp.label()
        )
    );
    if !f.has_indicators() {
        eprintln!(
            "{}",
            tr!(
                lang,
                "attention : aucun indicateur à partager dans ce périmètre",
                "warning: no indicator to share in this scope"
            )
        );
    }
    for (value, why) in f.left_out.iter().take(20) {
        eprintln!(
            "{}",
            tr!(
                lang,
                "non exporté : {} ({})",
                "not exported: {} ({})",
                value,
                why
            )
        );
    }
    if f.left_out.len() > 20 {
        eprintln!(
            "{}",
            tr!(
                lang,
                "… et {} autre(s) non exporté(s)",
                "… and {} more not exported",
                f.left_out.len() - 20
            )
        );
    }
    for n in notes.iter().chain(f.notes.iter()) {
        eprintln!("note: {n}");
    }
}
