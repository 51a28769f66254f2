//! TLS on port 443: the configured certificate (`TLS_CERT` + `TLS_KEY`, PEM), or one made at
//! start-up for `TLS_CN` (else the decky's name) the way the decky's distribution would
//! have made it; ALPN; and what a handshake tells about the client, for the `tls` event.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, SerialNumber};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ServerConnection};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use super::config::Settings;
use crate::env::{ConfigError, Env};

/// How long a made certificate is valid: ten years, as the distributions' own tools make
/// them.
const VALIDITY: Duration = Duration::from_secs(3650 * 86_400);

/// Most ALPN protocols of a ClientHello kept for the event.
const MAX_ALPN_OFFERED: usize = 16;

/// The server's TLS configuration, offering `alpn` (most preferred first).
pub fn server_config(
    env: &Env,
    settings: &Settings,
    alpn: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, ConfigError> {
    let (chain, key) = match configured_identity(env)? {
        Some(identity) => identity,
        None => {
            let (name, var) = match env.get("TLS_CN") {
                Some(cn) => (cn.trim(), "TLS_CN"),
                None if settings.decky.is_empty() => ("localhost", "NODE_NAME"),
                None => (settings.decky.as_str(), "NODE_NAME"),
            };
            let issuer = IssuerStyle::of_distro(settings.distro.as_deref());
            made_identity(name, issuer, settings.installed())
                .map_err(|e| ConfigError::new(var, format!("cannot make a certificate for {name:?}: {e}")))?
        }
    };
    config_for(chain, key, alpn)
        .map_err(|e| ConfigError::new("TLS_KEY", format!("unusable with TLS_CERT: {e}")))
}

/// A server configuration (ring, the safe protocol versions) serving `chain` with `key`
/// and offering `alpn`.
pub fn config_for(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = alpn;
    Ok(Arc::new(config))
}

/// A TLS acceptor without ALPN and with a fresh certificate for `name`, made as `distro`'s
/// own tools make one (Debian's `ssl-cert` snakeoil: `CN=<host>`): what a mail or
/// directory server's implicit-TLS port serves.
pub fn made_acceptor(name: &str, distro: &str) -> Result<TlsAcceptor, Box<dyn std::error::Error>> {
    let issuer = IssuerStyle::of_distro(Some(distro));
    let (chain, key) = made_identity(name, issuer, SystemTime::now())?;
    Ok(TlsAcceptor::from(config_for(chain, key, Vec::new())?))
}

/// A client connection, in the clear or inside TLS (after implicit TLS or STARTTLS).
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// `TLS_CERT` and `TLS_KEY`: both or neither.
fn configured_identity(
    env: &Env,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ConfigError> {
    let (cert, key) = match (env.get("TLS_CERT"), env.get("TLS_KEY")) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(ConfigError::new("TLS_KEY", "TLS_CERT is set: set its private key too"));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new("TLS_CERT", "TLS_KEY is set: set its certificate too"));
        }
        (Some(cert), Some(key)) => (cert, key),
    };
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::new("TLS_CERT", format!("not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(ConfigError::new("TLS_CERT", "no PEM certificate (BEGIN CERTIFICATE) in it"));
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| ConfigError::new("TLS_KEY", format!("not a PEM private key: {e}")))?;
    Ok(Some((chain, key)))
}

/// Who signs a made certificate, as the decky's distribution would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerStyle {
    /// Debian's `make-ssl-cert` "snakeoil": self-signed, `CN=<host>` only.
    Snakeoil,
    /// Red Hat's `sscg`: signed by a throwaway CA `OU=ca-<number>`, both under
    /// `O=Unspecified`.
    Sscg,
    /// A hand-run `openssl req -x509` with OpenSSL's default answers (`Internet Widgits Pty
    /// Ltd`).
    OpensslDefaults,
}

impl IssuerStyle {
    pub fn of_distro(distro: Option<&str>) -> IssuerStyle {
        match distro {
            Some("rocky9" | "centos7" | "fedora") => IssuerStyle::Sscg,
            Some("alpine" | "arch") => IssuerStyle::OpensslDefaults,
            _ => IssuerStyle::Snakeoil,
        }
    }
}

/// A certificate for `name` (as CN and as the one SAN) valid for ten years from
/// `not_before`, with its fresh ECDSA P-256 key.
pub fn made_identity(
    name: &str,
    issuer: IssuerStyle,
    not_before: SystemTime,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![name.to_owned()])?;
    // rcgen takes `time` dates; the epoch plus a duration avoids depending on `time` here.
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch(not_before);
    params.not_after = epoch + since_epoch(not_before + VALIDITY);
    params.serial_number = Some(random_serial());
    params.distinguished_name = subject(name, issuer);
    let cert = match issuer {
        IssuerStyle::Sscg => {
            let ca_key = KeyPair::generate()?;
            let mut ca = CertificateParams::new(Vec::<String>::new())?;
            ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
            ca.not_before = params.not_before;
            ca.not_after = params.not_after;
            ca.serial_number = Some(random_serial());
            ca.distinguished_name =
                sscg_name(name, Some(&format!("ca-{}", fastrand::u32(1_000_000_000..=u32::MAX))));
            params.signed_by(&key, &Issuer::new(ca, ca_key))?
        }
        IssuerStyle::Snakeoil | IssuerStyle::OpensslDefaults => params.self_signed(&key)?,
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((vec![cert.der().clone()], key))
}

fn subject(name: &str, issuer: IssuerStyle) -> DistinguishedName {
    match issuer {
        IssuerStyle::Snakeoil => {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, name);
            dn
        }
        IssuerStyle::Sscg => sscg_name(name, None),
        IssuerStyle::OpensslDefaults => {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CountryName, "AU");
            dn.push(DnType::StateOrProvinceName, "Some-State");
            dn.push(DnType::OrganizationName, "Internet Widgits Pty Ltd");
            dn.push(DnType::CommonName, name);
            dn
        }
    }
}

fn sscg_name(name: &str, unit: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::LocalityName, "Default City");
    dn.push(DnType::OrganizationName, "Unspecified");
    if let Some(unit) = unit {
        dn.push(DnType::OrganizationalUnitName, unit);
    }
    dn.push(DnType::CommonName, name);
    dn
}

/// A positive 20-byte serial, as OpenSSL makes them.
fn random_serial() -> SerialNumber {
    let mut bytes: Vec<u8> = (0..20).map(|_| fastrand::u8(..)).collect();
    bytes[0] = bytes[0] & 0x7f | 0x01;
    SerialNumber::from_slice(&bytes)
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// What the client's ClientHello said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hello {
    pub sni: Option<String>,
    pub alpn_offered: Vec<Vec<u8>>,
}

impl Hello {
    pub fn of(hello: &ClientHello<'_>) -> Hello {
        Hello {
            sni: hello.server_name().map(str::to_owned),
            alpn_offered: hello
                .alpn()
                .map(|protocols| protocols.take(MAX_ALPN_OFFERED).map(<[u8]>::to_vec).collect())
                .unwrap_or_default(),
        }
    }
}

/// What the handshake settled: version, cipher suite, application protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub version: String,
    pub cipher: String,
    pub alpn: Option<Vec<u8>>,
}

impl Settled {
    pub fn of(connection: &ServerConnection) -> Settled {
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        let cipher =
            connection.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
        Settled { version, cipher, alpn: connection.alpn_protocol().map(<[u8]>::to_vec) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn made_certificates_name_the_host() {
        for style in [IssuerStyle::Snakeoil, IssuerStyle::Sscg, IssuerStyle::OpensslDefaults] {
            let (chain, _key) = made_identity("intranet.corp.local", style, UNIX_EPOCH + VALIDITY).unwrap();
            let der = chain[0].as_ref();
            let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
            assert!(contains(b"intranet.corp.local"), "{style:?}");
            assert_eq!(contains(b"Internet Widgits Pty Ltd"), style == IssuerStyle::OpensslDefaults);
            assert_eq!(contains(b"Unspecified"), style == IssuerStyle::Sscg);
            // Ten years from 1979-12-30: both dates are UTCTime, the second in 1989.
            assert!(contains(b"791230000000Z") && contains(b"891227000000Z"), "{style:?}");
        }
        let (chain, _) = made_identity("10.0.0.5", IssuerStyle::Snakeoil, SystemTime::now()).unwrap();
        // An address is named by an IP SAN (tag 0x87, four bytes).
        assert!(chain[0].as_ref().windows(6).any(|w| w == [0x87, 4, 10, 0, 0, 5]));
    }

    #[test]
    fn issuer_follows_the_distribution() {
        assert_eq!(IssuerStyle::of_distro(Some("debian")), IssuerStyle::Snakeoil);
        assert_eq!(IssuerStyle::of_distro(Some("rocky9")), IssuerStyle::Sscg);
        assert_eq!(IssuerStyle::of_distro(Some("arch")), IssuerStyle::OpensslDefaults);
        assert_eq!(IssuerStyle::of_distro(None), IssuerStyle::Snakeoil);
    }

    #[test]
    fn cert_and_key_go_together() {
        let config = |pairs: &[(&str, &str)]| {
            let env = Env::from_pairs(pairs.iter().copied());
            server_config(&env, &settings(pairs), Vec::new()).map(|_| ())
        };
        assert!(config(&[("NODE_NAME", "web-01")]).is_ok());
        assert_eq!(config(&[("TLS_CERT", "x")]).unwrap_err().var, "TLS_KEY");
        assert_eq!(config(&[("TLS_KEY", "x")]).unwrap_err().var, "TLS_CERT");
        assert_eq!(config(&[("TLS_CERT", "junk"), ("TLS_KEY", "junk")]).unwrap_err().var, "TLS_CERT");

        let key = KeyPair::generate().unwrap();
        let cert =
            CertificateParams::new(vec!["given.example".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        assert!(config(&[("TLS_CERT", &cert_pem), ("TLS_KEY", &key_pem)]).is_ok());
        assert_eq!(config(&[("TLS_CERT", &cert_pem), ("TLS_KEY", "junk")]).unwrap_err().var, "TLS_KEY");
        let other_key = KeyPair::generate().unwrap().serialize_pem();
        assert_eq!(config(&[("TLS_CERT", &cert_pem), ("TLS_KEY", &other_key)]).unwrap_err().var, "TLS_KEY");
    }
}
