//! The three NIS2 reports of Art. 23 (directive (EU) 2022/2555) to the
//! national authority — ANSSI in France: early warning within 24 hours,
//! incident notification within 72 hours, final report one month after the
//! notification. Wording follows the directive's French text ("alerte
//! précoce", "notification d'incident", "rapport final", "incident
//! important") as the French transposition bill takes it up.

use vigie_lang::tr;
use vigie_scope::{Confidence, Evidence, NatureKind};

use super::facts::{self, at, to_fill};
use super::{Block, Ctx, Section, Text};
use crate::deadlines::DeadlineKind;

type Built = (String, String, Vec<Section>, bool);

fn field(label: &str, value: Text) -> Block {
    Block::Field {
        label: label.to_string(),
        value,
    }
}

fn addressee(ctx: &Ctx) -> String {
    let l = ctx.lang();
    tr!(
        l,
        "{} — autorité nationale de sécurité des systèmes d'information (signalement d'incident NIS2)",
        "{} — national cybersecurity authority (NIS2 incident report)",
        facts::nis2_authority(ctx)
    )
}

/// Who reports, and whether NIS2 applies.
fn entity(ctx: &Ctx) -> Section {
    let l = ctx.lang();
    let mut blocks = facts::organisation(ctx);
    blocks.push(field(
        l.pick("Statut NIS2", "NIS2 status"),
        facts::nis2_status(ctx),
    ));
    blocks.push(field(
        l.pick("Secteur", "Sector"),
        facts::or_fill(
            l,
            ctx.assets.organisation_details.nis2_sector.as_deref(),
            l.pick(
                "secteur (administration publique…)",
                "sector (public administration…)",
            ),
        ),
    ));
    blocks.push(field(
        l.pick("Contact pour l'incident", "Contact for the incident"),
        facts::contact(
            l,
            &ctx.assets.organisation_details.crisis_cell,
            l.pick("contact de la cellule de crise", "crisis cell contact"),
        ),
    ));
    Section {
        heading: l.pick("Entité", "Entity").into(),
        blocks,
    }
}

/// Whether a malicious act is suspected, with evidence.
fn malicious(ctx: &mut Ctx) -> Block {
    let l = ctx.lang();
    let first = ctx.scope.nature.first().cloned();
    match first {
        Some(n) => {
            let notes = ctx.cite(&n.evidence, 2);
            field(
                l.pick(
                    "Incident causé par un acte illicite ou malveillant ?",
                    "Caused by unlawful or malicious acts?",
                ),
                Text::plain(l.pick(
                    "oui, suspecté : activité malveillante détectée dans les journaux",
                    "yes, suspected: malicious activity found in the logs",
                ))
                .cite(notes)
                .confirm_if(n.confidence != Confidence::High),
            )
        }
        None => field(
            l.pick(
                "Incident causé par un acte illicite ou malveillant ?",
                "Caused by unlawful or malicious acts?",
            ),
            to_fill(l, l.pick("à apprécier", "to assess")),
        ),
    }
}

fn cross_border(ctx: &Ctx) -> Block {
    let l = ctx.lang();
    field(
        l.pick(
            "Impact transfrontière possible ?",
            "Possible cross-border impact?",
        ),
        Text::confirm(l.pick(
            "non a priori (services rendus sur le territoire de la collectivité)",
            "not expected (services provided on the organisation's territory)",
        )),
    )
}

fn significant(ctx: &Ctx) -> Block {
    let l = ctx.lang();
    let down = ctx
        .board
        .services
        .iter()
        .filter(|e| !e.internal && e.status.is_down())
        .count();
    field(
        l.pick("Incident important ?", "Significant incident?"),
        if down > 0 {
            Text::confirm(tr!(
                l,
                "probablement : {down} service(s) aux usagers interrompu(s) (perturbation opérationnelle grave)",
                "probably: {down} public service(s) interrupted (severe operational disruption)"
            ))
        } else {
            to_fill(
                l,
                l.pick(
                    "apprécier la gravité (perturbation des services, pertes, personnes touchées)",
                    "assess the severity (disruption, losses, persons affected)",
                ),
            )
        },
    )
}

fn deadline_field(ctx: &Ctx, kind: DeadlineKind) -> Block {
    let l = ctx.lang();
    let d = crate::deadlines::Deadlines::compute(
        ctx.scope,
        ctx.assets,
        ctx.opts.known_at,
        ctx.opts.now,
        l,
    );
    let due = d.get(kind).and_then(|d| d.due);
    field(
        l.pick("Échéance", "Due"),
        match due {
            Some(t) => Text::plain(format!("{} ({})", at(ctx, t), kind.delay(l)))
                .confirm_if(ctx.opts.known_at.to_confirm()),
            None => to_fill(l, l.pick("échéance", "deadline")),
        },
    )
}

pub fn early_warning(ctx: &mut Ctx) -> Built {
    let l = ctx.lang();
    let title = l
        .pick(
            "NIS2 — alerte précoce (24 heures)",
            "NIS2 — early warning (24 hours)",
        )
        .to_string();
    let mut sections = vec![entity(ctx)];
    let mut blocks = vec![deadline_field(ctx, DeadlineKind::Nis2EarlyWarning)];
    blocks.extend(facts::chronology(ctx));
    blocks.push(significant(ctx));
    blocks.push(malicious(ctx));
    blocks.push(cross_border(ctx));
    let natures = facts::natures(ctx);
    if !natures.is_empty() {
        blocks.push(Block::Items {
            label: l
                .pick(
                    "Description succincte (d'après l'analyse des journaux)",
                    "Short description (from the log analysis)",
                )
                .into(),
            items: natures,
        });
    }
    sections.push(Section {
        heading: l.pick("Alerte précoce", "Early warning").into(),
        blocks,
    });
    sections.push(Section {
        heading: l.pick("Services touchés", "Services affected").into(),
        blocks: vec_or_fill(ctx, facts::services_impact(ctx)),
    });
    (title, addressee(ctx), sections, false)
}

fn vec_or_fill(ctx: &Ctx, items: Vec<Text>) -> Vec<Block> {
    let l = ctx.lang();
    if items.is_empty() {
        vec![Block::Para {
            text: Text::confirm(l.pick(
                "aucun service touché selon l'analyse",
                "no service affected according to the analysis",
            )),
        }]
    } else {
        vec![Block::List { items }]
    }
}

pub fn notification(ctx: &mut Ctx) -> Built {
    let l = ctx.lang();
    let title = l
        .pick(
            "NIS2 — notification d'incident (72 heures)",
            "NIS2 — incident notification (72 hours)",
        )
        .to_string();
    let mut sections = vec![entity(ctx)];
    let mut blocks = vec![deadline_field(ctx, DeadlineKind::Nis2Notification)];
    blocks.push(field(
        l.pick("Alerte précoce transmise le", "Early warning sent on"),
        to_fill(
            l,
            l.pick(
                "date et référence de l'alerte précoce",
                "date and reference of the early warning",
            ),
        ),
    ));
    blocks.extend(facts::chronology(ctx));
    blocks.push(significant(ctx));
    blocks.push(malicious(ctx));
    blocks.push(cross_border(ctx));
    sections.push(Section {
        heading: l
            .pick("Notification d'incident", "Incident notification")
            .into(),
        blocks,
    });

    // Initial assessment: severity and impact.
    let mut assess = Vec::new();
    let severity = ctx.scope.incidents.first().map(|i| i.severity);
    assess.push(field(
        l.pick(
            "Gravité (évaluation initiale)",
            "Severity (initial assessment)",
        ),
        match severity {
            Some(s) => Text::confirm(vigie_lang::glossary::term(l, &facts::key(&s)).to_string()),
            None => to_fill(l, l.pick("gravité", "severity")),
        },
    ));
    let natures = facts::natures(ctx);
    if !natures.is_empty() {
        assess.push(Block::Items {
            label: l.pick("Nature", "Nature").into(),
            items: natures,
        });
    }
    if let Some(e) = facts::entry(ctx) {
        assess.push(field(l.pick("Point d'entrée", "Entry point"), e));
    }
    let extent = facts::extent(ctx);
    if !extent.is_empty() {
        assess.push(Block::Items {
            label: l
                .pick(
                    "Machines et comptes compromis",
                    "Compromised hosts and accounts",
                )
                .into(),
            items: extent,
        });
    }
    let zones = facts::zones(ctx);
    if !zones.is_empty() {
        assess.push(Block::Items {
            label: l.pick("Zones isolées", "Isolated zones").into(),
            items: zones,
        });
    }
    sections.push(Section {
        heading: l.pick("Évaluation initiale", "Initial assessment").into(),
        blocks: assess,
    });
    sections.push(Section {
        heading: l
            .pick("Impact sur les services", "Impact on services")
            .into(),
        blocks: vec_or_fill(ctx, facts::services_impact(ctx)),
    });
    sections.push(Section {
        heading: l
            .pick("Indicateurs de compromission", "Indicators of compromise")
            .into(),
        blocks: vec![facts::indicators(ctx)],
    });
    sections.push(Section {
        heading: l
            .pick("Mesures d'atténuation", "Mitigation measures")
            .into(),
        blocks: vec![Block::List {
            items: facts::measures(ctx, 15),
        }],
    });
    (title, addressee(ctx), sections, false)
}

pub fn final_report(ctx: &mut Ctx) -> Built {
    let l = ctx.lang();
    let title = l
        .pick(
            "NIS2 — rapport final (un mois après la notification)",
            "NIS2 — final report (one month after the notification)",
        )
        .to_string();
    let mut sections = vec![entity(ctx)];
    let mut blocks = vec![deadline_field(ctx, DeadlineKind::Nis2FinalReport)];
    blocks.push(field(
        l.pick(
            "Notification d'incident transmise le",
            "Incident notification sent on",
        ),
        to_fill(l, l.pick("date et référence", "date and reference")),
    ));
    blocks.extend(facts::chronology(ctx));
    sections.push(Section {
        heading: l.pick("Rapport final", "Final report").into(),
        blocks,
    });

    // Detailed description: severity, impact, nature, timeline.
    let mut desc = Vec::new();
    let natures = facts::natures(ctx);
    if !natures.is_empty() {
        desc.push(Block::List { items: natures });
    }
    desc.push(facts::timeline(ctx, 40));
    let extent = facts::extent(ctx);
    if !extent.is_empty() {
        desc.push(Block::List { items: extent });
    }
    sections.push(Section {
        heading: l
            .pick(
                "Description détaillée de l'incident (gravité et impact)",
                "Detailed description of the incident (severity and impact)",
            )
            .into(),
        blocks: desc,
    });
    sections.push(Section {
        heading: l
            .pick("Impact sur les services", "Impact on services")
            .into(),
        blocks: vec_or_fill(ctx, facts::services_impact(ctx)),
    });

    // Type of threat or root cause.
    let mut cause = Vec::new();
    match facts::entry(ctx) {
        Some(e) => cause.push(field(l.pick("Point d'entrée", "Entry point"), e)),
        None => cause.push(field(
            l.pick("Point d'entrée", "Entry point"),
            to_fill(l, l.pick("cause première", "root cause")),
        )),
    }
    let provider_vpn = ctx
        .scope
        .entry_point
        .as_ref()
        .is_some_and(|e| e.method == "vpn");
    let weak: Vec<Evidence> = ctx
        .scope
        .entry_point
        .iter()
        .flat_map(|e| e.evidence.iter().cloned())
        .collect();
    if provider_vpn {
        let notes = ctx.cite(&weak, 1);
        let mfa = ctx
            .scope
            .entry_point
            .as_ref()
            .and_then(|e| e.account.as_ref())
            .and_then(|a| {
                ctx.assets
                    .accounts
                    .iter()
                    .find(|x| vigie_scope::names::wildcard(&x.name, a))
            })
            .and_then(|a| a.mfa);
        cause.push(field(
            l.pick("Cause première (hypothèse)", "Root cause (hypothesis)"),
            Text::confirm(match mfa {
                Some(false) => l.pick(
                    "accès VPN par un compte valide sans authentification multifacteur (selon le fichier des actifs)",
                    "VPN access with a valid account without multi-factor authentication (per the assets file)",
                ),
                _ => l.pick(
                    "accès VPN par un compte valide (identifiants volés ou devinés)",
                    "VPN access with a valid account (stolen or guessed credentials)",
                ),
            })
            .cite(notes),
        ));
    }
    cause.push(field(
        l.pick("Menace", "Threat"),
        if ctx
            .scope
            .nature
            .iter()
            .any(|n| n.kind == NatureKind::Ransomware)
        {
            Text::confirm(l.pick(
                "rançongiciel opéré par un attaquant humain",
                "human-operated ransomware",
            ))
        } else {
            to_fill(l, l.pick("type de menace", "type of threat"))
        },
    ));
    sections.push(Section {
        heading: l
            .pick(
                "Type de menace ou cause première",
                "Type of threat or root cause",
            )
            .into(),
        blocks: cause,
    });
    sections.push(Section {
        heading: l
            .pick("Indicateurs de compromission", "Indicators of compromise")
            .into(),
        blocks: vec![facts::indicators(ctx)],
    });
    let mut m = facts::measures(ctx, 20);
    m.push(to_fill(
        l,
        l.pick(
            "mesures durables : authentification multifacteur, segmentation, sauvegardes hors ligne…",
            "lasting measures: multi-factor authentication, segmentation, offline backups…",
        ),
    ));
    sections.push(Section {
        heading: l
            .pick(
                "Mesures d'atténuation appliquées et en cours",
                "Mitigation measures applied and ongoing",
            )
            .into(),
        blocks: vec![Block::List { items: m }],
    });
    sections.push(Section {
        heading: l
            .pick("Impact transfrontière", "Cross-border impact")
            .into(),
        blocks: vec![cross_border(ctx)],
    });
    (title, addressee(ctx), sections, false)
}
