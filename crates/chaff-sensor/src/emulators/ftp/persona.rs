//! Which FTP server a decky runs and what exactly it says: vsftpd or ProFTPD, as the decky's
//! distribution packages them, with each server's own reply wording (clients and scanners
//! such as `nmap -sV` recognise servers by these texts).

use std::net::IpAddr;

/// An FTP server implementation as a distribution ships it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// vsftpd of this version: banner `220 (vsFTPd 3.0.3)`.
    Vsftpd(&'static str),
    /// ProFTPD with Debian's packaging (`ServerName "Debian"`, no version in the banner).
    Proftpd,
}

/// The FTP servers each distribution (the `FTP_DISTRO` slugs) packages; a decky runs one of
/// them, picked from its name.
const DISTRO_SERVERS: &[(&str, &[Server])] = &[
    ("debian", &[Server::Vsftpd("3.0.3"), Server::Proftpd]),
    ("ubuntu22", &[Server::Vsftpd("3.0.5"), Server::Proftpd]),
    ("ubuntu20", &[Server::Vsftpd("3.0.3"), Server::Proftpd]),
    ("kali", &[Server::Vsftpd("3.0.3"), Server::Proftpd]),
    ("rocky9", &[Server::Vsftpd("3.0.5")]),
    ("centos7", &[Server::Vsftpd("3.0.2")]),
    ("fedora", &[Server::Vsftpd("3.0.5")]),
    ("alpine", &[Server::Vsftpd("3.0.5")]),
    ("arch", &[Server::Vsftpd("3.0.5")]),
];

/// The distribution slugs `FTP_DISTRO` accepts.
pub fn known_distros() -> impl Iterator<Item = &'static str> {
    DISTRO_SERVERS.iter().map(|(slug, _)| *slug)
}

impl Server {
    /// The server `distro` packages, chosen by `seed` among its candidates; `None` for an
    /// unknown distribution.
    pub fn for_distro(distro: &str, seed: u64) -> Option<Server> {
        let (_, servers) = DISTRO_SERVERS.iter().find(|(slug, _)| *slug == distro)?;
        Some(servers[(seed % servers.len() as u64) as usize])
    }

    /// Whether the server offers `MLST`/`MLSD` (ProFTPD's mod_facts does, vsftpd does not).
    pub fn has_mlst(self) -> bool {
        self == Server::Proftpd
    }

    /// The text of `reply`, without the final CRLF; multi-line replies are joined by CRLF.
    pub fn reply(self, reply: Reply<'_>) -> String {
        match self {
            Server::Vsftpd(version) => vsftpd(version, reply),
            Server::Proftpd => proftpd(reply),
        }
    }
}

/// The data representation set by `TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferType {
    Ascii,
    Binary,
}

/// Every reply the emulator sends, with what varies in it.
#[derive(Clone, Copy, Debug)]
pub enum Reply<'a> {
    /// The greeting; `local` is the address the client connected to.
    Banner {
        local: IpAddr,
    },
    NeedPassword {
        user: &'a str,
        anonymous: bool,
    },
    LoggedIn {
        user: &'a str,
        anonymous: bool,
    },
    LoginIncorrect,
    /// `PASS` before `USER`.
    UserFirst,
    /// A command that needs a login, before one.
    PleaseLogin,
    AlreadyLoggedIn,
    CannotChangeUser,
    Syst,
    Features,
    Help,
    Noop,
    Utf8On,
    /// `OPTS MLST <facts>` (ProFTPD): the facts MLST/MLSD will show.
    MlstFacts {
        facts: &'a str,
    },
    BadOption,
    Pwd {
        path: &'a str,
    },
    DirectoryChanged,
    NoSuchDirectory {
        arg: &'a str,
    },
    /// `CWD` into a directory the user may not enter.
    DirectoryDenied {
        arg: &'a str,
    },
    Type(TransferType),
    BadType,
    ModeStream,
    StructureFile,
    Passive {
        ip: [u8; 4],
        port: u16,
    },
    ExtendedPassive {
        port: u16,
    },
    EpsvAll,
    PassiveUnavailable,
    PortAccepted,
    EprtAccepted,
    BadPort,
    /// A transfer command with no data connection prepared.
    NoDataConnection,
    /// The data connection was never made (or made from a foreign address).
    DataConnectionFailed,
    ListStart,
    MlsdStart,
    ListDone,
    /// `LIST` of a directory the user may not read.
    ListUnreadable {
        arg: &'a str,
    },
    /// `LIST` of a path that does not exist.
    ListMissing {
        arg: &'a str,
    },
    RetrieveStart {
        name: &'a str,
        size: u64,
        transfer_type: TransferType,
    },
    StoreStart {
        name: &'a str,
        transfer_type: TransferType,
    },
    TransferComplete,
    /// A `STOR` larger than the emulator accepts.
    StoreTooLarge {
        arg: &'a str,
    },
    /// A `STOR` into a directory that does not exist.
    CannotCreate {
        arg: &'a str,
    },
    /// A file that cannot be opened (missing or unreadable).
    CannotOpen {
        arg: &'a str,
    },
    Size(u64),
    SizeFailed {
        arg: &'a str,
    },
    Mdtm(&'a str),
    /// `MFMT` (ProFTPD): the modification time "set".
    Mfmt {
        stamp: &'a str,
        arg: &'a str,
    },
    MdtmFailed {
        arg: &'a str,
    },
    /// `MLST` of one path: its facts line.
    Mlst {
        path: &'a str,
        facts: &'a str,
    },
    /// MKD, RMD, DELE, RNFR, SITE CHMOD...: always refused.
    Refused {
        verb: &'a str,
        arg: &'a str,
    },
    Restart(u64),
    NoTransferToAbort,
    Status {
        peer: IpAddr,
        user: Option<&'a str>,
        transfer_type: TransferType,
    },
    Goodbye,
    /// The client sent nothing for the idle timeout; the server hangs up.
    IdleTimeout,
    Unknown {
        verb: &'a str,
    },
    /// A command line over the length limit.
    LineTooLong,
}

fn octets(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("::ffff:{v4}"),
        IpAddr::V6(v6) => v6.to_string(),
    }
}

fn vsftpd(version: &str, reply: Reply<'_>) -> String {
    match reply {
        Reply::Banner { .. } => format!("220 (vsFTPd {version})"),
        Reply::NeedPassword { .. } => "331 Please specify the password.".into(),
        Reply::LoggedIn { .. } => "230 Login successful.".into(),
        Reply::LoginIncorrect => "530 Login incorrect.".into(),
        Reply::UserFirst => "503 Login with USER first.".into(),
        Reply::PleaseLogin => "530 Please login with USER and PASS.".into(),
        Reply::AlreadyLoggedIn => "230 Already logged in.".into(),
        Reply::CannotChangeUser => "530 Can't change to another user.".into(),
        Reply::Syst => "215 UNIX Type: L8".into(),
        Reply::Features => {
            "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End"
                .into()
        }
        Reply::Help => "214-The following commands are recognized.\r\n \
             ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n \
             MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR\r\n \
             RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD\r\n \
             XPWD XRMD\r\n214 Help OK."
            .into(),
        Reply::Noop => "200 NOOP ok.".into(),
        Reply::Utf8On => "200 Always in UTF8 mode.".into(),
        Reply::MlstFacts { .. } => "501 Option not understood.".into(),
        Reply::BadOption => "501 Option not understood.".into(),
        Reply::Pwd { path } => format!("257 \"{path}\" is the current directory"),
        Reply::DirectoryChanged => "250 Directory successfully changed.".into(),
        Reply::NoSuchDirectory { .. } | Reply::DirectoryDenied { .. } => {
            "550 Failed to change directory.".into()
        }
        Reply::Type(TransferType::Ascii) => "200 Switching to ASCII mode.".into(),
        Reply::Type(TransferType::Binary) => "200 Switching to Binary mode.".into(),
        Reply::BadType => "500 Unrecognised TYPE command.".into(),
        Reply::ModeStream => "200 Mode set to S.".into(),
        Reply::StructureFile => "200 Structure set to F.".into(),
        Reply::Passive { ip: [a, b, c, d], port } => {
            format!("227 Entering Passive Mode ({a},{b},{c},{d},{},{}).", port >> 8, port & 0xff)
        }
        Reply::ExtendedPassive { port } => format!("229 Entering Extended Passive Mode (|||{port}|)"),
        Reply::EpsvAll => "200 EPSV ALL ok.".into(),
        Reply::PassiveUnavailable => "500 OOPS: vsf_sysutil_bind".into(),
        Reply::PortAccepted => "200 PORT command successful. Consider using PASV.".into(),
        Reply::EprtAccepted => "200 EPRT command successful. Consider using EPSV.".into(),
        Reply::BadPort => "500 Illegal PORT command.".into(),
        Reply::NoDataConnection => "425 Use PORT or PASV first.".into(),
        Reply::DataConnectionFailed => "425 Failed to establish connection.".into(),
        Reply::ListStart | Reply::MlsdStart => "150 Here comes the directory listing.".into(),
        Reply::ListDone => "226 Directory send OK.".into(),
        Reply::ListUnreadable { .. } => "226 Transfer done (but failed to open directory).".into(),
        Reply::ListMissing { .. } => "226 Transfer done (but failed to open directory).".into(),
        Reply::RetrieveStart { name, size, transfer_type } => format!(
            "150 Opening {} mode data connection for {name} ({size} bytes).",
            mode_word(transfer_type)
        ),
        Reply::StoreStart { .. } => "150 Ok to send data.".into(),
        Reply::TransferComplete => "226 Transfer complete.".into(),
        Reply::StoreTooLarge { .. } => "451 Failure writing to local file.".into(),
        Reply::CannotOpen { .. } => "550 Failed to open file.".into(),
        Reply::CannotCreate { .. } => "553 Could not create file.".into(),
        Reply::Size(size) => format!("213 {size}"),
        Reply::SizeFailed { .. } => "550 Could not get file size.".into(),
        Reply::Mdtm(stamp) => format!("213 {stamp}"),
        Reply::MdtmFailed { .. } => "550 Could not get file modification time.".into(),
        Reply::Mfmt { .. } => "500 Unknown command.".into(),
        Reply::Mlst { .. } => "500 Unknown command.".into(),
        Reply::Refused { verb, .. } => match verb {
            "MKD" | "XMKD" => "550 Create directory operation failed.".into(),
            "RMD" | "XRMD" => "550 Remove directory operation failed.".into(),
            "DELE" => "550 Delete operation failed.".into(),
            "RNFR" => "550 RNFR command failed.".into(),
            "SITE" => "550 Permission denied.".into(),
            _ => "550 Permission denied.".into(),
        },
        Reply::Restart(offset) => format!("350 Restart position accepted ({offset})."),
        Reply::NoTransferToAbort => "225 No transfer to ABOR.".into(),
        Reply::Status { peer, user, transfer_type } => format!(
            "211-FTP server status:\r\n     Connected to {}\r\n     Logged in as {}\r\n     TYPE: {}\r\n     \
             No session bandwidth limit\r\n     Session timeout in seconds is 300\r\n     \
             Control connection is plain text\r\n     Data connections will be plain text\r\n     \
             At session startup, client count was 1\r\n     vsFTPd {version} - secure, fast, stable\r\n\
             211 End of status",
            peer.to_canonical(),
            user.unwrap_or("(none)"),
            mode_word(transfer_type),
        ),
        Reply::Goodbye => "221 Goodbye.".into(),
        Reply::IdleTimeout => "421 Timeout.".into(),
        Reply::Unknown { .. } => "500 Unknown command.".into(),
        Reply::LineTooLong => "500 Input line too long.".into(),
    }
}

fn proftpd(reply: Reply<'_>) -> String {
    match reply {
        Reply::Banner { local } => format!("220 ProFTPD Server (Debian) [{}]", octets(local)),
        Reply::NeedPassword { anonymous: true, .. } => {
            "331 Anonymous login ok, send your complete email address as your password".into()
        }
        Reply::NeedPassword { user, .. } => format!("331 Password required for {user}"),
        Reply::LoggedIn { anonymous: true, .. } => "230 Anonymous access granted, restrictions apply".into(),
        Reply::LoggedIn { user, .. } => format!("230 User {user} logged in"),
        Reply::LoginIncorrect => "530 Login incorrect.".into(),
        Reply::UserFirst => "503 Login with USER first".into(),
        Reply::PleaseLogin => "530 Please login with USER and PASS".into(),
        Reply::AlreadyLoggedIn => "503 You are already logged in".into(),
        Reply::CannotChangeUser => "501 Reauthentication not supported".into(),
        Reply::Syst => "215 UNIX Type: L8".into(),
        Reply::Features => "211-Features:\r\n REST STREAM\r\n \
             MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;UNIX.owner*;\
             UNIX.ownername*;\r\n UTF8\r\n EPRT\r\n EPSV\r\n SIZE\r\n MDTM\r\n MFMT\r\n TVFS\r\n\
             211 End"
            .into(),
        Reply::Help => "214-The following commands are recognized (* =>'s unimplemented):\r\n \
             CWD     XCWD    CDUP    XCUP    SMNT*   QUIT    PORT    PASV    \r\n \
             EPRT    EPSV    ALLO*   RNFR    RNTO    DELE    MDTM    RMD     \r\n \
             XRMD    MKD     XMKD    PWD     XPWD    SIZE    SYST    HELP    \r\n \
             NOOP    FEAT    OPTS    HOST    CLNT    AUTH*   CCC*    CONF*   \r\n \
             ENC*    MIC*    PBSZ*   PROT*   TYPE    STRU    MODE    RETR    \r\n \
             STOR    STOU    APPE    REST    ABOR    RANG    USER    PASS    \r\n \
             ACCT*   REIN*   LIST    NLST    STAT    SITE    MLSD    MLST    \r\n\
             214 Direct comments to ftp-admin"
            .into(),
        Reply::Noop => "200 NOOP command successful".into(),
        Reply::Utf8On => "200 UTF8 set to on".into(),
        Reply::MlstFacts { facts } => format!("200 OPTS MLST {facts}"),
        Reply::BadOption => "501 OPTS: Invalid option".into(),
        Reply::Pwd { path } => format!("257 \"{path}\" is the current directory"),
        Reply::DirectoryChanged => "250 CWD command successful".into(),
        Reply::NoSuchDirectory { arg } => format!("550 {arg}: No such file or directory"),
        Reply::DirectoryDenied { arg } => format!("550 {arg}: Permission denied"),
        Reply::Type(TransferType::Ascii) => "200 Type set to A".into(),
        Reply::Type(TransferType::Binary) => "200 Type set to I".into(),
        Reply::BadType => "504 TYPE not implemented for that parameter".into(),
        Reply::ModeStream => "200 Mode set to S".into(),
        Reply::StructureFile => "200 Structure set to F".into(),
        Reply::Passive { ip: [a, b, c, d], port } => {
            format!("227 Entering Passive Mode ({a},{b},{c},{d},{},{}).", port >> 8, port & 0xff)
        }
        Reply::ExtendedPassive { port } => format!("229 Entering Extended Passive Mode (|||{port}|)"),
        Reply::EpsvAll => "200 EPSV ALL command successful".into(),
        Reply::PassiveUnavailable => "421 Service not available, closing control connection".into(),
        Reply::PortAccepted => "200 PORT command successful".into(),
        Reply::EprtAccepted => "200 EPRT command successful".into(),
        Reply::BadPort => "501 Illegal PORT command".into(),
        Reply::NoDataConnection | Reply::DataConnectionFailed => {
            "425 Unable to build data connection: Connection refused".into()
        }
        Reply::ListStart => "150 Opening ASCII mode data connection for file list".into(),
        Reply::MlsdStart => "150 Opening ASCII mode data connection for MLSD".into(),
        Reply::ListDone | Reply::TransferComplete => "226 Transfer complete".into(),
        Reply::ListUnreadable { arg } | Reply::CannotOpen { arg } => format!("550 {arg}: Permission denied"),
        Reply::ListMissing { arg }
        | Reply::SizeFailed { arg }
        | Reply::MdtmFailed { arg }
        | Reply::CannotCreate { arg } => {
            format!("550 {arg}: No such file or directory")
        }
        Reply::RetrieveStart { name, size, transfer_type } => {
            format!("150 Opening {} mode data connection for {name} ({size} bytes)", mode_word(transfer_type))
        }
        Reply::StoreStart { name, transfer_type } => {
            format!("150 Opening {} mode data connection for {name}", mode_word(transfer_type))
        }
        Reply::StoreTooLarge { arg } => format!("552 {arg}: Disk quota exceeded"),
        Reply::Size(size) => format!("213 {size}"),
        Reply::Mdtm(stamp) => format!("213 {stamp}"),
        Reply::Mfmt { stamp, arg } => format!("213 Modify={stamp}; {arg}"),
        Reply::Mlst { path, facts } => format!("250-Start of list for {path}\r\n {facts}\r\n250 End"),
        Reply::Refused { arg, .. } => format!("550 {arg}: Permission denied"),
        Reply::Restart(offset) => {
            format!("350 Restarting at {offset}. Send STORE or RETRIEVE to initiate transfer")
        }
        Reply::NoTransferToAbort => "226 Abort successful".into(),
        Reply::Status { peer, user, transfer_type } => format!(
            "211-Status of 'Debian'\r\n Connected from {peer} ({peer})\r\n Logged in as {}\r\n \
             TYPE: {}, STRUcture: File, Mode: Stream\r\n No data connection\r\n211 End of status",
            user.unwrap_or("(none)"),
            mode_word(transfer_type),
            peer = peer.to_canonical(),
        ),
        Reply::Goodbye => "221 Goodbye.".into(),
        Reply::IdleTimeout => "421 Idle timeout (300 seconds): closing control connection".into(),
        Reply::Unknown { verb } => format!("500 {verb} not understood"),
        Reply::LineTooLong => "500 Command line too long".into(),
    }
}

fn mode_word(transfer_type: TransferType) -> &'static str {
    match transfer_type {
        TransferType::Ascii => "ASCII",
        TransferType::Binary => "BINARY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_are_what_nmap_knows() {
        let local: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(Server::Vsftpd("3.0.3").reply(Reply::Banner { local }), "220 (vsFTPd 3.0.3)");
        assert_eq!(
            Server::Proftpd.reply(Reply::Banner { local }),
            "220 ProFTPD Server (Debian) [::ffff:10.0.0.5]"
        );
    }

    #[test]
    fn each_distribution_packages_its_own_servers() {
        for seed in 0..8 {
            assert_eq!(Server::for_distro("centos7", seed), Some(Server::Vsftpd("3.0.2")));
            assert!(matches!(
                Server::for_distro("debian", seed),
                Some(Server::Vsftpd("3.0.3") | Server::Proftpd)
            ));
        }
        assert_ne!(Server::for_distro("debian", 0), Server::for_distro("debian", 1));
        assert_eq!(Server::for_distro("gentoo", 0), None);
        assert_eq!(known_distros().count(), 9);
    }

    #[test]
    fn passive_replies_encode_the_port_in_two_bytes() {
        let reply = Reply::Passive { ip: [127, 0, 0, 1], port: 40_001 };
        assert_eq!(Server::Vsftpd("3.0.3").reply(reply), "227 Entering Passive Mode (127,0,0,1,156,65).");
        assert_eq!(
            Server::Proftpd.reply(Reply::ExtendedPassive { port: 40_001 }),
            "229 Entering Extended Passive Mode (|||40001|)"
        );
    }

    #[test]
    fn multi_line_replies_end_with_the_code_and_a_space() {
        for server in [Server::Vsftpd("3.0.5"), Server::Proftpd] {
            for reply in [Reply::Features, Reply::Help] {
                let text = server.reply(reply);
                let lines: Vec<&str> = text.split("\r\n").collect();
                let code = &lines[0][..3];
                assert_eq!(&lines[0][3..4], "-", "{text}");
                assert!(lines.last().unwrap().starts_with(&format!("{code} ")), "{text}");
                assert!(lines[1..lines.len() - 1].iter().all(|l| l.starts_with(' ')), "{text}");
            }
        }
    }
}
