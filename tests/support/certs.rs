//! Test certificates, made fresh per run with the openssl command: a CA and
//! a server certificate for localhost, 127.0.0.1 and ::1 signed by it; and,
//! for the TLS tests, certificates of every common shape (`pki`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Certs {
    /// The CA certificate (PEM) a client passes with --cacert.
    pub ca: PathBuf,
    /// Server certificate and key (PEM).
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A second, unrelated CA: "not trusted" cases.
    pub other_ca: PathBuf,
}

/// One set of certificates for the whole test run.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-certs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        make(&dir)
    })
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command is needed to make test certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make(dir: &Path) -> Certs {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN=berth test {ca}"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    // Servers started as another user (PostgreSQL) must be able to read them.
    for f in ["server.key", "server.pem", "ca.pem"] {
        let _ = Command::new("chmod")
            .args(["0644", f])
            .current_dir(dir)
            .status();
    }
    let _ = Command::new("chmod")
        .args(["0755", "."])
        .current_dir(dir)
        .status();
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        other_ca: dir.join("other-ca.pem"),
    }
}

/// Certificates of every shape people make with openssl, for the TLS tests:
/// server certificates with each common key, a self-signed `req -x509` one,
/// and client certificates whose keys come in each PEM shape.
pub struct Pki {
    /// Server certificates signed by the test CA, for localhost, 127.0.0.1
    /// and ::1: (label, certificate, key).
    pub servers: Vec<(&'static str, PathBuf, PathBuf)>,
    /// `openssl req -x509` for localhost and 127.0.0.1 (CA:TRUE, as
    /// OpenSSL marks it), and its key.
    pub self_signed: PathBuf,
    pub self_signed_key: PathBuf,
    /// Client certificates for CN=CLIENT_CN signed by the test CA, with the
    /// key as PKCS#8, PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`):
    /// (label, certificate, key).
    pub clients: Vec<(&'static str, PathBuf, PathBuf)>,
    /// Self-signed CA:TRUE certificates for localhost that expired in 2020
    /// and that start in 2099 (a GeneralizedTime date): (certificate, key).
    pub expired: (PathBuf, PathBuf),
    pub future: (PathBuf, PathBuf),
    /// A client certificate from the other CA, which servers refuse.
    pub stranger: (PathBuf, PathBuf),
    /// A client certificate for CN=CLIENT_CN with an Ed25519 key (PKCS#8,
    /// `openssl genpkey -algorithm ED25519`): not among `clients`, since
    /// not every server takes one (BoringSSL, so grpcio, does not offer
    /// Ed25519 for client certificates).
    pub ed25519_client: (PathBuf, PathBuf),
    /// The CA for client certificates (the test CA).
    pub client_ca: PathBuf,
}

/// The user name in the client certificates (PostgreSQL `cert` logins).
pub const CLIENT_CN: &str = "certuser";

impl Pki {
    /// The client certificate and key with this label ("ed25519" too).
    pub fn client(&self, label: &str) -> (&Path, &Path) {
        if label == "ed25519" {
            return (&self.ed25519_client.0, &self.ed25519_client.1);
        }
        let (_, c, k) = self.clients.iter().find(|(l, ..)| *l == label).unwrap();
        (c, k)
    }

    /// Every private key's PEM body lines, which must appear in no output.
    pub fn key_lines(&self) -> Vec<String> {
        let mut keys: Vec<&PathBuf> = self.clients.iter().map(|(_, _, k)| k).collect();
        keys.extend(self.servers.iter().map(|(_, _, k)| k));
        keys.push(&self.stranger.1);
        keys.push(&self.ed25519_client.1);
        keys.push(&self.self_signed_key);
        keys.push(&self.expired.1);
        keys.push(&self.future.1);
        keys.iter()
            .flat_map(|k| {
                std::fs::read_to_string(k)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = certs().ca.parent().unwrap().to_path_buf();
        make_pki(&dir)
    })
}

/// Signs `name.csr` with the CA named `ca` into `name.pem`.
fn sign(dir: &Path, ca: &str, name: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

fn csr(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
}

const SERVER_EXT: &str = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n\
    basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
const CLIENT_EXT: &str = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";

fn make_pki(dir: &Path) -> Pki {
    // Server keys as `openssl genpkey` writes them (PKCS#8).
    let mut servers = Vec::new();
    for (label, args) in [
        (
            "rsa2048",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
        ),
        (
            "rsa4096",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"][..],
        ),
        (
            "p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
        ),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
        ),
        ("ed25519", &["-algorithm", "ED25519"][..]),
    ] {
        let name = format!("srv-{label}");
        let mut a = vec!["genpkey"];
        a.extend_from_slice(args);
        let key = format!("{name}.key");
        a.extend_from_slice(&["-out", &key]);
        openssl(dir, &a);
        csr(dir, &name, "localhost");
        sign(dir, "ca", &name, SERVER_EXT);
        servers.push((label, dir.join(format!("{name}.pem")), dir.join(key)));
    }

    // The one-liner of countless READMEs.
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "selfsigned.key",
            "-out",
            "selfsigned.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );

    // Client keys in each PEM shape.
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "cli-pkcs8.key",
        ],
    );
    openssl(
        dir,
        &["genrsa", "-traditional", "-out", "cli-pkcs1.key", "2048"],
    );
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "cli-sec1.key",
        ],
    );
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "cli-other.key",
        ],
    );
    let mut clients = Vec::new();
    for (label, marker) in [
        ("pkcs8", "BEGIN PRIVATE KEY"),
        ("pkcs1", "BEGIN RSA PRIVATE KEY"),
        ("sec1", "BEGIN EC PRIVATE KEY"),
    ] {
        let name = format!("cli-{label}");
        let key = dir.join(format!("{name}.key"));
        let pem = std::fs::read_to_string(&key).unwrap();
        assert!(
            pem.contains(marker),
            "{name}.key is not {marker}: {pem:.40}"
        );
        csr(dir, &name, CLIENT_CN);
        sign(dir, "ca", &name, CLIENT_EXT);
        clients.push((label, dir.join(format!("{name}.pem")), key));
    }
    csr(dir, "cli-other", CLIENT_CN);
    sign(dir, "other-ca", "cli-other", CLIENT_EXT);
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "ED25519",
            "-out",
            "cli-ed25519.key",
        ],
    );
    csr(dir, "cli-ed25519", CLIENT_CN);
    sign(dir, "ca", "cli-ed25519", CLIENT_EXT);

    // Dates `openssl req` will not write: `openssl ca -selfsign` takes any.
    let dated = |name: &str, start: &str, end: &str| {
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(dir.join("db/index.txt"), "").unwrap();
        std::fs::write(dir.join("db/serial"), "01\n").unwrap();
        std::fs::write(
            dir.join("selfsign.cnf"),
            "[ca]\ndefault_ca = self\n[self]\ndir = .\ndatabase = db/index.txt\n\
             serial = db/serial\nnew_certs_dir = db\ndefault_md = sha256\npolicy = any\n\
             [any]\ncommonName = supplied\n[ext]\nbasicConstraints = critical,CA:TRUE\n\
             subjectAltName = DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            dir,
            &[
                "ca",
                "-batch",
                "-notext",
                "-config",
                "selfsign.cnf",
                "-selfsign",
                "-keyfile",
                &key,
                "-in",
                &csr,
                "-out",
                &pem,
                "-startdate",
                start,
                "-enddate",
                end,
                "-extensions",
                "ext",
            ],
        );
        (dir.join(pem), dir.join(key))
    };
    let expired = dated("expired", "20200101000000Z", "20200102000000Z");
    let future = dated("future", "20990101000000Z", "20990102000000Z");

    // PostgreSQL runs as another user and must read what it is given.
    let _ = Command::new("sh")
        .args(["-c", "chmod 0644 *.pem *.key"])
        .current_dir(dir)
        .status();
    Pki {
        servers,
        self_signed: dir.join("selfsigned.pem"),
        self_signed_key: dir.join("selfsigned.key"),
        clients,
        expired,
        future,
        stranger: (dir.join("cli-other.pem"), dir.join("cli-other.key")),
        ed25519_client: (dir.join("cli-ed25519.pem"), dir.join("cli-ed25519.key")),
        client_ca: dir.join("ca.pem"),
    }
}

/// A server certificate signed by an intermediate CA, for trust stores
/// that must find the root the chain leads to.
pub struct Chain {
    /// The root CA, "CN=berth test root".
    pub root: PathBuf,
    /// Another root with the same name and a different key: an anchor a
    /// store may hold beside the right one.
    pub namesake: PathBuf,
    /// The server's chain as it sends it: its certificate for localhost,
    /// 127.0.0.1 and ::1, then the intermediate; and its key.
    pub server: PathBuf,
    pub key: PathBuf,
}

pub fn chain() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let dir = certs().ca.parent().unwrap().to_path_buf();
        make_chain(&dir)
    })
}

fn make_chain(dir: &Path) -> Chain {
    for root in ["chain-root", "chain-namesake"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{root}.key"),
                "-out",
                &format!("{root}.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=berth test root",
            ],
        );
    }
    for name in ["chain-intermediate", "chain-server"] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        );
    }
    csr(dir, "chain-intermediate", "berth test intermediate");
    sign(
        dir,
        "chain-root",
        "chain-intermediate",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    csr(dir, "chain-server", "localhost");
    sign(dir, "chain-intermediate", "chain-server", SERVER_EXT);
    let mut sent = std::fs::read(dir.join("chain-server.pem")).unwrap();
    sent.extend(std::fs::read(dir.join("chain-intermediate.pem")).unwrap());
    std::fs::write(dir.join("chain-sent.pem"), sent).unwrap();
    Chain {
        root: dir.join("chain-root.pem"),
        namesake: dir.join("chain-namesake.pem"),
        server: dir.join("chain-sent.pem"),
        key: dir.join("chain-server.key"),
    }
}
