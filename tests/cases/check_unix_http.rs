//! berth check http --unix-socket, and http+unix:// URLs for berth wait,
//! against a real HTTP server on a Unix-domain socket
//! (tests/fixtures/unix_http_server.py).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::check_http::{check, healthy, unhealthy, usage_error};
use crate::support::daemon::temp_dir;
use crate::support::pidns::{PYTHON, fixture};
use crate::support::*;

/// The server process; killed when dropped.
struct SocketServer(Child);

impl SocketServer {
    fn start(path: &Path) -> SocketServer {
        let child = Command::new(PYTHON)
            .arg(fixture("unix_http_server.py"))
            .arg(path)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(20), || path.exists()),
            "the Unix-socket HTTP server did not start"
        );
        SocketServer(child)
    }
}

impl Drop for SocketServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn socket() -> PathBuf {
    temp_dir("unix-http").join("app.sock")
}

/// The socket path as http+unix:// wants it: percent-encoded in the host.
fn unix_url(sock: &Path, path: &str) -> String {
    let encoded = sock.to_str().unwrap().replace('/', "%2F");
    format!("http+unix://{encoded}{path}")
}

#[test]
fn http_over_a_unix_socket() {
    let sock = socket();
    let _server = SocketServer::start(&sock);
    let s = sock.to_str().unwrap();
    let run = check(&[
        "http",
        "--unix-socket",
        s,
        "http://localhost/health",
        "--contains",
        "host=localhost",
    ]);
    healthy(&run, "HTTP 200, body contains 'host=localhost'");
    assert!(
        run.stdout
            .starts_with(&format!("http://localhost/health via {s}: healthy")),
        "{}",
        run.stdout
    );
    unhealthy(
        &check(&["http", "--unix-socket", s, "http://localhost/down"]),
        "HTTP 503",
    );
    let run = check(&["http", unix_url(&sock, "/health").as_str()]);
    healthy(&run, "HTTP 200");
}

#[test]
fn redirect_to_another_host_stays_on_the_socket() {
    // As curl's --unix-socket: every request of the check goes to the
    // socket, the redirect's host only names itself in Host, and the
    // credentials stay behind (another origin).
    let sock = socket();
    let _server = SocketServer::start(&sock);
    let s = sock.to_str().unwrap();
    let run = check(&[
        "http",
        "--unix-socket",
        s,
        "--contains",
        "ok host=other.example:8080 auth=no",
        "http://probe:S3cretPW@localhost/elsewhere",
    ]);
    healthy(&run, "body contains 'ok host=other.example:8080 auth=no'");
    let run = check(&[
        "http",
        "--unix-socket",
        s,
        "--contains",
        "auth=yes",
        "http://probe:S3cretPW@localhost/health",
    ]);
    healthy(&run, "body contains 'auth=yes'");
}

#[test]
fn unix_socket_failures() {
    let sock = socket();
    let s = sock.to_str().unwrap();
    unhealthy(
        &check(&["http", "--unix-socket", s, "http://localhost/health"]),
        &format!("no such socket: {s}"),
    );
    // A socket file nobody listens on any more.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    unhealthy(
        &check(&["http", "--unix-socket", s, "http://localhost/health"]),
        &format!("connection refused by {s}"),
    );
    usage_error(
        &check(&["http", "--unix-socket", "", "http://localhost/"]),
        "--unix-socket needs a path",
    );
}

#[test]
fn wait_reaches_a_unix_socket() {
    let sock = socket();
    let url = unix_url(&sock, "/health");
    let mut child = berth()
        .args(["wait", "--timeout", "30s", &url])
        .spawn()
        .unwrap();
    // No socket yet: berth is necessarily still waiting.
    assert!(child.try_wait().unwrap().is_none());
    let _server = SocketServer::start(&sock);
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
}
