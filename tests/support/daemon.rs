//! Servers started for the test run (PostgreSQL, Redis): none may outlive it.
//!
//! Each is spawned from one keeper thread that never ends, with
//! PR_SET_PDEATHSIG: the kernel signals the server when that thread dies,
//! which happens only when the test process does, however it ends (the
//! signal follows the spawning *thread*, so spawning from a test's own
//! thread would kill a shared server when that test finishes). An atexit
//! hook stops them cleanly first and removes their directories.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

type Job = (Command, i32, Sender<std::io::Result<u32>>);

static KEEPER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
/// (pid, signal that stops it) of every server started, for the atexit hook.
static SERVERS: Mutex<Vec<(u32, i32)>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn stop_all() {
    if let Ok(servers) = SERVERS.lock() {
        for &(pid, signal) in servers.iter() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, signal) };
        }
    }
    if let Ok(dirs) = DIRS.lock() {
        for dir in dirs.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn keeper() -> &'static Mutex<Sender<Job>> {
    KEEPER.get_or_init(|| {
        // SAFETY: registers a plain extern "C" function.
        unsafe { libc::atexit(stop_all) };
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("server-keeper".into())
            .spawn(move || {
                let mut children: Vec<Child> = Vec::new();
                for (mut cmd, signal, reply) in rx {
                    // SAFETY: prctl is async-signal-safe; nothing else runs here.
                    unsafe {
                        cmd.pre_exec(move || {
                            libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong);
                            Ok(())
                        });
                    }
                    let result = cmd.spawn().map(|child| {
                        let pid = child.id();
                        SERVERS.lock().unwrap().push((pid, signal));
                        children.push(child);
                        pid
                    });
                    let _ = reply.send(result);
                    // Reap servers that have exited, so none stays a zombie.
                    children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
                }
            })
            .expect("keeper thread");
        Mutex::new(tx)
    })
}

/// Starts a server that is stopped with `signal` when the tests end.
/// Its output goes to `log`.
pub fn spawn(mut cmd: Command, signal: i32, log: &Path) -> u32 {
    let out = std::fs::File::create(log).expect("server log");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let (tx, rx) = channel();
    keeper().lock().unwrap().send((cmd, signal, tx)).unwrap();
    rx.recv()
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot start a test server: {e}"))
}

/// A fresh directory for a server, removed when the tests end.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "berth-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _ = keeper();
    DIRS.lock().unwrap().push(dir.clone());
    dir
}

/// A port that was free a moment ago on 127.0.0.1 and ::1 (the servers
/// listen on both). Bounded: without an IPv6 loopback no port is ever free
/// on ::1, and that is said instead of tried forever.
pub fn free_port() -> u16 {
    let mut last = None;
    for _ in 0..100 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        match std::net::TcpListener::bind(("::1", port)) {
            Ok(_) => return port,
            Err(e) => last = Some(e),
        }
    }
    panic!(
        "no port free on both 127.0.0.1 and ::1 in 100 tries (last: {}); the tests need IPv6 on loopback",
        last.map(|e| e.to_string()).unwrap_or_default()
    );
}

/// Runs a setup command to completion; panics with its output on failure.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = super::output_bounded(cmd, std::time::Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        super::text(&out.stdout),
        super::text(&out.stderr)
    );
    super::text(&out.stdout)
}
