//! Redis health check. (Not implemented yet.)

use super::{Attempt, Probe};
use crate::cli::RedisArgs;

pub struct Redis {
    url: String,
}

impl Redis {
    pub fn from_args(args: RedisArgs) -> Result<(Redis, Option<String>), String> {
        let _ = args;
        Err("not implemented yet".into())
    }

    pub fn from_url(url: &str) -> Result<Redis, String> {
        Ok(Redis {
            url: url.to_string(),
        })
    }
}

impl Probe for Redis {
    fn describe(&self) -> String {
        crate::target::redact(&self.url)
    }

    fn probe(&self, _attempt: &Attempt) -> Result<String, String> {
        Err("not implemented yet".into())
    }
}
