//! `ProfileName`: the name of a project's Kubeflow Profile, which is also its namespace.
//!
//! Derived from the owner's email as the reference platform does it: `.` and `@` become
//! `-` (`john.doe@company.com` → `john-doe-company-com`). To always yield a valid
//! RFC 1123 label, the derivation also lower-cases, turns any other character into `-`,
//! collapses runs of `-` and trims them from both ends.
//!
//! **Collisions.** Distinct emails can derive the same name: `a.b@x.com` and
//! `a-b@x.com` both give `a-b-x-com`. The derived name is the first choice; when the
//! worker finds that name owned by a different email it uses
//! [`ProfileName::from_email_with_suffix`], `<base>-<4 hex of sha256(email)>`, which
//! is deterministic, so a retried or repeated command lands on the same name.
//!
//! **Length.** A derived name longer than 63 characters is cut and given an 8-hex
//! digest of the whole (lower-cased) email, so two long emails sharing a prefix do not
//! collide.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::newtype::string_newtype;
use super::{Email, MAX_LABEL_LEN, ParseError, is_dns_label};

/// Hex digits of the digest appended to an over-long derived name.
const LONG_NAME_DIGEST_LEN: usize = 8;
/// Hex digits of the digest that disambiguates a taken name.
const SUFFIX_DIGEST_LEN: usize = 4;

/// A project (Profile and namespace) name: an RFC 1123 label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProfileName(String);

string_newtype!(ProfileName, {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "description": "A project (Kubeflow Profile / namespace) name, e.g. `john-doe-company-com`."
});

impl ProfileName {
    pub fn parse(input: &str) -> Result<ProfileName, ParseError> {
        if input.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        if !is_dns_label(input) {
            return Err(ParseError::new(format!(
                "`{input}` is not a valid project name: use lower-case letters, digits and \
                 `-`, at most 63 characters, starting and ending with a letter or digit"
            )));
        }
        Ok(ProfileName(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name the reference derives from the owner's email, e.g.
    /// `john.doe@company.com` → `john-doe-company-com`.
    pub fn from_email(email: &Email) -> ProfileName {
        let base = sanitize(&email.normalized());
        if base.is_empty() {
            // Only an address made wholly of non-ASCII characters gets here.
            return ProfileName(format!("u-{}", digest_hex(email, LONG_NAME_DIGEST_LEN)));
        }
        if base.len() <= MAX_LABEL_LEN {
            return ProfileName(base);
        }
        ProfileName(with_digest(&base, email, LONG_NAME_DIGEST_LEN))
    }

    /// The fallback when [`from_email`](Self::from_email)'s name belongs to another
    /// owner: the same name plus `-<4 hex of sha256(email)>`, cut to fit 63 characters.
    pub fn from_email_with_suffix(email: &Email) -> ProfileName {
        let base = ProfileName::from_email(email);
        ProfileName(with_digest(&base.0, email, SUFFIX_DIGEST_LEN))
    }
}

/// Lower-case, anything outside `[a-z0-9]` → `-`, runs of `-` collapsed, ends trimmed.
fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        let keep = c.is_ascii_lowercase() || c.is_ascii_digit();
        if keep {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(out.trim_end_matches('-').len());
    out
}

/// `<base cut to fit>-<digest>`, at most 63 characters, never with `--` before the digest.
fn with_digest(base: &str, email: &Email, digits: usize) -> String {
    let keep = MAX_LABEL_LEN - 1 - digits;
    let cut = base[..base.len().min(keep)].trim_end_matches('-');
    format!("{cut}-{}", digest_hex(email, digits))
}

fn digest_hex(email: &Email, digits: usize) -> String {
    let digest = Sha256::digest(email.normalized().as_bytes());
    let mut hex = hex::encode(digest);
    hex.truncate(digits);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(email: &str) -> String {
        ProfileName::from_email(&Email::parse(email).unwrap()).0
    }

    #[test]
    fn the_references_examples_derive_exactly() {
        assert_eq!(name_of("user@example.com"), "user-example-com");
        assert_eq!(name_of("john.doe@company.com"), "john-doe-company-com");
    }

    #[test]
    fn other_characters_become_single_dashes_and_case_folds() {
        assert_eq!(
            name_of("John_Doe+ml@Company.com"),
            "john-doe-ml-company-com"
        );
        assert_eq!(name_of("a..b@x.com"), "a-b-x-com");
        assert_eq!(name_of("-x-@y.io"), "x-y-io");
        assert_eq!(name_of("José@example.com"), "jos-example-com");
    }

    #[test]
    fn dotted_and_dashed_emails_collide_and_the_suffix_tells_them_apart() {
        let dotted = Email::parse("a.b@x.com").unwrap();
        let dashed = Email::parse("a-b@x.com").unwrap();
        assert_eq!(
            ProfileName::from_email(&dotted),
            ProfileName::from_email(&dashed)
        );

        let a = ProfileName::from_email_with_suffix(&dotted);
        let b = ProfileName::from_email_with_suffix(&dashed);
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("a-b-x-com-"));
        assert_eq!(a.as_str().len(), "a-b-x-com-".len() + 4);
        assert_eq!(
            a,
            ProfileName::from_email_with_suffix(&dotted),
            "deterministic"
        );
    }

    #[test]
    fn long_emails_are_cut_with_a_digest_and_never_collide() {
        let local = "a".repeat(60);
        let one = name_of(&format!("{local}@example.com"));
        let two = name_of(&format!("{local}@example.org"));
        assert_eq!(one.len(), 63);
        assert!(is_dns_label(&one) && is_dns_label(&two));
        assert_ne!(one, two);
        assert_eq!(&one[..54], &two[..54]);
    }

    #[test]
    fn the_suffixed_name_of_a_long_email_still_fits() {
        let email = Email::parse(&format!("{}@example.com", "b".repeat(64))).unwrap();
        let name = ProfileName::from_email_with_suffix(&email);
        assert!(is_dns_label(name.as_str()), "{name}");
    }

    #[test]
    fn the_same_person_in_other_case_gets_the_same_name() {
        assert_eq!(
            name_of("John.Doe@company.com"),
            name_of("john.doe@COMPANY.com")
        );
    }

    #[test]
    fn an_all_non_ascii_email_still_gets_a_valid_name() {
        let name = name_of("ü@ö.ä");
        assert!(name.starts_with("u-") && is_dns_label(&name), "{name}");
    }

    #[test]
    fn explicit_names_must_be_labels() {
        assert!(ProfileName::parse("team-ml").is_ok());
        assert!(ProfileName::parse("Team_ML").is_err());
    }
}
