//! `${NAME}` in the arguments of `check` and `wait` and in `run`'s flags
//! through the real binary against a real HTTP server: expanded where the
//! value is used, never echoed back where an error shows the argument.

use std::time::Duration;

use super::check_http::{check, check_in, healthy, usage_error};
use crate::support::http::Server;
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(15);
/// In the environment only; `check` asserts it appears in no output.
const SECRET: &str = "S3cretPW";

fn berth_env(s: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("T_PORT", s.addr.port().to_string()),
        ("T_TOKEN", format!("Bearer {SECRET}")),
        ("T_PW", SECRET.to_string()),
    ]
}

/// `berth check ARGS` with the variables set, through `check_http`'s
/// runner, which fails the test if the password shows in any output.
fn check_env(vars: &[(&str, String)], args: &[&str]) -> super::check_http::Run {
    check_in(vars, args)
}

#[test]
fn url_header_and_password_come_from_variables() {
    let s = Server::http();
    let run = check_env(
        &berth_env(&s),
        &[
            "http",
            "--header",
            "X-Price: $$5, $HOME and ${T_UNSET_DEFAULTED:-none}",
            "http://probe:${T_PW}@127.0.0.1:${T_PORT}/ok",
        ],
    );
    healthy(&run, "HTTP 200");
    assert!(
        run.stdout
            .starts_with(&format!("http://probe:****@{}/ok: healthy", s.addr)),
        "{}",
        run.stdout
    );
    let hits = s.hits();
    assert_eq!(hits.len(), 1);
    // Basic probe:S3cretPW: the password went into the header, expanded.
    assert_eq!(
        hits[0].header("authorization"),
        Some("Basic cHJvYmU6UzNjcmV0UFc=")
    );
    assert_eq!(
        hits[0].header("x-price"),
        Some("$5, $HOME and none"),
        "$$ is '$', $NAME stays, ${{NAME:-default}} defaults"
    );
}

#[test]
fn header_from_a_variable_reaches_the_server() {
    let s = Server::http();
    let run = check_env(
        &berth_env(&s),
        &[
            "http",
            "--header",
            "Authorization: ${T_TOKEN}",
            "http://127.0.0.1:${T_PORT}/ok",
        ],
    );
    healthy(&run, "HTTP 200");
    assert_eq!(
        s.hits()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn several_urls_and_defaults() {
    let s = Server::http();
    let mut vars = berth_env(&s);
    vars.push(("T_EMPTY", String::new()));
    let run = check_env(
        &vars,
        &[
            "http://127.0.0.1:${T_PORT}/ok",
            "tcp://${T_NOT_SET_HOST:-127.0.0.1}:${T_EMPTY:-${T_PORT}}",
        ],
    );
    usage_error(&run, "a default cannot hold another ${...}");
    let run = check_env(
        &vars,
        &[
            "http://127.0.0.1:${T_PORT}/ok",
            &format!(
                "tcp://${{T_NOT_SET_HOST:-127.0.0.1}}:${{T_EMPTY:-{}}}",
                s.addr.port()
            ),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert_eq!(s.hit_count(), 1);
}

#[test]
fn an_unset_variable_is_a_usage_error_naming_it() {
    let run = check(&["http", "http://127.0.0.1:${T_NEVER_SET_PORT}/"]);
    usage_error(
        &run,
        "${T_NEVER_SET_PORT} in an argument: T_NEVER_SET_PORT is not set",
    );
    assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
    let run = check(&["http", "http://127.0.0.1:${T_UNCLOSED/"]);
    usage_error(&run, "without its '}'");

    // berth wait: the usage code, 125.
    let out = output_bounded(
        berth().args(["wait", "tcp://127.0.0.1:${T_NEVER_SET_PORT}"]),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("T_NEVER_SET_PORT is not set"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// Error lines that echo an argument show it as written, not expanded.
#[test]
fn errors_show_arguments_as_written() {
    let s = Server::http();
    let mut vars = berth_env(&s);
    vars.push(("T_BAD_HEADER", format!("Bearer {SECRET}")));
    vars.push(("T_BAD_URL", format!("http://x{SECRET}y z")));
    let run = check_env(
        &vars,
        &[
            "http",
            "--header",
            "${T_BAD_HEADER}",
            "http://127.0.0.1:${T_PORT}/ok",
        ],
    );
    usage_error(&run, "--header '${T_BAD_HEADER}' is not 'Name: value'");
    let run = check_env(&vars, &["http", "${T_BAD_URL}"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let run = check_env(
        &vars,
        &["http", "--bogus", "${T_TOKEN}", "http://127.0.0.1/"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let run = check_env(&vars, &["${T_BAD_URL}", "--timeout", "${T_TOKEN}"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("${T_TOKEN}"), "{}", run.stderr);
    assert_eq!(s.hit_count(), 0);
}

/// `wait` expands its URLs but not CMD, which is exec'd as given (as
/// Docker's exec form would).
#[test]
fn wait_expands_urls_but_not_the_command() {
    let s = Server::http();
    let out = output_bounded(
        berth()
            .env("T_PORT", s.addr.port().to_string())
            .args([
                "wait",
                "--timeout",
                "${T_WAIT:-10s}",
                "http://127.0.0.1:${T_PORT}/ok",
                "--",
            ])
            .args(["/bin/echo", "${T_PORT}", "$$"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "${T_PORT} $$\n");
    assert_eq!(s.hit_count(), 1);
}

/// `run` expands its own flags (an exec-form ENTRYPOINT has no shell) but
/// not the pre-steps or CMD, which are exec'd as given.
#[test]
fn run_expands_its_flags_but_not_the_steps_or_the_command() {
    let s = Server::http();
    let out = output_bounded(
        berth()
            .env("T_PORT", s.addr.port().to_string())
            .args([
                "run",
                "--wait",
                "http://127.0.0.1:${T_PORT}/ok",
                "--wait-timeout",
                "${T_WAIT:-10s}",
                "--pre",
                "/bin/echo pre ${T_PORT}",
                "--",
            ])
            .args(["/bin/echo", "${T_PORT}", "$$"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "pre ${T_PORT}\n${T_PORT} $$\n");
    assert_eq!(s.hit_count(), 1);

    // A password from a variable is masked in the wait's report.
    let port = crate::support::daemon::free_port();
    let out = output_bounded(
        berth()
            .env("T_PW", SECRET)
            .args(["run", "--wait-timeout", "1s", "--wait"])
            .arg(format!("postgres://app:${{T_PW}}@127.0.0.1:{port}/app"))
            .args(["--", "/bin/true"]),
        LIMIT,
    );
    let err = text(&out.stderr);
    // 124: the wait gave up.
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert!(err.contains("connection refused"), "{err}");
    assert!(err.contains("app:****@"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    assert!(!text(&out.stdout).contains(SECRET));

    // Unset, with no default: the usage code, naming it.
    let out = output_bounded(
        berth().args(["run", "--user", "${T_NEVER_SET_USER}", "--", "/bin/true"]),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("T_NEVER_SET_USER is not set"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
