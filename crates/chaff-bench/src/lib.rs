//! The plain-Rust baseline for the plugin benchmarks: the built-in service plugins' own code,
//! compiled natively and called directly, with the same inputs and outputs the wasm path has.

use chaff_plugin_host::{ConfigValue, DeckyContext, ServiceConfig};
use chaff_plugin_sdk::{Config, Decky, Fragment, RenderError, ServiceInfo, ServicePlugin};

/// Every built-in service's catalogue entry, from the native build.
pub fn native_catalog() -> Vec<ServiceInfo> {
    [
        <chaff_service_conpot::Conpot as ServicePlugin>::catalog(),
        <chaff_service_dns::Dns as ServicePlugin>::catalog(),
        <chaff_service_docker_api::DockerApi as ServicePlugin>::catalog(),
        <chaff_service_elasticsearch::Elasticsearch as ServicePlugin>::catalog(),
        <chaff_service_ftp::Ftp as ServicePlugin>::catalog(),
        <chaff_service_http::Http as ServicePlugin>::catalog(),
        <chaff_service_k8s::K8s as ServicePlugin>::catalog(),
        <chaff_service_ldap::Ldap as ServicePlugin>::catalog(),
        <chaff_service_llmnr::Llmnr as ServicePlugin>::catalog(),
        <chaff_service_mailbox::Mailbox as ServicePlugin>::catalog(),
        <chaff_service_mongodb::Mongodb as ServicePlugin>::catalog(),
        <chaff_service_mqtt::Mqtt as ServicePlugin>::catalog(),
        <chaff_service_mssql::Mssql as ServicePlugin>::catalog(),
        <chaff_service_mysql::Mysql as ServicePlugin>::catalog(),
        <chaff_service_postgres::Postgres as ServicePlugin>::catalog(),
        <chaff_service_rdp::Rdp as ServicePlugin>::catalog(),
        <chaff_service_redis::Redis as ServicePlugin>::catalog(),
        <chaff_service_shell::Shell as ServicePlugin>::catalog(),
        <chaff_service_sip::Sip as ServicePlugin>::catalog(),
        <chaff_service_smb::Smb as ServicePlugin>::catalog(),
        <chaff_service_smtp::Smtp as ServicePlugin>::catalog(),
        <chaff_service_sniffer::Sniffer as ServicePlugin>::catalog(),
        <chaff_service_snmp::Snmp as ServicePlugin>::catalog(),
        <chaff_service_tftp::Tftp as ServicePlugin>::catalog(),
        <chaff_service_vnc::Vnc as ServicePlugin>::catalog(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Renders `slug` with the natively compiled plugin.
pub fn native_render(slug: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
    match slug {
        "conpot" => <chaff_service_conpot::Conpot as ServicePlugin>::render(slug, decky, config),
        "dns" => <chaff_service_dns::Dns as ServicePlugin>::render(slug, decky, config),
        "docker_api" => <chaff_service_docker_api::DockerApi as ServicePlugin>::render(slug, decky, config),
        "elasticsearch" => {
            <chaff_service_elasticsearch::Elasticsearch as ServicePlugin>::render(slug, decky, config)
        }
        "ftp" => <chaff_service_ftp::Ftp as ServicePlugin>::render(slug, decky, config),
        "http" => <chaff_service_http::Http as ServicePlugin>::render(slug, decky, config),
        "https" => <chaff_service_http::Http as ServicePlugin>::render(slug, decky, config),
        "imap" => <chaff_service_mailbox::Mailbox as ServicePlugin>::render(slug, decky, config),
        "k8s" => <chaff_service_k8s::K8s as ServicePlugin>::render(slug, decky, config),
        "ldap" => <chaff_service_ldap::Ldap as ServicePlugin>::render(slug, decky, config),
        "llmnr" => <chaff_service_llmnr::Llmnr as ServicePlugin>::render(slug, decky, config),
        "mongodb" => <chaff_service_mongodb::Mongodb as ServicePlugin>::render(slug, decky, config),
        "mqtt" => <chaff_service_mqtt::Mqtt as ServicePlugin>::render(slug, decky, config),
        "mssql" => <chaff_service_mssql::Mssql as ServicePlugin>::render(slug, decky, config),
        "mysql" => <chaff_service_mysql::Mysql as ServicePlugin>::render(slug, decky, config),
        "pop3" => <chaff_service_mailbox::Mailbox as ServicePlugin>::render(slug, decky, config),
        "postgres" => <chaff_service_postgres::Postgres as ServicePlugin>::render(slug, decky, config),
        "rdp" => <chaff_service_rdp::Rdp as ServicePlugin>::render(slug, decky, config),
        "redis" => <chaff_service_redis::Redis as ServicePlugin>::render(slug, decky, config),
        "sip" => <chaff_service_sip::Sip as ServicePlugin>::render(slug, decky, config),
        "smb" => <chaff_service_smb::Smb as ServicePlugin>::render(slug, decky, config),
        "smtp" => <chaff_service_smtp::Smtp as ServicePlugin>::render(slug, decky, config),
        "smtp_relay" => <chaff_service_smtp::Smtp as ServicePlugin>::render(slug, decky, config),
        "sniffer" => <chaff_service_sniffer::Sniffer as ServicePlugin>::render(slug, decky, config),
        "snmp" => <chaff_service_snmp::Snmp as ServicePlugin>::render(slug, decky, config),
        "ssh" => <chaff_service_shell::Shell as ServicePlugin>::render(slug, decky, config),
        "telnet" => <chaff_service_shell::Shell as ServicePlugin>::render(slug, decky, config),
        "tftp" => <chaff_service_tftp::Tftp as ServicePlugin>::render(slug, decky, config),
        "vnc" => <chaff_service_vnc::Vnc as ServicePlugin>::render(slug, decky, config),
        other => Err(RenderError::unknown_service(other)),
    }
}

/// The SDK's view of a decky, as the wasm glue would build it.
pub fn sdk_decky(decky: &DeckyContext) -> Decky {
    Decky {
        name: decky.name.clone(),
        hostname: decky.hostname.clone(),
        ip: decky.ip.clone(),
        distro: decky.distro.clone(),
        os_family: decky.os_family.clone(),
        archetype: decky.archetype.clone(),
    }
}

/// The SDK's view of a validated config, as the wasm glue would build it.
pub fn sdk_config(config: &ServiceConfig) -> Config {
    Config::new(
        config
            .0
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    ConfigValue::Text(s) => chaff_plugin_sdk::ConfigValue::Text(s.clone()),
                    ConfigValue::Integer(i) => chaff_plugin_sdk::ConfigValue::Integer(*i),
                    ConfigValue::Boolean(b) => chaff_plugin_sdk::ConfigValue::Boolean(*b),
                    ConfigValue::Choices(c) => chaff_plugin_sdk::ConfigValue::Choices(c.clone()),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// A fleet of `deckies` deckies with `services_per_decky` services each, cycling through
/// every per-decky service, built the way a user builds one: by importing an INI.
pub fn bench_fleet(
    host: &chaff_plugin_host::PluginHost,
    deckies: usize,
    services_per_decky: usize,
) -> chaff_engine::Fleet {
    use chaff_engine::catalogue::Catalogue;
    use chaff_engine::ini::{ImportOptions, MAX_AMOUNT, import_ini};

    let catalogue = Catalogue::from_plugins(host);
    let pool = catalogue.available();
    let group = MAX_AMOUNT as usize;
    let mut ini = String::from("[general]\nname = bench\nnet = 10.200.0.0/20\n");
    for g in 0..deckies.div_ceil(group) {
        let amount = group.min(deckies - g * group);
        // Cycle through the pool from this group's offset; a decky refuses two services on
        // one port (smtp and smtp_relay), so clashing picks are skipped.
        let mut rotated = pool.clone();
        rotated.rotate_left((g * services_per_decky) % pool.len());
        let mut services = catalogue.without_port_clashes(rotated);
        services.truncate(services_per_decky);
        ini.push_str(&format!("\n[group{g}]\namount = {amount}\nservices = {}\n", services.join(", ")));
    }
    let options = ImportOptions { default_fleet_name: "bench", reserved: &[], now: 0 };
    import_ini(&ini, &catalogue, &options, &mut fastrand::Rng::with_seed(1)).expect("bench INI imports")
}
