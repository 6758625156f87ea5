//! `check http --json-field PATH=VALUE`: one field of a JSON reply, as
//! Spring Boot's actuator and many `/health` endpoints answer
//! (`{"status": "UP", "components": {"db": {"status": "UP"}}}`).
//!
//! Not a JSON library: a scanner that walks the body once, descends only
//! along PATH (object keys separated by '.'; arrays are passed over, not
//! indexed) and stops at the field. What it passes over is checked only as
//! far as finding the end of each value needs. Nesting is bounded, so a
//! hostile body cannot exhaust the stack.

/// How deep objects and arrays may nest before the body is refused.
const MAX_DEPTH: usize = 64;

/// One `--json-field PATH=VALUE`.
#[derive(Debug, PartialEq)]
pub struct Field {
    path: Vec<String>,
    want: String,
}

impl Field {
    pub fn parse(spec: &str) -> Result<Field, String> {
        let bad =
            |why: &str| format!("--json-field '{spec}': {why}; use PATH=VALUE, e.g. status=UP");
        let (path, want) = spec.split_once('=').ok_or_else(|| bad("missing '='"))?;
        let path: Vec<String> = path.split('.').map(String::from).collect();
        if path.iter().any(String::is_empty) {
            return Err(bad("empty name in PATH"));
        }
        Ok(Field {
            path,
            want: want.to_string(),
        })
    }

    /// `Ok` with what was found when the field has the value, `Err` with
    /// what was found instead (or why nothing was).
    pub fn check(&self, body: &[u8]) -> Result<String, String> {
        let name = self.path.join(".");
        let mut scan = Scan { b: body, i: 0 };
        let found = match scan.value(Some(&self.path), 0) {
            Err(why) => return Err(format!("body is not JSON ({why})")),
            Ok(None) => return Err(format!("no field {name} in the JSON body")),
            Ok(Some(v)) => v,
        };
        let shown = super::clip(&found);
        if found == self.want {
            Ok(format!("{name} is '{shown}'"))
        } else {
            Err(format!(
                "{name} is '{shown}', expected '{}'",
                super::clip(&self.want)
            ))
        }
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(_) => Err(format!("expected '{}' at byte {}", c as char, self.i)),
            None => Err("it ends early".into()),
        }
    }

    /// One value. `path`: `None` to pass over it; `Some([])` to return it
    /// (a scalar's text, or `{...}`/`[...]`); `Some(names)` to descend.
    fn value(&mut self, path: Option<&[String]>, depth: usize) -> Result<Option<String>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let whole = path.is_some_and(<[String]>::is_empty);
        match self.peek().ok_or("it ends early")? {
            b'{' => {
                self.i += 1;
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(whole.then(|| "{}".into()));
                }
                loop {
                    let key = self.string()?;
                    self.expect(b':')?;
                    let inner = match path {
                        Some([first, rest @ ..]) if *first == key => Some(rest),
                        _ => None,
                    };
                    if let Some(found) = self.value(inner, depth + 1)? {
                        return Ok(Some(found));
                    }
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(whole.then(|| "{...}".into()));
                        }
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(whole.then(|| "[]".into()));
                }
                loop {
                    self.value(None, depth + 1)?;
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(whole.then(|| "[...]".into()));
                        }
                        _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
                    }
                }
            }
            b'"' => {
                let s = self.string()?;
                Ok(whole.then_some(s))
            }
            _ => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
                {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                // A number's characters, not its grammar: no float parser
                // (tens of kB in the binary) for a value only compared as
                // text.
                let number = word.starts_with(|c: char| c == '-' || c.is_ascii_digit())
                    && word
                        .bytes()
                        .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c));
                if !(number || matches!(word, "true" | "false" | "null")) {
                    return Err(format!("unexpected text at byte {start}"));
                }
                Ok(whole.then(|| word.to_string()))
            }
        }
    }

    /// A string, its escapes decoded (a lone surrogate becomes U+FFFD).
    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.b.get(self.i).ok_or("it ends in a string")?;
            self.i += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or("it ends in a string")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' | b'\\' | b'/' => e as char,
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode()?,
                        _ => return Err(format!("bad escape at byte {}", self.i - 1)),
                    };
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }

    /// The character of `\uXXXX` (after the 'u'), with its low surrogate.
    fn unicode(&mut self) -> Result<char, String> {
        let hex = |s: &mut Self| -> Result<u32, String> {
            let digits = s.b.get(s.i..s.i + 4).ok_or("it ends in a string")?;
            s.i += 4;
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("bad \\u escape at byte {}", s.i - 4))
        };
        let high = hex(self)?;
        if (0xd800..0xdc00).contains(&high) && self.b[self.i..].starts_with(b"\\u") {
            self.i += 2;
            let low = hex(self)?;
            if (0xdc00..0xe000).contains(&low) {
                let c = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
        }
        Ok(char::from_u32(high).unwrap_or('\u{fffd}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: &str, body: &str) -> Result<String, String> {
        Field::parse(spec).unwrap().check(body.as_bytes())
    }

    const ACTUATOR: &str = r#"{"components": {"db": {"details": {"database": "PostgreSQL",
        "validationQuery": "isValid()"}, "status": "UP"}, "diskSpace": {"status": "UP",
        "details": {"total": 1e12, "free": -1.5, "list": [1, [2, {"status": "x"}], "s"]}}},
        "status" : "UP", "ok": true, "n": 3, "none": null, "e": "a\"b\\u00e9\ud83d\ude00"}"#;

    #[test]
    fn fields_found_and_compared() {
        assert_eq!(check("status=UP", ACTUATOR).unwrap(), "status is 'UP'");
        assert_eq!(
            check("components.db.status=UP", ACTUATOR).unwrap(),
            "components.db.status is 'UP'"
        );
        assert!(check("components.db.details.database=PostgreSQL", ACTUATOR).is_ok());
        assert!(check("ok=true", ACTUATOR).is_ok());
        assert!(check("n=3", ACTUATOR).is_ok());
        assert!(check("none=null", ACTUATOR).is_ok());
        assert!(check("e=a\"b\\u00e9😀", ACTUATOR).is_ok());
        assert_eq!(
            check("status=DOWN", ACTUATOR).unwrap_err(),
            "status is 'UP', expected 'DOWN'"
        );
        assert_eq!(
            check("components=UP", ACTUATOR).unwrap_err(),
            "components is '{...}', expected 'UP'"
        );
        assert_eq!(
            check("components.nope.status=UP", ACTUATOR).unwrap_err(),
            "no field components.nope.status in the JSON body"
        );
        // Arrays are passed over, not searched.
        assert!(check("components.diskSpace.details.list.status=x", ACTUATOR).is_err());
    }

    #[test]
    fn not_json_is_a_reason() {
        for body in [
            "",
            "all good",
            "{\"status\" \"UP\"}",
            "{\"a\": [1, 2}",
            "{\"a\": tru}",
            "{\"a\": \"x",
        ] {
            let e = check("status=UP", body).unwrap_err();
            assert!(e.starts_with("body is not JSON ("), "{body}: {e}");
        }
        let deep = "[".repeat(100_000);
        let e = check("status=UP", &deep).unwrap_err();
        assert!(e.contains("nested deeper than 64"), "{e}");
        // The field before the broken part is found: the scan stops there.
        assert!(check("status=UP", "{\"status\": \"UP\", garbage").is_ok());
    }

    #[test]
    fn specs() {
        assert!(Field::parse("status").unwrap_err().contains("missing '='"));
        assert!(Field::parse("a..b=1").unwrap_err().contains("empty name"));
        assert!(Field::parse("=1").unwrap_err().contains("empty name"));
        assert_eq!(
            Field::parse("a.b=x=y").unwrap(),
            Field {
                path: vec!["a".into(), "b".into()],
                want: "x=y".into()
            }
        );
    }
}
