//! The CNIL notification (GDPR Art. 33), following the fields of the
//! CNIL's online notification form, and the letter to the persons
//! concerned (Art. 34).

use vigie_lang::{tr, Lang};
use vigie_scope::{DataCategory, Evidence, NatureKind, Sensitivity};

use super::facts::{self, approx, at, contact, to_fill, touched_stores, Touched};
use super::{Block, Ctx, Section, Text};
use crate::deadlines::{high_risk, DeadlineKind};

type Built = (String, String, Vec<Section>, bool);

fn field(label: &str, value: Text) -> Block {
    Block::Field {
        label: label.to_string(),
        value,
    }
}

fn section(heading: String, blocks: Vec<Block>) -> Section {
    Section { heading, blocks }
}

fn has_nature(ctx: &Ctx, k: NatureKind) -> bool {
    ctx.scope.nature.iter().any(|n| n.kind == k)
}

fn nature_evidence<'a>(ctx: &Ctx<'a>, k: NatureKind) -> Vec<&'a Evidence> {
    ctx.scope
        .nature
        .iter()
        .filter(|n| n.kind == k)
        .flat_map(|n| n.evidence.iter())
        .collect()
}

/// Evidence of the data of a store leaving (exposures), else of its host
/// being compromised.
fn store_evidence<'a>(t: &Touched<'a>) -> Vec<&'a Evidence> {
    let mut v: Vec<&Evidence> = t.exposures.iter().flat_map(|e| e.evidence.iter()).collect();
    v.extend(t.host_evidence.iter().copied());
    v
}

/// What happened to one store, in words.
fn breach_words(lang: Lang, t: &Touched, ransomware: bool) -> String {
    let mut v = Vec::new();
    if t.probable_exfiltration {
        v.push(lang.pick("copie probable hors du réseau", "probably copied out"));
    } else if !t.exposures.is_empty() {
        v.push(lang.pick("accès par l'attaquant", "accessed by the attacker"));
    }
    if t.host_compromised {
        v.push(if ransomware {
            lang.pick(
                "serveur compromis, chiffrement probable",
                "server compromised, probably encrypted",
            )
        } else {
            lang.pick("serveur compromis", "server compromised")
        });
    }
    v.join(" ; ")
}

/// The likely consequences for the persons, from the categories of data
/// and the kinds of breach.
fn consequences(
    lang: Lang,
    cats: &[DataCategory],
    confidentiality: bool,
    availability: bool,
) -> Vec<Text> {
    let mut out = Vec::new();
    let has = |c: DataCategory| cats.contains(&c);
    if confidentiality {
        out.push(Text::plain(lang.pick(
            "perte de contrôle des personnes sur leurs données, publication possible par les attaquants (double extorsion)",
            "loss of control over their data; the attackers may publish it (double extortion)",
        )));
        if has(DataCategory::Identity)
            || has(DataCategory::Nir)
            || has(DataCategory::IdentityDocuments)
        {
            out.push(Text::plain(lang.pick(
                "usurpation d'identité, hameçonnage ciblé (courriels, SMS ou appels se réclamant de la collectivité)",
                "identity theft, targeted phishing (e-mails, texts or calls claiming to come from the organisation)",
            )));
        }
        if has(DataCategory::EconomicFinancial) {
            out.push(Text::plain(lang.pick(
                "fraude et perte financière (coordonnées bancaires, revenus)",
                "fraud and financial loss (bank details, income)",
            )));
        }
        if has(DataCategory::Health)
            || has(DataCategory::Social)
            || has(DataCategory::FamilySituation)
        {
            out.push(Text::plain(lang.pick(
                "atteinte à la vie privée, discrimination ou atteinte à la réputation (santé, situation sociale et familiale), perte de confidentialité de données couvertes par le secret professionnel",
                "invasion of privacy, discrimination or damage to reputation (health, social and family situation), loss of confidentiality of data under professional secrecy",
            )));
        }
        if has(DataCategory::Credentials) {
            out.push(Text::plain(lang.pick(
                "accès frauduleux à d'autres comptes si les mots de passe sont réutilisés",
                "fraudulent access to other accounts where passwords are reused",
            )));
        }
    }
    if availability {
        out.push(Text::plain(lang.pick(
            "interruption ou retard des services rendus aux personnes (aides, démarches) tant que les données ne sont pas restaurées",
            "services to the persons (benefits, procedures) interrupted or delayed until the data is restored",
        )));
    }
    out
}

pub fn notification(ctx: &mut Ctx) -> Built {
    let l = ctx.lang();
    let title = l
        .pick(
            "Notification d'une violation de données personnelles à la CNIL (RGPD, art. 33)",
            "Personal data breach notification to the CNIL (GDPR Art. 33)",
        )
        .to_string();
    let addressee = l
        .pick(
            "CNIL — téléservice de notification des violations de données personnelles (cnil.fr, rubrique « Notifier une violation de données personnelles »)",
            "CNIL — online personal data breach notification service (cnil.fr, \"Notifier une violation de données personnelles\")",
        )
        .to_string();
    let mut sections = Vec::new();
    let due = crate::deadlines::Deadlines::compute(
        ctx.scope,
        ctx.assets,
        ctx.opts.known_at,
        ctx.opts.now,
        l,
    );
    let cnil_due = due.get(DeadlineKind::CnilNotification).cloned();
    let overdue = cnil_due.as_ref().is_some_and(|d| d.overdue());

    // 1. Type of notification.
    sections.push(section(
        l.pick("1. Type de notification", "1. Kind of notification")
            .into(),
        vec![
            field(
                l.pick("Type", "Kind"),
                Text::plain(if ctx.opts.complementary {
                    l.pick(
                        "notification complémentaire (complète la notification initiale)",
                        "complementary notification (completes the initial one)",
                    )
                } else {
                    l.pick(
                        "notification initiale — des informations complémentaires suivront",
                        "initial notification — further information will follow",
                    )
                }),
            ),
            field(
                l.pick("Délai de 72 heures", "72-hour deadline"),
                match cnil_due.and_then(|d| d.due) {
                    Some(d) => Text::plain(tr!(
                        l,
                        "échéance le {}{}",
                        "due {}{}",
                        at(ctx, d),
                        if overdue {
                            l.pick(
                                " — dépassée : motifs du retard en section 10",
                                " — passed: reasons for the delay in section 10",
                            )
                        } else {
                            ""
                        }
                    ))
                    .confirm_if(ctx.opts.known_at.to_confirm()),
                    None => to_fill(l, l.pick("échéance", "deadline")),
                },
            ),
        ],
    ));

    // 2. Controller.
    sections.push(section(
        l.pick("2. Responsable du traitement", "2. Controller")
            .into(),
        facts::organisation(ctx),
    ));

    // 3. Contacts.
    let d = &ctx.assets.organisation_details;
    sections.push(section(
        l.pick("3. Personnes à contacter", "3. Contacts").into(),
        vec![
            field(
                l.pick(
                    "Délégué à la protection des données (DPO)",
                    "Data protection officer (DPO)",
                ),
                contact(
                    l,
                    &d.dpo,
                    l.pick("nom et coordonnées du DPO", "DPO's name and contact"),
                ),
            ),
            field(
                l.pick("Cellule de crise", "Crisis cell"),
                contact(
                    l,
                    &d.crisis_cell,
                    l.pick("contact de la cellule de crise", "crisis cell contact"),
                ),
            ),
        ],
    ));

    // 4. Chronology.
    let mut chrono = facts::chronology(ctx);
    chrono.push(field(
        l.pick("Circonstances de la découverte", "How it was discovered"),
        to_fill(
            l,
            l.pick(
                "comment l'incident a été remarqué (services à l'arrêt, message de rançon…) et par qui",
                "how the incident was noticed (services down, ransom note…) and by whom",
            ),
        ),
    ));
    sections.push(section(
        l.pick("4. Chronologie", "4. Chronology").into(),
        chrono,
    ));

    // 5. Nature of the breach.
    let touched = touched_stores(ctx);
    let ransomware = has_nature(ctx, NatureKind::Ransomware);
    let mut nature_blocks = Vec::new();
    let conf_ev: Vec<Evidence> = touched
        .iter()
        .filter(|t| !t.exposures.is_empty())
        .flat_map(|t| t.exposures.iter().flat_map(|e| e.evidence.iter().cloned()))
        .collect();
    let probable = touched.iter().any(|t| t.probable_exfiltration);
    let accessed = touched.iter().any(|t| !t.exposures.is_empty());
    let notes = ctx.cite(&conf_ev, 3);
    nature_blocks.push(field(
        l.pick("Perte de confidentialité", "Loss of confidentiality"),
        if probable {
            Text::confirm(l.pick(
                "oui, probable : des données personnelles ont été archivées puis envoyées hors du réseau",
                "yes, probable: personal data was archived then sent out of the network",
            ))
            .cite(notes)
        } else if accessed {
            Text::confirm(l.pick(
                "possible : l'attaquant a eu accès aux données ; leur copie n'est pas établie",
                "possible: the attacker had access to the data; a copy is not established",
            ))
            .cite(notes)
        } else {
            Text::confirm(l.pick(
                "non établie par les journaux analysés (ce qui ne prouve pas qu'il n'y en a pas eu)",
                "not established by the logs analysed (which does not prove there was none)",
            ))
        },
    ));
    let host_down = touched.iter().any(|t| t.host_compromised);
    let ransom_ev: Vec<Evidence> = nature_evidence(ctx, NatureKind::Ransomware)
        .into_iter()
        .cloned()
        .collect();
    let notes = ctx.cite(&ransom_ev, 2);
    nature_blocks.push(field(
        l.pick("Perte d'intégrité", "Loss of integrity"),
        if host_down && ransomware {
            Text::confirm(l.pick(
                "possible : fichiers modifiés ou chiffrés par le rançongiciel sur les serveurs qui hébergent les données",
                "possible: files modified or encrypted by the ransomware on the servers holding the data",
            ))
            .cite(notes.clone())
        } else {
            Text::confirm(l.pick("non établie", "not established"))
        },
    ));
    nature_blocks.push(field(
        l.pick("Perte de disponibilité", "Loss of availability"),
        if host_down && ransomware {
            Text::confirm(l.pick(
                "oui, probable : serveurs hébergeant les données compromis et touchés par le rançongiciel",
                "yes, probable: servers holding the data compromised and hit by the ransomware",
            ))
            .cite(notes)
        } else if host_down {
            Text::confirm(l.pick(
                "possible : serveurs hébergeant les données compromis",
                "possible: servers holding the data compromised",
            ))
        } else {
            Text::confirm(l.pick("non établie", "not established"))
        },
    ));
    let origin_ev: Vec<Evidence> = ctx
        .scope
        .nature
        .first()
        .map(|n| n.evidence.clone())
        .unwrap_or_default();
    let notes = ctx.cite(&origin_ev, 1);
    nature_blocks.push(field(
        l.pick("Origine de l'incident", "Origin of the incident"),
        if ctx.scope.nature.is_empty() {
            to_fill(l, l.pick("origine", "origin"))
        } else {
            Text::plain(l.pick(
                "acte externe malveillant (cyberattaque)",
                "malicious external act (cyberattack)",
            ))
            .cite(notes)
        },
    ));
    let natures = facts::natures(ctx);
    if !natures.is_empty() {
        nature_blocks.push(Block::Items {
            label: l
                .pick(
                    "Nature de l'attaque (d'après l'analyse des journaux)",
                    "Kind of attack (from the log analysis)",
                )
                .into(),
            items: natures,
        });
    }
    if let Some(e) = facts::entry(ctx) {
        nature_blocks.push(field(l.pick("Point d'entrée", "Entry point"), e));
    }
    sections.push(section(
        l.pick("5. Nature de la violation", "5. Nature of the breach")
            .into(),
        nature_blocks,
    ));

    // 6. Data and persons.
    let mut data_blocks = Vec::new();
    if touched.is_empty() {
        data_blocks.push(Block::Para {
            text: Text::confirm(l.pick(
                "Aucun fichier de données personnelles du fichier des actifs n'est touché selon les journaux analysés. À confirmer : les journaux ne couvrent pas forcément toutes les données.",
                "No personal-data store of the assets file is touched according to the logs analysed. To be confirmed: the logs may not cover all data.",
            )),
        });
    } else {
        let mut rows = Vec::new();
        let mut persons_total = 0u64;
        let mut persons_known = true;
        let mut records_total = 0u64;
        let mut sensitive: Vec<&str> = Vec::new();
        let mut all_cats: Vec<DataCategory> = Vec::new();
        for t in &touched {
            let ev: Vec<Evidence> = store_evidence(t).into_iter().cloned().collect();
            let notes = ctx.cite(&ev, 2);
            let cats = if t.store.data_categories.is_empty() {
                to_fill(l, l.pick("catégories de données", "categories of data"))
            } else {
                Text::plain(
                    t.store
                        .data_categories
                        .iter()
                        .map(|c| facts::category(l, *c))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            };
            for c in &t.store.data_categories {
                if !all_cats.contains(c) {
                    all_cats.push(*c);
                }
                if c.is_sensitive() || *c == DataCategory::Nir {
                    let w = facts::category(l, *c);
                    if !sensitive.contains(&w) {
                        sensitive.push(w);
                    }
                }
            }
            if t.store.sensitivity == Sensitivity::SpecialCategory && sensitive.is_empty() {
                sensitive.push(l.pick(
                    "catégories particulières (art. 9)",
                    "special categories (Art. 9)",
                ));
            }
            let subjects = if t.store.data_subjects.is_empty() {
                to_fill(l, l.pick("personnes concernées", "persons concerned"))
            } else {
                Text::plain(t.store.data_subjects.join(" ; "))
            };
            match t.store.persons {
                Some(n) => persons_total += n,
                None => persons_known = false,
            }
            records_total += t.store.records.unwrap_or(0);
            let name = match &t.store.description {
                Some(d) => format!("{} ({d})", t.store.name),
                None => t.store.name.clone(),
            };
            rows.push(vec![
                Text::plain(name),
                cats,
                subjects,
                approx(
                    l,
                    t.store.persons,
                    l.pick("nombre de personnes", "number of persons"),
                ),
                approx(
                    l,
                    t.store.records,
                    l.pick("nombre d'enregistrements", "number of records"),
                ),
                Text::plain(breach_words(l, t, ransomware))
                    .cite(notes)
                    .confirm_if(true),
            ]);
        }
        data_blocks.push(Block::Table {
            head: vec![
                l.pick("Fichier (traitement)", "Data store").into(),
                l.pick("Catégories de données", "Categories of data").into(),
                l.pick("Personnes concernées", "Persons concerned").into(),
                l.pick(
                    "Nombre approximatif de personnes",
                    "Approximate number of persons",
                )
                .into(),
                l.pick(
                    "Nombre approximatif d'enregistrements",
                    "Approximate number of records",
                )
                .into(),
                l.pick("Atteinte", "Breach").into(),
            ],
            rows,
        });
        data_blocks.push(field(
            l.pick("Total approximatif de personnes", "Approximate total of persons"),
            if persons_known {
                Text::confirm(tr!(
                    l,
                    "environ {} (somme des fichiers ; une même personne peut figurer dans plusieurs)",
                    "about {} (sum over the stores; one person may be in several)",
                    l.number(persons_total)
                ))
            } else {
                to_fill(
                    l,
                    l.pick(
                        "nombre de personnes (non renseigné pour au moins un fichier)",
                        "number of persons (missing for at least one store)",
                    ),
                )
            },
        ));
        data_blocks.push(field(
            l.pick(
                "Total approximatif d'enregistrements",
                "Approximate total of records",
            ),
            Text::confirm(tr!(l, "environ {}", "about {}", l.number(records_total))),
        ));
        if !sensitive.is_empty() {
            data_blocks.push(field(
                l.pick(
                    "Données sensibles (art. 9 et 10, NIR)",
                    "Sensitive data (Art. 9 and 10, NIR)",
                ),
                Text::plain(sensitive.join(", ")),
            ));
        }
        // 7. Consequences.
        let conf = touched.iter().any(|t| !t.exposures.is_empty());
        sections.push(section(
            l.pick(
                "6. Données et personnes concernées",
                "6. Data and persons concerned",
            )
            .into(),
            std::mem::take(&mut data_blocks),
        ));
        let mut cons = vec![Block::List {
            items: consequences(l, &all_cats, conf, host_down),
        }];
        cons.push(field(
            l.pick("Gravité estimée", "Estimated severity"),
            if high_risk(ctx.scope, ctx.assets) {
                Text::confirm(l.pick(
                    "élevée : données sensibles probablement sorties du réseau (appréciation du DPO)",
                    "high: sensitive data probably left the network (the DPO's assessment)",
                ))
            } else {
                to_fill(
                    l,
                    l.pick("gravité appréciée par le DPO", "severity assessed by the DPO"),
                )
            },
        ));
        sections.push(section(
            l.pick(
                "7. Conséquences probables pour les personnes",
                "7. Likely consequences for the persons",
            )
            .into(),
            cons,
        ));
    }
    if !data_blocks.is_empty() {
        sections.push(section(
            l.pick(
                "6. Données et personnes concernées",
                "6. Data and persons concerned",
            )
            .into(),
            data_blocks,
        ));
    }

    // 8. Measures.
    let mut m = facts::measures(ctx, 12);
    m.push(to_fill(
        l,
        l.pick(
            "dépôt de plainte (date, service de police ou de gendarmerie)",
            "complaint filed (date, police or gendarmerie unit)",
        ),
    ));
    m.push(Text::plain(l.pick(
        "restauration depuis des sauvegardes vérifiées saines, après éradication",
        "restoration from backups checked to be clean, after eradication",
    )));
    sections.push(section(
        l.pick(
            "8. Mesures prises et envisagées",
            "8. Measures taken and planned",
        )
        .into(),
        vec![Block::List { items: m }],
    ));

    // 9. Information of the persons.
    sections.push(section(
        l.pick("9. Information des personnes concernées", "9. Informing the persons concerned").into(),
        vec![field(
            l.pick("Information prévue", "Information planned"),
            if high_risk(ctx.scope, ctx.assets) {
                Text::confirm(l.pick(
                    "oui : risque élevé probable (art. 34) — projet de courrier : `vigie draft letter`",
                    "yes: a high risk is likely (Art. 34) — draft letter: `vigie draft letter`",
                ))
            } else {
                to_fill(
                    l,
                    l.pick(
                        "à décider avec le DPO selon le niveau de risque",
                        "to decide with the DPO according to the risk",
                    ),
                )
            },
        )],
    ));

    // 10. Delay.
    sections.push(section(
        l.pick("10. Motifs du retard", "10. Reasons for the delay")
            .into(),
        vec![field(
            l.pick(
                "Notification au-delà de 72 heures",
                "Notification after 72 hours",
            ),
            if overdue {
                to_fill(
                    l,
                    l.pick(
                        "le délai de 72 heures est dépassé : en donner les motifs",
                        "the 72-hour deadline has passed: give the reasons",
                    ),
                )
            } else {
                Text::plain(l.pick(
                    "sans objet si la notification est transmise avant l'échéance",
                    "not applicable if sent before the deadline",
                ))
            },
        )],
    ));

    // 11. Other notifications.
    let nis2 = due
        .get(DeadlineKind::Nis2Notification)
        .map(|d| d.applies)
        .unwrap_or(crate::deadlines::Applies::ToConfirm);
    sections.push(section(
        l.pick("11. Autres démarches", "11. Other steps").into(),
        vec![
            field(
                l.pick("Signalement NIS2", "NIS2 report"),
                match nis2 {
                    crate::deadlines::Applies::Yes => Text::plain(tr!(
                        l,
                        "oui, à l'autorité nationale ({}) : voir `vigie draft nis2-early`",
                        "yes, to the national authority ({}): see `vigie draft nis2-early`",
                        facts::nis2_authority(ctx)
                    )),
                    crate::deadlines::Applies::No => {
                        Text::plain(l.pick("non assujettie", "not covered"))
                    }
                    crate::deadlines::Applies::ToConfirm => Text::confirm(l.pick(
                        "à vérifier (entité essentielle ou importante ?)",
                        "to check (essential or important entity?)",
                    )),
                },
            ),
            field(
                l.pick("Violation transfrontière", "Cross-border breach"),
                Text::confirm(l.pick(
                    "non a priori (personnes résidant en France)",
                    "not expected (persons living in France)",
                )),
            ),
        ],
    ));
    (title, addressee, sections, false)
}

pub fn letter(ctx: &mut Ctx) -> Built {
    let l = ctx.lang();
    let title = l
        .pick(
            "Information des personnes concernées par une violation de leurs données (RGPD, art. 34)",
            "Informing the persons concerned by a breach of their data (GDPR Art. 34)",
        )
        .to_string();
    let touched = touched_stores(ctx);
    let subjects: Vec<String> = touched
        .iter()
        .flat_map(|t| t.store.data_subjects.iter().cloned())
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        });
    let addressee = if subjects.is_empty() {
        l.pick("Personnes concernées", "Persons concerned")
            .to_string()
    } else {
        tr!(
            l,
            "Personnes concernées : {}",
            "Persons concerned: {}",
            subjects.join(" ; ")
        )
    };
    let org = ctx
        .assets
        .organisation
        .clone()
        .unwrap_or_else(|| l.pick("notre collectivité", "our organisation").to_string());
    let mut sections = Vec::new();
    let start = ctx.scope.attack_period.map(|p| p.first);
    let start_ev: Vec<Evidence> = ctx
        .scope
        .entry_point
        .iter()
        .flat_map(|e| e.evidence.iter().cloned())
        .collect();
    let notes = ctx.cite(&start_ev, 1);
    let date = start
        .map(|t| vigie_lang::long_date(l, ctx.opts.zone, t))
        .unwrap_or_else(|| "…".into());
    let known = vigie_lang::long_date(l, ctx.opts.zone, ctx.opts.known_at.time);
    sections.push(section(
        l.pick("Madame, Monsieur,", "Dear Sir or Madam,").into(),
        vec![Block::Para {
            text: Text::plain(tr!(
                l,
                "{org} a été victime d'une cyberattaque. Les attaquants se sont introduits dans notre système informatique à partir du {date} ; nous l'avons découvert le {known}. Nous vous écrivons parce que des informations vous concernant se trouvaient dans les fichiers touchés.",
                "{org} has been the victim of a cyberattack. The attackers got into our IT system from {date}; we found out on {known}. We are writing to you because information about you was in the files affected.",
            ))
            .cite(notes)
            .confirm_if(ctx.opts.known_at.to_confirm()),
        }],
    ));
    let probable = touched.iter().any(|t| t.probable_exfiltration);
    let ev: Vec<Evidence> = touched
        .iter()
        .flat_map(|t| t.exposures.iter().flat_map(|e| e.evidence.iter().cloned()))
        .collect();
    let notes = ctx.cite(&ev, 2);
    let mut cats: Vec<DataCategory> = Vec::new();
    for t in &touched {
        for c in &t.store.data_categories {
            if !cats.contains(c) {
                cats.push(*c);
            }
        }
    }
    let what = if probable {
        Text::confirm(l.pick(
            "Selon notre analyse, les attaquants ont probablement copié des fichiers contenant des informations vous concernant. Nous ne pouvons pas encore dire avec certitude quelles informations précises ont été copiées.",
            "According to our analysis, the attackers probably copied files holding information about you. We cannot yet say for certain which exact information was copied.",
        ))
        .cite(notes)
    } else {
        Text::confirm(l.pick(
            "Les attaquants ont eu accès à des fichiers contenant des informations vous concernant. Nous ne savons pas encore s'ils les ont copiés.",
            "The attackers had access to files holding information about you. We do not know yet whether they copied them.",
        ))
        .cite(notes)
    };
    let mut blocks = vec![Block::Para { text: what }];
    if cats.is_empty() {
        blocks.push(Block::Para {
            text: to_fill(
                l,
                l.pick(
                    "catégories de données concernées",
                    "categories of data concerned",
                ),
            ),
        });
    } else {
        blocks.push(Block::Para {
            text: Text::plain(l.pick("Ces fichiers peuvent contenir :", "These files may hold:")),
        });
        blocks.push(Block::List {
            items: cats
                .iter()
                .map(|c| Text::plain(facts::category(l, *c)))
                .collect(),
        });
    }
    sections.push(section(
        l.pick("Ce qui s'est passé", "What happened").into(),
        blocks,
    ));
    let host_down = touched.iter().any(|t| t.host_compromised);
    sections.push(section(
        l.pick(
            "Les conséquences possibles pour vous",
            "What it may mean for you",
        )
        .into(),
        vec![Block::List {
            items: consequences(l, &cats, !touched.is_empty(), host_down),
        }],
    ));
    sections.push(section(
        l.pick("Ce que nous avons fait", "What we have done").into(),
        vec![Block::List {
            items: vec![
                Text::confirm(l.pick(
                    "Nous avons coupé l'accès des attaquants et isolé les systèmes touchés.",
                    "We cut the attackers' access and isolated the systems affected.",
                )),
                to_fill(
                    l,
                    l.pick("date du dépôt de plainte", "date the complaint was filed"),
                ),
                to_fill(
                    l,
                    l.pick(
                        "date de la notification à la CNIL",
                        "date the CNIL was notified",
                    ),
                ),
            ],
        }],
    ));
    sections.push(section(
        l.pick("Ce que nous vous recommandons", "What we recommend").into(),
        vec![Block::List {
            items: vec![
                Text::plain(l.pick(
                    "Méfiez-vous des courriels, SMS et appels inattendus qui se réclament de nous ou d'un organisme public et vous demandent des informations, un paiement ou de cliquer sur un lien.",
                    "Beware of unexpected e-mails, texts and calls claiming to come from us or a public body and asking for information, a payment or a click on a link.",
                )),
                Text::plain(l.pick(
                    "Ne communiquez jamais vos mots de passe ni vos coordonnées bancaires : nous ne vous les demanderons jamais.",
                    "Never give your passwords or bank details: we will never ask for them.",
                )),
                Text::plain(l.pick(
                    "Surveillez vos comptes bancaires et signalez toute opération inconnue à votre banque.",
                    "Watch your bank accounts and report any unknown transaction to your bank.",
                )),
                Text::plain(l.pick(
                    "Si vous êtes victime d'une tentative d'escroquerie, signalez-la sur cybermalveillance.gouv.fr et déposez plainte.",
                    "If you are the target of a scam, report it on cybermalveillance.gouv.fr and file a complaint.",
                )),
            ],
        }],
    ));
    let d = &ctx.assets.organisation_details;
    sections.push(section(
        l.pick("Pour en savoir plus", "To find out more").into(),
        vec![
            field(
                l.pick(
                    "Notre délégué à la protection des données",
                    "Our data protection officer",
                ),
                contact(l, &d.dpo, l.pick("coordonnées du DPO", "DPO's contact")),
            ),
            Block::Para {
                text: Text::plain(l.pick(
                    "Vous pouvez aussi adresser une réclamation à la CNIL (cnil.fr).",
                    "You may also lodge a complaint with the CNIL (cnil.fr).",
                )),
            },
            Block::Para {
                text: contact(
                    l,
                    &d.representative,
                    l.pick(
                        "signature du représentant légal",
                        "signature of the legal representative",
                    ),
                ),
            },
        ],
    ));
    (title, addressee, sections, true)
}
