//! TCP: the port accepts a connection.

use super::{Attempt, Probe, net};
use crate::cli::TcpArgs;
use crate::target::{Kind, Target};

pub struct Tcp {
    target: Target,
}

impl Tcp {
    /// `berth check tcp HOST:PORT` (or a `tcp://` URL).
    pub fn from_args(args: TcpArgs) -> Result<(Tcp, Option<String>), String> {
        let target = Target::parse_for(&args.address, &[Kind::Tcp], Some("tcp"))
            .map_err(|e| e.to_string())?;
        Ok((Tcp::from_target(target)?, args.timeout))
    }

    /// `tcp://HOST:PORT`.
    pub fn from_target(target: Target) -> Result<Tcp, String> {
        target.host().map_err(|e| e.to_string())?;
        if !target.is_host_only() {
            return Err(
                "tcp URL: expected tcp://HOST:PORT and nothing else (IPv6 as [::1]:5432)".into(),
            );
        }
        Ok(Tcp { target })
    }
}

impl Probe for Tcp {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn probe(&self, attempt: &Attempt) -> Result<String, String> {
        let (host, port) = self.target.host().map_err(|e| e.to_string())?;
        let stream = net::connect_one(host, port, attempt)?;
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        Ok(format!("connected to {peer}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(url: &str) -> Result<Tcp, String> {
        Tcp::from_target(Target::parse(url).map_err(|e| e.to_string())?)
    }

    #[test]
    fn addresses() {
        assert_eq!(tcp("tcp://db:5432").unwrap().describe(), "tcp://db:5432");
        assert_eq!(
            tcp("tcp://[::1]:6379").unwrap().describe(),
            "tcp://[::1]:6379"
        );
        assert!(tcp("tcp://db").is_err());
        assert!(tcp("tcp://:80").is_err());
        assert!(tcp("tcp://db:99999").is_err());
    }

    /// Found by the fuzz target `urls`: the error printed the password.
    #[test]
    fn bad_url_error_hides_the_password() {
        let Err(e) = tcp("tcp://u:pa?ss#x@host/x?y=1") else {
            panic!("not HOST:PORT")
        };
        assert!(!e.contains("pa?ss"), "{e}");
    }
}
