//! `assets.yml`: the organisation as Vigie's scope stage reads it.
//!
//! Built as a `vigie_scope::Assets` value and serialized, so the file can
//! never drift from the format the scope stage parses.

use vigie_scope::{
    AccountAsset, AccountKind, Assets, DataStoreAsset, HostAsset, NetworksAsset, Sensitivity,
    ServiceAsset, ZoneAsset,
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
    let store = |name: &str, path: &str, sensitivity, description: &str| DataStoreAsset {
        name: name.into(),
        host: "SRV-FIC01".into(),
        path: Some(path.into()),
        share: Some(name.into()),
        sensitivity,
        personal_data: !matches!(sensitivity, Sensitivity::Internal),
        description: Some(description.into()),
    };
    let data_stores = vec![
        store(
            "CIAS",
            "D:\\Partages\\CIAS",
            Sensitivity::SpecialCategory,
            "Dossiers sociaux du CIAS",
        ),
        store(
            "RH",
            "D:\\Partages\\RH",
            Sensitivity::Personal,
            "Ressources humaines",
        ),
        store(
            "Etat-civil",
            "D:\\Partages\\Etat-civil",
            Sensitivity::Personal,
            "État civil",
        ),
        store(
            "Commun",
            "D:\\Partages\\Commun",
            Sensitivity::Internal,
            "Partage commun des services",
        ),
    ];
    let service = |name: &str, description: &str| ServiceAsset {
        name: name.into(),
        description: Some(description.into()),
    };
    let services = vec![
        service("civil-registry", "État civil (naissances, mariages, décès)"),
        service("finance-payroll", "Finances et paie"),
        service("social-action", "Action sociale (CIAS)"),
        service(
            "family-portal",
            "Portail familles : cantine et accueil périscolaire",
        ),
        service("backups", "Sauvegardes"),
        service("remote-work", "Télétravail (VPN et bureau à distance)"),
        service("pool", "Centre aquatique : ouverture et billetterie"),
        service("front-desk", "Accueil du public"),
        service(
            "passports-id-cards",
            "Passeports et cartes nationales d'identité (station de l'État)",
        ),
    ];
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
    }
}

pub fn render(org: &Org) -> String {
    let mut out = String::from("# Assets of the reference scenario (Communauté de communes de Pen-Ar-Bed).\n# Generated by vigie-scenario; format: docs/assets.example.yml.\n");
    out.push_str(&serde_yaml_ng::to_string(&build(org)).expect("plain data serializes"));
    out
}
