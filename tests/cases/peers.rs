//! The relevant cases of tini's (test/run_inner_tests.py) and dumb-init's
//! (tests/*_test.py) own suites, rewritten to drive berth. Each case runs
//! against berth *and* against the peer it comes from (Debian's tini and
//! dumb-init): a case the peer fails is a wrong case, so the peer keeps it
//! honest. Each test names its source. Every init runs outside a PID
//! namespace here, as those suites run them (tini with -s, the subreaper
//! flag its own suite passes there).
//!
//! Left out, with the reason: tini's pdeathsig (-p) and its "warns when
//! not a subreaper" (berth has no -p, and becomes a subreaper itself);
//! dumb-init's debug-mode variants (berth's -v is covered in run.rs) and
//! its "SIGHUP/SIGCONT ignored if it was a session leader" (berth never
//! calls setsid). dumb-init's shell-background case sends SIGTSTP to a
//! child that catches every signal and expects it stopped anyway, because
//! dumb-init turns SIGTSTP into SIGSTOP for the child; berth forwards the
//! signal as sent (an app's own SIGTSTP handler, a shell's or vim's, must
//! run), so here the child takes SIGTSTP's default action.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::pidns::{PYTHON, fixture, log_lines, temp_dir};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Peer {
    Berth,
    Tini,
    DumbInit,
}
use Peer::*;

/// What a case asks of the init, in each one's own flags.
#[derive(Default)]
struct Opts<'a> {
    /// Signals reach CMD's whole process group (berth --group, tini -g,
    /// dumb-init's default setsid mode); otherwise CMD alone (berth's
    /// default, tini's default, dumb-init --single-child).
    group: bool,
    /// FROM:TO rewrites (berth --rewrite, dumb-init -r).
    rewrite: &'a [&'a str],
    /// An exit code reported as 0 (berth --success-code, tini -e).
    success: Option<u8>,
}

impl Peer {
    fn command(self, opts: &Opts, cmd: &[&str]) -> Command {
        let (bin, mut args): (&str, Vec<String>) = match self {
            Berth => (berth_path(), vec!["run".into()]),
            Tini => ("tini", vec!["-s".into()]),
            DumbInit => ("dumb-init", vec![]),
        };
        match self {
            Berth if opts.group => args.push("--group".into()),
            Tini if opts.group => args.push("-g".into()),
            DumbInit if !opts.group => args.push("--single-child".into()),
            _ => {}
        }
        for r in opts.rewrite {
            match self {
                Berth => args.extend(["--rewrite".into(), r.to_string()]),
                DumbInit => args.extend(["-r".into(), r.to_string()]),
                Tini => panic!("tini has no signal rewriting"),
            }
        }
        if let Some(code) = opts.success {
            match self {
                Berth => args.extend(["--success-code".into(), code.to_string()]),
                Tini => args.extend(["-e".into(), code.to_string()]),
                DumbInit => panic!("dumb-init has no exit code remapping"),
            }
        }
        args.push("--".into());
        args.extend(cmd.iter().map(|s| s.to_string()));
        let mut c = Command::new(bin);
        c.args(args);
        c
    }

    fn start(self, opts: &Opts, cmd: &[&str]) -> Child {
        self.command(opts, cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Not a pipe: a leftover that inherited it would keep a reader
            // waiting after the init is gone.
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{self:?} cannot start ({e}): scripts/setup.sh installs it"))
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory arguments.
    assert_eq!(
        unsafe { libc::kill(pid as i32, sig) },
        0,
        "kill {pid} {sig}"
    );
}

fn wait_ready(log: &Path) {
    assert!(
        wait_until(Duration::from_secs(10), || log_lines(log)
            .iter()
            .any(|l| l == "ready")),
        "fixture never became ready"
    );
}

fn seen(log: &Path, sig: i32) -> bool {
    log_lines(log).contains(&sig.to_string())
}

/// The state letter of /proc/PID/stat (R, S, T, Z...).
fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next())
        .unwrap_or('?')
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn finish(mut child: Child) -> Option<i32> {
    wait_bounded(&mut child, LIMIT).code()
}

/// Sends `sent` one at a time and waits until the fixture's log shows the
/// matching `got` (None: nothing may arrive; checked by a signal after it).
fn send_and_see(peer: Peer, init: &Child, log: &Path, sent: i32, got: i32) {
    let before = log_lines(log)
        .iter()
        .filter(|l| **l == got.to_string())
        .count();
    signal(init.id(), sent);
    assert!(
        wait_until(Duration::from_secs(5), || {
            log_lines(log)
                .iter()
                .filter(|l| **l == got.to_string())
                .count()
                > before
        }),
        "{peer:?}: signal {sent} never reached CMD as {got}; log {:?}",
        log_lines(log)
    );
}

/// dumb-init's NORMAL_SIGNALS: 1-31 but SIGKILL, SIGSTOP, SIGCHLD and the
/// job-control stops; the fault signals sent by another process included.
const NORMAL: &[i32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 18, 23, 24, 25, 26, 27, 28, 29, 30, 31,
];

fn proxies_signals(peer: Peer) {
    let dir = temp_dir(&format!("peer-proxy-{peer:?}"));
    let log = dir.join("log");
    let expected: Vec<String> = NORMAL.iter().map(i32::to_string).collect();
    let rec = fixture("sigrecord.py");
    let mut cmd = vec![PYTHON, &rec];
    let log_s = log.to_string_lossy().into_owned();
    cmd.push(&log_s);
    cmd.extend(expected.iter().map(String::as_str));
    let init = peer.start(&Opts::default(), &cmd);
    wait_ready(&log);
    for &s in NORMAL {
        send_and_see(peer, &init, &log, s, s);
    }
    assert_eq!(finish(init), Some(0), "{peer:?}");
}

/// dumb-init proxies_signals_test.py::test_proxies_signals (its
/// NORMAL_SIGNALS include the fault signals: "proxies fault signals").
#[test]
fn dumb_init_proxies_signals() {
    for peer in [Berth, DumbInit] {
        proxies_signals(peer);
    }
}

fn rewrites(peer: Peer, rewrite: &[&str], sequence: &[(i32, i32)]) {
    let dir = temp_dir(&format!("peer-rewrite-{peer:?}"));
    let log = dir.join("log");
    let log_s = log.to_string_lossy().into_owned();
    let rec = fixture("sigrecord.py");
    let opts = Opts {
        rewrite,
        ..Opts::default()
    };
    // CMD ends once it has seen every signal expected, and the init with
    // it: nothing is left running (a SIGKILLed init would orphan CMD).
    let mut expected: Vec<String> = sequence.iter().map(|(_, g)| g.to_string()).collect();
    expected.dedup();
    let mut cmd = vec![PYTHON, &rec, &log_s];
    cmd.extend(expected.iter().map(String::as_str));
    let init = peer.start(&opts, &cmd);
    wait_ready(&log);
    for &(sent, got) in sequence {
        send_and_see(peer, &init, &log, sent, got);
    }
    assert_eq!(finish(init), Some(0), "{peer:?}");
    let got: Vec<String> = log_lines(&log)
        .into_iter()
        .filter(|l| l != "ready")
        .collect();
    let want: Vec<String> = sequence.iter().map(|(_, g)| g.to_string()).collect();
    assert_eq!(got, want, "{peer:?}");
}

/// dumb-init proxies_signals_test.py::test_proxies_signals_with_rewrite.
#[test]
fn dumb_init_proxies_signals_with_rewrite() {
    for peer in [Berth, DumbInit] {
        rewrites(peer, &["15:3"], &[(15, 3)]);
        rewrites(peer, &["15:3", "3:15"], &[(15, 3), (3, 15)]);
        rewrites(peer, &["10:12", "12:10"], &[(10, 12), (12, 10)]);
    }
}

/// dumb-init proxies_signals_test.py::test_ignored_signals_are_not_proxied:
/// a signal rewritten to 0 is dropped (berth --rewrite HUP:0). SIGTERM and
/// SIGHUP are sent before SIGUSR1, so once SIGUSR1 has arrived, they would
/// have too.
#[test]
fn dumb_init_ignored_signals_are_not_proxied() {
    for peer in [Berth, DumbInit] {
        let dir = temp_dir(&format!("peer-ignored-{peer:?}"));
        let log = dir.join("log");
        let log_s = log.to_string_lossy().into_owned();
        let rec = fixture("sigrecord.py");
        let opts = Opts {
            rewrite: &["15:0", "1:0"],
            ..Opts::default()
        };
        // CMD ends at SIGUSR1, and the init with it.
        let init = peer.start(&opts, &[PYTHON, &rec, &log_s, "10"]);
        wait_ready(&log);
        signal(init.id(), 15);
        signal(init.id(), 1);
        send_and_see(peer, &init, &log, 10, 10);
        assert_eq!(finish(init), Some(0), "{peer:?}");
        assert!(
            !seen(&log, 15) && !seen(&log, 1),
            "{peer:?}: {:?}",
            log_lines(&log)
        );
    }
}

/// dumb-init exit_status_test.py::test_exit_status_regular_exit; tini's
/// exit code test.
#[test]
fn dumb_init_and_tini_exit_status_regular_exit() {
    for peer in [Berth, DumbInit, Tini] {
        for code in [0, 1, 2, 32, 64, 127, 254, 255] {
            let out = output_bounded(
                &mut peer.command(&Opts::default(), &["sh", "-c", &format!("exit {code}")]),
                LIMIT,
            );
            assert_eq!(out.status.code(), Some(code), "{peer:?}");
        }
    }
}

/// dumb-init exit_status_test.py::test_exit_status_terminated_by_signal.
#[test]
fn dumb_init_exit_status_terminated_by_signal() {
    for peer in [Berth, DumbInit] {
        for sig in [15, 1, 3, 9] {
            let script = format!("import os; os.kill(os.getpid(), {sig})");
            let out = output_bounded(
                &mut peer.command(&Opts::default(), &[PYTHON, "-c", &script]),
                LIMIT,
            );
            assert_eq!(out.status.code(), Some(128 + sig), "{peer:?} signal {sig}");
        }
    }
}

/// tini's exit code remapping (-e): berth --success-code.
#[test]
fn tini_exit_code_remap() {
    for peer in [Berth, Tini] {
        for (code, expect) in [(143, 0), (0, 0), (1, 1)] {
            let opts = Opts {
                success: Some(143),
                ..Opts::default()
            };
            let out = output_bounded(
                &mut peer.command(&opts, &["sh", "-c", &format!("exit {code}")]),
                LIMIT,
            );
            assert_eq!(out.status.code(), Some(expect), "{peer:?} exit {code}");
        }
    }
}

/// dumb-init child_processes_test.py::test_fails_nonzero_with_bad_exec.
#[test]
fn dumb_init_fails_nonzero_with_bad_exec() {
    for peer in [Berth, DumbInit] {
        let out = output_bounded(
            &mut peer.command(&Opts::default(), &["/doesnotexist"]),
            LIMIT,
        );
        assert_ne!(out.status.code(), Some(0), "{peer:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("/doesnotexist") && err.contains("No such file or directory"),
            "{peer:?}: {err}"
        );
    }
}

/// dumb-init child_processes_test.py::test_setsid_signals_entire_group and
/// test_no_setsid_doesnt_signal_entire_group; tini's process group test
/// (-g).
#[test]
fn dumb_init_and_tini_signal_the_group_only_when_asked() {
    for peer in [Berth, DumbInit, Tini] {
        for group in [true, false] {
            let dir = temp_dir(&format!("peer-group-{peer:?}-{group}"));
            let (parent, child) = (dir.join("parent"), dir.join("child"));
            let rec = fixture("sigrecord.py");
            let script = format!(
                "{PYTHON} {rec} {} & exec {PYTHON} {rec} {} 10",
                child.display(),
                parent.display()
            );
            let opts = Opts {
                group,
                ..Opts::default()
            };
            let init = peer.start(&opts, &["sh", "-c", &script]);
            wait_ready(&parent);
            wait_ready(&child);
            send_and_see(peer, &init, &parent, 10, 10);
            if group {
                assert!(
                    wait_until(Duration::from_secs(5), || seen(&child, 10)),
                    "{peer:?}: the group did not get it"
                );
            }
            // CMD has exited (it expected only SIGUSR1); the child is
            // signalled by the clean-up, never SIGUSR1 without --group.
            finish(init);
            assert_eq!(seen(&child, 10), group, "{peer:?} group={group}");
            // dumb-init --single-child and tini leave the child running.
            for pid in children_of_log(&child) {
                signal(pid, 9);
            }
        }
    }
}

/// The pid of a sigrecord fixture, from the processes running it.
fn children_of_log(log: &Path) -> Vec<u32> {
    let needle = log.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

/// dumb-init child_processes_test.py::
/// test_all_processes_receive_term_on_exit_if_setsid: once CMD exits,
/// what it left behind gets SIGTERM (berth does so in every mode).
#[test]
fn dumb_init_leftovers_receive_term_on_exit() {
    for peer in [Berth, DumbInit] {
        let dir = temp_dir(&format!("peer-leftover-{peer:?}"));
        let child = dir.join("child");
        let rec = fixture("sigrecord.py");
        let script = format!(
            "{PYTHON} {rec} {} 15 & while ! grep -q ready {0}; do sleep 0.01; done",
            child.display()
        );
        let opts = Opts {
            group: true,
            ..Opts::default()
        };
        let init = peer.start(&opts, &["sh", "-c", &script]);
        assert_eq!(finish(init), Some(0), "{peer:?}");
        assert!(
            wait_until(Duration::from_secs(5), || seen(&child, 15)),
            "{peer:?}: the leftover never got SIGTERM; {:?}",
            log_lines(&child)
        );
    }
}

/// dumb-init cwd_test.py::test_working_directories: CMD starts where the
/// init was started; the init itself holds no directory but "/". (The
/// original reads the parent's cwd once, racing the init's chdir after the
/// fork; here it is read until it is "/", a bounded number of times.)
#[test]
fn dumb_init_working_directories() {
    for peer in [Berth, DumbInit] {
        let script = "for i in $(seq 500); do \
             [ \"$(readlink /proc/$PPID/cwd)\" = / ] && break; sleep 0.01; done; \
             readlink /proc/$PPID/cwd && readlink /proc/$$/cwd";
        let mut cmd = peer.command(&Opts::default(), &["sh", "-c", script]);
        let out = output_bounded(cmd.current_dir("/tmp"), LIMIT);
        assert_eq!(out.status.code(), Some(0), "{peer:?}");
        assert_eq!(text(&out.stdout), "/\n/tmp\n", "{peer:?}");
    }
}

/// dumb-init shell_background_test.py: run from an interactive shell, the
/// init stops along with CMD on SIGTSTP, SIGTTIN and SIGTTOU, so the shell
/// sees the job stopped, and both continue on SIGCONT. Also Ctrl-Z's way:
/// the stop signal sent to CMD itself (the terminal signals CMD's
/// foreground group, not the init).
#[test]
fn dumb_init_shell_background_support() {
    for peer in [Berth, DumbInit] {
        let mut init = peer.start(&Opts::default(), &["sleep", "1000"]);
        let ipid = init.id();
        assert!(wait_until(Duration::from_secs(5), || children(ipid).len() == 1));
        let cmd = children(ipid)[0];
        // Ctrl-Z's way is berth's own case: dumb-init does not notice.
        let ctrl_z = if peer == Berth {
            &[(20, true)][..]
        } else {
            &[]
        };
        for &(stop, to_cmd) in [(20, false), (21, false), (22, false)].iter().chain(ctrl_z) {
            signal(if to_cmd { cmd } else { ipid }, stop);
            assert!(
                wait_until(Duration::from_secs(5), || state(ipid) == 'T'
                    && state(cmd) == 'T'),
                "{peer:?}: signal {stop} (to CMD: {to_cmd}): init {} CMD {}",
                state(ipid),
                state(cmd)
            );
            signal(ipid, 18);
            assert!(
                wait_until(Duration::from_secs(5), || state(ipid) != 'T'
                    && state(cmd) != 'T'),
                "{peer:?}: SIGCONT: init {} CMD {}",
                state(ipid),
                state(cmd)
            );
        }
        signal(ipid, 15);
        let status = wait_bounded(&mut init, LIMIT);
        assert_eq!(status.code(), Some(143), "{peer:?}");
    }
}

/// dumb-init tty_test.py::test_child_gets_controlling_tty_if_we_had_one,
/// and tini's tty handling: started on a terminal (`script` gives one), CMD
/// is the terminal's foreground process group, so Ctrl-C and job control
/// reach it.
#[test]
fn dumb_init_and_tini_child_owns_the_terminal() {
    let check =
        "import os; print('foreground' if os.tcgetpgrp(0) == os.getpgrp() else 'background')";
    for peer in [Berth, DumbInit, Tini] {
        let init: Vec<String> = peer
            .command(&Opts::default(), &[PYTHON, "-c", check])
            .get_args()
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect();
        let program = peer.command(&Opts::default(), &[]).get_program().to_owned();
        let line = format!("{} {}", program.to_string_lossy(), init.join(" "));
        let out = output_bounded(
            Command::new("script").args(["-qec", &line, "/dev/null"]),
            LIMIT,
        );
        assert!(
            text(&out.stdout).contains("foreground"),
            "{peer:?}: {}",
            text(&out.stdout)
        );
    }
}

/// tini's signal configuration test (test/sigconf): the signal mask and
/// ignored signals the init was started with are CMD's. (dumb-init clears
/// the mask.)
#[test]
fn tini_signal_configuration_is_inherited() {
    for peer in [Berth, Tini] {
        let init = peer.command(
            &Opts::default(),
            &["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
        );
        let argv: Vec<String> = std::iter::once(init.get_program())
            .chain(init.get_args())
            .map(|a| format!("{:?}", a.to_string_lossy()))
            .collect();
        let start = format!(
            "import os, signal\n\
             signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGUSR1, signal.SIGHUP}})\n\
             signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n\
             argv = [{}]\n\
             os.execvp(argv[0], argv)",
            argv.join(", ")
        );
        let out = output_bounded(Command::new(PYTHON).args(["-c", &start]), LIMIT);
        let status = text(&out.stdout);
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
                .unwrap_or_else(|| panic!("{peer:?}: no {name} in {status}"))
        };
        // USR1 (10) and HUP (1) blocked; USR2 (12) ignored.
        assert_eq!(field("SigBlk:"), (1 << 9) | 1, "{peer:?}: {status}");
        assert_ne!(field("SigIgn:") & (1 << 11), 0, "{peer:?}: {status}");
    }
}

/// tini's reaping test (test/reaping): orphans CMD leaves behind are
/// reaped while CMD still runs, not left as zombies.
#[test]
fn tini_reaps_zombies() {
    for peer in [Berth, Tini, DumbInit] {
        let script = "for i in 1 2 3 4 5; do (sleep 0 &) ; done; exec sleep 1000";
        let mut init = peer.start(&Opts::default(), &["sh", "-c", script]);
        let ipid = init.id();
        let only_cmd = || {
            let kids = children(ipid);
            kids.len() == 1 && state(kids[0]) != 'Z'
        };
        assert!(
            wait_until(Duration::from_secs(10), only_cmd),
            "{peer:?}: children {:?}",
            children(ipid)
                .iter()
                .map(|p| (p, state(*p)))
                .collect::<Vec<_>>()
        );
        signal(ipid, 15);
        let _ = wait_bounded(&mut init, LIMIT);
    }
}

/// dumb-init cli_test.py (test_help_message, test_version_message,
/// test_no_arguments_prints_usage, test_rewrite_errors) and tini's -h.
#[test]
fn dumb_init_and_tini_cli() {
    for flag in ["-h", "--help"] {
        let out = output_bounded(Command::new("dumb-init").arg(flag), LIMIT);
        assert_eq!(out.status.code(), Some(0), "dumb-init {flag}");
        for args in [
            &[flag][..],
            &["run", flag],
            &["wait", flag],
            &["check", flag],
            &["check", "http", flag],
        ] {
            let out = output_bounded(berth().args(args), LIMIT);
            assert_eq!(out.status.code(), Some(0), "berth {args:?}");
            assert!(
                text(&out.stdout).starts_with("Usage: berth"),
                "berth {args:?}"
            );
        }
    }
    // tini knows only -h.
    let out = output_bounded(Command::new("tini").arg("-h"), LIMIT);
    assert_eq!(out.status.code(), Some(0), "tini -h");
    for flag in ["-V", "--version"] {
        let out = output_bounded(berth().arg(flag), LIMIT);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).starts_with("berth "));
    }
    // No arguments: usage on stderr, non-zero (dumb-init 1, berth 125).
    for cmd in [Command::new("dumb-init"), berth()] {
        let mut cmd = cmd;
        let out = output_bounded(&mut cmd, LIMIT);
        assert_ne!(out.status.code(), Some(0));
        assert!(
            text(&out.stderr).to_lowercase().contains("usage")
                || text(&out.stderr).contains("help")
        );
    }
    // Rewrites that cannot be: dumb-init refuses them with 1, berth with
    // its usage code (125); berth also refuses what it can never act on.
    // dumb-init's own list, less "1:32" (berth forwards real-time signals).
    for bad in [
        "",
        "herp",
        "herp:derp",
        "15",
        "15::12",
        "15:derp",
        "0",
        "99:1",
    ] {
        let d = output_bounded(Command::new("dumb-init").args(["-r", bad, "true"]), LIMIT);
        assert_ne!(d.status.code(), Some(0), "dumb-init -r {bad}");
        let b = output_bounded(berth().args(["run", "--rewrite", bad, "--", "true"]), LIMIT);
        assert_eq!(b.status.code(), Some(125), "berth --rewrite {bad}");
    }
    for never in ["KILL:TERM", "STOP:0", "CHLD:HUP"] {
        let b = output_bounded(
            berth().args(["run", "--rewrite", never, "--", "true"]),
            LIMIT,
        );
        assert_eq!(b.status.code(), Some(125), "berth --rewrite {never}");
        assert!(
            text(&b.stderr).contains("never forwards"),
            "{}",
            text(&b.stderr)
        );
    }
}
