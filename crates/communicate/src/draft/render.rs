//! Drafts as HTML (editable in the browser, printable to PDF with its print
//! stylesheet) and as Markdown (for a text editor or a wiki), with the
//! deadlines board in the header and the evidence as footnotes.

use vigie_event::Locator;
use vigie_lang::{tr, Lang, Precision};

use super::{Block, Certainty, Draft, Footnote, Text};
use crate::deadlines::{duration_words, Applies, Deadline, Deadlines};
use crate::style::{csp, esc};

const CSS: &str = include_str!("draft.css");

/// Where a footnote's record is, in words.
pub fn locator_words(lang: Lang, l: &Locator) -> String {
    match l {
        Locator::Record(n) => tr!(lang, "enregistrement {n}", "record {n}"),
        Locator::Line(n) => tr!(lang, "ligne {n}", "line {n}"),
        Locator::Index(n) => tr!(lang, "élément {n}", "item {n}"),
        Locator::None => String::new(),
        Locator::Position(n) => tr!(
            lang,
            "position {n} du journal de vigie serve",
            "position {n} of vigie serve's log"
        ),
    }
}

fn footnote_line(d: &Draft, f: &Footnote) -> (String, String) {
    let l = d.lang;
    let mut place = f.source.clone();
    let loc = locator_words(l, &f.locator);
    if !loc.is_empty() {
        place.push_str(", ");
        place.push_str(&loc);
    }
    let mut meta = Vec::new();
    if let Some(t) = f.time {
        meta.push(d.zone.format(t, Precision::Second));
    }
    if let Some(h) = &f.host {
        meta.push(h.clone());
    }
    if let Some(id) = f.event_id {
        meta.push(tr!(l, "événement {id}", "event {id}"));
    }
    let mut rest = meta.join(", ");
    if !f.summary.is_empty() {
        if !rest.is_empty() {
            rest.push_str(" — ");
        }
        rest.push_str(&f.summary);
    }
    (place, rest)
}

fn applies_words(l: Lang, a: Applies) -> &'static str {
    match a {
        Applies::Yes => l.pick("oui", "yes"),
        Applies::ToConfirm => l.pick("à confirmer", "to confirm"),
        Applies::No => l.pick("non", "no"),
    }
}

fn state_words(l: Lang, d: &Deadline) -> String {
    if d.applies == Applies::No {
        return l.pick("sans objet", "not applicable").to_string();
    }
    match d.remaining_secs {
        None => d.kind.delay(l).to_string(),
        Some(s) if s >= 0 => tr!(l, "reste {}", "{} left", duration_words(l, s)),
        Some(s) => tr!(l, "dépassée de {}", "passed by {}", duration_words(l, s)),
    }
}

fn due_words(d: &Draft, x: &Deadline) -> String {
    match x.due {
        Some(t) => d.zone.format(t, Precision::Minute),
        None => "—".to_string(),
    }
}

fn known_words(d: &Draft, dl: &Deadlines) -> String {
    let l = d.lang;
    let t = d.zone.format(dl.known_at.time, Precision::Minute);
    if dl.known_at.to_confirm() {
        tr!(
            l,
            "{t} (premier signal des journaux, à confirmer : donner l'heure réelle de découverte avec --known-at)",
            "{t} (first signal in the logs, to be confirmed: give the actual discovery time with --known-at)"
        )
    } else {
        t
    }
}

// ---------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------

fn text_html(t: &Text, l: Lang) -> String {
    let mut s = match t.certainty {
        Certainty::Established => esc(&t.text),
        Certainty::ToConfirm => format!(
            "<span class=\"confirm\">{}</span> <span class=\"tag\">{}</span>",
            esc(&t.text),
            l.pick("à confirmer", "to confirm")
        ),
        Certainty::ToFill => format!("<span class=\"fill\">[{}]</span>", esc(&t.text)),
    };
    if !t.notes.is_empty() {
        let links: Vec<String> = t
            .notes
            .iter()
            .map(|n| {
                format!(
                    "<a href=\"#note-{n}\" aria-label=\"{} {n}\">{n}</a>",
                    l.pick("source", "source")
                )
            })
            .collect();
        s.push_str(&format!("<sup class=\"ref\">{}</sup>", links.join(",")));
    }
    s
}

/// The Content-Security-Policy of a draft's HTML (also in its `<meta>`),
/// for a server to send as a header: no script, nothing loaded.
pub fn content_security_policy() -> String {
    format!("{}; frame-ancestors 'none'", csp(CSS))
}

/// The draft as a self-contained HTML page.
pub fn render_html(d: &Draft) -> String {
    let l = d.lang;
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n");
    h.push_str(&format!(
        "<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n",
        l.code()
    ));
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        esc(&csp(CSS))
    ));
    h.push_str(&format!(
        "<title>{} — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&d.title),
        l.pick("projet", "draft")
    ));
    h.push_str(&format!(
        "<p class=\"banner\" role=\"note\">{}</p>\n",
        esc(l.pick(
            "Projet pré-rempli par Vigie à partir de l'analyse des journaux et du fichier des actifs. Le texte est modifiable dans le navigateur ; imprimez-le (Ctrl+P) pour obtenir un PDF. À relire, confirmer et compléter avant tout envoi.",
            "Draft pre-filled by Vigie from the log analysis and the assets file. The text can be edited in the browser; print it (Ctrl+P) to get a PDF. Review, confirm and complete it before sending.",
        ))
    ));
    h.push_str("<main class=\"draft\" contenteditable=\"true\" spellcheck=\"true\">\n<header>\n");
    h.push_str(&format!(
        "<h1>{}</h1>\n<dl class=\"head\">\n",
        esc(&d.title)
    ));
    if let Some(o) = &d.organisation {
        h.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>\n",
            l.pick("Organisme", "Organisation"),
            esc(o)
        ));
    }
    h.push_str(&format!(
        "<dt>{}</dt><dd>{}</dd>\n",
        l.pick("Destinataire", "To"),
        esc(&d.addressee)
    ));
    h.push_str(&format!(
        "<dt>{}</dt><dd>{}</dd>\n",
        l.pick("Projet établi le", "Drafted on"),
        esc(&d.zone.format(d.generated_at, Precision::Minute))
    ));
    h.push_str(&format!(
        "<dt>{}</dt><dd>{}</dd>\n</dl>\n",
        l.pick("Incident connu le", "Incident known on"),
        esc(&known_words(d, &d.deadlines))
    ));
    h.push_str(&format!(
        "<p class=\"legend\">{} <span class=\"confirm\">{}</span> <span class=\"tag\">{}</span> — {} ; <span class=\"fill\">[{}]</span> — {} ; <sup class=\"ref\">1</sup> {}.</p>\n",
        l.pick("Légende :", "Legend:"),
        l.pick("texte", "text"),
        l.pick("à confirmer", "to confirm"),
        l.pick("fait que l'analyse ne peut pas établir avec certitude", "a fact the analysis cannot establish with certainty"),
        l.pick("à compléter", "to fill in"),
        l.pick("ce que seule la collectivité sait", "what only the organisation knows"),
        l.pick("renvoi vers la preuve (fichier et enregistrement du journal)", "pointer to the evidence (log file and record)"),
    ));
    h.push_str("</header>\n");

    // Deadlines.
    h.push_str(&format!(
        "<section class=\"deadlines\">\n<h2>{}</h2>\n<table>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>\n",
        l.pick("Échéances légales", "Legal deadlines"),
        l.pick("Obligation", "Obligation"),
        l.pick("Échéance", "Due"),
        l.pick("État", "State"),
        l.pick("Applicable", "Applies"),
        l.pick("Base légale", "Legal basis"),
    ));
    for x in &d.deadlines.items {
        let cls = if x.applies == Applies::No {
            "na"
        } else if x.overdue() {
            "overdue"
        } else {
            "pending"
        };
        h.push_str(&format!(
            "<tr class=\"{cls}\"><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}<br><span class=\"why\">{}</span></td><td>{}</td></tr>\n",
            esc(x.kind.label(l)),
            esc(&due_words(d, x)),
            esc(&state_words(l, x)),
            esc(applies_words(l, x.applies)),
            esc(&x.why),
            esc(x.kind.basis(l)),
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");

    for s in &d.sections {
        h.push_str(&format!("<section>\n<h2>{}</h2>\n", esc(&s.heading)));
        let mut in_dl = false;
        for b in &s.blocks {
            let is_field = matches!(b, Block::Field { .. });
            if in_dl && !is_field {
                h.push_str("</dl>\n");
                in_dl = false;
            }
            match b {
                Block::Field { label, value } => {
                    if !in_dl {
                        h.push_str("<dl class=\"fields\">\n");
                        in_dl = true;
                    }
                    h.push_str(&format!(
                        "<dt>{}</dt><dd>{}</dd>\n",
                        esc(label),
                        text_html(value, l)
                    ));
                }
                Block::Para { text } => {
                    h.push_str(&format!("<p>{}</p>\n", text_html(text, l)));
                }
                Block::List { items } => list_html(&mut h, items, l),
                Block::Items { label, items } => {
                    h.push_str(&format!("<p class=\"label\">{}</p>\n", esc(label)));
                    list_html(&mut h, items, l);
                }
                Block::Table { head, rows } => {
                    if rows.is_empty() {
                        h.push_str(&format!(
                            "<p class=\"empty\">{}</p>\n",
                            l.pick("Aucun élément relevé.", "Nothing found.")
                        ));
                        continue;
                    }
                    h.push_str("<div class=\"table\"><table>\n<thead><tr>");
                    for c in head {
                        h.push_str(&format!("<th scope=\"col\">{}</th>", esc(c)));
                    }
                    h.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        h.push_str("<tr>");
                        for c in r {
                            h.push_str(&format!("<td>{}</td>", text_html(c, l)));
                        }
                        h.push_str("</tr>\n");
                    }
                    h.push_str("</tbody>\n</table></div>\n");
                }
            }
        }
        if in_dl {
            h.push_str("</dl>\n");
        }
        h.push_str("</section>\n");
    }

    if !d.footnotes.is_empty() {
        let (cls, heading) = if d.internal_sources {
            (
                "notes internal",
                l.pick(
                    "Sources (usage interne : à retirer avant l'envoi ; non imprimées)",
                    "Sources (internal: remove before sending; not printed)",
                ),
            )
        } else {
            ("notes", l.pick("Sources", "Sources"))
        };
        h.push_str(&format!(
            "<section class=\"{cls}\">\n<h2>{}</h2>\n<ol>\n",
            esc(heading)
        ));
        for f in &d.footnotes {
            let (place, rest) = footnote_line(d, f);
            h.push_str(&format!(
                "<li id=\"note-{}\"><code>{}</code>{}</li>\n",
                f.n,
                esc(&place),
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", esc(&rest))
                }
            ));
        }
        h.push_str("</ol>\n</section>\n");
    }
    h.push_str(&format!(
        "<footer><p>{}</p></footer>\n</main>\n</body>\n</html>\n",
        esc(&tr!(
            l,
            "{} — projet établi par Vigie le {}.",
            "{} — drafted by Vigie on {}.",
            d.title,
            d.zone.format(d.generated_at, Precision::Minute)
        ))
    ));
    h
}

fn list_html(h: &mut String, items: &[Text], l: Lang) {
    if items.is_empty() {
        h.push_str(&format!(
            "<p class=\"empty\">{}</p>\n",
            l.pick("Aucun élément relevé.", "Nothing found.")
        ));
        return;
    }
    h.push_str("<ul>\n");
    for i in items {
        h.push_str(&format!("<li>{}</li>\n", text_html(i, l)));
    }
    h.push_str("</ul>\n");
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

/// Escapes Markdown's active characters (log text can hold any of them).
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn text_md(t: &Text, l: Lang) -> String {
    let mut s = match t.certainty {
        Certainty::Established => md_escape(&t.text),
        Certainty::ToConfirm => format!(
            "{} *({})*",
            md_escape(&t.text),
            l.pick("à confirmer", "to confirm")
        ),
        Certainty::ToFill => format!("**\\[{}\\]**", md_escape(&t.text)),
    };
    for n in &t.notes {
        s.push_str(&format!("[^{n}]"));
    }
    s
}

/// The draft as Markdown (GitHub-flavoured: tables and footnotes).
pub fn render_markdown(d: &Draft) -> String {
    let l = d.lang;
    let mut m = String::with_capacity(32 * 1024);
    m.push_str(&format!("# {}\n\n", md_escape(&d.title)));
    m.push_str(&format!(
        "> {}\n\n",
        md_escape(l.pick(
            "Projet pré-rempli par Vigie à partir de l'analyse des journaux et du fichier des actifs : à relire, confirmer et compléter avant tout envoi.",
            "Draft pre-filled by Vigie from the log analysis and the assets file: review, confirm and complete it before sending.",
        ))
    ));
    if let Some(o) = &d.organisation {
        m.push_str(&format!(
            "- **{}** {}\n",
            l.pick("Organisme :", "Organisation:"),
            md_escape(o)
        ));
    }
    m.push_str(&format!(
        "- **{}** {}\n- **{}** {}\n- **{}** {}\n\n",
        l.pick("Destinataire :", "To:"),
        md_escape(&d.addressee),
        l.pick("Projet établi le :", "Drafted on:"),
        md_escape(&d.zone.format(d.generated_at, Precision::Minute)),
        l.pick("Incident connu le :", "Incident known on:"),
        md_escape(&known_words(d, &d.deadlines)),
    ));
    m.push_str(&format!(
        "{} *({})* — {} ; **\\[{}\\]** — {} ; `[^n]` — {}.\n\n",
        l.pick("Légende :", "Legend:"),
        l.pick("à confirmer", "to confirm"),
        l.pick(
            "fait que l'analyse ne peut pas établir avec certitude",
            "a fact the analysis cannot establish with certainty"
        ),
        l.pick("à compléter", "to fill in"),
        l.pick(
            "ce que seule la collectivité sait",
            "what only the organisation knows"
        ),
        l.pick("renvoi vers la preuve", "pointer to the evidence"),
    ));
    m.push_str(&format!(
        "## {}\n\n| {} | {} | {} | {} | {} |\n|---|---|---|---|---|\n",
        l.pick("Échéances légales", "Legal deadlines"),
        l.pick("Obligation", "Obligation"),
        l.pick("Échéance", "Due"),
        l.pick("État", "State"),
        l.pick("Applicable", "Applies"),
        l.pick("Base légale", "Legal basis"),
    ));
    for x in &d.deadlines.items {
        m.push_str(&format!(
            "| {} | {} | {} | {} ({}) | {} |\n",
            md_escape(x.kind.label(l)),
            md_escape(&due_words(d, x)),
            md_escape(&state_words(l, x)),
            md_escape(applies_words(l, x.applies)),
            md_escape(&x.why),
            md_escape(x.kind.basis(l)),
        ));
    }
    m.push('\n');
    for s in &d.sections {
        m.push_str(&format!("## {}\n\n", md_escape(&s.heading)));
        for b in &s.blocks {
            match b {
                Block::Field { label, value } => {
                    m.push_str(&format!(
                        "- **{} :** {}\n",
                        md_escape(label),
                        text_md(value, l)
                    ));
                }
                Block::Para { text } => m.push_str(&format!("\n{}\n\n", text_md(text, l))),
                Block::List { items } => {
                    m.push('\n');
                    for i in items {
                        m.push_str(&format!("- {}\n", text_md(i, l)));
                    }
                    m.push('\n');
                }
                Block::Items { label, items } => {
                    m.push_str(&format!("- **{} :**\n", md_escape(label)));
                    for i in items {
                        m.push_str(&format!("  - {}\n", text_md(i, l)));
                    }
                }
                Block::Table { head, rows } => {
                    if rows.is_empty() {
                        m.push_str(&format!(
                            "\n*{}*\n\n",
                            l.pick("Aucun élément relevé.", "Nothing found.")
                        ));
                        continue;
                    }
                    m.push_str(&format!(
                        "\n| {} |\n|{}\n",
                        head.iter()
                            .map(|c| md_escape(c))
                            .collect::<Vec<_>>()
                            .join(" | "),
                        "---|".repeat(head.len())
                    ));
                    for r in rows {
                        m.push_str(&format!(
                            "| {} |\n",
                            r.iter()
                                .map(|c| text_md(c, l))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        ));
                    }
                    m.push('\n');
                }
            }
        }
        m.push('\n');
    }
    if !d.footnotes.is_empty() {
        m.push_str(&format!(
            "## {}\n\n",
            if d.internal_sources {
                l.pick(
                    "Sources (usage interne : à retirer avant l'envoi)",
                    "Sources (internal: remove before sending)",
                )
            } else {
                l.pick("Sources", "Sources")
            }
        ));
        for f in &d.footnotes {
            let (place, rest) = footnote_line(d, f);
            m.push_str(&format!(
                "[^{}]: `{}`{}\n",
                f.n,
                place.replace('`', "'"),
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", md_escape(&rest))
                }
            ));
        }
    }
    m
}

/// The deadlines board alone, as plain text lines (the terminal, logs).
pub fn deadlines_text(lang: Lang, zone: vigie_lang::Zone, d: &Deadlines) -> String {
    let mut out = String::new();
    for x in &d.items {
        out.push_str(&format!(
            "{:<18} {:<14} {}  [{}] ({})\n",
            x.due
                .map(|t| zone.format(t, Precision::Minute))
                .unwrap_or_else(|| "—".into()),
            state_words(lang, x),
            x.kind.label(lang),
            applies_words(lang, x.applies),
            x.kind.basis(lang)
        ));
    }
    out
}
