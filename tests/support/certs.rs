//! Test certificates, made fresh per run with the openssl command: a CA and
//! a server certificate for localhost, 127.0.0.1 and ::1 signed by it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Certs {
    pub dir: PathBuf,
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
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn make(dir: &Path) -> Certs {
    for ca in ["ca", "other-ca"] {
        openssl(dir, &[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.pem"), "-days", "2",
            "-subj", &format!("/CN=berth test {ca}"),
        ]);
    }
    openssl(dir, &[
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(dir, &[
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
    ]);
    // Servers started as another user (PostgreSQL) must be able to read them.
    for f in ["server.key", "server.pem", "ca.pem"] {
        let _ = Command::new("chmod").args(["0644", f]).current_dir(dir).status();
    }
    let _ = Command::new("chmod").args(["0755", "."]).current_dir(dir).status();
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        other_ca: dir.join("other-ca.pem"),
        dir: dir.to_path_buf(),
    }
}
