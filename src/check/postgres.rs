//! Postgres health check. (Not implemented yet.)

use super::{Attempt, Probe};
use crate::cli::PostgresArgs;

pub struct Postgres {
    url: String,
}

impl Postgres {
    pub fn from_args(args: PostgresArgs) -> Result<(Postgres, Option<String>), String> {
        let _ = args;
        Err("not implemented yet".into())
    }

    pub fn from_url(url: &str) -> Result<Postgres, String> {
        Ok(Postgres {
            url: url.to_string(),
        })
    }
}

impl Probe for Postgres {
    fn describe(&self) -> String {
        crate::target::redact(&self.url)
    }

    fn probe(&self, _attempt: &Attempt) -> Result<String, String> {
        Err("not implemented yet".into())
    }
}
