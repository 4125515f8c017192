//! `Email`: the address a user logs in with (Dex static passwords) and the owner of a
//! project. Validation is practical, not RFC 5322: it catches typos and injection
//! without refusing the addresses people actually have.

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::newtype::string_newtype;

/// RFC 5321's limit on a forward path, the longest address mail can carry.
pub const MAX_EMAIL_LEN: usize = 254;
/// RFC 5321's limit on the local part.
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// An email address: one `@`, a non-empty local part, a domain with a dot, no spaces,
/// at most 254 characters. The domain is stored lower-cased (domains are
/// case-insensitive); the local part is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

string_newtype!(Email, {
    "type": "string",
    "format": "email",
    "maxLength": 254,
    "pattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
    "description": "An email address (one `@`, a domain with a dot, no spaces, at most 254 characters)."
});

impl Email {
    pub fn parse(input: &str) -> Result<Email, ParseError> {
        let invalid =
            |why: &str| ParseError::new(format!("`{input}` is not an email address: {why}"));
        if input.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        if input.len() > MAX_EMAIL_LEN {
            return Err(ParseError::new(format!(
                "is not an email address: longer than {MAX_EMAIL_LEN} characters"
            )));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains spaces or control characters"));
        }
        let (local, domain) = match input.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => (local, domain),
            Some(_) => return Err(invalid("it has more than one `@`")),
            None => return Err(invalid("it has no `@`")),
        };
        if local.is_empty() {
            return Err(invalid("nothing before the `@`"));
        }
        if local.len() > MAX_LOCAL_PART_LEN {
            return Err(invalid(
                "the part before the `@` is longer than 64 characters",
            ));
        }
        if !domain.contains('.') {
            return Err(invalid("the domain has no dot"));
        }
        if domain.split('.').any(|label| label.is_empty()) {
            return Err(invalid("the domain has an empty label"));
        }
        if domain
            .split('.')
            .any(|label| label.starts_with('-') || label.ends_with('-'))
        {
            return Err(invalid("a domain label starts or ends with `-`"));
        }
        if domain
            .chars()
            .any(|c| !(c.is_alphanumeric() || c == '-' || c == '.'))
        {
            return Err(invalid(
                "the domain may hold only letters, digits, `-` and `.`",
            ));
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, e.g. `john.doe` — the default Dex username.
    pub fn local_part(&self) -> &str {
        self.split().0
    }

    /// The lower-cased domain, e.g. `company.com`.
    pub fn domain(&self) -> &str {
        self.split().1
    }

    /// The address with its local part lower-cased too. Mail servers may treat
    /// `John@x.com` and `john@x.com` apart, but people do not, so everything Longshore
    /// derives from an address (user ids, profile names, hashes) starts from this.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    fn split(&self) -> (&str, &str) {
        self.0
            .split_once('@')
            .expect("a parsed email always holds one `@`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_is_lower_cased_and_the_local_part_kept() {
        let email = Email::parse("John.Doe@Company.COM").unwrap();
        assert_eq!(email.as_str(), "John.Doe@company.com");
        assert_eq!(email.local_part(), "John.Doe");
        assert_eq!(email.domain(), "company.com");
        assert_eq!(email.normalized(), "john.doe@company.com");
    }

    #[test]
    fn addresses_people_have_are_accepted() {
        for ok in [
            "user@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'neil@example.org",
            "x@münchen.de",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn typos_are_refused_with_the_reason() {
        let cases = [
            ("", "must not be empty"),
            ("user.example.com", "no `@`"),
            ("a@b@example.com", "more than one `@`"),
            ("@example.com", "nothing before"),
            ("user@localhost", "no dot"),
            ("user@example..com", "empty label"),
            ("user @example.com", "spaces"),
            ("user@exa_mple.com", "only letters"),
            ("user@-example.com", "starts or ends"),
        ];
        for (input, why) in cases {
            let err = Email::parse(input).unwrap_err();
            assert!(err.message().contains(why), "{input}: {err}");
        }
    }

    #[test]
    fn overlong_addresses_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).unwrap_err().message().contains("254"));
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
    }

    #[test]
    fn deserialization_goes_through_parse() {
        let email: Email = serde_json::from_str("\"A@B.Com\"").unwrap();
        assert_eq!(serde_json::to_string(&email).unwrap(), "\"A@b.com\"");
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }
}
