//! berth check http (and tcp) against real in-process servers and hostile
//! peers. Every run asserts the exit code is never 2 and that the password
//! in the URL appears in no output.

use std::time::{Duration, Instant};

use crate::support::certs::certs;
use crate::support::http::{Behaviour, Server, tls_config};
use crate::support::*;

const SECRET: &str = "S3cretPW";
const USERINFO: &str = "probe:S3cretPW";

pub(super) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// `berth check ARGS...`, bounded, with the checks every run must pass.
pub(super) fn check(args: &[&str]) -> Run {
    check_in(&[], args)
}

/// `check` with these variables set for berth.
pub(super) fn check_in(vars: &[(&str, String)], args: &[&str]) -> Run {
    let start = Instant::now();
    let mut cmd = berth();
    cmd.arg("check").args(args);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let out = output_bounded(&mut cmd, Duration::from_secs(15));
    let elapsed = start.elapsed();
    let run = Run {
        code: out.status.code().expect("berth killed by a signal"),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        elapsed,
    };
    assert_ne!(
        run.code, 2,
        "exit 2 is reserved by Docker: {}{}",
        run.stdout, run.stderr
    );
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains(SECRET), "password leaked: {output}");
    }
    run
}

pub(super) fn healthy(run: &Run, reason: &str) {
    verdict(run, 0, "healthy", reason);
}

pub(super) fn unhealthy(run: &Run, reason: &str) {
    verdict(run, 1, "unhealthy", reason);
}

/// One report line with this verdict and reason, and the matching exit code.
fn verdict(run: &Run, code: i32, word: &str, reason: &str) {
    assert_eq!(
        run.code, code,
        "expected {word}: {}{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.stdout.lines().count(), 1, "one line: {}", run.stdout);
    assert!(
        run.stdout.contains(&format!(": {word}, ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(reason),
        "expected '{reason}' in: {}",
        run.stdout
    );
}

/// A usage error: exit 1, nothing on stdout, one clear line on stderr.
pub(super) fn usage_error(run: &Run, message: &str) {
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains(message),
        "expected '{message}' in: {}",
        run.stderr
    );
}

#[test]
fn healthy_on_200_with_basic_auth_sent() {
    let s = Server::http();
    let run = check(&["http", &s.url("http", USERINFO, "/ok")]);
    healthy(&run, "HTTP 200");
    assert!(
        run.stdout.starts_with(&format!(
            "http://probe:****@{}/ok: healthy, HTTP 200 (",
            s.addr
        )),
        "{}",
        run.stdout
    );
    let hits = s.hits();
    assert_eq!(hits.len(), 1);
    // "probe:S3cretPW" in base64
    assert_eq!(
        hits[0].header("authorization"),
        Some("Basic cHJvYmU6UzNjcmV0UFc=")
    );
    assert!(
        hits[0]
            .header("user-agent")
            .unwrap_or("")
            .starts_with("berth/")
    );
}

#[test]
fn unhealthy_on_503() {
    let s = Server::http();
    let run = check(&["http", &s.url("http", USERINFO, "/status/503")]);
    unhealthy(&run, "HTTP 503, expected 200-399");
    assert_eq!(s.hit_count(), 1);
}

#[test]
fn status_lists_and_ranges() {
    let s = Server::http();
    healthy(
        &check(&[
            "http",
            "--status",
            "200,503",
            &s.url("http", USERINFO, "/status/503"),
        ]),
        "HTTP 503",
    );
    healthy(
        &check(&[
            "http",
            "--status",
            "500-599",
            &s.url("http", USERINFO, "/status/503"),
        ]),
        "HTTP 503",
    );
    unhealthy(
        &check(&[
            "http",
            "--status",
            "204,300-399",
            &s.url("http", USERINFO, "/ok"),
        ]),
        "HTTP 200, expected 204,300-399",
    );
    unhealthy(
        &check(&["http", &s.url("http", USERINFO, "/status/404")]),
        "HTTP 404, expected 200-399",
    );
    assert_eq!(s.hit_count(), 4);
}

#[test]
fn contains_hit_and_miss() {
    let s = Server::http();
    healthy(
        &check(&[
            "http",
            "--contains",
            "good",
            &s.url("http", USERINFO, "/ok"),
        ]),
        "body contains 'good'",
    );
    unhealthy(
        &check(&["http", "--contains", "bad", &s.url("http", USERINFO, "/ok")]),
        "HTTP 200, body does not contain 'bad'",
    );
    // Only the first MiB is read: the needle after 2 MiB is not seen.
    unhealthy(
        &check(&[
            "http",
            "--contains",
            "needle",
            &s.url("http", USERINFO, "/big"),
        ]),
        "body does not contain 'needle'",
    );
}

#[test]
fn json_field_of_an_actuator_reply() {
    let s = Server::http();
    let up = s.url("http", "", "/actuator/UP");
    let down = s.url("http", "", "/actuator/DOWN");
    healthy(
        &check(&["http", "--json-field", "status=UP", &up]),
        "HTTP 200, status is 'UP'",
    );
    healthy(
        &check(&[
            "http",
            "--json-field",
            "components.db.status=UP",
            "--contains",
            "ping",
            &up,
        ]),
        "HTTP 200, body contains 'ping', components.db.status is 'UP'",
    );
    unhealthy(
        &check(&["http", "--json-field", "components.db.status=UP", &down]),
        "HTTP 200, components.db.status is 'DOWN', expected 'UP'",
    );
    unhealthy(
        &check(&["http", "--json-field", "components.cache.status=UP", &up]),
        "HTTP 200, no field components.cache.status in the JSON body",
    );
    unhealthy(
        &check(&[
            "http",
            "--json-field",
            "status=UP",
            &s.url("http", "", "/ok"),
        ]),
        "HTTP 200, body is not JSON (unexpected text at byte 0)",
    );
    usage_error(
        &check(&["http", "--json-field", "status", &up]),
        "--json-field 'status': missing '='",
    );
    usage_error(
        &check(&["http", "--method", "HEAD", "--json-field", "status=UP", &up]),
        "--json-field cannot work with --method HEAD",
    );
    assert_eq!(s.hit_count(), 5);
}

#[test]
fn headers_reach_the_server() {
    let s = Server::http();
    let run = check(&[
        "http",
        "--header",
        "X-Probe: yes please",
        "--header",
        "Accept:text/plain",
        &s.url("http", "", "/ok"),
    ]);
    healthy(&run, "HTTP 200");
    let hit = &s.hits()[0];
    assert_eq!(hit.header("x-probe"), Some("yes please"));
    assert_eq!(hit.header("accept"), Some("text/plain"));
}

#[test]
fn method_head_and_others() {
    let s = Server::http();
    healthy(
        &check(&["http", "--method", "HEAD", &s.url("http", USERINFO, "/ok")]),
        "HTTP 200",
    );
    healthy(
        &check(&[
            "http",
            "--method",
            "options",
            &s.url("http", USERINFO, "/ok"),
        ]),
        "HTTP 200",
    );
    let methods: Vec<String> = s.hits().into_iter().map(|h| h.method).collect();
    assert_eq!(methods, ["HEAD", "OPTIONS"]);
}

#[test]
fn redirects_are_followed() {
    let s = Server::http();
    healthy(
        &check(&[
            "http",
            "--contains",
            "all good",
            &s.url("http", USERINFO, "/redirect/3"),
        ]),
        "HTTP 200",
    );
    let paths: Vec<String> = s.hits().into_iter().map(|h| h.path).collect();
    assert_eq!(
        paths,
        [
            "/redirect/3",
            "/redirect/2",
            "/redirect/1",
            "/redirect/0",
            "/ok"
        ]
    );
}

#[test]
fn redirect_loop_is_bounded() {
    let s = Server::http();
    unhealthy(
        &check(&["http", &s.url("http", USERINFO, "/loop")]),
        "too many redirects",
    );
    let n = s.hit_count();
    assert!((2..=10).contains(&n), "{n} requests");
}

/// The credentials of both kinds: the URL's user info and headers given.
const BASIC: &str = "Basic cHJvYmU6UzNjcmV0UFc=";

/// `check http` of `url` with a cookie and, when `bearer`, its own
/// Authorization header (which then replaces the URL's user info).
fn check_with_credentials(url: &str, bearer: bool) -> Run {
    let mut args = vec!["http", "--header", "Cookie: session=S3cretPW"];
    if bearer {
        args.extend(["--header", "Authorization: Bearer S3cretPW"]);
    }
    args.push(url);
    check(&args)
}

#[test]
fn credentials_do_not_follow_a_redirect_to_another_origin() {
    // curl's rule: scheme, host and port must all stay the same. Another
    // port of the same host, or the same port under another name, is
    // another origin.
    let first = Server::http();
    let second = Server::http();
    let elsewhere = [
        second.url("http", "", "/ok"),
        format!("http://localhost:{}/ok", first.addr.port()),
    ];
    for (i, target) in elsewhere.iter().enumerate() {
        for bearer in [false, true] {
            let url = first.url("http", USERINFO, &format!("/to/302/{target}"));
            healthy(&check_with_credentials(&url, bearer), "HTTP 200");
            let last = |s: &Server, path: &str| {
                let hits = s.hits().into_iter().rev();
                hits.into_iter().find(|h| h.path.starts_with(path)).unwrap()
            };
            let sent = last(&first, "/to/");
            let expected = if bearer { "Bearer S3cretPW" } else { BASIC };
            assert_eq!(sent.header("authorization"), Some(expected));
            assert_eq!(sent.header("cookie"), Some("session=S3cretPW"));
            let followed = last(if i == 0 { &second } else { &first }, "/ok");
            assert_eq!(followed.header("authorization"), None, "{target}");
            assert_eq!(followed.header("cookie"), None, "{target}");
        }
    }
    assert_eq!(second.hit_count(), 2);
}

#[test]
fn credentials_follow_a_redirect_on_the_same_origin() {
    let s = Server::http();
    let absolute = s.url("http", "", "/ok");
    for (target, bearer) in [("/ok", false), (absolute.as_str(), true)] {
        let url = s.url("http", USERINFO, &format!("/to/307/{target}"));
        healthy(&check_with_credentials(&url, bearer), "HTTP 200");
        let followed = s.hits().pop().unwrap();
        assert_eq!(followed.path, "/ok");
        let expected = if bearer { "Bearer S3cretPW" } else { BASIC };
        assert_eq!(followed.header("authorization"), Some(expected));
        assert_eq!(followed.header("cookie"), Some("session=S3cretPW"));
    }
}

#[test]
fn redirect_without_location_is_the_final_reply() {
    // As curl reports it: healthy by the default 200-399, and no request
    // follows.
    let s = Server::http();
    healthy(
        &check(&["http", &s.url("http", USERINFO, "/status/302")]),
        "HTTP 302",
    );
    unhealthy(
        &check(&[
            "http",
            "--status",
            "200",
            &s.url("http", USERINFO, "/status/302"),
        ]),
        "HTTP 302, expected 200",
    );
    assert_eq!(s.hit_count(), 2);
}

#[test]
fn redirect_methods_as_curl() {
    // 303 asks for GET; POST becomes GET on 301 and 302; 307 and 308 keep
    // the method, and so does any other method on 302.
    let s = Server::http();
    for (method, status, then) in [
        ("POST", 303, "GET"),
        ("PUT", 303, "GET"),
        ("HEAD", 303, "HEAD"),
        ("POST", 302, "GET"),
        ("POST", 301, "GET"),
        ("PUT", 302, "PUT"),
        ("POST", 307, "POST"),
        ("POST", 308, "POST"),
    ] {
        let url = s.url("http", "", &format!("/to/{status}//ok"));
        healthy(&check(&["http", "--method", method, &url]), "HTTP 200");
        let hits = s.hits();
        let [.., first, second] = &hits[..] else {
            panic!("{hits:?}")
        };
        assert_eq!(
            (first.method.as_str(), second.method.as_str()),
            (method, then)
        );
        assert_eq!(second.path, "/ok");
    }
}

#[test]
fn redirect_to_an_unsupported_scheme_or_a_bad_url() {
    let s = Server::http();
    unhealthy(
        &check(&["http", &s.url("http", USERINFO, "/to/302/ftp://h/x")]),
        "redirected to an unsupported scheme 'ftp://'",
    );
    unhealthy(
        &check(&["http", &s.url("http", USERINFO, "/to/302/http://")]),
        "redirected to a bad URL 'http://'",
    );
}

#[test]
fn redirect_from_http_to_https_builds_tls_on_the_way() {
    let plain = Server::http();
    let tls = Server::https();
    let to = tls.url("https", "", "/ok");
    let url = plain.url("http", USERINFO, &format!("/to/302/{to}"));
    // --insecure names no file: TLS is built only when the redirect comes.
    healthy(
        &check(&["http", "--insecure", "--contains", "good", &url]),
        "HTTP 200, body contains 'good'",
    );
    // Without trust in the test CA, the redirect's handshake is refused.
    unhealthy(
        &check(&["http", &url]),
        "TLS: certificate not trusted (use --cacert or --insecure)",
    );
    assert_eq!(tls.hit_count(), 1);
}

#[test]
fn servername_applies_to_the_urls_own_host_only() {
    // The certificate names localhost, 127.0.0.1 and ::1: --servername
    // makes 127.0.0.2 pass, but the redirect's host is verified as itself.
    let first = Server::start("127.0.0.2:0", Behaviour::Normal, Some(tls_config()));
    let second = Server::start("127.0.0.3:0", Behaviour::Normal, Some(tls_config()));
    let ca = certs().ca.to_str().unwrap();
    let direct = first.url("https", USERINFO, "/ok");
    let to = second.url("https", "", "/ok");
    let redirected = first.url("https", USERINFO, &format!("/to/302/{to}"));
    let run = |url: &str| check(&["http", "--cacert", ca, "--servername", "localhost", url]);
    healthy(&run(&direct), "HTTP 200");
    unhealthy(
        &run(&redirected),
        "TLS: certificate is not valid for 127.0.0.3 (name mismatch)",
    );
    assert_eq!((first.hit_count(), second.hit_count()), (2, 0));
}

#[test]
fn many_reply_headers_are_accepted() {
    // ureq stopped at 128 headers; curl sets no limit on their number.
    let s = Server::http();
    for n in [200, 5000] {
        healthy(
            &check(&[
                "http",
                "--contains",
                "all good",
                &s.url("http", USERINFO, &format!("/headers/{n}")),
            ]),
            "HTTP 200, body contains 'all good'",
        );
    }
}

#[test]
fn large_reply_headers_up_to_curls_limit() {
    // ureq stopped at 64 kB of head; curl takes up to 300 kB of headers.
    let s = Server::http();
    for n in [70_000, 290_000] {
        healthy(
            &check(&[
                "http",
                &s.url("http", USERINFO, &format!("/long-header/{n}")),
            ]),
            "HTTP 200",
        );
    }
    // A reason of its own, not a timeout (the default 3s would say so).
    unhealthy(
        &check(&["http", &s.url("http", USERINFO, "/long-header/400000")]),
        "reply headers too large (more than 300 kB)",
    );
}

#[test]
fn chunked_body_is_searched() {
    let s = Server::http();
    healthy(
        &check(&[
            "http",
            "--contains",
            "all good",
            &s.url("http", USERINFO, "/chunked"),
        ]),
        "HTTP 200, body contains 'all good'",
    );
}

#[test]
fn https_with_cacert_is_healthy() {
    let s = Server::https();
    let ca = certs().ca.to_str().unwrap();
    healthy(
        &check(&["http", "--cacert", ca, &s.url("https", USERINFO, "/ok")]),
        "HTTP 200",
    );
    let localhost = format!("https://{USERINFO}@localhost:{}/ok", s.addr.port());
    healthy(&check(&["http", "--cacert", ca, &localhost]), "HTTP 200");
    assert_eq!(s.hit_count(), 2);
}

#[test]
fn https_without_cacert_is_not_trusted() {
    let s = Server::https();
    unhealthy(
        &check(&["http", &s.url("https", USERINFO, "/ok")]),
        "TLS: certificate not trusted (use --cacert or --insecure)",
    );
    assert_eq!(s.hit_count(), 0);
}

#[test]
fn https_with_the_wrong_ca_is_not_trusted() {
    let s = Server::https();
    let other = certs().other_ca.to_str().unwrap();
    unhealthy(
        &check(&["http", "--cacert", other, &s.url("https", USERINFO, "/ok")]),
        "TLS: certificate not trusted",
    );
}

#[test]
fn https_name_mismatch() {
    // The certificate is for localhost, 127.0.0.1 and ::1, not 127.0.0.2
    // (Linux routes all of 127.0.0.0/8 to the loopback).
    let s = Server::start("127.0.0.2:0", Behaviour::Normal, Some(tls_config()));
    let ca = certs().ca.to_str().unwrap();
    let run = check(&["http", "--cacert", ca, &s.url("https", USERINFO, "/ok")]);
    unhealthy(
        &run,
        "TLS: certificate is not valid for 127.0.0.2 (name mismatch)",
    );
    assert_eq!(s.hit_count(), 0);
}

#[test]
fn https_insecure_is_healthy() {
    let s = Server::https();
    healthy(
        &check(&["http", "--insecure", &s.url("https", USERINFO, "/ok")]),
        "HTTP 200",
    );
    assert_eq!(s.hit_count(), 1);
}

#[test]
fn https_against_a_plain_http_port() {
    let s = Server::http();
    unhealthy(
        &check(&["http", &s.url("https", USERINFO, "/ok")]),
        "TLS handshake failed: server did not speak TLS",
    );
}

#[test]
fn http_against_a_tls_port() {
    let s = Server::https();
    unhealthy(
        &check(&["http", &s.url("http", USERINFO, "/ok")]),
        "not an HTTP server: it speaks TLS (use https://)",
    );
}

#[test]
fn ipv6_literal() {
    let s = Server::start("[::1]:0", Behaviour::Normal, None);
    let url = format!("http://{USERINFO}@[::1]:{}/ok", s.addr.port());
    healthy(&check(&["http", &url]), "HTTP 200");
    assert_eq!(s.hit_count(), 1);
}

#[test]
fn name_resolution_failure() {
    let run = check(&[
        "http",
        &format!("http://{USERINFO}@no-such-host.invalid:8080/"),
    ]);
    unhealthy(&run, "name resolution failed for no-such-host.invalid");
}

#[test]
fn connection_refused() {
    // Bind, learn a free port, close it: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = check(&["http", &format!("http://{USERINFO}@127.0.0.1:{port}/")]);
    unhealthy(&run, "connection refused");
}

#[test]
fn silent_peer_times_out_waiting_for_the_reply() {
    let s = Server::hostile(Behaviour::Silent);
    let run = check(&[
        "http",
        "--timeout",
        "500ms",
        &s.url("http", USERINFO, "/ok"),
    ]);
    unhealthy(&run, "timed out waiting for the reply");
    assert!(
        run.elapsed >= Duration::from_millis(450),
        "{:?}",
        run.elapsed
    );
    assert_eq!(s.hit_count(), 1);
}

#[test]
fn silent_peer_times_out_during_the_tls_handshake() {
    let s = Server::hostile(Behaviour::Silent);
    let run = check(&[
        "http",
        "--timeout",
        "500ms",
        &s.url("https", USERINFO, "/ok"),
    ]);
    unhealthy(&run, "timed out during the TLS handshake");
}

#[test]
fn trickling_peer_times_out() {
    let s = Server::hostile(Behaviour::Trickle);
    let run = check(&[
        "http",
        "--timeout",
        "500ms",
        &s.url("http", USERINFO, "/ok"),
    ]);
    unhealthy(&run, "timed out waiting for the reply");
    assert_eq!(s.hit_count(), 1);
}

#[test]
fn garbage_is_not_http() {
    let s = Server::hostile(Behaviour::Garbage);
    let run = check(&["http", &s.url("http", USERINFO, "/ok")]);
    unhealthy(&run, "not an HTTP server (reply starts with 'SSH-2')");
    assert_eq!(s.hit_count(), 1);
}

#[test]
fn peer_that_closes_at_once() {
    let s = Server::hostile(Behaviour::Close);
    let run = check(&["http", &s.url("http", USERINFO, "/ok")]);
    unhealthy(&run, "connection closed by the server before the reply");
    let run = check(&["http", &s.url("https", USERINFO, "/ok")]);
    unhealthy(
        &run,
        "TLS handshake failed: the server closed the connection",
    );
}

#[test]
fn usage_errors_exit_1_with_a_message() {
    let url = format!("http://{USERINFO}@127.0.0.1:9/");
    usage_error(&check(&["http", "not a url"]), "not a URL");
    usage_error(
        &check(&["http", &format!("ftp://{USERINFO}@h/")]),
        "unknown scheme 'ftp://'",
    );
    usage_error(
        &check(&["http", &format!("http://{USERINFO}@ho st/")]),
        "the host holds spaces",
    );
    usage_error(
        &check(&["http", "--header", "no colon", &url]),
        "--header 'no colon' is not 'Name: value'",
    );
    usage_error(&check(&["http", "--status", "2xx", &url]), "--status '2xx'");
    usage_error(
        &check(&["http", "--status", "399-200", &url]),
        "--status '399-200'",
    );
    usage_error(
        &check(&["http", "--method", "GE T", &url]),
        "--method 'GE T'",
    );
    usage_error(
        &check(&["http", "--cacert", "/nonexistent/ca.pem", &url]),
        "--cacert /nonexistent/ca.pem: cannot read",
    );
    usage_error(
        &check(&["http", "--timeout", "soon", &url]),
        "--timeout 'soon'",
    );
    usage_error(
        &check(&["http", "--method", "HEAD", "--contains", "x", &url]),
        "--contains cannot work with --method HEAD",
    );
    let run = check(&["http"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = check(&["http", "--bogus", &url]);
    assert_eq!(run.code, 1, "{}", run.stderr);
}

#[test]
fn tcp_check_ok_and_refused() {
    let s = Server::http();
    healthy(&check(&["tcp", &s.addr.to_string()]), "connected to");
    drop(s);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    unhealthy(
        &check(&["tcp", &format!("127.0.0.1:{port}")]),
        "connection refused",
    );
}
