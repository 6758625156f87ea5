//! Http health check. (Not implemented yet.)

use super::{Attempt, Probe};
use crate::cli::HttpArgs;

pub struct Http {
    url: String,
}

impl Http {
    pub fn from_args(args: HttpArgs) -> Result<(Http, Option<String>), String> {
        let _ = args;
        Err("not implemented yet".into())
    }

    pub fn from_url(url: &str) -> Result<Http, String> {
        Ok(Http { url: url.to_string() })
    }
}

impl Probe for Http {
    fn describe(&self) -> String {
        crate::target::redact(&self.url)
    }

    fn probe(&self, _attempt: &Attempt) -> Result<String, String> {
        Err("not implemented yet".into())
    }
}
