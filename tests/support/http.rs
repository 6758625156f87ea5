//! Real HTTP(S) servers for the tests, in-process on 127.0.0.1 (or ::1)
//! port 0: one that answers by path, and hostile peers that misbehave.
//! Every server records the requests it got, so a test can assert that it
//! was actually reached, and stops its threads when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Hit {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a server treats each connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// Answers by path (see `respond`).
    Normal,
    /// Accepts and never sends a byte.
    Silent,
    /// Starts a reply, then sends one byte every 50 ms, forever.
    Trickle,
    /// Sends bytes that are not HTTP, then closes.
    Garbage,
    /// Closes at once.
    Close,
}

pub struct Server {
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// A plain HTTP server on 127.0.0.1.
    pub fn http() -> Server {
        Server::start("127.0.0.1:0", Behaviour::Normal, None)
    }

    /// An HTTPS server with the test certificate (`certs()`).
    pub fn https() -> Server {
        Server::start("127.0.0.1:0", Behaviour::Normal, Some(tls_config()))
    }

    pub fn hostile(b: Behaviour) -> Server {
        Server::start("127.0.0.1:0", b, None)
    }

    pub fn start(
        bind: &str,
        behaviour: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Server {
        let listener = TcpListener::bind(bind).expect("bind test server");
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, s, tls) = (h.clone(), s.clone(), tls.clone());
                thread::spawn(move || serve(conn, behaviour, tls, &h, &s));
            }
        });
        Server {
            addr,
            hits,
            stop,
            accept: Some(accept),
        }
    }

    /// "http://127.0.0.1:PORT" + path, with user info if given.
    pub fn url(&self, scheme: &str, userinfo: &str, path: &str) -> String {
        let at = if userinfo.is_empty() {
            String::new()
        } else {
            format!("{userinfo}@")
        };
        format!("{scheme}://{at}{}{path}", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// How many connections were accepted and recorded (hostile servers
    /// record a hit per connection, with an empty method).
    pub fn hit_count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// The server side of the test certificate (localhost, 127.0.0.1, ::1).
pub fn tls_config() -> Arc<rustls::ServerConfig> {
    let certs = super::certs::certs();
    tls_config_for(&certs.cert, &certs.key, None)
}

/// A server configuration with this certificate and key; with `client_ca`,
/// the server requires a client certificate signed by that CA (mutual TLS).
pub fn tls_config_for(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Arc<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    Arc::new(builder.with_single_cert(chain, key).unwrap())
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn serve(
    conn: TcpStream,
    behaviour: Behaviour,
    tls: Option<Arc<rustls::ServerConfig>>,
    hits: &Mutex<Vec<Hit>>,
    stop: &AtomicBool,
) {
    // Bounded so that no thread outlives a test by much.
    let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    let record = |hit: Hit| hits.lock().unwrap().push(hit);
    let mut conn = conn;
    match behaviour {
        Behaviour::Normal => {}
        Behaviour::Silent => {
            record(Hit {
                method: String::new(),
                path: String::new(),
                headers: Vec::new(),
            });
            let mut sink = [0u8; 1024];
            while !stop.load(Ordering::SeqCst) {
                match conn.read(&mut sink) {
                    Ok(0) => return,
                    _ => continue, // timeouts and data alike: keep silent
                }
            }
            return;
        }
        Behaviour::Trickle => {
            record(Hit {
                method: String::new(),
                path: String::new(),
                headers: Vec::new(),
            });
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n");
            while !stop.load(Ordering::SeqCst) {
                if conn.write_all(b"X").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        Behaviour::Garbage => {
            record(Hit {
                method: String::new(),
                path: String::new(),
                headers: Vec::new(),
            });
            // Read the request first: closing with it unread would reset
            // the connection and could discard the garbage on its way.
            let _ = conn.read(&mut [0u8; 4096]);
            let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02garbage\r\n\r\n");
            return;
        }
        Behaviour::Close => {
            record(Hit {
                method: String::new(),
                path: String::new(),
                headers: Vec::new(),
            });
            return;
        }
    }
    let stream: Box<dyn Stream> = match tls {
        None => Box::new(conn),
        Some(config) => {
            let Ok(server) = rustls::ServerConnection::new(config) else {
                return;
            };
            Box::new(rustls::StreamOwned::new(server, conn))
        }
    };
    let mut reader = BufReader::new(stream);
    let hit = match read_request(&mut reader, stop) {
        Ok(hit) => hit,
        Err(Unreadable::Garbage) => {
            // What real servers do with a request they cannot parse (such
            // as a TLS ClientHello on a plain port).
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
            return;
        }
        Err(Unreadable::Gone) => return,
    };
    let (status, headers, body) = respond(&hit);
    record(hit.clone());
    let mut reply = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    // A chunked route frames its own body.
    if !headers.iter().any(|(n, _)| n == "Transfer-Encoding") {
        reply.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (n, v) in headers {
        reply.push_str(&format!("{n}: {v}\r\n"));
    }
    reply.push_str("\r\n");
    let stream = reader.get_mut();
    let _ = stream.write_all(reply.as_bytes());
    if hit.method != "HEAD" {
        let _ = stream.write_all(&body);
    }
    let _ = stream.flush();
}

enum Unreadable {
    Garbage,
    Gone,
}

/// Reads one request head.
fn read_request(reader: &mut impl BufRead, stop: &AtomicBool) -> Result<Hit, Unreadable> {
    let mut lines = Vec::new();
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return Err(Unreadable::Gone),
            Ok(_) if line.ends_with('\n') => {
                let l = line.trim_end().to_string();
                line.clear();
                if l.is_empty() {
                    break;
                }
                lines.push(l);
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return Err(Unreadable::Gone);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Unreadable::Garbage);
            }
            Err(_) => return Err(Unreadable::Gone),
        }
    }
    let mut first = lines.first().ok_or(Unreadable::Garbage)?.split(' ');
    let method = first.next().ok_or(Unreadable::Garbage)?.to_string();
    let path = first.next().ok_or(Unreadable::Garbage)?.to_string();
    let headers = lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Hit {
        method,
        path,
        headers,
    })
}

/// The routes:
/// - `/ok`: 200 "all good"
/// - `/status/N`: status N
/// - `/redirect/N`: 302 to `/redirect/N-1`, and `/redirect/0` to `/ok`
/// - `/loop`: 302 to itself
/// - `/big`: 200 with 2 MiB of 'a', then "needle"
/// - `/to/N/LOCATION`: status N with `Location: LOCATION` (taken as is)
/// - `/headers/N`: 200 with N more headers
/// - `/long-header/N`: 200 with one header whose value is N bytes
/// - `/chunked`: 200 "all good" in chunks, with a chunk extension
/// - `/actuator/STATUS`: 200 with Spring Boot's health JSON, the database
///   component's status STATUS
fn respond(hit: &Hit) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let path = hit.path.as_str();
    if let Some(db) = path.strip_prefix("/actuator/") {
        let body = format!(
            r#"{{"status":"{db}","components":{{"db":{{"status":"{db}","details":{{"database":"PostgreSQL"}}}},"ping":{{"status":"UP"}}}}}}"#
        );
        let json = (
            "Content-Type".to_string(),
            "application/vnd.spring-boot.actuator.v3+json".to_string(),
        );
        return (200, vec![json], body.into_bytes());
    }
    if path == "/ok" {
        return (200, vec![], b"all good".to_vec());
    }
    if let Some((n, location)) = path.strip_prefix("/to/").and_then(|r| r.split_once('/')) {
        let header = ("Location".to_string(), location.to_string());
        return (n.parse().unwrap_or(500), vec![header], Vec::new());
    }
    if let Some(n) = path.strip_prefix("/headers/") {
        let n: usize = n.parse().unwrap_or(0);
        let headers = (0..n).map(|i| (format!("X-Header-{i}"), "v".into()));
        return (200, headers.collect(), b"all good".to_vec());
    }
    if let Some(n) = path.strip_prefix("/long-header/") {
        let value = "v".repeat(n.parse().unwrap_or(0));
        return (200, vec![("X-Long".into(), value)], b"all good".to_vec());
    }
    if path == "/chunked" {
        let te = ("Transfer-Encoding".to_string(), "chunked".to_string());
        let body = b"4;name=value\r\nall \r\n4\r\ngood\r\n0\r\nX-Trailer: t\r\n\r\n";
        return (200, vec![te], body.to_vec());
    }
    if let Some(n) = path.strip_prefix("/status/") {
        return (
            n.parse().unwrap_or(500),
            vec![],
            format!("status {n}").into_bytes(),
        );
    }
    if let Some(n) = path.strip_prefix("/redirect/") {
        let n: u32 = n.parse().unwrap_or(0);
        let to = if n == 0 {
            "/ok".to_string()
        } else {
            format!("/redirect/{}", n - 1)
        };
        return (302, vec![("Location".into(), to)], Vec::new());
    }
    if path == "/loop" {
        return (302, vec![("Location".into(), "/loop".into())], Vec::new());
    }
    if path == "/big" {
        let mut body = vec![b'a'; 2 << 20];
        body.extend_from_slice(b"needle");
        return (200, vec![], body);
    }
    (404, vec![], b"not found".to_vec())
}
