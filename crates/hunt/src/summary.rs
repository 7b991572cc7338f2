//! The terminal summary of a hunt: what was read, what fired, what failed,
//! in the reader's language and time zone.
//!
//! Two texts: [`render`] (standard output: what was read and found) and
//! [`problems`] (standard error, printed even with `-q`: what could not be
//! read). Counts, times and host names are taken from the [`Scope`] when
//! there is one, the same fields the report and the scope JSON show, so
//! the three never disagree. Every value that comes from the logs is
//! escaped ([`crate::safe`]) before it is written.
//!
//! [`Scope`]: vigie_scope::Scope

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use vigie_detect::Level;
use vigie_lang::{glossary, tr, Lang, Precision, Zone};

use crate::pipeline::HuntOutcome;
use crate::safe::{bounded, escape, escape_text};
use crate::timeline::{level_name, DetectionKind};

/// How many rows the "top" lists show.
const TOP: usize = 10;
/// How many read errors are listed one by one.
const ERRORS_SHOWN: usize = 10;
/// Longest error message shown (input quoted in messages is bounded too).
const ERROR_CHARS: usize = 300;

/// How the terminal speaks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Speech {
    pub lang: Lang,
    pub zone: Zone,
}

fn secs(lang: Lang, d: Duration) -> String {
    let s = format!("{:.2}", d.as_secs_f64());
    match lang {
        Lang::Fr => format!("{} s", s.replace('.', ",")),
        Lang::En => format!("{s}s"),
    }
}

/// The label of detections whose event names no host.
pub fn no_host(lang: Lang) -> &'static str {
    lang.pick(
        "(événement sans nom de machine)",
        "(event without a host name)",
    )
}

/// "3 files" / "3 fichiers".
fn files(lang: Lang, n: usize) -> String {
    lang.pick(
        lang.count(n as u64, "fichier", "fichiers"),
        lang.count(n as u64, "file", "files"),
    )
}

/// Renders the summary as plain text (no colours: it is also logged).
pub fn render(o: &HuntOutcome, speech: Speech) -> String {
    let Speech { lang, zone } = speech;
    let mut s = String::new();
    // Files in no log format (a README or a licence beside the logs of a
    // collection) are counted apart from read errors.
    let (logs, not_logs): (Vec<_>, Vec<_>) = o.files.iter().partition(|f| f.format.is_some());
    let skipped: u64 = logs.iter().map(|f| f.records_skipped).sum();
    let errors: usize = logs.iter().map(|f| f.errors.len()).sum::<usize>() + o.input_errors.len();
    let n = |x: u64| lang.number(x);
    let _ = writeln!(
        s,
        "{}",
        tr!(
            lang,
            "{} dans {} ({}, {}) en {}",
            "Read {} from {} ({}, {}) in {}",
            lang.pick(
                lang.count(o.events, "événement lu", "événements lus"),
                lang.count(o.events, "event", "events")
            ),
            files(lang, logs.len()),
            lang.pick(
                lang.count(skipped, "enregistrement ignoré", "enregistrements ignorés"),
                lang.count(skipped, "record skipped", "records skipped")
            ),
            lang.pick(
                lang.count(errors as u64, "erreur", "erreurs"),
                lang.count(errors as u64, "error", "errors")
            ),
            secs(lang, o.read_time)
        )
    );
    // Lines of another character set, read as Windows-1252: read, but
    // the sender's setting is worth fixing (and the reading is a guess).
    let charset: Vec<_> = logs
        .iter()
        .filter(|f| {
            f.records_not_utf8 > 0 || f.notes.iter().any(|n| n.starts_with("not all in UTF-8"))
        })
        .collect();
    if let Some(first) = charset.first() {
        // Lines are counted in JSON Lines and syslog files; a JSON document file is
        // read whole (its notes say so).
        let lines: u64 = charset.iter().map(|f| f.records_not_utf8).sum();
        let lines = if lines > 0 {
            tr!(lang, " ({} ligne(s))", " ({} line(s))", n(lines))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "{}",
            tr!(
                lang,
                "{}{} pas entièrement en UTF-8 : octets hors UTF-8 lus en Windows-1252 (le premier : {} ; chaque fichier dans le manifeste de -o)",
                "{}{} not all in UTF-8: bytes outside UTF-8 read as Windows-1252 (the first: {}; each file in the manifest -o writes)",
                files(lang, charset.len()),
                lines,
                escape(&first.path.display().to_string())
            )
        );
    }
    if !not_logs.is_empty() {
        let names: Vec<String> = not_logs
            .iter()
            .take(3)
            .map(|f| escape(&f.path.display().to_string()).into_owned())
            .collect();
        let more = if not_logs.len() > 3 { ", …" } else { "" };
        let _ = writeln!(
            s,
            "{}",
            tr!(
                lang,
                "{} dans aucun format de journal, non lu(s) : {}{}",
                "{} in no log format, not read: {}{}",
                files(lang, not_logs.len()),
                names.join(", "),
                more
            )
        );
    }
    if let (Some(a), Some(b)) = (o.first, o.last) {
        let _ = writeln!(
            s,
            "{}",
            tr!(
                lang,
                "Période des journaux : {} → {}",
                "Time span: {} → {}",
                zone.format(a, Precision::Second),
                zone.format(b, Precision::Second)
            )
        );
    }
    let _ = writeln!(
        s,
        "{}",
        tr!(
            lang,
            "Durée : règles {}, lecture et analyse {}, corrélation et périmètre {}",
            "Time: rules {}, read and match {}, correlation and scope {}",
            secs(lang, o.rules_time),
            secs(lang, o.read_time),
            secs(lang, o.post_time)
        )
    );
    let r = &o.rules;
    if o.rules_compiled > 0 || !r.failures.is_empty() {
        let see = if r.failures.is_empty() {
            String::new()
        } else {
            tr!(
                lang,
                " (voir `vigie rules check`)",
                " (see `vigie rules check`)"
            )
        };
        let _ = writeln!(
            s,
            "{}",
            tr!(
                lang,
                "Règles : {} compilée(s) ({} de détection, {} de corrélation, {} filtre(s) ; {} écartée(s) par la sélection), {} non chargée(s){}",
                "Rules: {} compiled ({} detection, {} correlation, {} filter; {} deselected), {} not loaded{}",
                n(o.rules_compiled as u64),
                n(r.detection as u64),
                n(r.correlation as u64),
                n(r.filter as u64),
                n(r.deselected as u64),
                n(r.failures.len() as u64),
                see
            )
        );
    } else {
        let _ = writeln!(
            s,
            "{}",
            lang.pick(
                "Règles : aucune (lecture seule)",
                "Rules: none (parse only)"
            )
        );
    }
    if let Some(snapshot) = &o.sigmahq {
        let _ = writeln!(s, "{}", snapshot_line(snapshot, lang));
    }

    let counts = Counts::of(o, lang);
    let levels: Vec<String> = counts
        .by_level
        .iter()
        .rev()
        .filter(|(_, n)| **n > 0)
        .map(|(l, c)| {
            tr!(
                lang,
                "{} : {}",
                "{1} {0}",
                glossary::term(lang, level_name(*l)),
                n(*c)
            )
        })
        .collect();
    // One figure, as the report gives it: every detection row, then how
    // it splits between single-event detections and correlations.
    let total = counts.alerts + counts.correlations;
    let _ = writeln!(
        s,
        "{}",
        tr!(
            lang,
            "Détections : {}{}{}",
            "Detections: {}{}{}",
            n(total),
            if levels.is_empty() {
                String::new()
            } else {
                format!(" ({})", levels.join(", "))
            },
            if counts.correlations == 0 {
                String::new()
            } else {
                tr!(
                    lang,
                    ", dont {} sur un seul événement et {}",
                    ": {} single-event and {}",
                    n(counts.alerts),
                    lang.pick(
                        lang.count(counts.correlations, "corrélation", "corrélations"),
                        lang.count(counts.correlations, "correlation", "correlations")
                    )
                )
            }
        )
    );
    if let Some(scope) = &o.scope {
        if let (Some(start), Some(p)) = (scope.attack_start(), scope.attack_period.as_ref()) {
            let _ = writeln!(
                s,
                "{}",
                tr!(
                    lang,
                    "Période de l'attaque : {} → {}",
                    "Attack period: {} → {}",
                    zone.format(start, Precision::Second),
                    zone.format(p.last, Precision::Second)
                )
            );
        }
    }
    if !counts.rules.is_empty() {
        let _ = writeln!(
            s,
            "{}",
            lang.pick("Règles les plus déclenchées :", "Top rules:")
        );
        for ((title, level), c) in top(counts.rules.into_iter()) {
            let _ = writeln!(
                s,
                "  {c:>7}  {:<13} {}",
                glossary::term(lang, level_name(level)),
                escape(&title)
            );
        }
        let _ = writeln!(
            s,
            "{}",
            lang.pick("Machines les plus concernées :", "Top hosts:")
        );
        for (host, c) in top(counts.hosts.into_iter()) {
            let _ = writeln!(s, "  {c:>7}  {}", escape(&host));
        }
    }
    if let Some(scope) = &o.scope {
        let _ = writeln!(s, "\n{}", escape_text(&scope.summary_text()));
    }
    s
}

/// The detection counts the terminal shows.
struct Counts {
    /// Single-event detections.
    alerts: u64,
    correlations: u64,
    by_level: BTreeMap<Level, u64>,
    rules: BTreeMap<(String, Level), u64>,
    hosts: BTreeMap<String, u64>,
}

impl Counts {
    /// From the scope when there is one (the figures the report and the
    /// scope JSON show); from the detections otherwise.
    fn of(o: &HuntOutcome, lang: Lang) -> Counts {
        let mut c = Counts {
            alerts: 0,
            correlations: 0,
            by_level: BTreeMap::new(),
            rules: BTreeMap::new(),
            hosts: BTreeMap::new(),
        };
        let no_host = no_host(lang).to_string();
        if let Some(scope) = &o.scope {
            // The scope's `total` and `by_level` count every detection row,
            // correlations included (the figure the report shows).
            let d = &scope.detections;
            c.correlations = d.correlations.len() as u64;
            c.alerts = d.total.saturating_sub(c.correlations);
            let l = &d.by_level;
            for (level, n) in [
                (Level::Informational, l.informational + l.unset),
                (Level::Low, l.low),
                (Level::Medium, l.medium),
                (Level::High, l.high),
                (Level::Critical, l.critical),
            ] {
                c.by_level.insert(level, n);
            }
            for r in &d.rules {
                *c.rules
                    .entry((r.title.clone(), r.level.unwrap_or(Level::Informational)))
                    .or_default() += r.count;
            }
            let mut attributed = 0;
            for h in &scope.hosts {
                let x = &h.detections;
                let total = x.informational + x.low + x.medium + x.high + x.critical + x.unset;
                if total > 0 {
                    c.hosts.insert(h.name.clone(), total);
                    attributed += total;
                }
            }
            if c.alerts > attributed {
                c.hosts.insert(no_host, c.alerts - attributed);
            }
            return c;
        }
        for d in &o.detections {
            match d.kind {
                DetectionKind::Detection | DetectionKind::Ioc => c.alerts += 1,
                DetectionKind::Correlation => {
                    c.correlations += 1;
                    *c.by_level.entry(d.level()).or_default() += 1;
                    continue;
                }
            }
            *c.by_level.entry(d.level()).or_default() += 1;
            *c.rules
                .entry((d.rule.title.clone(), d.level()))
                .or_default() += 1;
            let host = d
                .computer
                .as_deref()
                .map(str::to_string)
                .unwrap_or_else(|| no_host.clone());
            *c.hosts.entry(host).or_default() += 1;
        }
        c
    }
}

/// What could not be read, for standard error (printed even with `-q`):
/// the counts, then the first errors one by one. Empty when every input
/// was read whole.
pub fn problems(o: &HuntOutcome, lang: Lang) -> String {
    let mut s = problems_of(&o.files, &o.input_errors, lang);
    if let Some(r) = &o.indicators {
        indicator_problems(&mut s, r, lang);
    }
    s
}

/// The indicators read, and those left out with their place and why
/// (bounded, escaped): a shared indicator Vigie cannot match must be
/// known, not silently absent.
fn indicator_problems(s: &mut String, r: &crate::indicators::IndicatorsReport, lang: Lang) {
    let _ = writeln!(
        s,
        "{}",
        tr!(
            lang,
            "vigie : indicateurs : {} compilé(s) sur {} importé(s) de {} fichier(s), {} laissé(s) de côté",
            "vigie: indicators: {} compiled of {} imported from {} file(s), {} left out",
            lang.number(r.compiled as u64),
            lang.number(r.imported as u64),
            lang.number(r.files as u64),
            lang.number(r.left_out() as u64)
        )
    );
    for (kind, n) in &r.not_imported {
        let kind = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(s, "  {kind}: {}", lang.number(*n as u64));
    }
    for p in r.problems.iter().take(ERRORS_SHOWN) {
        let _ = writeln!(s, "  {}: {}", escape_text(&p.place), escape_text(&p.reason));
    }
    for x in r.rejected.iter().take(ERRORS_SHOWN) {
        let _ = writeln!(
            s,
            "  {}: {}",
            escape_text(&x.indicator),
            escape_text(&x.reason)
        );
    }
    let shown = r.problems.len().min(ERRORS_SHOWN) + r.rejected.len().min(ERRORS_SHOWN);
    if r.left_out() > shown {
        let _ = writeln!(
            s,
            "{}",
            tr!(
                lang,
                "  … et {} autre(s) : voir le manifeste",
                "  … and {} more: see the manifest",
                lang.number((r.left_out() - shown) as u64)
            )
        );
    }
}

/// Each input's fate (issue 19): the counts, then the files not read
/// whole, each with its first reason (bounded, escaped).
fn fates(s: &mut String, files: &[vigie_source::FileReport], lang: Lang) {
    use vigie_source::Fate;
    let count = |f: Fate| files.iter().filter(|r| r.fate() == f).count() as u64;
    let _ = writeln!(
        s,
        "{}",
        tr!(
            lang,
            "  fichiers : {} lu(s), {} lu(s) en partie, {} non lu(s)",
            "  files: {} read, {} partly read, {} not read",
            lang.number(count(Fate::Read)),
            lang.number(count(Fate::PartlyRead)),
            lang.number(count(Fate::NotRead))
        )
    );
    let not_whole: Vec<_> = files.iter().filter(|f| f.fate() != Fate::Read).collect();
    for f in not_whole.iter().take(ERRORS_SHOWN) {
        let what = match f.fate() {
            Fate::NotRead => lang.pick("non lu", "not read").to_string(),
            _ => tr!(
                lang,
                "lu en partie ({} lus, {} ignorés, {} erreur(s))",
                "partly read ({} read, {} skipped, {} error(s))",
                lang.number(f.records_read),
                lang.number(f.records_skipped),
                lang.number(f.errors.len() as u64)
            ),
        };
        let reason = f.errors.first().map(|e| e.to_string()).unwrap_or_default();
        let _ = writeln!(
            s,
            "  {what}: {}: {}",
            bounded(&f.path.display().to_string(), ERROR_CHARS),
            bounded(&reason, ERROR_CHARS)
        );
    }
    if not_whole.len() > ERRORS_SHOWN {
        let _ = writeln!(
            s,
            "  … (+{})",
            lang.number((not_whole.len() - ERRORS_SHOWN) as u64)
        );
    }
}

/// [`problems`] of any read (a hunt's, a search's).
pub fn problems_of(
    files: &[vigie_source::FileReport],
    input_errors: &[vigie_source::InputError],
    lang: Lang,
) -> String {
    let p = crate::ReadProblems::of(files, input_errors);
    if !p.any() {
        return String::new();
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}",
        tr!(
            lang,
            "vigie : lecture incomplète : {}, {}, {} dans aucun format de journal, {} inaccessible(s)",
            "vigie: incomplete read: {}, {}, {} in no log format, {} not accessible",
            lang.pick(
                lang.count(p.records_skipped, "enregistrement ignoré", "enregistrements ignorés"),
                lang.count(p.records_skipped, "record skipped", "records skipped")
            ),
            lang.pick(
                lang.count(p.errors as u64, "erreur de lecture", "erreurs de lecture"),
                lang.count(p.errors as u64, "read error", "read errors")
            ),
            lang.pick(
                lang.count(p.not_logs as u64, "fichier", "fichiers"),
                lang.count(p.not_logs as u64, "file", "files")
            ),
            lang.number(p.input_errors as u64)
        )
    );
    fates(&mut s, files, lang);
    let mut shown = 0;
    let label = lang.pick("erreur", "error");
    let mut line = |s: &mut String, text: String| {
        if shown < ERRORS_SHOWN {
            let _ = writeln!(s, "  {label}: {}", bounded(&text, ERROR_CHARS));
        }
        shown += 1;
    };
    for f in files {
        for e in &f.errors {
            line(&mut s, format!("{}: {e}", f.path.display()));
        }
    }
    for e in input_errors {
        line(&mut s, e.to_string());
    }
    if shown > ERRORS_SHOWN {
        let _ = writeln!(
            s,
            "{}",
            tr!(
                lang,
                "  … et {} autres erreurs (le manifeste compte celles de chaque fichier)",
                "  … and {} more errors (the manifest counts each file's)",
                lang.number((shown - ERRORS_SHOWN) as u64)
            )
        );
    }
    s
}

/// The `TOP` largest counts, ties broken by key (deterministic).
fn top<K: Ord>(items: impl Iterator<Item = (K, u64)>) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = items.collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP);
    v
}

/// The SigmaHQ snapshot line of the summary, in the reader's language
/// (`vigie rules check` prints the English `Display`; notes come from the
/// rules crate and stay as written).
fn snapshot_line(sn: &vigie_rules::sigmahq::SnapshotStatus, lang: Lang) -> String {
    use vigie_rules::sigmahq::Origin;
    if lang == Lang::En {
        return sn.to_string();
    }
    let mut s = match sn.origin {
        Origin::None => "Instantané SigmaHQ : absent de ce binaire (et aucun installé par \
                         `vigie rules update`) ; seuls le pack de Vigie et --rules sont utilisés"
            .to_string(),
        Origin::Embedded | Origin::Installed => {
            let identity = match (&sn.commit, &sn.commit_date, &sn.release) {
                (Some(c), Some(d), _) => format!("commit {c} ({d})"),
                (Some(c), None, _) => format!("commit {c}"),
                (None, _, Some(r)) => format!("version {r}"),
                _ => format!(
                    "règles datées jusqu'au {}",
                    sn.newest_rule.as_deref().unwrap_or("(date inconnue)")
                ),
            };
            let place = match (&sn.origin, &sn.path) {
                (Origin::Installed, Some(p)) => format!("installé dans {}", p.display()),
                _ => "intégré à ce binaire".to_string(),
            };
            let mut s = format!(
                "Instantané SigmaHQ : {identity}, {} règle(s) retenue(s) par la sélection de Vigie, {place}",
                lang.number(sn.rules as u64)
            );
            if !sn.vetted && sn.origin == Origin::Embedded {
                s.push_str(" (pas le commit SigmaHQ sur lequel la sélection a été mesurée)");
            }
            s.push_str(
                ". Règles SigmaHQ (https://github.com/SigmaHQ/sigma) de leurs auteurs, nommés dans chaque règle, sous la Detection Rule License 1.1 (https://github.com/SigmaHQ/Detection-Rule-License)",
            );
            s
        }
    };
    for n in &sn.notes {
        s.push_str(&format!(". {n}"));
    }
    s
}
