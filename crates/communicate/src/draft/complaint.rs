//! The complaint (plainte contre X) for the police or gendarmerie: the
//! facts, the timeline, the indicators, and the evidence manifest with its
//! hashes. Filed within 72 hours of knowing the attack, it is also the
//! condition of the cyber-insurance's payment (Code des assurances,
//! L.12-10-1).

use vigie_lang::tr;
use vigie_scope::NatureKind;

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

pub fn complaint(ctx: &mut Ctx) -> Built {
    let l = ctx.lang();
    let title = l
        .pick(
            "Plainte contre X — atteintes à un système de traitement automatisé de données",
            "Complaint against persons unknown — attacks on an automated data processing system",
        )
        .to_string();
    let addressee = l
        .pick(
            "Commissariat de police ou brigade de gendarmerie (ou procureur de la République près le tribunal judiciaire) — à compléter",
            "Police station or gendarmerie unit (or the public prosecutor of the judicial court) — to fill in",
        )
        .to_string();
    let mut sections = Vec::new();

    // The complainant.
    let mut who = facts::organisation(ctx);
    who.push(field(
        l.pick("Contact pour l'enquête", "Contact for the investigation"),
        facts::contact(
            l,
            &ctx.assets.organisation_details.crisis_cell,
            l.pick("contact de la cellule de crise", "crisis cell contact"),
        ),
    ));
    sections.push(Section {
        heading: l.pick("Plaignant", "Complainant").into(),
        blocks: who,
    });

    // Insurance.
    let d = &ctx.assets.organisation_details;
    let due = crate::deadlines::Deadlines::compute(
        ctx.scope,
        ctx.assets,
        ctx.opts.known_at,
        ctx.opts.now,
        l,
    );
    let complaint_due = due
        .get(DeadlineKind::InsuranceComplaint)
        .and_then(|d| d.due);
    sections.push(Section {
        heading: l.pick("Assurance cyber", "Cyber-insurance").into(),
        blocks: vec![
            field(
                l.pick("Assureur", "Insurer"),
                facts::contact(l, &d.insurer, l.pick("assureur", "insurer")),
            ),
            field(
                l.pick("Contrat", "Policy"),
                facts::or_fill(l, d.insurance_policy.as_deref(), l.pick("numéro de contrat", "policy number")),
            ),
            field(
                l.pick("Délai légal", "Legal deadline"),
                match complaint_due {
                    Some(t) => Text::plain(tr!(
                        l,
                        "plainte au plus tard 72 heures après la connaissance de l'atteinte, soit le {} (Code des assurances, art. L.12-10-1)",
                        "complaint within 72 hours of knowing of the attack, i.e. by {} (French Insurance Code, Art. L.12-10-1)",
                        at(ctx, t)
                    ))
                    .confirm_if(ctx.opts.known_at.to_confirm()),
                    None => to_fill(l, l.pick("échéance", "deadline")),
                },
            ),
        ],
    });

    // The facts.
    let mut fact_blocks = facts::chronology(ctx);
    if let Some(e) = facts::entry(ctx) {
        fact_blocks.push(field(
            l.pick("Mode d'intrusion", "How the attacker got in"),
            e,
        ));
    }
    let natures = facts::natures(ctx);
    if !natures.is_empty() {
        fact_blocks.push(Block::Items {
            label: l
                .pick(
                    "Agissements constatés (d'après l'analyse des journaux)",
                    "Acts observed (from the log analysis)",
                )
                .into(),
            items: natures,
        });
    }
    let extent = facts::extent(ctx);
    if !extent.is_empty() {
        fact_blocks.push(Block::Items {
            label: l
                .pick(
                    "Machines et comptes compromis",
                    "Compromised hosts and accounts",
                )
                .into(),
            items: extent,
        });
    }
    let mut data_items = Vec::new();
    let scope = ctx.scope;
    for e in scope
        .data_exposure
        .iter()
        .filter(|e| e.probable_exfiltration)
    {
        let notes = ctx.cite(&e.evidence, 1);
        let what = e.store.as_deref().unwrap_or("?");
        let mut s = tr!(
            l,
            "données « {what} » ({}) : {}",
            "data \"{what}\" ({}): {}",
            facts::key(&e.activity),
            e.tool.as_deref().unwrap_or("-")
        );
        if !e.destinations.is_empty() {
            s.push_str(&tr!(l, " vers {}", " to {}", e.destinations.join(", ")));
        }
        if let Some(b) = e.bytes_out {
            s.push_str(&tr!(l, ", {} octets sortis", ", {} bytes out", l.number(b)));
        }
        if let Some(t) = e.first {
            s.push_str(&format!(" ({})", at(ctx, t)));
        }
        data_items.push(Text::confirm(s).cite(notes));
    }
    if !data_items.is_empty() {
        fact_blocks.push(Block::Items {
            label: l
                .pick("Données probablement soustraites", "Data probably taken")
                .into(),
            items: data_items,
        });
    }
    fact_blocks.push(field(
        l.pick("Demande de rançon", "Ransom demand"),
        to_fill(
            l,
            l.pick(
                "note de rançon (texte, montant, moyen de contact) — ne pas payer, ne pas répondre sans conseil",
                "ransom note (text, amount, contact) — do not pay, do not answer without advice",
            ),
        ),
    ));
    sections.push(Section {
        heading: l.pick("Exposé des faits", "Statement of facts").into(),
        blocks: fact_blocks,
    });

    sections.push(Section {
        heading: l.pick("Chronologie détaillée", "Detailed timeline").into(),
        blocks: vec![facts::timeline(ctx, 60)],
    });

    // Offences, for the investigators to assess.
    let has = |k: NatureKind| scope.nature.iter().any(|n| n.kind == k);
    let mut offences = vec![Text::confirm(l.pick(
        "accès et maintien frauduleux dans tout ou partie d'un système de traitement automatisé de données (code pénal, art. 323-1)",
        "fraudulent access to and remaining in an automated data processing system (Penal Code, Art. 323-1)",
    ))];
    if has(NatureKind::Ransomware) || has(NatureKind::DefenceEvasion) {
        offences.push(Text::confirm(l.pick(
            "entrave au fonctionnement d'un système de traitement automatisé de données (art. 323-2)",
            "hindering the operation of an automated data processing system (Art. 323-2)",
        )));
        offences.push(Text::confirm(l.pick(
            "introduction, modification ou suppression frauduleuse de données (art. 323-3)",
            "fraudulent introduction, modification or deletion of data (Art. 323-3)",
        )));
    }
    if has(NatureKind::DataTheft) {
        offences.push(Text::confirm(l.pick(
            "extraction, détention et transmission frauduleuses de données (art. 323-3)",
            "fraudulent extraction, holding and transmission of data (Art. 323-3)",
        )));
    }
    if has(NatureKind::Ransomware) {
        offences.push(Text::confirm(l.pick(
            "extorsion, si une rançon est demandée (art. 312-1)",
            "extortion, if a ransom is demanded (Art. 312-1)",
        )));
    }
    offences.push(Text::plain(l.pick(
        "en bande organisée le cas échéant (art. 323-4-1) — qualifications à apprécier par les enquêteurs",
        "by an organised gang where applicable (Art. 323-4-1) — for the investigators to assess",
    )));
    sections.push(Section {
        heading: l
            .pick(
                "Infractions susceptibles d'être retenues",
                "Offences that may apply",
            )
            .into(),
        blocks: vec![Block::List { items: offences }],
    });

    sections.push(Section {
        heading: l
            .pick("Indicateurs techniques", "Technical indicators")
            .into(),
        blocks: vec![facts::indicators(ctx)],
    });

    sections.push(Section {
        heading: l.pick("Éléments de preuve", "Evidence").into(),
        blocks: evidence_blocks(ctx),
    });

    // Damage.
    let mut damage = vec![Block::Items {
        label: l
            .pick(
                "Services interrompus ou perturbés",
                "Services interrupted or disrupted",
            )
            .into(),
        items: facts::services_impact(ctx),
    }];
    damage.push(field(
        l.pick("Préjudice financier", "Financial damage"),
        to_fill(
            l,
            l.pick(
                "estimation (remise en état, prestataires, pertes d'exploitation)",
                "estimate (recovery, contractors, operating losses)",
            ),
        ),
    ));
    sections.push(Section {
        heading: l.pick("Préjudice", "Damage").into(),
        blocks: damage,
    });

    sections.push(Section {
        heading: l.pick("Signature", "Signature").into(),
        blocks: vec![Block::Para {
            text: facts::contact(
                l,
                &ctx.assets.organisation_details.representative,
                l.pick(
                    "nom, qualité et signature du représentant légal",
                    "name, capacity and signature of the legal representative",
                ),
            ),
        }],
    });
    (title, addressee, sections, false)
}

/// The evidence manifest: every input with its SHA-256, from the hunt's
/// run manifest, and how the scope's statements refer to it.
fn evidence_blocks(ctx: &mut Ctx) -> Vec<Block> {
    let l = ctx.lang();
    let mut out = Vec::new();
    match &ctx.opts.manifest {
        Some(m) => {
            out.push(Block::Para {
                text: Text::plain(tr!(
                    l,
                    "Journaux analysés par Vigie {} le {} (règles : empreinte {}, {} règles compilées) : {} fichiers, {} événements lus, {} détections. Chaque fichier est identifié par son empreinte SHA-256, calculée à la lecture.",
                    "Logs analysed by Vigie {} on {} (rules: digest {}, {} rules compiled): {} files, {} events read, {} detections. Each file is identified by its SHA-256, computed as it was read.",
                    m.vigie_version,
                    m.generated_at.map(|t| at(ctx, t)).unwrap_or_else(|| "?".into()),
                    m.rules.digest,
                    m.rules.compiled,
                    m.inputs.len(),
                    l.number(m.events),
                    l.number(m.detections)
                )),
            });
            let rows = m
                .inputs
                .iter()
                .map(|i| {
                    vec![
                        Text::plain(i.path.clone()),
                        Text::plain(i.sha256.clone()),
                        Text::plain(l.number(i.size)),
                        Text::plain(format!(
                            "{} / {}",
                            l.number(i.records_read),
                            l.number(i.records_skipped)
                        )),
                        Text::plain(match (i.first, i.last) {
                            (Some(a), Some(b)) => format!("{} → {}", at(ctx, a), at(ctx, b)),
                            _ => String::new(),
                        }),
                    ]
                })
                .collect();
            out.push(Block::Table {
                head: vec![
                    l.pick("Fichier", "File").into(),
                    "SHA-256".into(),
                    l.pick("Taille (octets)", "Size (bytes)").into(),
                    l.pick("Enregistrements lus / ignorés", "Records read / skipped").into(),
                    l.pick("Période", "Period").into(),
                ],
                rows,
            });
            if !m.input_errors.is_empty() {
                out.push(Block::Items {
                    label: l.pick("Fichiers illisibles", "Unreadable files").into(),
                    items: m.input_errors.iter().map(|e| Text::plain(e.clone())).collect(),
                });
            }
        }
        None => out.push(Block::Para {
            text: to_fill(
                l,
                l.pick(
                    "joindre le manifeste de la collecte (écrit par `vigie hunt --output FICHIER` sous FICHIER.manifest.json ; `vigie draft plainte --manifest`) : empreintes SHA-256 de chaque journal",
                    "attach the collection manifest (written by `vigie hunt --output FILE` as FILE.manifest.json; `vigie draft plainte --manifest`): SHA-256 of every log",
                ),
            ),
        }),
    }
    out.push(Block::Para {
        text: Text::plain(l.pick(
            "Les notes de bas de page renvoient, pour chaque fait, au fichier et à l'enregistrement (ou à la ligne) du journal d'origine.",
            "The footnotes point, for each fact, to the file and the record (or line) of the original log.",
        )),
    });
    out.push(field(
        l.pick("Conservation des preuves", "Preservation of evidence"),
        to_fill(
            l,
            l.pick(
                "supports et journaux d'origine conservés sans modification (où, par qui, depuis quand) ; machines isolées sans être éteintes",
                "original media and logs kept unchanged (where, by whom, since when); hosts isolated without being powered off",
            ),
        ),
    ));
    out.push(Block::Items {
        label: l.pick("Pièces jointes", "Attachments").into(),
        items: vec![
            Text::plain(l.pick(
                "périmètre de l'incident (scope.json) et rapport HTML de Vigie",
                "incident scope (scope.json) and Vigie's HTML report",
            )),
            Text::plain(l.pick(
                "chronologie des détections (timeline.jsonl) et son manifeste",
                "detection timeline (timeline.jsonl) and its manifest",
            )),
            to_fill(
                l,
                l.pick("copie de la note de rançon", "copy of the ransom note"),
            ),
        ],
    });
    out
}
