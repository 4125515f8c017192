//! The identity family: Dex static-password users (`user.create`,
//! `user.password.set`, `user.delete`).
//!
//! A plaintext password never travels in a command. `POST /v1/users` accepts or
//! generates the password, returns it once, and queues only its bcrypt hash; a payload
//! that carries a `password` field is refused by name, so a producer that tries learns
//! what to send instead.

use std::convert::Infallible;

use schemars::JsonSchema;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Command, Policy};
use crate::domain::{BcryptHash, Email, FieldError};
use crate::tenancy::{ObjectRef, Touch};

/// Namespace of the user ids derived from emails: the same email always yields the
/// same Dex `userID`, on every run and across password resets.
const USER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c6f_6e67_7368_6f72_652d_7573_6572_6964);

/// The longest username Longshore passes to Dex; Dex shows it in its login screen.
pub const MAX_USERNAME_LEN: usize = 128;

const PLAINTEXT_REFUSED: &str = "plaintext passwords are never accepted in a command: send \
     `password_hash` (a bcrypt hash, cost >= 10), or use `POST /v1/users`, which generates \
     or accepts the password, returns it once and queues only its hash";

/// The stable Dex `userID` of an email: a UUID v5 of the lower-cased address.
pub fn user_id_for(email: &Email) -> Uuid {
    Uuid::new_v5(&USER_ID_NAMESPACE, email.normalized().as_bytes())
}

const IDENTITY_POLICY: Policy = Policy {
    max_attempts: 5,
    timeout: std::time::Duration::from_secs(30),
};

/// Create a Dex static-password user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, from = "UserCreateWire")]
#[schemars(!from)]
pub struct UserCreate {
    /// The user's email address; it is also the Dex login name.
    pub email: Email,
    /// bcrypt hash of the password (`$2a$`, `$2b$` or `$2y$`, cost >= 10). Plaintext
    /// passwords are refused: `POST /v1/users` generates one and returns it once.
    pub password_hash: BcryptHash,
    /// Display name in Dex; defaults to the part of the email before the `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Dex `userID`; defaults to a UUID derived from the email, so re-running the
    /// command and later password resets keep the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

impl UserCreate {
    /// The Dex username: the given one, else the email's local part (`john.doe`).
    pub fn username(&self) -> &str {
        self.username
            .as_deref()
            .unwrap_or_else(|| self.email.local_part())
    }

    /// The Dex `userID`: the given one, else [`user_id_for`] the email.
    pub fn user_id(&self) -> Uuid {
        self.user_id.unwrap_or_else(|| user_id_for(&self.email))
    }
}

impl Command for UserCreate {
    const KIND: &'static str = "user.create";
    const SUMMARY: &'static str = "Create a Dex static-password user from a bcrypt hash.";
    const POLICY: Policy = IDENTITY_POLICY;

    fn check(&self) -> Result<(), FieldError> {
        match &self.username {
            Some(name) => check_username(name).map_err(|m| FieldError::new("username", m)),
            None => Ok(()),
        }
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::create(ObjectRef::User(self.email.normalized()))]
    }
}

fn check_username(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err("must not have surrounding spaces or control characters".into());
    }
    if name.chars().count() > MAX_USERNAME_LEN {
        return Err(format!("must be at most {MAX_USERNAME_LEN} characters"));
    }
    Ok(())
}

/// What `user.create` accepts on the wire: the payload, plus the field it refuses.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserCreateWire {
    email: Email,
    password_hash: BcryptHash,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    user_id: Option<Uuid>,
    #[serde(default, deserialize_with = "refuse_plaintext")]
    password: Option<Infallible>,
}

impl From<UserCreateWire> for UserCreate {
    fn from(wire: UserCreateWire) -> Self {
        if let Some(never) = wire.password {
            match never {}
        }
        UserCreate {
            email: wire.email,
            password_hash: wire.password_hash,
            username: wire.username,
            user_id: wire.user_id,
        }
    }
}

/// Set or reset a Dex user's password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, from = "UserPasswordSetWire")]
#[schemars(!from)]
pub struct UserPasswordSet {
    /// The user whose password changes.
    pub email: Email,
    /// bcrypt hash of the new password (`$2a$`, `$2b$` or `$2y$`, cost >= 10).
    /// Plaintext is refused: `PUT /v1/users/password` generates one and returns it once.
    pub password_hash: BcryptHash,
}

impl Command for UserPasswordSet {
    const KIND: &'static str = "user.password.set";
    const SUMMARY: &'static str = "Set or reset a Dex user's password from a bcrypt hash.";
    const POLICY: Policy = IDENTITY_POLICY;

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(ObjectRef::User(self.email.normalized()))]
    }
}

/// What `user.password.set` accepts on the wire, including the reference's
/// `new_password`, refused like `password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPasswordSetWire {
    email: Email,
    password_hash: BcryptHash,
    #[serde(default, deserialize_with = "refuse_plaintext")]
    password: Option<Infallible>,
    #[serde(default, deserialize_with = "refuse_plaintext")]
    new_password: Option<Infallible>,
}

impl From<UserPasswordSetWire> for UserPasswordSet {
    fn from(wire: UserPasswordSetWire) -> Self {
        if let Some(never) = wire.password.or(wire.new_password) {
            match never {}
        }
        UserPasswordSet {
            email: wire.email,
            password_hash: wire.password_hash,
        }
    }
}

fn refuse_plaintext<'de, D: Deserializer<'de>>(_: D) -> Result<Option<Infallible>, D::Error> {
    Err(D::Error::custom(PLAINTEXT_REFUSED))
}

/// Delete a Dex user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDelete {
    /// The user to delete; deleting a user who is already gone succeeds.
    pub email: Email,
    /// Report whether the user exists and would be deleted, without deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for UserDelete {
    const KIND: &'static str = "user.delete";
    const SUMMARY: &'static str = "Delete a Dex static-password user.";
    const POLICY: Policy = IDENTITY_POLICY;

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(ObjectRef::User(self.email.normalized()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    const HASH: &str = "$2y$12$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    #[test]
    fn a_user_defaults_username_and_id_from_the_email() {
        let user: UserCreate =
            parse_payload(&json!({"email": "John.Doe@Company.com", "password_hash": HASH}))
                .unwrap();
        assert_eq!(user.username(), "John.Doe");
        assert_eq!(user.email.as_str(), "John.Doe@company.com");
        let again: UserCreate =
            parse_payload(&json!({"email": "john.doe@company.com", "password_hash": HASH}))
                .unwrap();
        assert_eq!(
            user.user_id(),
            again.user_id(),
            "the id survives re-runs and case"
        );
        assert_eq!(user.user_id().get_version_num(), 5);
    }

    #[test]
    fn a_given_username_and_id_are_kept() {
        let id = Uuid::new_v4();
        let user: UserCreate = parse_payload(&json!({
            "email": "a@b.io", "password_hash": HASH, "username": "Alice", "user_id": id
        }))
        .unwrap();
        assert_eq!(user.username(), "Alice");
        assert_eq!(user.user_id(), id);
    }

    #[test]
    fn a_plaintext_password_is_refused_by_name() {
        let err = parse_payload::<UserCreate>(&json!({
            "email": "a@b.io", "password_hash": HASH, "password": "hunter2"
        }))
        .unwrap_err();
        assert_eq!(err.field, "payload.password");
        assert!(err.message.contains("password_hash"), "{}", err.message);
        assert!(err.message.contains("POST /v1/users"), "{}", err.message);

        let err = parse_payload::<UserPasswordSet>(
            &json!({"email": "a@b.io", "new_password": "newpass123"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "payload.new_password");
    }

    #[test]
    fn weak_or_malformed_hashes_name_the_field() {
        let weak = "$2a$04$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
        let err =
            parse_payload::<UserPasswordSet>(&json!({"email": "a@b.io", "password_hash": weak}))
                .unwrap_err();
        assert_eq!(err.field, "payload.password_hash");
        assert!(err.message.contains("cost 4"), "{}", err.message);
    }

    #[test]
    fn bad_emails_usernames_and_unknown_fields_name_the_field() {
        let err = parse_payload::<UserCreate>(&json!({"email": "nope", "password_hash": HASH}))
            .unwrap_err();
        assert_eq!(err.field, "payload.email");
        let err = parse_payload::<UserCreate>(
            &json!({"email": "a@b.io", "password_hash": HASH, "username": " x"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "payload.username");
        let err =
            parse_payload::<UserDelete>(&json!({"email": "a@b.io", "force": true})).unwrap_err();
        assert_eq!(err.field, "payload.force");
    }

    #[test]
    fn a_payload_round_trips_through_json_without_the_hash_leaking_into_debug() {
        let user: UserCreate =
            parse_payload(&json!({"email": "a@b.io", "password_hash": HASH})).unwrap();
        let back: UserCreate = parse_payload(&serde_json::to_value(&user).unwrap()).unwrap();
        assert_eq!(back, user);
        assert!(!format!("{user:?}").contains(&HASH[7..]));
    }

    #[test]
    fn the_published_schema_offers_only_the_hash() {
        let schema = schemars::schema_for!(UserCreate).to_value();
        assert_eq!(schema["additionalProperties"], json!(false));
        assert!(schema["properties"].get("password").is_none());
        assert!(schema["properties"].get("password_hash").is_some());
        let reset = schemars::schema_for!(UserPasswordSet).to_value();
        assert!(reset["properties"].get("new_password").is_none());
    }
}
