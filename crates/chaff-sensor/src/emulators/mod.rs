//! Which code answers on which port of which service.
//!
//! [`Emulator`] has one variant per protocol emulator, holding what that emulator prepared
//! from the environment at start-up (keys, banners, pages); every other port runs the
//! [`generic`] low-interaction listener. Adding an emulator means: a module here with a
//! `from_env` constructor and an async `serve`, one variant, and one arm in each `match`
//! below. The listening framework, the events around each connection and the limits stay in
//! [`crate::listener`].

pub mod ber;
pub mod conpot;
pub mod dns;
pub mod docker_api;
pub mod elasticsearch;
pub mod framed;
pub mod ftp;
pub mod generic;
pub mod http;
pub mod k8s;
pub mod ldap;
pub mod llmnr;
pub mod mailbox;
pub mod mongodb;
pub mod mqtt;
pub mod mssql;
pub mod mysql;
pub mod ntlm;
pub mod postgres;
pub mod rdp;
pub mod redis;
pub mod shell;
pub mod sip;
pub mod smb;
pub mod smtp;
pub mod sniffer;
pub mod snmp;
pub mod spnego;
pub mod ssh;
pub mod telnet;
pub mod text_lines;
pub mod tftp;
pub mod vnc;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Event, Kind};
use crate::listener::{self, Session, Stream, TcpLimits};
use crate::ports::{Port, Service, Transport};
use crate::recorder::Recorder;

/// The emulator serving one port.
pub enum Emulator {
    /// Accepts, reads and records; answers nothing.
    Generic,
    /// BIND 9 look-alike (`dns`, 53/udp and 53/tcp).
    Dns(dns::Dns),
    /// SNMP v1/v2c agent (`snmp`, 161/udp).
    Snmp(snmp::Snmp),
    /// TFTP server (`tftp`, 69/udp).
    Tftp(tftp::Tftp),
    /// vsftpd or ProFTPD (`ftp`, port 21).
    Ftp(ftp::Ftp),
    /// A web server: `http` port 80 in the clear, port 443 of `http` and `https` over TLS.
    Http(http::Http),
    /// Postfix, Exim or Sendmail (`smtp` and `smtp_relay`, ports 25 and 587); boxed, it is
    /// the largest.
    Smtp(Box<smtp::Smtp>),
    /// `mssql` on 1433.
    Mssql(mssql::Mssql),
    /// `mysql` on 3306.
    Mysql(mysql::Mysql),
    /// `postgres` on 5432.
    Postgres(postgres::Postgres),
    /// Dovecot's IMAP (`imap`, 143 in the clear and 993 over TLS).
    Imap(mailbox::imap::Imap),
    /// Dovecot's POP3 (`pop3`, 110 in the clear and 995 over TLS).
    Pop3(mailbox::pop3::Pop3),
    /// OpenLDAP or Active Directory (`ldap`, 389 with StartTLS, 636 over TLS).
    Ldap(ldap::Ldap),
    /// A MongoDB server without access control (`mongodb`, 27017).
    Mongodb(mongodb::Mongodb),
    /// A Mosquitto broker (`mqtt`, 1883).
    Mqtt(mqtt::Mqtt),
    /// `redis` on 6379 (boxed: its state is larger than the other variants').
    Redis(Box<redis::Redis>),
    /// SSH server with the fake shell.
    Ssh(ssh::Ssh),
    /// Telnet login with the fake shell.
    Telnet(telnet::Telnet),
    /// `elasticsearch` on 9200.
    Elasticsearch(elasticsearch::Elasticsearch),
    /// `docker_api`: 2375 in the clear, 2376 over TLS.
    DockerApi(docker_api::DockerApi),
    /// `k8s`: 6443 over TLS, 8080 the insecure port.
    K8s(k8s::K8s),
    /// Windows file sharing (`smb`): 445 direct, 139 over NetBIOS.
    Smb(smb::Smb),
    /// Windows Remote Desktop (`rdp`, 3389).
    Rdp(rdp::Rdp),
    /// A VNC server (`vnc`, 5900).
    Vnc(vnc::Vnc),
    /// Asterisk (`sip`, 5060/udp and 5060/tcp).
    Sip(sip::Sip),
    /// The LLMNR and mDNS detector (`llmnr`, 5355/udp and 5353/udp).
    Llmnr(llmnr::Llmnr),
    /// The PLC's Modbus TCP server (`conpot`, 502); its 161/udp and 80/tcp are `Snmp` and
    /// `Http` with the PLC's persona.
    Modbus(conpot::modbus::Modbus),
}

impl Emulator {
    /// The emulator for `port` of service `slug`, configured from `env`.
    pub fn for_port(slug: &str, port: Port, env: &Env) -> Result<Emulator, ConfigError> {
        Ok(match (slug, port.transport, port.number) {
            ("dns", _, 53) => Emulator::Dns(dns::Dns::from_env(env)?),
            ("snmp", Transport::Udp, 161) => Emulator::Snmp(snmp::Snmp::from_env(env)?),
            ("tftp", Transport::Udp, 69) => Emulator::Tftp(tftp::Tftp::from_env(env)?),
            ("ftp", Transport::Tcp, 21) => Emulator::Ftp(ftp::Ftp::from_env(env)?),
            ("http", Transport::Tcp, 80) => Emulator::Http(http::Http::from_env(env, http::Scheme::Plain)?),
            ("http" | "https", Transport::Tcp, 443) => {
                Emulator::Http(http::Http::from_env(env, http::Scheme::Tls)?)
            }
            ("smtp" | "smtp_relay", Transport::Tcp, 25 | 587) => {
                Emulator::Smtp(Box::new(smtp::Smtp::from_env(env)?))
            }
            ("mssql", Transport::Tcp, 1433) => Emulator::Mssql(mssql::Mssql::from_env(env)?),
            ("mysql", Transport::Tcp, 3306) => Emulator::Mysql(mysql::Mysql::from_env(env)?),
            ("postgres", Transport::Tcp, 5432) => Emulator::Postgres(postgres::Postgres::from_env(env)?),
            ("imap", Transport::Tcp, 143) => {
                Emulator::Imap(mailbox::imap::Imap::from_env(env, mailbox::Transport::Plain)?)
            }
            ("imap", Transport::Tcp, 993) => {
                Emulator::Imap(mailbox::imap::Imap::from_env(env, mailbox::Transport::ImplicitTls)?)
            }
            ("pop3", Transport::Tcp, 110) => {
                Emulator::Pop3(mailbox::pop3::Pop3::from_env(env, mailbox::Transport::Plain)?)
            }
            ("pop3", Transport::Tcp, 995) => {
                Emulator::Pop3(mailbox::pop3::Pop3::from_env(env, mailbox::Transport::ImplicitTls)?)
            }
            ("ldap", Transport::Tcp, 389) => Emulator::Ldap(ldap::Ldap::from_env(env, http::Scheme::Plain)?),
            ("ldap", Transport::Tcp, 636) => Emulator::Ldap(ldap::Ldap::from_env(env, http::Scheme::Tls)?),
            ("mongodb", Transport::Tcp, 27017) => Emulator::Mongodb(mongodb::Mongodb::from_env(env)?),
            ("mqtt", Transport::Tcp, 1883) => Emulator::Mqtt(mqtt::Mqtt::from_env(env)?),
            ("redis", Transport::Tcp, 6379) => Emulator::Redis(Box::new(redis::Redis::from_env(env)?)),
            ("ssh", Transport::Tcp, 22) => Emulator::Ssh(ssh::Ssh::from_env(env)?),
            ("telnet", Transport::Tcp, 23) => Emulator::Telnet(telnet::Telnet::from_env(env)?),
            ("elasticsearch", Transport::Tcp, 9200) => {
                Emulator::Elasticsearch(elasticsearch::Elasticsearch::from_env(env)?)
            }
            ("docker_api", Transport::Tcp, 2375) => {
                Emulator::DockerApi(docker_api::DockerApi::from_env(env, http::Scheme::Plain)?)
            }
            ("docker_api", Transport::Tcp, 2376) => {
                Emulator::DockerApi(docker_api::DockerApi::from_env(env, http::Scheme::Tls)?)
            }
            ("k8s", Transport::Tcp, 6443) => Emulator::K8s(k8s::K8s::from_env(env, http::Scheme::Tls)?),
            ("k8s", Transport::Tcp, 8080) => Emulator::K8s(k8s::K8s::from_env(env, http::Scheme::Plain)?),
            ("smb", Transport::Tcp, 445) => Emulator::Smb(smb::Smb::from_env(env, smb::Framing::Direct)?),
            ("smb", Transport::Tcp, 139) => Emulator::Smb(smb::Smb::from_env(env, smb::Framing::NetBios)?),
            ("rdp", Transport::Tcp, 3389) => Emulator::Rdp(rdp::Rdp::from_env(env)?),
            ("vnc", Transport::Tcp, 5900) => Emulator::Vnc(vnc::Vnc::from_env(env)?),
            ("sip", _, 5060) => Emulator::Sip(sip::Sip::from_env(env)?),
            ("llmnr", Transport::Udp, 5355) => {
                Emulator::Llmnr(llmnr::Llmnr::from_env(env, llmnr::Protocol::Llmnr)?)
            }
            ("llmnr", Transport::Udp, 5353) => {
                Emulator::Llmnr(llmnr::Llmnr::from_env(env, llmnr::Protocol::Mdns)?)
            }
            ("conpot", Transport::Tcp, 502) => Emulator::Modbus(conpot::modbus(env)?),
            ("conpot", Transport::Udp, 161) => Emulator::Snmp(conpot::snmp(env)?),
            ("conpot", Transport::Tcp, 80) => Emulator::Http(conpot::http(env)?),
            _ => Emulator::Generic,
        })
    }

    /// The limits of one connection to this emulator.
    pub fn limits(&self) -> TcpLimits {
        match self {
            Emulator::Generic
            | Emulator::Http(_)
            | Emulator::Elasticsearch(_)
            | Emulator::DockerApi(_)
            | Emulator::K8s(_)
            | Emulator::Sip(_)
            | Emulator::Modbus(_) => TcpLimits::default(),
            Emulator::Dns(_) | Emulator::Snmp(_) | Emulator::Tftp(_) | Emulator::Llmnr(_) => {
                TcpLimits::default()
            }
            Emulator::Ftp(_) => ftp::LIMITS,
            Emulator::Smtp(_) => smtp::LIMITS,
            Emulator::Mssql(_) => mssql::LIMITS,
            Emulator::Mysql(_) => mysql::LIMITS,
            Emulator::Postgres(_) => postgres::LIMITS,
            Emulator::Imap(_) | Emulator::Pop3(_) => mailbox::LIMITS,
            Emulator::Redis(_) => redis::LIMITS,
            Emulator::Mqtt(_) => mqtt::LIMITS,
            Emulator::Mongodb(_) => mongodb::LIMITS,
            Emulator::Ldap(_) => ldap::LIMITS,
            Emulator::Ssh(_) | Emulator::Telnet(_) => TcpLimits::INTERACTIVE,
            Emulator::Smb(_) => smb::LIMITS,
            Emulator::Rdp(_) => rdp::LIMITS,
            Emulator::Vnc(_) => vnc::LIMITS,
        }
    }

    /// Serves one TCP connection until it ends, and says why it ended.
    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        match self {
            Emulator::Generic | Emulator::Snmp(_) | Emulator::Tftp(_) | Emulator::Llmnr(_) => {
                generic::serve(stream).await
            }
            Emulator::Dns(dns) => dns.serve(stream, session).await,
            Emulator::Ftp(ftp) => ftp.serve(stream, session).await,
            Emulator::Http(http) => http.serve(stream, session).await,
            Emulator::Smtp(smtp) => smtp.serve(stream, session).await,
            Emulator::Mssql(mssql) => mssql.serve(stream, session).await,
            Emulator::Mysql(mysql) => mysql.serve(stream, session).await,
            Emulator::Postgres(postgres) => postgres.serve(stream, session).await,
            Emulator::Imap(imap) => imap.serve(stream, session).await,
            Emulator::Pop3(pop3) => pop3.serve(stream, session).await,
            Emulator::Redis(redis) => redis.serve(stream, session).await,
            Emulator::Mqtt(mqtt) => mqtt.serve(stream, session).await,
            Emulator::Mongodb(mongodb) => mongodb.serve(stream, session).await,
            Emulator::Ldap(ldap) => ldap.serve(stream, session).await,
            Emulator::Ssh(ssh) => ssh.serve(stream, session).await,
            Emulator::Telnet(telnet) => telnet.serve(stream, session).await,
            Emulator::Elasticsearch(elasticsearch) => elasticsearch.serve(stream, session).await,
            Emulator::DockerApi(docker) => docker.serve(stream, session).await,
            Emulator::K8s(k8s) => k8s.serve(stream, session).await,
            Emulator::Smb(smb) => smb.serve(stream, session).await,
            Emulator::Rdp(rdp) => rdp.serve(stream, session).await,
            Emulator::Vnc(vnc) => vnc.serve(stream, session).await,
            Emulator::Sip(sip) => sip.serve(stream, session).await,
            Emulator::Modbus(modbus) => modbus.serve(stream, session).await,
        }
    }

    /// The reply to one datagram, if the protocol answers it; the framework has recorded it.
    pub fn answer(&self, datagram: &[u8], peer: SocketAddr, recorder: &Recorder) -> Option<Vec<u8>> {
        match self {
            Emulator::Dns(dns) => dns.answer(datagram, peer, recorder),
            Emulator::Snmp(snmp) => snmp.answer(datagram, peer, recorder),
            Emulator::Tftp(tftp) => tftp.answer(datagram, peer, recorder),
            Emulator::Sip(sip) => sip.answer(datagram, peer, recorder),
            Emulator::Llmnr(llmnr) => llmnr.answer(datagram, peer, recorder),
            Emulator::Generic
            | Emulator::Ftp(_)
            | Emulator::Http(_)
            | Emulator::Mssql(_)
            | Emulator::Mysql(_)
            | Emulator::Postgres(_)
            | Emulator::Imap(_)
            | Emulator::Pop3(_)
            | Emulator::Redis(_)
            | Emulator::Mqtt(_)
            | Emulator::Mongodb(_)
            | Emulator::Ldap(_)
            | Emulator::Smtp(_)
            | Emulator::Ssh(_)
            | Emulator::Telnet(_)
            | Emulator::Elasticsearch(_)
            | Emulator::DockerApi(_)
            | Emulator::K8s(_)
            | Emulator::Smb(_)
            | Emulator::Rdp(_)
            | Emulator::Vnc(_)
            | Emulator::Modbus(_) => None,
        }
    }
}

/// Why the sensor could not start serving. Fatal: a sensor missing one of its ports, or
/// serving with a half-applied configuration, would be a decky that looks broken.
#[derive(Debug)]
pub enum StartError {
    /// A port could not be bound.
    Bind { port: Port, addr: SocketAddr, source: io::Error },
    /// The environment configures an emulator wrongly.
    Config { port: Port, source: ConfigError },
    /// The sniffer (no ports) could not open its capture.
    Capture(sniffer::CaptureError),
}

impl StartError {
    fn port(&self) -> Port {
        match self {
            StartError::Bind { port, .. } | StartError::Config { port, .. } => *port,
            StartError::Capture(_) => Port { number: 0, transport: Transport::Udp },
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Bind { port, addr, source } => {
                write!(f, "cannot listen on {} port {} ({addr}): {source}", port.transport, port.number)
            }
            StartError::Config { port, source } => {
                write!(f, "cannot configure {} port {}: {source}", port.transport, port.number)
            }
            StartError::Capture(source) => source.fmt(f),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Bind { source, .. } => Some(source),
            StartError::Config { source, .. } => Some(source),
            StartError::Capture(source) => Some(source),
        }
    }
}

/// The variable naming declared ports that another service of the decky serves (two
/// services of one decky share its address; the engine gives each shared port to one).
pub const SKIP_PORTS_ENV: &str = "CHAFF_SKIP_PORTS";

/// The ports of [`SKIP_PORTS_ENV`]: `443/tcp,53/udp`.
fn skipped_ports(env: &Env) -> Result<Vec<Port>, ConfigError> {
    let Some(list) = env.get(SKIP_PORTS_ENV) else { return Ok(Vec::new()) };
    list.split(',')
        .map(|item| {
            let (number, transport) = item.trim().split_once('/').unwrap_or((item, ""));
            let transport = match transport {
                "tcp" => Transport::Tcp,
                "udp" => Transport::Udp,
                _ => {
                    return Err(ConfigError::new(
                        SKIP_PORTS_ENV,
                        format!("expected PORT/tcp or PORT/udp, got {item:?}"),
                    ));
                }
            };
            let number = number.parse().map_err(|_| {
                ConfigError::new(SKIP_PORTS_ENV, format!("expected PORT/tcp or PORT/udp, got {item:?}"))
            })?;
            Ok(Port { number, transport })
        })
        .collect()
}

enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

/// Configures and binds every port of `service` on `ip`, then serves them all as tasks on
/// the current tokio runtime (call it inside one). Nothing is served unless every port could
/// be configured and bound; a failure is also recorded as an `error` event. The portless
/// `sniffer` starts its capture instead ([`sniffer::start`]).
pub fn start(
    service: &Service,
    ip: IpAddr,
    env: &Env,
    recorder: &Arc<Recorder>,
) -> Result<Vec<JoinHandle<()>>, StartError> {
    if service.slug == sniffer::SLUG {
        return sniffer::start(env, recorder).map(|task| vec![task]).map_err(StartError::Capture);
    }
    let fail = |error: StartError| {
        let port = error.port();
        let message = error.to_string();
        recorder.record(&Event {
            transport: port.transport,
            src: None,
            dst_port: port.number,
            conn: None,
            kind: Kind::Error { message: &message },
        });
        error
    };
    let skipped = skipped_ports(env).map_err(|source| {
        let port = service.ports.first().copied().unwrap_or(Port { number: 0, transport: Transport::Tcp });
        fail(StartError::Config { port, source })
    })?;
    let mut ready = Vec::with_capacity(service.ports.len());
    for &port in service.ports.iter().filter(|p| !skipped.contains(p)) {
        let emulator = Emulator::for_port(service.slug, port, env)
            .map_err(|source| fail(StartError::Config { port, source }))?;
        let addr = SocketAddr::new(ip, port.number);
        let bound = match port.transport {
            Transport::Tcp => std::net::TcpListener::bind(addr).map(Bound::Tcp),
            Transport::Udp => std::net::UdpSocket::bind(addr).map(Bound::Udp),
        };
        let bound = bound.map_err(|source| fail(StartError::Bind { port, addr, source }))?;
        ready.push((port, addr, Arc::new(emulator), bound));
    }
    let mut tasks = Vec::with_capacity(ready.len());
    for (port, addr, emulator, bound) in ready {
        let recorder = Arc::clone(recorder);
        let bind_error = |source| fail(StartError::Bind { port, addr, source });
        let task = match bound {
            Bound::Tcp(l) => {
                let listener = l.set_nonblocking(true).and_then(|()| tokio::net::TcpListener::from_std(l));
                let listener = listener.map_err(bind_error)?;
                let limits = emulator.limits();
                tokio::spawn(listener::serve_tcp(listener, emulator, limits, recorder))
            }
            Bound::Udp(s) => {
                let socket = s.set_nonblocking(true).and_then(|()| tokio::net::UdpSocket::from_std(s));
                let socket = socket.map_err(bind_error)?;
                tokio::spawn(listener::serve_udp(socket, emulator, recorder))
            }
        };
        tasks.push(task);
    }
    Ok(tasks)
}
