//! `assets.yml`: the organisation as Vigie's scope stage reads it.
//!
//! Built as a `vigie_scope::Assets` value and serialized, so the file can
//! never drift from the format the scope stage parses.

use vigie_scope::{
    AccountAsset, AccountKind, AlternativeAsset, Assets, ContactAsset, DataCategory,
    DataStoreAsset, HostAsset, LocalText, LocalTextBoth, NetworksAsset, Nis2Status,
    OrganisationDetails, Sensitivity, ServiceAsset, StatusPageAsset, ZoneAsset,
};

use crate::org::{Org, Zone};

fn zone_name(z: Zone) -> &'static str {
    match z {
        Zone::Isolated => "state-id",
        other => other.name(),
    }
}

fn host_role_services(name: &str, zone: Zone) -> (&'static str, Vec<&'static str>) {
    match (name, zone) {
        (_, Zone::Core) => ("domain_controller", vec!["*"]),
        ("SRV-FIC01", _) => (
            "file_server",
            vec!["civil-registry", "social-action", "finance-payroll"],
        ),
        ("SRV-APP01", _) => ("database_server", vec!["finance-payroll", "pool"]),
        ("SRV-SOC01", _) => ("application_server", vec!["social-action"]),
        ("SRV-BKP01", _) => ("backup_server", vec!["backups"]),
        ("SRV-RDS01", _) => ("remote_desktop", vec!["remote-work"]),
        ("SRV-WEB01", _) => ("web_server", vec!["family-portal"]),
        (_, Zone::Aquatic) => ("application_server", vec!["pool"]),
        (_, Zone::Isolated) => ("isolated_station", vec!["passports-id-cards"]),
        (_, Zone::Edge) => ("firewall", vec!["remote-work"]),
        _ => ("workstation", vec!["front-desk"]),
    }
}

pub fn build(org: &Org) -> Assets {
    let zone = |name: &str, description: &str, critical: bool, isolated: bool| ZoneAsset {
        name: name.into(),
        description: Some(description.into()),
        critical,
        isolated,
    };
    let zones = vec![
        zone("core", "Active Directory ccpab.local", true, false),
        zone(
            "servers",
            "Serveurs métiers, fichiers, sauvegardes, bureau à distance",
            true,
            false,
        ),
        zone(
            "aquatic-centre",
            "Centre aquatique : billetterie et tourniquets",
            false,
            false,
        ),
        zone("workstations", "Postes de travail des agents", false, false),
        zone(
            "state-id",
            "Station de recueil passeports / CNI, sur la ligne sécurisée de l'État",
            true,
            true,
        ),
        zone("edge", "Pare-feu FortiGate et VPN SSL", false, false),
    ];
    let hosts = org
        .hosts
        .iter()
        .map(|h| {
            let (role, services) = host_role_services(&h.name, h.zone);
            HostAsset {
                name: h.name.clone(),
                zone: Some(zone_name(h.zone).into()),
                role: Some(role.into()),
                services: services.into_iter().map(String::from).collect(),
                addresses: vec![h.ip.clone()],
                description: Some(h.role.clone()),
            }
        })
        .collect();
    let account =
        |name: &str, kind, privileged, mfa: Option<bool>, description: &str| AccountAsset {
            name: name.into(),
            kind,
            privileged,
            mfa,
            description: Some(description.into()),
        };
    let accounts = vec![
        account(
            "presta.maint",
            AccountKind::Provider,
            true,
            Some(false),
            "Prestataire informatique, VPN sans MFA, membre de « Admins du domaine »",
        ),
        account(
            "adm.tech01",
            AccountKind::Admin,
            true,
            None,
            "Technicien informatique 1 (compte d'administration)",
        ),
        account(
            "adm.tech02",
            AccountKind::Admin,
            true,
            None,
            "Technicien informatique 2 (compte d'administration)",
        ),
        account(
            "svc_veeam",
            AccountKind::Service,
            true,
            None,
            "Compte de service Veeam, SPN acceptant RC4",
        ),
        account(
            "svc_sql",
            AccountKind::Service,
            false,
            None,
            "Compte de service SQL Server (SRV-APP01)",
        ),
    ];
    use DataCategory::*;
    // Categories, subjects and approximate counts: what the DPO's register
    // of processing says, so that a breach notification can be pre-filled.
    let store = |name: &str,
                 path: &str,
                 sensitivity,
                 description: &str,
                 categories: &[DataCategory],
                 subjects: &[&str],
                 persons: Option<u64>,
                 records: Option<u64>| DataStoreAsset {
        name: name.into(),
        host: "SRV-FIC01".into(),
        path: Some(path.into()),
        share: Some(name.into()),
        sensitivity,
        personal_data: !matches!(sensitivity, Sensitivity::Internal),
        description: Some(description.into()),
        data_categories: categories.to_vec(),
        data_subjects: subjects.iter().map(|s| s.to_string()).collect(),
        persons,
        records,
    };
    let data_stores = vec![
        store(
            "CIAS",
            "D:\\Partages\\CIAS",
            Sensitivity::SpecialCategory,
            "Dossiers sociaux du CIAS",
            &[
                Identity,
                FamilySituation,
                Social,
                EconomicFinancial,
                Nir,
                Health,
            ],
            &[
                "Bénéficiaires de l'action sociale et leurs familles",
                "Personnes âgées et personnes en situation de handicap",
            ],
            Some(3_400),
            Some(12_800),
        ),
        store(
            "RH",
            "D:\\Partages\\RH",
            Sensitivity::Personal,
            "Ressources humaines",
            &[
                Identity,
                FamilySituation,
                ProfessionalLife,
                EconomicFinancial,
                Nir,
            ],
            &["Agents et anciens agents"],
            Some(260),
            Some(4_100),
        ),
        store(
            "Etat-civil",
            "D:\\Partages\\Etat-civil",
            Sensitivity::Personal,
            "État civil",
            &[Identity, FamilySituation],
            &["Habitants (actes de naissance, de mariage et de décès)"],
            Some(41_000),
            Some(58_000),
        ),
        store(
            "Commun",
            "D:\\Partages\\Commun",
            Sensitivity::Internal,
            "Partage commun des services",
            &[],
            &[],
            None,
            None,
        ),
    ];
    let both = |fr: &str, en: &str| {
        LocalText::Both(LocalTextBoth {
            fr: fr.into(),
            en: Some(en.into()),
        })
    };
    let weekdays = both(
        "du lundi au vendredi, 9 h – 12 h 30 et 13 h 30 – 17 h",
        "Monday to Friday, 9:00–12:30 and 13:30–17:00",
    );
    let admin = both("Démarches administratives", "Administrative procedures");
    let service = |name: &str, description: &str| ServiceAsset {
        name: name.into(),
        description: Some(description.into()),
        ..ServiceAsset::default()
    };
    let services = vec![
        ServiceAsset {
            public_name: Some(both("État civil", "Civil registry")),
            public_description: Some(both(
                "Actes de naissance, de mariage et de décès",
                "Birth, marriage and death certificates",
            )),
            group: Some(admin.clone()),
            dependants: Some("Habitants des 8 communes".into()),
            dependants_count: Some(27_000),
            alternative: Some(AlternativeAsset {
                description: Some(both(
                    "Les demandes d'actes sont reçues à l'accueil de votre mairie et traitées dès le retour du service.",
                    "Certificate requests are taken at your town hall's front desk and processed as soon as the service is back.",
                )),
                phone: Some("02 61 91 00 10".into()),
                hours: Some(weekdays.clone()),
                ..AlternativeAsset::default()
            }),
            ..service("civil-registry", "État civil (naissances, mariages, décès)")
        },
        ServiceAsset {
            public_name: Some(both("Paiements et factures", "Payments and invoices")),
            public_description: Some(both(
                "Factures de la communauté de communes et paiements aux fournisseurs",
                "The community's invoices and payments to suppliers",
            )),
            group: Some(admin.clone()),
            dependants: Some("Habitants et fournisseurs".into()),
            alternative: Some(AlternativeAsset {
                description: Some(both(
                    "Aucune pénalité de retard ne sera appliquée pendant l'interruption.",
                    "No late-payment penalty will be charged during the interruption.",
                )),
                phone: Some("02 61 91 00 11".into()),
                hours: Some(weekdays.clone()),
                ..AlternativeAsset::default()
            }),
            ..service("finance-payroll", "Finances et paie")
        },
        ServiceAsset {
            public_name: Some(both("Action sociale (CIAS)", "Social services (CIAS)")),
            public_description: Some(both(
                "Aides sociales, portage de repas, aide à domicile",
                "Social benefits, meal delivery, home help",
            )),
            group: Some(both("Solidarité", "Social support")),
            dependants: Some(
                "Bénéficiaires du CIAS : personnes âgées, familles, personnes en difficulté".into(),
            ),
            dependants_count: Some(3_400),
            alternative: Some(AlternativeAsset {
                description: Some(both(
                    "Le CIAS reste joignable par téléphone ; les visites à domicile et le portage de repas sont maintenus.",
                    "The CIAS can still be reached by phone; home visits and meal delivery continue.",
                )),
                phone: Some("02 61 91 00 12".into()),
                address: Some("CIAS, 3 place de l'Église, 29990 Pen-Ar-Bed".into()),
                hours: Some(weekdays.clone()),
                ..AlternativeAsset::default()
            }),
            ..service("social-action", "Action sociale (CIAS)")
        },
        ServiceAsset {
            public_name: Some(both("Portail familles", "Family portal")),
            public_description: Some(both(
                "Inscriptions à la cantine et à l'accueil périscolaire",
                "Canteen and after-school childcare bookings",
            )),
            group: Some(both("Enfance et jeunesse", "Children and youth")),
            dependants: Some("Familles des écoles du territoire".into()),
            dependants_count: Some(2_100),
            alternative: Some(AlternativeAsset {
                description: Some(both(
                    "Les inscriptions se font par téléphone ou auprès des animateurs ; les repas sont assurés.",
                    "Bookings are taken by phone or by the staff on site; school meals are served as usual.",
                )),
                phone: Some("02 61 91 00 13".into()),
                hours: Some(weekdays.clone()),
                ..AlternativeAsset::default()
            }),
            ..service(
                "family-portal",
                "Portail familles : cantine et accueil périscolaire",
            )
        },
        ServiceAsset {
            internal: true,
            ..service("backups", "Sauvegardes")
        },
        ServiceAsset {
            internal: true,
            ..service("remote-work", "Télétravail (VPN et bureau à distance)")
        },
        ServiceAsset {
            public_name: Some(both("Centre aquatique", "Aquatic centre")),
            public_description: Some(both(
                "Bassins, billetterie et abonnements",
                "Pools, tickets and season passes",
            )),
            group: Some(both("Sports et loisirs", "Sport and leisure")),
            dependants: Some("Usagers, scolaires et clubs".into()),
            dependants_count: Some(900),
            alternative: Some(AlternativeAsset {
                description: Some(both(
                    "Paiement sur place en espèces ou par chèque ; les abonnements seront prolongés.",
                    "Pay on site in cash or by cheque; season passes will be extended.",
                )),
                phone: Some("02 61 91 00 14".into()),
                address: Some("Centre aquatique, route de la Plage, 29990 Pen-Ar-Bed".into()),
                hours: Some(both(
                    "tous les jours, 10 h – 19 h",
                    "every day, 10:00–19:00",
                )),
                ..AlternativeAsset::default()
            }),
            ..service("pool", "Centre aquatique : ouverture et billetterie")
        },
        ServiceAsset {
            public_name: Some(both("Accueil du public", "Front desks")),
            public_description: Some(both(
                "Accueil physique et téléphonique des services",
                "In-person and phone reception",
            )),
            group: Some(admin.clone()),
            dependants: Some("Habitants des 8 communes".into()),
            dependants_count: Some(27_000),
            alternative: Some(AlternativeAsset {
                description: Some(both(
                    "L'accueil est assuré sur papier ; reportez vos démarches non urgentes.",
                    "Front desks work on paper; please postpone non-urgent requests.",
                )),
                phone: Some("02 61 91 00 00".into()),
                address: Some("Siège de la communauté de communes, 1 rue de la Mairie, 29990 Pen-Ar-Bed".into()),
                hours: Some(weekdays.clone()),
                ..AlternativeAsset::default()
            }),
            ..service("front-desk", "Accueil du public")
        },
        ServiceAsset {
            public_name: Some(both(
                "Passeports et cartes d'identité",
                "Passports and identity cards",
            )),
            public_description: Some(both(
                "Dépôt et retrait des demandes, sur rendez-vous",
                "Applications and collection, by appointment",
            )),
            group: Some(admin),
            dependants: Some("Habitants et usagers extérieurs".into()),
            ..service(
                "passports-id-cards",
                "Passeports et cartes nationales d'identité (station de l'État)",
            )
        },
    ];
    let contact = |name: &str, role: &str, email: &str, phone: &str| ContactAsset {
        name: Some(name.into()),
        role: Some(role.into()),
        email: Some(email.into()),
        phone: Some(phone.into()),
        address: None,
    };
    let organisation_details = OrganisationDetails {
        siren: Some("200099992".into()),
        kind: Some("communauté de communes".into()),
        address: Some("1 rue de la Mairie, 29990 Pen-Ar-Bed".into()),
        population: Some(27_000),
        representative: contact(
            "Yann Le Goff",
            "Président de la communauté de communes",
            "president@ccpab.example",
            "02 61 91 00 01",
        ),
        dpo: contact(
            "Cécile Le Gall",
            "Déléguée à la protection des données",
            "dpo@ccpab.example",
            "02 61 91 00 02",
        ),
        crisis_cell: contact(
            "Cellule de crise (direction générale des services)",
            "Directrice générale des services",
            "crise@ccpab.example",
            "02 61 91 00 03",
        ),
        insurer: ContactAsset {
            name: Some("Assureur cyber de la collectivité".into()),
            phone: Some("02 61 91 00 04".into()),
            ..ContactAsset::default()
        },
        insurance_policy: Some("CYB-2025-0042".into()),
        nis2: Nis2Status::Important,
        nis2_authority: Some("ANSSI".into()),
        nis2_sector: Some("administration publique".into()),
    };
    let status_page = StatusPageAsset {
        title: Some(both(
            "État des services — Communauté de communes de Pen-Ar-Bed",
            "Service status — Pen-Ar-Bed community of communes",
        )),
        intro: Some(both(
            "Nos services sont touchés par une cyberattaque. Cette page, hébergée hors de notre réseau, indique pour chaque service ce qui fonctionne et comment nous joindre.",
            "Our services are hit by a cyberattack. This page, hosted outside our network, says for each service what works and how to reach us.",
        )),
        url: Some("https://statut.ccpab.example/".into()),
        phone: Some("02 61 91 00 00".into()),
    };
    Assets {
        organisation: Some("Communauté de communes de Pen-Ar-Bed".into()),
        domains: vec!["ccpab.local".into(), "CCPAB".into()],
        zones,
        hosts,
        accounts,
        data_stores,
        services,
        networks: NetworksAsset {
            vpn_pools: vec!["10.212.134.0/24".into()],
            internal: Vec::new(),
        },
        organisation_details,
        status_page,
    }
}

pub fn render(org: &Org) -> String {
    let mut out = String::from("# Assets of the reference scenario (Communauté de communes de Pen-Ar-Bed).\n# Generated by vigie-scenario; format: docs/assets.example.yml.\n");
    out.push_str(&serde_yaml_ng::to_string(&build(org)).expect("plain data serializes"));
    out
}
