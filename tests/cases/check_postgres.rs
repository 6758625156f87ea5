//! berth check postgres, against real PostgreSQL 15 servers.

use std::time::Duration;

use crate::support::postgres::*;
use crate::support::*;

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `berth check ARGS` with a clean libpq (and mysql client) environment plus `env`.
pub fn check(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = berth();
    cmd.arg("check").args(args);
    // SCRAM's PBKDF2 (4096 HMAC-SHA-256 rounds) emulated by qemu-user can
    // outlast the default 3 s on a busy machine: a longer bound there.
    if under_qemu() && args.first() == Some(&"postgres") && !args.contains(&"--timeout") {
        cmd.args(["--timeout", "15s"]);
    }
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGPASSWORD_FILE",
        "PGPASSFILE",
        "PGDATABASE",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "SSL_CERT_DIR",
        "REDISCLI_AUTH",
        "REDISCLI_AUTH_FILE",
        "SSL_CERT_FILE",
        "MYSQL_PWD",
        "MYSQL_PWD_FILE",
        "MYSQL_HOST",
        "MYSQL_TCP_PORT",
        "MYSQL_UNIX_PORT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = output_bounded(&mut cmd, Duration::from_secs(20));
    Run {
        code: out.status.code(),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

impl Run {
    pub fn healthy(&self, found: &str) {
        assert_eq!(
            self.code,
            Some(0),
            "expected healthy: {}{}",
            self.stdout,
            self.stderr
        );
        assert!(self.stdout.contains(": healthy, "), "{}", self.stdout);
        assert!(
            self.stdout.contains(found),
            "expected '{found}' in: {}",
            self.stdout
        );
    }

    /// Exit 1 (never 2), the reason in the one stdout line, no secret anywhere.
    pub fn unhealthy(&self, reason: &str, secrets: &[&str]) {
        assert_eq!(
            self.code,
            Some(1),
            "expected unhealthy: {}{}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stdout.contains(": unhealthy, "),
            "{}{}",
            self.stdout,
            self.stderr
        );
        assert_eq!(self.stdout.lines().count(), 1, "one line: {}", self.stdout);
        assert!(
            self.stdout.contains(reason),
            "expected '{reason}' in: {}{}",
            self.stdout,
            self.stderr
        );
        self.no_secrets(secrets);
    }

    /// A usage error: exit 1, one message on stderr, nothing on stdout.
    pub fn usage(&self, message: &str, secrets: &[&str]) {
        assert_eq!(self.code, Some(1), "{}{}", self.stdout, self.stderr);
        assert!(
            self.stderr.contains(message),
            "expected '{message}' in: {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panick"), "{}", self.stderr);
        self.no_secrets(secrets);
    }

    pub fn no_secrets(&self, secrets: &[&str]) {
        for s in secrets {
            assert!(
                !self.stdout.contains(s) && !self.stderr.contains(s),
                "secret in output: {}{}",
                self.stdout,
                self.stderr
            );
        }
    }
}

fn app_url(extra: &str) -> String {
    format!("{}{extra}", primary().url(APP_USER, APP_PASSWORD, "app"))
}

#[test]
fn login_and_query_with_scram() {
    let run = check(&["postgres", &app_url("")], &[]);
    run.healthy("logged in as app, query returned 1 row");
    run.no_secrets(&[APP_PASSWORD]);
    let run = check(
        &[
            "postgres",
            &app_url(""),
            "--query",
            "SELECT generate_series(1, 3)",
        ],
        &[],
    );
    run.healthy("query returned 3 rows");
}

#[test]
fn md5_password() {
    let url = primary().url(MD5_USER, MD5_PASSWORD, "postgres");
    check(&["postgres", &url, "--query", "SELECT 1"], &[]).healthy("logged in as oldapp");
    let url = primary().url(MD5_USER, "wrong-md5-pw", "postgres");
    check(&["postgres", &url], &[])
        .unhealthy("authentication failed for user oldapp", &["wrong-md5-pw"]);
}

#[test]
fn wrong_password() {
    let url = primary().url(APP_USER, "not-the-Pw-55", "app");
    let run = check(&["postgres", &url], &[]);
    run.unhealthy("authentication failed for user app", &["not-the-Pw-55"]);
    assert!(run.stdout.contains("app:****@"), "{}", run.stdout);
}

#[test]
fn unknown_database() {
    let url = primary().url(APP_USER, APP_PASSWORD, "nosuchdb");
    check(&["postgres", &url], &[])
        .unhealthy("database \"nosuchdb\" does not exist", &[APP_PASSWORD]);
}

#[test]
fn failing_query() {
    let run = check(
        &[
            "postgres",
            &app_url(""),
            "--query",
            "SELECT * FROM missing_table",
        ],
        &[],
    );
    run.unhealthy("relation \"missing_table\" does not exist", &[APP_PASSWORD]);
}

#[test]
fn libpq_environment() {
    let port = primary().port.to_string();
    let env = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", APP_USER),
        ("PGPASSWORD", APP_PASSWORD),
        ("PGDATABASE", "app"),
        ("PGSSLMODE", "require"),
    ];
    let run = check(&["postgres"], &env);
    run.healthy("logged in as app");
    run.no_secrets(&[APP_PASSWORD]);
    // The URL wins over the environment.
    let url = format!("postgres://127.0.0.1:{port}/nosuchdb");
    check(&["postgres", &url], &env)
        .unhealthy("database \"nosuchdb\" does not exist", &[APP_PASSWORD]);
}

#[test]
fn password_from_file() {
    let dir = daemon::temp_dir("pgpass");
    let file = dir.join("pw");
    std::fs::write(&file, format!("{APP_PASSWORD}\n")).unwrap();
    let url = format!("postgres://{APP_USER}@127.0.0.1:{}/app", primary().port);
    let run = check(
        &["postgres", &url],
        &[("PGPASSWORD_FILE", file.to_str().unwrap())],
    );
    run.healthy("logged in as app");

    let run = check(
        &["postgres", &url],
        &[("PGPASSWORD_FILE", "/nonexistent/pw")],
    );
    run.usage("PGPASSWORD_FILE: cannot read /nonexistent/pw", &[]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    let run = check(&["postgres", &url], &[]);
    run.unhealthy("the server asks for a password", &[]);
}

#[test]
fn ssl_modes() {
    let ca = certs::certs().ca.to_str().unwrap();
    check(&["postgres", &app_url("?sslmode=require")], &[]).healthy("logged in as app");
    check(
        &["postgres", &app_url("?sslmode=verify-ca"), "--cacert", ca],
        &[],
    )
    .healthy("logged in as app");
    check(
        &["postgres", &app_url("?sslmode=verify-full"), "--cacert", ca],
        &[],
    )
    .healthy("logged in as app");
    check(
        &[
            "postgres",
            &app_url(&format!("?sslmode=verify-full&sslrootcert={ca}")),
        ],
        &[],
    )
    .healthy("logged in");
    // IPv6 literal, and "localhost", both in the certificate.
    let url = format!(
        "postgres://{APP_USER}:{APP_PASSWORD}@[::1]:{}/app?sslmode=verify-full",
        primary().port
    );
    check(&["postgres", &url, "--cacert", ca], &[]).healthy("logged in as app");

    let other = certs::certs().other_ca.to_str().unwrap();
    check(
        &[
            "postgres",
            &app_url("?sslmode=verify-ca"),
            "--cacert",
            other,
        ],
        &[],
    )
    .unhealthy(
        "TLS: certificate not trusted (use --cacert or sslrootcert, or sslmode=require)",
        &[APP_PASSWORD],
    );
}

#[test]
fn verify_full_checks_the_host_name() {
    let ca = certs::certs().ca.to_str().unwrap();
    // 127.0.0.2 reaches the same server, but the certificate does not name it.
    let url = format!(
        "postgres://{APP_USER}:{APP_PASSWORD}@127.0.0.2:{}/app",
        primary().port
    );
    check(
        &[
            "postgres",
            &format!("{url}?sslmode=verify-full"),
            "--cacert",
            ca,
        ],
        &[],
    )
    .unhealthy(
        "TLS: certificate is not valid for 127.0.0.2 (name mismatch)",
        &[APP_PASSWORD],
    );
    // verify-ca checks only the chain.
    check(
        &[
            "postgres",
            &format!("{url}?sslmode=verify-ca"),
            "--cacert",
            ca,
        ],
        &[],
    )
    .healthy("logged in as app");
}

#[test]
fn require_against_a_server_without_ssl() {
    let standby = hot_standby();
    let url = standby.url(APP_USER, APP_PASSWORD, "app");
    check(&["postgres", &format!("{url}?sslmode=require")], &[]).unhealthy(
        "server does not support SSL (sslmode=require)",
        &[APP_PASSWORD],
    );
    // prefer falls back to a plain connection.
    check(&["postgres", &format!("{url}?sslmode=prefer")], &[]).healthy("logged in as app");
}

#[test]
fn primary_flag() {
    check(&["postgres", &app_url(""), "--primary"], &[]).healthy("primary");
    let url = hot_standby().url(APP_USER, APP_PASSWORD, "app");
    check(&["postgres", &url], &[]).healthy("logged in as app");
    check(&["postgres", &url, "--primary"], &[]).unhealthy(
        "server is a standby (in recovery), expected a primary",
        &[APP_PASSWORD],
    );
}

#[test]
fn ping_means_pg_isready() {
    // Up, whatever the login would say.
    let url = primary().url(APP_USER, "bad-ping-Pw", "nosuchdb");
    let run = check(&["postgres", &url, "--ping"], &[]);
    run.healthy("accepting connections");
    run.no_secrets(&["bad-ping-Pw"]);
    // The cold standby answers but rejects connections.
    let url = cold_standby().url(APP_USER, APP_PASSWORD, "app");
    check(&["postgres", &url, "--ping"], &[]).unhealthy(
        "rejecting connections: the database system is not accepting connections",
        &[APP_PASSWORD],
    );
    check(&["postgres", &url], &[]).unhealthy("not accepting connections", &[APP_PASSWORD]);
}

#[test]
fn usage_errors() {
    check(
        &[
            "postgres",
            "postgres://u:pw-secret-9@h/db?sslmode=sometimes",
        ],
        &[],
    )
    .usage("sslmode: expected disable", &["pw-secret-9"]);
    check(&["postgres"], &[("PGSSLMODE", "bogus")]).usage("PGSSLMODE: expected disable", &[]);
    check(&["postgres", "mongodb://u:pw-secret-9@h/db"], &[])
        .usage("unknown scheme", &["pw-secret-9"]);
    check(&["postgres", "mysql://u:pw-secret-9@h/db"], &[])
        .usage("mysql:// is not for this check", &["pw-secret-9"]);
    check(&["postgres", "postgres://u:pw-secret-9@h/db?bogus=1"], &[])
        .usage("unknown parameter 'bogus'", &["pw-secret-9"]);
    check(
        &[
            "postgres",
            "--cacert",
            "/nonexistent.pem",
            "postgres://h/db?sslmode=verify-full",
        ],
        &[],
    )
    .usage("/nonexistent.pem", &[]);
    check(&["postgres", "--timeout", "soon"], &[]).usage("--timeout 'soon'", &[]);
}

#[test]
fn connection_refused() {
    let port = daemon::free_port();
    let url = format!("postgres://app:pw-refused-1@127.0.0.1:{port}/app");
    check(&["postgres", &url], &[]).unhealthy("connection refused", &["pw-refused-1"]);
}

#[test]
fn hostile_peers() {
    let secret = "pw-hostile-3";
    for mode in ["prefer", "disable"] {
        let url =
            |port: u16| format!("postgres://app:{secret}@127.0.0.1:{port}/app?sslmode={mode}");
        let run = check(
            &["postgres", &url(hostile::silent()), "--timeout", "500ms"],
            &[],
        );
        run.unhealthy("timed out", &[secret]);
        check(&["postgres", &url(hostile::garbage())], &[])
            .unhealthy("not a PostgreSQL server", &[secret]);
        check(&["postgres", &url(hostile::closer())], &[])
            .unhealthy("connection closed by the server", &[secret]);
        // A Redis server neither answers the startup packet nor closes.
        let redis = crate::support::redis::master().port;
        let run = check(&["postgres", &url(redis), "--timeout", "1s"], &[]);
        run.unhealthy("", &[secret]);
        assert!(
            run.stdout.contains("timed out") || run.stdout.contains("not a PostgreSQL server"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn unix_socket() {
    let pg = primary();
    let dir = pg.dir.to_str().unwrap();
    let port = pg.port.to_string();
    // pg_hba.conf trusts the postgres user on the local socket.
    let env = [
        ("PGHOST", dir),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
    ];
    check(&["postgres"], &env).healthy("logged in as postgres");
    let url = format!(
        "postgres://postgres@{}:{port}/postgres",
        dir.replace('/', "%2F")
    );
    check(&["postgres", &url], &[]).healthy("logged in as postgres");
    let env = [("PGHOST", "/nonexistent"), ("PGPORT", port.as_str())];
    check(&["postgres"], &env).unhealthy("no PostgreSQL socket at /nonexistent/.s.PGSQL.", &[]);
}

/// Bug 1 (passwords printed): libpq takes the password as a URL parameter
/// too (`?password=`); berth must log in with it and print it nowhere.
#[test]
fn password_in_the_query_logs_in_and_is_never_printed() {
    // The role logs in with its password in the user info.
    let url = primary().url(SECRET_USER, SECRET_PASSWORD, "app");
    let run = check(&["postgres", &url], &[]);
    run.no_secrets(&[SECRET_PASSWORD]);
    run.healthy("logged in as secretapp");
    let url = format!(
        "postgres://{SECRET_USER}@127.0.0.1:{}/app?password={SECRET_PASSWORD}",
        primary().port
    );
    let run = check(&["postgres", &url], &[]);
    run.no_secrets(&[SECRET_PASSWORD]);
    run.healthy("logged in as secretapp");
}

/// Bug 4 (PostgreSQL as libpq reads it): a multi-host URL names hosts to
/// try in order; a closed first port must not make the check fail.
#[test]
fn multi_host_url_tries_each_host_in_order() {
    let dead = daemon::free_port();
    let url = format!(
        "postgres://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{dead},127.0.0.1:{}/app",
        primary().port
    );
    let run = check(&["postgres", &url], &[]);
    run.no_secrets(&[APP_PASSWORD]);
    run.healthy("logged in as app");
}

/// A password file as libpq documents it: mode 0600, lines
/// `hostname:port:database:username:password`, `*` matching anything, the
/// first matching line wins.
fn write_pgpass(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let port = primary().port;
    std::fs::write(
        path,
        format!(
            "# comment\n\
             elsewhere:*:*:{APP_USER}:wrong-host-pw\n\
             127.0.0.1:{port}:otherdb:{APP_USER}:wrong-db-pw\n\
             *:{port}:app:{APP_USER}:{APP_PASSWORD}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Bug 4: PGPASSFILE names the password file when neither the URL nor
/// PGPASSWORD gives a password.
#[test]
fn pgpassfile_gives_the_password() {
    let dir = daemon::temp_dir("pgpassfile");
    let file = dir.join("pgpass");
    write_pgpass(&file);
    let url = format!("postgres://{APP_USER}@127.0.0.1:{}/app", primary().port);
    // A HOME without .pgpass, so only PGPASSFILE can give it.
    let home = daemon::temp_dir("pgpassfile-home");
    let run = check(
        &["postgres", &url],
        &[
            ("PGPASSFILE", file.to_str().unwrap()),
            ("HOME", home.to_str().unwrap()),
        ],
    );
    run.no_secrets(&[APP_PASSWORD, "wrong-host-pw", "wrong-db-pw"]);
    run.healthy("logged in as app");
}

/// Bug 4: without PGPASSFILE, `~/.pgpass` (HOME) gives the password.
#[test]
fn home_pgpass_gives_the_password() {
    let home = daemon::temp_dir("pgpass-home");
    write_pgpass(&home.join(".pgpass"));
    let url = format!("postgres://{APP_USER}@127.0.0.1:{}/app", primary().port);
    let run = check(&["postgres", &url], &[("HOME", home.to_str().unwrap())]);
    run.no_secrets(&[APP_PASSWORD, "wrong-host-pw", "wrong-db-pw"]);
    run.healthy("logged in as app");
}
