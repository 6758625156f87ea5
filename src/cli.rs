//! The command line, and nothing else: argh structs whose doc comments are the
//! help text. `options.rs` and the check modules turn them into typed settings.

use argh::FromArgs;

use crate::target::TlsSettings;

/// The one TLS flag set, added to every check that speaks TLS: argh has no
/// flatten, so a macro adds the fields and `tls()` hands them over as one
/// value. What they mean is the same for every protocol (libpq's names for
/// PostgreSQL are in its own help line).
macro_rules! with_tls {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($body)*

            /// TLS: do not verify the server's certificate
            #[argh(switch)]
            pub insecure: bool,

            /// TLS: trust the CA certificates in this PEM file instead of the system's, or the server's own self-signed certificate
            #[argh(option)]
            pub cacert: Option<String>,

            /// TLS: client certificate (PEM; the key may follow it in the same file)
            #[argh(option)]
            pub cert: Option<String>,

            /// TLS: private key of --cert (PEM: PKCS#8, RSA or EC key, unencrypted)
            #[argh(option)]
            pub key: Option<String>,

            /// TLS: verify the certificate for NAME and send it as SNI, instead of the host connected to
            #[argh(option)]
            pub servername: Option<String>,
        }

        impl $name {
            /// The TLS flags as one value.
            pub fn tls(&self) -> TlsSettings {
                TlsSettings {
                    insecure: self.insecure,
                    cacert: self.cacert.clone(),
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                    servername: self.servername.clone(),
                }
            }
        }
    };
}

/// berth: init, startup gate and health checks for containers.
#[derive(FromArgs, Debug)]
pub struct Berth {
    /// print the version and exit
    #[argh(switch, short = 'V')]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Run(RunArgs),
    Wait(WaitArgs),
    Check(CheckArgs),
    Install(InstallArgs),
}

/// Run CMD as PID 1: forward signals, reap zombies, pass its exit status through.
/// Every option can also come from a BERTH_* variable (flags win).
/// DUR is 500ms, 5s, 1m30s or a number of seconds, at most a year; 0 means none.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// wait for this dependency (URL) before anything else; repeatable; TLS settings as for `berth wait` [BERTH_WAIT, comma-separated]
    #[argh(option)]
    pub wait: Vec<String>,

    /// give up waiting after DUR, e.g. 90s or 2m; 0: no limit (default 60s) [BERTH_WAIT_TIMEOUT]
    #[argh(option)]
    pub wait_timeout: Option<String>,

    /// pre-start step, run in order, each must exit 0; split like shell words but run without a shell; repeatable [BERTH_PRE, one per line]
    #[argh(option)]
    pub pre: Vec<String>,

    /// hold a PostgreSQL advisory lock (postgres:// URL) or a MySQL/MariaDB GET_LOCK (mysql:// URL) while the pre-start steps run [BERTH_PRE_LOCK]
    #[argh(option)]
    pub pre_lock: Option<String>,

    /// name the PostgreSQL advisory lock key is derived from, or the MySQL lock name (default "berth-pre") [BERTH_PRE_LOCK_NAME]
    #[argh(option)]
    pub pre_lock_name: Option<String>,

    /// run pre-steps and CMD as USER[:GROUP], names or numbers [BERTH_USER]
    #[argh(option)]
    pub user: Option<String>,

    /// deliver forwarded signals to CMD's whole process group [BERTH_GROUP=1]
    #[argh(switch)]
    pub group: bool,

    /// rewrite a forwarded signal, e.g. TERM:QUIT, or drop it, e.g. WINCH:0; repeatable [BERTH_REWRITE, comma-separated]
    #[argh(option)]
    pub rewrite: Vec<String>,

    /// when CMD has exited, how long leftover processes get after SIGTERM before SIGKILL; 0: no grace, SIGKILL at once (default 5s) [BERTH_GRACE]
    #[argh(option)]
    pub grace: Option<String>,

    /// after forwarding SIGTERM, SIGINT or SIGQUIT, SIGKILL CMD's group if it still runs after DUR; 0: never, the default [BERTH_KILL_AFTER]
    #[argh(option)]
    pub kill_after: Option<String>,

    /// hold the first SIGTERM for DUR before forwarding it, so load balancers deregister first; a second SIGTERM, or SIGINT/SIGQUIT, goes through at once; 0: no delay, the default [BERTH_STOP_DELAY]
    #[argh(option)]
    pub stop_delay: Option<String>,

    /// report exit code N as 0; repeatable [BERTH_SUCCESS_CODE, comma-separated]
    #[argh(option)]
    pub success_code: Vec<String>,

    /// log more: each forwarded signal, each reaped orphan [BERTH_VERBOSE=1]
    #[argh(switch, short = 'v')]
    pub verbose: bool,

    /// log nothing but fatal errors [BERTH_QUIET=1]
    #[argh(switch, short = 'q')]
    pub quiet: bool,

    /// the command to run, after `--`
    #[argh(positional, greedy)]
    pub cmd: Vec<String>,
}

/// Wait until every URL answers its health check, then exec CMD or exit 0.
/// DUR is 500ms, 5s, 1m30s or a number of seconds, at most a year; 0 means none.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "wait")]
pub struct WaitArgs {
    /// give up after DUR; 0: no limit (default 60s) [BERTH_WAIT_TIMEOUT]
    #[argh(option)]
    pub timeout: Option<String>,

    /// log each attempt
    #[argh(switch, short = 'v')]
    pub verbose: bool,

    /// log nothing but the final failure
    #[argh(switch, short = 'q')]
    pub quiet: bool,

    /// dependencies to wait for (http, https, http+unix, postgres, postgresql, mysql, mariadb, redis, rediss, valkey, valkeys, grpc, grpcs, amqp, amqps, nats, tls, memcached, tcp, file URLs), then `--` and the command to exec [BERTH_WAIT, comma-separated]; tls:// is NATS over TLS. TLS: https/rediss/grpcs/amqps/tls take #cacert=FILE&cert=FILE&key=FILE&servername=NAME&insecure, postgres takes sslmode, sslrootcert, sslcert, sslkey parameters, mysql/mariadb ssl-mode, ssl-ca, ssl-cert, ssl-key
    #[argh(positional)]
    pub urls: Vec<String>,
}

/// Copy this executable into DIR as DIR/berth (mode 0755, atomically), for images you don't own: an initContainer installs it into a volume the app's container shares.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "install")]
pub struct InstallArgs {
    /// the directory to install into (it must exist)
    #[argh(positional)]
    pub dir: String,
}

/// One health check: exit 0 healthy, 1 unhealthy. `berth check URL [URL...] [--timeout DUR]` checks each URL by its scheme, in parallel, healthy when all are.
/// DUR is 500ms, 5s, 1m30s or a number of seconds, at most a year; 0 means none.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct CheckArgs {
    #[argh(subcommand)]
    pub kind: CheckKind,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum CheckKind {
    Http(HttpArgs),
    Postgres(PostgresArgs),
    Mysql(MysqlArgs),
    Redis(RedisArgs),
    Grpc(GrpcArgs),
    Amqp(AmqpArgs),
    Nats(NatsArgs),
    Memcached(MemcachedArgs),
    Tcp(TcpArgs),
    File(FileArgs),
}

with_tls! {
/// Check an HTTP(S) endpoint.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "http")]
pub struct HttpArgs {
    /// the URL, http:// or https://; TLS settings may also come in its fragment (#cacert=FILE&cert=FILE&key=FILE&servername=NAME&insecure)
    #[argh(positional)]
    pub url: String,

    /// healthy statuses: a list of codes and ranges (default 200-399)
    #[argh(option)]
    pub status: Option<String>,

    /// the body must contain this text
    #[argh(option)]
    pub contains: Option<String>,

    /// the body is JSON and the field at PATH (names joined by '.') has this value: PATH=VALUE, e.g. status=UP or components.db.status=UP
    #[argh(option)]
    pub json_field: Option<String>,

    /// extra request header 'Name: value'; repeatable
    #[argh(option)]
    pub header: Vec<String>,

    /// request method (default GET)
    #[argh(option)]
    pub method: Option<String>,

    /// connect to this Unix-domain socket instead of the URL's host and port (as curl's --unix-socket)
    #[argh(option)]
    pub unix_socket: Option<String>,


    /// give up after DUR, all phases included; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
}

with_tls! {
/// Check a PostgreSQL server: by default a real login and SELECT 1.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "postgres")]
pub struct PostgresArgs {
    /// postgres:// URL (libpq parameters sslmode, sslrootcert, sslcert, sslkey); parts left out come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY
    #[argh(positional)]
    pub url: Option<String>,

    /// the query to run after login (default SELECT 1)
    #[argh(option)]
    pub query: Option<String>,

    /// only check that the server accepts connections, like pg_isready (no login needed)
    #[argh(switch)]
    pub ping: bool,

    /// unhealthy unless the server is a primary (not a read-only standby)
    #[argh(switch)]
    pub primary: bool,


    /// give up after DUR, all phases included; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
}

with_tls! {
/// Check a MySQL or MariaDB server: by default a real login and SELECT 1.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "mysql")]
pub struct MysqlArgs {
    /// mysql:// or mariadb:// URL (default mysql://root@127.0.0.1:3306; parameters ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY, ssl-ca, ssl-cert, ssl-key, socket=PATH); parts left out come from MYSQL_HOST, MYSQL_TCP_PORT, MYSQL_UNIX_PORT, MYSQL_PWD
    #[argh(positional)]
    pub url: Option<String>,

    /// only check that the server answers, like mysqladmin ping (a refused login still counts)
    #[argh(switch)]
    pub ping: bool,

    /// unhealthy when the server is read-only (read_only or super_read_only on)
    #[argh(switch)]
    pub primary: bool,


    /// give up after DUR, all phases included; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
}

with_tls! {
/// Check a Redis server: PING must answer PONG.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "redis")]
pub struct RedisArgs {
    /// redis:// or rediss:// URL (default redis://127.0.0.1:6379), TLS settings also in its fragment as for http; REDISCLI_AUTH gives the password
    #[argh(positional)]
    pub url: Option<String>,

    /// unhealthy unless the server has this role: master or replica
    #[argh(option)]
    pub role: Option<String>,


    /// give up after DUR, all phases included; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
}

with_tls! {
/// Check a gRPC server with the standard health service (grpc.health.v1.Health/Check): SERVING is healthy.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "grpc")]
pub struct GrpcArgs {
    /// HOST:PORT, grpc://HOST:PORT, or grpcs://HOST:PORT for TLS (TLS settings may also come in its fragment, #cacert=FILE&cert=FILE&key=FILE&servername=NAME&insecure)
    #[argh(positional)]
    pub address: String,

    /// the service to ask about (default "": the server as a whole)
    #[argh(option)]
    pub service: Option<String>,

    /// metadata sent with the call 'name: value'; repeatable
    #[argh(option)]
    pub header: Vec<String>,


    /// give up after DUR, all phases included; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
}

with_tls! {
/// Check a RabbitMQ (AMQP 0-9-1) broker: a real login, connection.open on the vhost, not blocked by a resource alarm, then a clean close.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "amqp")]
pub struct AmqpArgs {
    /// amqp://[USER:PASSWORD@]HOST[:PORT][/VHOST] or amqps:// for TLS (TLS settings may also come in its fragment); the vhost is percent-decoded (%2F is '/'), "/" when left out; no user means guest:guest, as RabbitMQ's clients assume
    #[argh(positional)]
    pub url: String,


    /// give up after DUR, all phases included; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
}

with_tls! {
/// Check a NATS server: INFO, CONNECT with the URL's credentials, and PING answered by PONG.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "nats")]
pub struct NatsArgs {
    /// nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT], or tls:// for TLS as NATS clients write it (TLS settings may also come in its fragment)
    #[argh(positional)]
    pub url: String,


    /// give up after DUR, all phases included; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
}

/// Check a memcached server: `version` must be answered.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "memcached")]
pub struct MemcachedArgs {
    /// HOST:PORT or memcached://HOST[:PORT] (default port 11211; IPv6 as [::1]:11211)
    #[argh(positional)]
    pub address: String,

    /// give up after DUR; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}

/// Check that a file exists and, with --max-age, was modified recently (worker heartbeats).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "file")]
pub struct FileArgs {
    /// the file's path
    #[argh(positional)]
    pub path: String,

    /// unhealthy when the file was last modified longer ago than DUR, e.g. 1m or 30 (seconds); 0: any age
    #[argh(option)]
    pub max_age: Option<String>,
}

/// Check that a TCP port accepts connections.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "tcp")]
pub struct TcpArgs {
    /// HOST:PORT (IPv6 as [::1]:5432)
    #[argh(positional)]
    pub address: String,

    /// give up after DUR; 0: no limit (default 3s)
    #[argh(option)]
    pub timeout: Option<String>,
}
