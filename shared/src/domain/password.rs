//! Dex static passwords: generating one people can type, hashing it with bcrypt, and
//! `BcryptHash`, the only form a password takes inside a command.
//!
//! The api generates or accepts the plaintext, shows it to the caller once, and queues
//! only the hash; plaintext lives in a `SecretString`, which never prints.

use std::fmt;

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::ParseError;
use super::newtype::string_newtype;

/// The lowest bcrypt cost Longshore writes or accepts (OWASP's floor).
pub const MIN_BCRYPT_COST: u32 = 10;
/// Dex's own default cost.
pub const DEFAULT_BCRYPT_COST: u32 = 12;
const MAX_BCRYPT_COST: u32 = 31;

/// No `0/O`, `1/l/I`: the password is read off a screen and typed by hand.
const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
const GROUPS: usize = 4;
const GROUP_LEN: usize = 4;

/// A fresh password of four dash-separated groups of four, e.g. `h7Rk-2mXq-Pa9d-wE4t`:
/// 16 characters from a 56-letter alphabet, about 93 bits of entropy.
pub fn generate_password() -> SecretString {
    let mut rng = rand::rng();
    let mut password = String::with_capacity(GROUPS * (GROUP_LEN + 1));
    for group in 0..GROUPS {
        if group > 0 {
            password.push('-');
        }
        for _ in 0..GROUP_LEN {
            password.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
        }
    }
    SecretString::from(password)
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("bcrypt cost {0} is below the minimum of {MIN_BCRYPT_COST}")]
    CostTooLow(u32),
    #[error("hashing the password failed")]
    Hash(#[source] bcrypt::BcryptError),
}

/// Hashes `password` with bcrypt at `cost` (at least 10), in the `$2y$` form Dex reads.
pub fn hash_password(password: &SecretString, cost: u32) -> Result<BcryptHash, PasswordError> {
    if cost < MIN_BCRYPT_COST {
        return Err(PasswordError::CostTooLow(cost));
    }
    let parts =
        bcrypt::hash_with_result(password.expose_secret(), cost).map_err(PasswordError::Hash)?;
    Ok(BcryptHash(parts.format_for_version(bcrypt::Version::TwoY)))
}

/// Whether `password` is the one `hash` was made from.
pub fn verify(password: &SecretString, hash: &BcryptHash) -> bool {
    bcrypt::verify(password.expose_secret(), hash.as_str()).unwrap_or(false)
}

/// A bcrypt hash in modular crypt form, `$2a$`, `$2b$` or `$2y$`, cost at least 10:
/// `$2y$12$` followed by 53 characters of salt and hash.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BcryptHash(String);

string_newtype!(BcryptHash, {
    "type": "string",
    "minLength": 60,
    "maxLength": 60,
    "pattern": "^\\$2[aby]\\$(1[0-9]|2[0-9]|3[01])\\$[./A-Za-z0-9]{53}$",
    "description": "A bcrypt hash (`$2a$`, `$2b$` or `$2y$`, cost at least 10) of the user's password. Never send the password itself."
});

impl BcryptHash {
    pub fn parse(input: &str) -> Result<BcryptHash, ParseError> {
        let refuse = |why: &str| {
            ParseError::new(format!(
                "is not a bcrypt hash: {why} (expected `$2y$<cost>$` and 53 characters)"
            ))
        };
        let rest = ["$2a$", "$2b$", "$2y$"]
            .iter()
            .find_map(|prefix| input.strip_prefix(prefix))
            .ok_or_else(|| refuse("it must start with `$2a$`, `$2b$` or `$2y$`"))?;
        let (cost, body) = rest
            .split_once('$')
            .filter(|(cost, _)| cost.len() == 2 && cost.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| refuse("the cost must be two digits"))?;
        let cost: u32 = cost.parse().expect("two ASCII digits");
        if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
            return Err(refuse(&format!(
                "cost {cost} is outside {MIN_BCRYPT_COST}..={MAX_BCRYPT_COST}"
            )));
        }
        let salt_and_hash_ok = body.len() == 53
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/'));
        if !salt_and_hash_ok {
            return Err(refuse(
                "the salt and hash must be 53 characters of `./A-Za-z0-9`",
            ));
        }
        Ok(BcryptHash(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The work factor, e.g. 12.
    pub fn cost(&self) -> u32 {
        self.0[4..6].parse().expect("validated at parse")
    }
}

/// Shows only the cost: a hash in a log is an offline-cracking target.
impl fmt::Debug for BcryptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BcryptHash")
            .field("cost", &self.cost())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_password_is_four_readable_groups() {
        let password = generate_password();
        let text = password.expose_secret();
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(groups.len(), 4);
        for group in groups {
            assert_eq!(group.len(), 4);
            assert!(group.bytes().all(|b| ALPHABET.contains(&b)), "{group}");
        }
        assert_ne!(text, generate_password().expose_secret());
    }

    #[test]
    fn the_alphabet_gives_at_least_80_bits() {
        let bits = (GROUPS * GROUP_LEN) as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 80.0, "{bits}");
        assert!(!ALPHABET.iter().any(|b| b"0O1lI".contains(b)));
    }

    #[test]
    fn a_hash_is_in_2y_form_and_verifies_only_its_password() {
        let password = SecretString::from("correct horse");
        let hash = hash_password(&password, MIN_BCRYPT_COST).unwrap();
        assert!(hash.as_str().starts_with("$2y$10$"), "{}", hash.as_str());
        assert_eq!(hash.cost(), 10);
        assert!(BcryptHash::parse(hash.as_str()).is_ok());
        assert!(verify(&password, &hash));
        assert!(!verify(&SecretString::from("wrong"), &hash));
    }

    #[test]
    fn a_low_cost_is_refused_when_hashing() {
        let err = hash_password(&SecretString::from("x"), 4).unwrap_err();
        assert!(matches!(err, PasswordError::CostTooLow(4)));
    }

    #[test]
    fn hashes_from_other_tools_are_accepted_and_weak_ones_refused() {
        let body = "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
        for prefix in ["$2a$10$", "$2b$12$", "$2y$14$"] {
            assert!(
                BcryptHash::parse(&format!("{prefix}{body}")).is_ok(),
                "{prefix}"
            );
        }
        let cases = [
            (format!("$2a$09${body}"), "cost 9"),
            (format!("$2x$10${body}"), "must start"),
            (format!("$2a$1${body}"), "two digits"),
            ("$2a$10$short".to_owned(), "53 characters"),
            ("plaintext".to_owned(), "must start"),
        ];
        for (input, why) in cases {
            let err = BcryptHash::parse(&input).unwrap_err();
            assert!(err.message().contains(why), "{input}: {err}");
        }
    }

    #[test]
    fn debug_output_hides_the_hash_and_secrets_stay_hidden() {
        let hash = hash_password(&SecretString::from("pw"), 10).unwrap();
        let shown = format!("{hash:?}");
        assert!(!shown.contains(&hash.as_str()[7..]), "{shown}");
        assert!(shown.contains("cost: 10"));
        let password = generate_password();
        assert!(!format!("{password:?}").contains(password.expose_secret()));
    }
}
