//! `vigie actions`: the containment plan as proposals (with their
//! simulated impact, their place in the ANSSI/CERT-FR sequence, whether a
//! second person must approve them, and how to undo them), or as commands
//! to copy.
//!
//! * `vigie actions --scope FILE --assets FILE [--format text|json|powershell|fortigate]`
//!   `[--responders ADDR]... [--lang fr|en]`
//!
//! Exit codes: `0` printed; `2` usage error or an input that cannot be
//! used; `3` printed, but some action could not be turned into commands
//! safely (a value that is not an address or a domain, a name with a line
//! break): they are listed in the output and on stderr, never emitted.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use vigie_lang::{tr, Lang};
use vigie_respond::commands::{fortigate, powershell};
use vigie_respond::{plan, Plan};
use vigie_scope::{Assets, Scope};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// The plan for people: order, impact, approval, undo.
    Text,
    /// The plan as JSON (proposals with evidence, impact and undo).
    Json,
    /// PowerShell for Active Directory and Windows hosts, with rollback.
    Powershell,
    /// FortiGate CLI for the perimeter, with rollback.
    Fortigate,
}

#[derive(Args, Debug)]
pub struct ActionsArgs {
    /// The scope written by `vigie hunt --scope FILE.json`.
    #[arg(long, value_name = "FILE.json")]
    pub scope: PathBuf,
    /// The organisation's assets file (hosts, services): the impact of
    /// each action is simulated from it.
    #[arg(long, value_name = "FILE.yml")]
    pub assets: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// An address the isolated hosts keep talking to (the workstation you
    /// respond from, the log collector); repeatable. Without it the
    /// PowerShell isolation is not generated (it says why).
    #[arg(long = "responders", value_name = "ADDR")]
    pub responders: Vec<IpAddr>,
    /// Language of what is written (default: the scope's).
    #[arg(long, value_name = "fr|en", value_parser = crate::status::parse_lang)]
    pub lang: Option<Lang>,
}

pub fn run(a: ActionsArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&a.scope)
        .with_context(|| format!("cannot read scope file {}", a.scope.display()))?;
    let scope = Scope::from_json(&text).with_context(|| {
        format!(
            "invalid scope file {} (expected the JSON written by `vigie hunt --scope`)",
            a.scope.display()
        )
    })?;
    let assets = Assets::load(&a.assets)?;
    let lang = a.lang.unwrap_or(scope.lang);
    // The simulated statuses are those at the end of the logs read, so the
    // output depends on the inputs only.
    let as_of = scope
        .observed
        .map(|p| p.last)
        .unwrap_or_else(chrono::Utc::now);
    let p = plan(&scope, &assets, as_of, lang);
    let refused = refusals(&p, &a.responders);
    let out = match a.format {
        Format::Json => serde_json::to_string_pretty(&p)? + "\n",
        Format::Text => render_text(&p),
        Format::Powershell => powershell::script(
            &p,
            &powershell::Options {
                responders: a.responders.clone(),
            },
        ),
        Format::Fortigate => fortigate::script(&p),
    };
    print!("{out}");
    let relevant: Vec<&String> = match a.format {
        Format::Powershell => refused.powershell.iter().collect(),
        Format::Fortigate => refused.fortigate.iter().collect(),
        _ => Vec::new(),
    };
    for r in &relevant {
        eprintln!("{r}");
    }
    Ok(if relevant.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

struct Refused {
    powershell: Vec<String>,
    fortigate: Vec<String>,
}

fn refusals(p: &Plan, responders: &[IpAddr]) -> Refused {
    let opts = powershell::Options {
        responders: responders.to_vec(),
    };
    let mut r = Refused {
        powershell: Vec::new(),
        fortigate: Vec::new(),
    };
    for x in &p.proposals {
        if let Err(e) = powershell::commands(x, &opts, p.lang) {
            r.powershell
                .push(format!("vigie actions: [{}] {}: {e}", x.order, x.id));
        }
        if let Err(e) = fortigate::commands(x, p.lang) {
            r.fortigate
                .push(format!("vigie actions: [{}] {}: {e}", x.order, x.id));
        }
    }
    r
}

fn render_text(p: &Plan) -> String {
    let lang = p.lang;
    let mut s = tr!(
        lang,
        "Plan de confinement : {} actions, dans l'ordre ANSSI/CERT-FR\n",
        "Containment plan: {} actions, in the ANSSI/CERT-FR order\n",
        p.proposals.len()
    );
    let mut phase = None;
    for x in &p.proposals {
        if phase != Some(x.phase) {
            phase = Some(x.phase);
            s.push_str(&format!("\n== {} ==\n", x.phase_label));
        }
        let kind = vigie_respond::proposal::kind_key(x.kind);
        let eyes = if x.four_eyes {
            tr!(lang, " [double validation]", " [four-eyes]")
        } else {
            String::new()
        };
        s.push_str(&format!(
            "{:>2}. {kind} {}{eyes}  ({})\n",
            x.order, x.target, x.id
        ));
        s.push_str(&tr!(lang, "    pourquoi : {}\n", "    why: {}\n", x.reason));
        s.push_str(&tr!(
            lang,
            "    impact : {}\n",
            "    impact: {}\n",
            x.impact.summary
        ));
        for si in &x.impact.services {
            if let Some(line) = &si.status_page {
                s.push_str(&tr!(
                    lang,
                    "      page publique : {}\n",
                    "      status page: {}\n",
                    line
                ));
            }
        }
        s.push_str(&tr!(lang, "    annuler : {}\n", "    undo: {}\n", x.undo));
        if let Some(e) = x.evidence.first() {
            s.push_str(&tr!(
                lang,
                "    preuve : {} ({})\n",
                "    evidence: {} ({})\n",
                e.summary,
                e.source
            ));
        }
    }
    s
}
