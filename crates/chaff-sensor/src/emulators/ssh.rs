//! SSH (port 22): a real SSH-2 server (russh, ring) that identifies as the persona's
//! OpenSSH and offers OpenSSH's algorithms in OpenSSH's order. Every password,
//! keyboard-interactive and public-key attempt is recorded as `auth`; the configured
//! credentials (see [`shell`](super::shell)) open the fake shell — interactive with a pty,
//! a script without one, or one command (`ssh host cmd`). Other attempts are rejected as
//! OpenSSH does: the password prompt repeats, and the sixth failure disconnects ("Too many
//! authentication failures"). Forwarding requests are recorded (`forward`) and refused.
//!
//! Host keys (ECDSA P-256 and Ed25519; the ring build of russh has no RSA) are generated at
//! start-up.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PrivateKey};
use russh::server::{self, Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Response, Session as SshSession};
use russh::{
    Channel, ChannelId, ChannelOpenFailure, Disconnect, MethodKind, MethodSet, Preferred, SshId, cipher,
    compression, kex, mac,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use super::shell::{Account, Console, Host, Script, ScriptReply, Settings, Start, Terminal, crlf};
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream};

/// OpenSSH's `MaxAuthTries`: the failure that reaches it ends the connection.
const MAX_AUTH_FAILURES: u32 = 6;
/// OpenSSH's `MaxSessions`: channels open at once on one connection.
const MAX_CHANNELS: usize = 10;
/// The longest `exec` command run (and recorded); longer ones are cut.
const MAX_EXEC_COMMAND: usize = 16 * 1024;
/// PAM's delay after a wrong password (pam_unix: about two seconds).
const PASSWORD_FAILURE_DELAY: Duration = Duration::from_millis(2000);

/// Key exchange, ciphers and MACs as OpenSSH 8/9 offers them, minus what russh lacks
/// (sntrup761, umac). Strict key exchange (the Terrapin fix) is advertised by every
/// persona, as their patched packages do; `ext-info-s` only from OpenSSH 9.6.
const KEX: &[kex::Name] = &[
    kex::CURVE25519,
    kex::CURVE25519_PRE_RFC_8731,
    kex::ECDH_SHA2_NISTP256,
    kex::ECDH_SHA2_NISTP384,
    kex::ECDH_SHA2_NISTP521,
    kex::DH_GEX_SHA256,
    kex::DH_G16_SHA512,
    kex::DH_G18_SHA512,
    kex::DH_G14_SHA256,
    kex::EXTENSION_SUPPORT_AS_SERVER,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

/// [`KEX`] as the persona's OpenSSH version lists it.
fn key_exchanges(host: &Host) -> Vec<kex::Name> {
    let extension_info = host.distro.openssh_version() >= (9, 6);
    KEX.iter().copied().filter(|name| extension_info || *name != kex::EXTENSION_SUPPORT_AS_SERVER).collect()
}
const HOST_KEYS: &[Algorithm] = &[Algorithm::Ecdsa { curve: EcdsaCurve::NistP256 }, Algorithm::Ed25519];
const CIPHERS: &[cipher::Name] = &[
    cipher::CHACHA20_POLY1305,
    cipher::AES_128_CTR,
    cipher::AES_192_CTR,
    cipher::AES_256_CTR,
    cipher::AES_128_GCM,
    cipher::AES_256_GCM,
];
const MACS: &[mac::Name] = &[
    mac::HMAC_SHA256_ETM,
    mac::HMAC_SHA512_ETM,
    mac::HMAC_SHA1_ETM,
    mac::HMAC_SHA256,
    mac::HMAC_SHA512,
    mac::HMAC_SHA1,
];

/// The SSH emulator of one decky: its host keys and machine, shared by every connection.
pub struct Ssh {
    config: Arc<server::Config>,
    host: Arc<Host>,
}

impl Ssh {
    /// Reads the `SSH_*` variables and generates the host keys.
    pub fn from_env(env: &Env) -> Result<Ssh, ConfigError> {
        let settings = Settings::from_env(env, "SSH")?;
        let host = Arc::new(Host::new(settings, SystemTime::now()));
        let keys =
            host_keys().map_err(|e| ConfigError::new("SSH", format!("cannot generate host keys: {e}")))?;
        Ok(Ssh { config: Arc::new(server_config(&host, keys)), host })
    }

    /// Serves one connection until the client leaves or is disconnected.
    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let (served, stream) = TiedStream::new(stream);
        let shared = Arc::new(Shared::default());
        let handler = Connection::new(Arc::clone(&self.host), session.clone(), Arc::clone(&shared));
        let result = match server::run_stream(Arc::clone(&self.config), stream, handler).await {
            Ok(running) => {
                // Set before the session task first runs: the handshake needs the client's
                // replies first.
                let _ = shared.handle.set(running.handle());
                running.await
            }
            Err(e) => Err(e),
        };
        drop(served);
        let ended =
            if shared.closed_by_server.load(Ordering::Relaxed) { EndReason::Closed } else { EndReason::Eof };
        match result {
            Ok(()) => Ok(ended),
            Err(e) if client_left(&e) => Ok(ended),
            Err(e) => Err(into_io(e)),
        }
    }
}

/// Whether russh failed only because the client closed its side (before or after its
/// identification).
fn client_left(error: &russh::Error) -> bool {
    match error {
        russh::Error::Disconnect => true,
        russh::Error::IO(e) => e.kind() == io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

fn into_io(error: russh::Error) -> io::Error {
    match error {
        russh::Error::IO(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// ECDSA P-256 and Ed25519 host keys, fresh for this process.
fn host_keys() -> Result<Vec<PrivateKey>, russh::keys::ssh_key::Error> {
    let mut rng = russh::keys::key::safe_rng();
    HOST_KEYS.iter().map(|algorithm| PrivateKey::random(&mut rng, algorithm.clone())).collect()
}

/// The methods OpenSSH lists with `PasswordAuthentication yes`.
fn methods() -> MethodSet {
    MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..])
}

fn server_config(host: &Host, keys: Vec<PrivateKey>) -> server::Config {
    server::Config {
        server_id: SshId::Standard(host.distro.ssh_identification().into()),
        methods: methods(),
        // Rejections are timed by the handler: passwords like PAM, keys at once.
        auth_rejection_time: Duration::ZERO,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys,
        // The handler counts failures as OpenSSH does (the first `none` probe is free).
        max_auth_attempts: 0,
        // The framework's stream enforces the idle timeout.
        inactivity_timeout: None,
        keepalive_interval: None,
        nodelay: true,
        preferred: Preferred {
            kex: key_exchanges(host).into(),
            key: HOST_KEYS.into(),
            cipher: CIPHERS.into(),
            mac: MACS.into(),
            compression: (&[compression::NONE][..]).into(),
            ..Preferred::DEFAULT
        },
        ..server::Config::default()
    }
}

/// What the connection's handler (inside russh's session task) tells `serve`.
#[derive(Default)]
struct Shared {
    /// The server ended the session: too many failures, or the shell exited.
    closed_by_server: AtomicBool,
    /// The session's handle, to disconnect it from inside the handler.
    handle: OnceLock<server::Handle>,
}

/// The client's stream as the russh session task owns it. russh runs each session on a
/// task of its own; once `serve` returns or is dropped (the framework's session time
/// limit), the sender of `served` is gone and every read and write fails, so that task
/// ends and the socket closes: the task never outlives its connection.
struct TiedStream {
    inner: Stream,
    served: oneshot::Receiver<()>,
    cut: bool,
}

impl TiedStream {
    fn new(inner: Stream) -> (oneshot::Sender<()>, TiedStream) {
        let (sender, served) = oneshot::channel();
        (sender, TiedStream { inner, served, cut: false })
    }

    /// Whether `serve` is gone; registers for the wake-up when it goes.
    fn is_cut(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.cut && Pin::new(&mut self.served).poll(cx).is_ready() {
            self.cut = true;
        }
        self.cut
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the session ended")
}

impl AsyncRead for TiedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_cut(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TiedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_cut(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A session channel, from its opening to its shell.
enum ChannelState {
    /// Opened; a pty may have been requested (its terminal type).
    Opened {
        term: Option<String>,
    },
    Terminal(Terminal),
    Script(Script),
    /// A command ran, or the shell ended: input is ignored.
    Done,
}

/// One connection's handler.
struct Connection {
    host: Arc<Host>,
    session: Session,
    shared: Arc<Shared>,
    /// Authentication requests so far.
    attempts: u32,
    /// Failed ones, as OpenSSH counts them (not the client's first `none` probe).
    failures: u32,
    account: Option<Account>,
    channels: HashMap<ChannelId, ChannelState>,
    /// Shells and commands started on this connection (numbers transcripts).
    started: u32,
}

impl Connection {
    fn new(host: Arc<Host>, session: Session, shared: Arc<Shared>) -> Connection {
        Connection {
            host,
            session,
            shared,
            attempts: 0,
            failures: 0,
            account: None,
            channels: HashMap::new(),
            started: 0,
        }
    }

    /// The reply to a rejected attempt: the same methods again, so clients keep trying.
    fn reject() -> Auth {
        Auth::Reject { proceed_with_methods: Some(methods()), partial_success: false }
    }

    /// Counts a failure; the one that reaches `MaxAuthTries` disconnects, as OpenSSH does.
    async fn fail(&mut self) -> Result<(), russh::Error> {
        self.failures += 1;
        if self.failures < MAX_AUTH_FAILURES {
            return Ok(());
        }
        self.shared.closed_by_server.store(true, Ordering::Relaxed);
        match self.shared.handle.get() {
            Some(handle) => {
                handle
                    .disconnect(
                        Disconnect::ProtocolError,
                        "Too many authentication failures".into(),
                        String::new(),
                    )
                    .await
            }
            None => Err(russh::Error::Disconnect),
        }
    }

    /// A password (or keyboard-interactive answer): recorded, then checked.
    async fn password(&mut self, user: &str, password: &[u8], method: &str) -> Result<Auth, russh::Error> {
        self.attempts += 1;
        let account = self.host.authenticate(user, password).cloned();
        self.session.record(
            "auth",
            Fields::new()
                .text("username", user)
                .bytes("password", password)
                .text("method", method)
                .flag("success", account.is_some()),
        );
        if let Some(account) = account {
            self.account = Some(account);
            return Ok(Auth::Accept);
        }
        let jitter = Duration::from_millis(fastrand::u64(..500));
        tokio::time::sleep(PASSWORD_FAILURE_DELAY + jitter).await;
        self.fail().await?;
        Ok(Self::reject())
    }

    /// Starts the shell or command of `channel` as the logged-in account.
    fn console(&mut self, start: Start<'_>) -> Option<Console> {
        let account = self.account.clone()?;
        self.started += 1;
        Some(Console::open(&self.host, &account, &self.session, "ssh", start, self.started))
    }

    /// Queues `bytes` on `channel` (`stderr` as extended data 1). While the client has not
    /// opened its window for earlier output, new output is dropped: what waits for the
    /// client is never more than one reply.
    fn send(
        session: &mut SshSession,
        channel: ChannelId,
        bytes: Vec<u8>,
        stderr: bool,
    ) -> Result<(), russh::Error> {
        if bytes.is_empty() || session.has_pending_data(channel) {
            return Ok(());
        }
        if stderr { session.extended_data(channel, 1, bytes) } else { session.data(channel, bytes) }
    }

    /// Ends `channel` with `status`, as when the shell exits.
    fn finish(session: &mut SshSession, channel: ChannelId, status: u8) -> Result<(), russh::Error> {
        session.exit_status_request(channel, u32::from(status))?;
        session.eof(channel)?;
        session.close(channel)
    }

    async fn script_replies(
        session: &mut SshSession,
        channel: ChannelId,
        replies: Vec<ScriptReply>,
    ) -> Result<(), russh::Error> {
        for reply in replies {
            if !reply.delay.is_zero() {
                tokio::time::sleep(reply.delay).await;
            }
            Self::send(session, channel, reply.stderr, true)?;
            Self::send(session, channel, reply.stdout, false)?;
        }
        Ok(())
    }
}

impl server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        self.attempts += 1;
        if self.attempts > 1 {
            self.fail().await?;
        }
        Ok(Self::reject())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        self.password(user, password.as_bytes(), "password").await
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.attempts += 1;
        let key = offer.public_key;
        self.session.record(
            "auth",
            Fields::new()
                .text("username", user)
                .text("method", "publickey")
                .text("key_type", key.algorithm().as_str())
                .text("key_fingerprint", key.fingerprint(HashAlg::Sha256).to_string())
                .flag("success", false),
        );
        self.fail().await?;
        Ok(Auth::reject())
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        match response {
            None => Ok(Auth::Partial {
                name: "".into(),
                instructions: "".into(),
                prompts: vec![("Password: ".into(), false)].into(),
            }),
            Some(mut answers) => {
                let password = answers.next().unwrap_or_default();
                self.password(user, &password, "keyboard-interactive").await
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        // Input arrives through `data`; the channel's own queue would fill up unread.
        let id = channel.id();
        drop(channel);
        if self.channels.len() >= MAX_CHANNELS {
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        self.channels.insert(id, ChannelState::Opened { term: None });
        reply.accept().await;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        drop(channel);
        self.record_forward("local", host_to_connect, port_to_connect);
        reply.reject(ChannelOpenFailure::ConnectFailed).await;
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut SshSession,
    ) -> Result<bool, Self::Error> {
        self.record_forward("remote", address, *port);
        Ok(false)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(ChannelState::Opened { term: wanted }) => {
                let term: String = term.chars().take(64).collect();
                *wanted = Some(if term.is_empty() { "dumb".into() } else { term });
                session.channel_success(channel)
            }
            _ => session.channel_failure(channel),
        }
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        variable_name: &str,
        _variable_value: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        // OpenSSH's default `AcceptEnv LANG LC_*`.
        if variable_name == "LANG" || variable_name.starts_with("LC_") {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(ChannelState::Opened { term }) = self.channels.get(&channel) else {
            return session.channel_failure(channel);
        };
        let term = term.clone();
        let Some(console) = self.console(Start::Shell { term: term.as_deref() }) else {
            return session.channel_failure(channel);
        };
        session.channel_success(channel)?;
        let state = if term.is_some() {
            let mut terminal = Terminal::new(console);
            Self::send(session, channel, terminal.greeting(), false)?;
            ChannelState::Terminal(terminal)
        } else {
            ChannelState::Script(Script::new(console))
        };
        self.channels.insert(channel, state);
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(ChannelState::Opened { term }) = self.channels.get(&channel) else {
            return session.channel_failure(channel);
        };
        let pty = term.is_some();
        let Some(mut console) = self.console(Start::Exec) else {
            return session.channel_failure(channel);
        };
        session.channel_success(channel)?;
        let command = &data[..data.len().min(MAX_EXEC_COMMAND)];
        let outcome = console.execute(command);
        let mut reply = ScriptReply::of(&outcome);
        if pty {
            // One terminal: both streams arrive as output, with CR LF.
            let text = String::from_utf8_lossy(&[reply.stderr, reply.stdout].concat()).into_owned();
            reply = ScriptReply { delay: reply.delay, stdout: crlf(&text), stderr: Vec::new() };
        }
        Self::script_replies(session, channel, vec![reply]).await?;
        self.channels.insert(channel, ChannelState::Done);
        Self::finish(session, channel, outcome.status)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let username = self.account.as_ref().map(|a| a.name.clone()).unwrap_or_default();
        self.session.record(
            "session",
            Fields::new()
                .text("username", username)
                .text("mode", "subsystem")
                .bytes("subsystem", name.as_bytes()),
        );
        session.channel_failure(channel)
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(ChannelState::Terminal(terminal)) => {
                for reply in terminal.feed(data) {
                    if !reply.delay.is_zero() {
                        tokio::time::sleep(reply.delay).await;
                    }
                    Self::send(session, channel, reply.bytes, false)?;
                }
                if terminal.ended() {
                    self.channels.insert(channel, ChannelState::Done);
                    self.shared.closed_by_server.store(true, Ordering::Relaxed);
                    Self::finish(session, channel, 0)?;
                }
            }
            Some(ChannelState::Script(script)) => {
                let replies = script.feed(data);
                let (ended, status) = (script.ended(), script.status());
                Self::script_replies(session, channel, replies).await?;
                if ended {
                    self.channels.insert(channel, ChannelState::Done);
                    self.shared.closed_by_server.store(true, Ordering::Relaxed);
                    Self::finish(session, channel, status)?;
                }
            }
            Some(ChannelState::Opened { .. } | ChannelState::Done) | None => {}
        }
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut SshSession) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(ChannelState::Script(script)) => {
                let reply = script.finish();
                let status = script.status();
                Self::script_replies(session, channel, reply.into_iter().collect()).await?;
                self.channels.insert(channel, ChannelState::Done);
                Self::finish(session, channel, status)
            }
            Some(ChannelState::Terminal(_)) => {
                self.channels.insert(channel, ChannelState::Done);
                Self::finish(session, channel, 0)
            }
            _ => Ok(()),
        }
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}

impl Connection {
    fn record_forward(&self, direction: &str, host: &str, port: u32) {
        let username = self.account.as_ref().map(|a| a.name.clone()).unwrap_or_default();
        self.session.record(
            "forward",
            Fields::new()
                .text("username", username)
                .text("direction", direction)
                .bytes("host", host.as_bytes())
                .num("port", u64::from(port)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_the_two_ring_can_sign() {
        let keys = host_keys().unwrap();
        let algorithms: Vec<Algorithm> = keys.iter().map(|k| k.algorithm()).collect();
        assert_eq!(algorithms, HOST_KEYS);
    }

    #[test]
    fn configuration_names_the_persona() {
        let env = Env::from_pairs([("NODE_NAME", "decky-01"), ("SSH_DISTRO", "ubuntu22")]);
        let ssh = Ssh::from_env(&env).unwrap();
        match &ssh.config.server_id {
            SshId::Standard(id) => assert_eq!(id, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10"),
            SshId::Raw(id) => panic!("raw id {id}"),
        }
        assert_eq!(ssh.config.keys.len(), 2);
        assert!(!ssh.config.preferred.kex.contains(&kex::EXTENSION_SUPPORT_AS_SERVER));
        assert!(ssh.config.preferred.kex.contains(&kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER));
        let alpine = Ssh::from_env(&Env::from_pairs([("SSH_DISTRO", "alpine")])).unwrap();
        assert!(alpine.config.preferred.kex.contains(&kex::EXTENSION_SUPPORT_AS_SERVER));
        assert_eq!(ssh.config.methods, methods());
        let error = Ssh::from_env(&Env::from_pairs([("SSH_DISTRO", "beos")])).err().unwrap();
        assert_eq!(error.var, "SSH_DISTRO");
    }
}
