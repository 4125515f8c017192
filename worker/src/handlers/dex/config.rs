//! Dex's configuration file as data: the `staticPasswords` list and the edits the
//! identity kinds make to it. Everything else in the file is carried through a
//! `serde_yaml::Value` round trip untouched (key order included; comments are not
//! kept, as Dex never reads them).
//!
//! Dex matches a login's email case-insensitively, so entries are found the same way
//! and written lower-cased.

use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha256};

const LIST_KEY: &str = "staticPasswords";
/// Hex digits of the fingerprint: plenty to tell two user lists apart.
const FINGERPRINT_LEN: usize = 16;

/// One `staticPasswords` entry, as Longshore writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub email: String,
    pub hash: String,
    pub username: String,
    pub user_id: String,
}

/// What a job wants of the list.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Add a user; re-running the same request (same hash) changes nothing.
    Create(Entry),
    /// Replace a user's hash, keeping its `userID` and username.
    SetPassword { email: String, hash: String },
    /// Remove a user; a missing one is already removed.
    Delete { email: String },
}

/// Why an edit cannot be made; retrying will not help.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EditError {
    #[error("Dex's configuration is not valid YAML: {0}")]
    Unparseable(String),
    #[error("Dex's configuration is not a YAML mapping")]
    NotAMapping,
    #[error("`staticPasswords` in Dex's configuration is not a list")]
    NotAList,
    #[error("user {0} already exists with another password; use user.password.set to change it")]
    Exists(String),
    #[error("no Dex user {0}; create it with user.create")]
    Missing(String),
}

/// The result of an edit: whether the file changed, and the entry as it now stands
/// (for a delete, the entry that was removed, if any).
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    pub changed: bool,
    pub entry: Option<Entry>,
}

/// A parsed Dex configuration file.
#[derive(Debug, Clone)]
pub struct DexConfig {
    root: Value,
}

impl DexConfig {
    pub fn parse(text: &str) -> Result<DexConfig, EditError> {
        let root: Value =
            serde_yaml::from_str(text).map_err(|e| EditError::Unparseable(e.to_string()))?;
        match root {
            Value::Mapping(_) => Ok(DexConfig { root }),
            // An empty file parses as null; treat it as an empty configuration.
            Value::Null => Ok(DexConfig {
                root: Value::Mapping(Mapping::new()),
            }),
            _ => Err(EditError::NotAMapping),
        }
    }

    pub fn render(&self) -> String {
        serde_yaml::to_string(&self.root).expect("a YAML value always serializes")
    }

    /// The user entry for `email`, matched case-insensitively as Dex does.
    pub fn find(&self, email: &str) -> Result<Option<Entry>, EditError> {
        Ok(self
            .entries()?
            .iter()
            .find(|entry| matches_email(entry, email))
            .map(entry_of))
    }

    /// A digest of the user list: equal lists, equal fingerprints. A missing list and
    /// an empty one are the same to Dex and fingerprint the same.
    pub fn fingerprint(&self) -> Result<String, EditError> {
        let text = serde_yaml::to_string(self.entries()?).expect("a YAML list serializes");
        let mut hex = hex::encode(Sha256::digest(text.as_bytes()));
        hex.truncate(FINGERPRINT_LEN);
        Ok(hex)
    }

    /// Applies `edit`, changing the document only when the entry is not as wanted.
    pub fn apply(&mut self, edit: &Edit) -> Result<Edited, EditError> {
        match edit {
            Edit::Create(wanted) => self.create(wanted),
            Edit::SetPassword { email, hash } => self.set_password(email, hash),
            Edit::Delete { email } => self.delete(email),
        }
    }

    fn create(&mut self, wanted: &Entry) -> Result<Edited, EditError> {
        let list = self.entries_mut()?;
        let Some(existing) = list.iter_mut().find(|e| matches_email(e, &wanted.email)) else {
            list.push(Value::Mapping(Mapping::new()));
            let fresh = list.last_mut().expect("just pushed");
            write_entry(fresh, wanted);
            return Ok(Edited {
                changed: true,
                entry: Some(wanted.clone()),
            });
        };
        let current = entry_of(existing);
        // bcrypt hashes are salted: the same hash means the same request run again,
        // never a second user who happens to pick the same password.
        if current.hash != wanted.hash {
            return Err(EditError::Exists(current.email));
        }
        let changed = current != *wanted;
        if changed {
            write_entry(existing, wanted);
        }
        Ok(Edited {
            changed,
            entry: Some(wanted.clone()),
        })
    }

    fn set_password(&mut self, email: &str, hash: &str) -> Result<Edited, EditError> {
        let list = self.entries_mut()?;
        let existing = list
            .iter_mut()
            .find(|e| matches_email(e, email))
            .ok_or_else(|| EditError::Missing(email.to_owned()))?;
        let current = entry_of(existing);
        if current.hash == hash {
            return Ok(Edited {
                changed: false,
                entry: Some(current),
            });
        }
        set(existing, "hash", hash);
        Ok(Edited {
            changed: true,
            entry: Some(entry_of(existing)),
        })
    }

    fn delete(&mut self, email: &str) -> Result<Edited, EditError> {
        let list = self.entries_mut()?;
        let Some(index) = list.iter().position(|e| matches_email(e, email)) else {
            return Ok(Edited {
                changed: false,
                entry: None,
            });
        };
        let removed = entry_of(&list.remove(index));
        Ok(Edited {
            changed: true,
            entry: Some(removed),
        })
    }

    fn entries(&self) -> Result<&[Value], EditError> {
        match self.root.get(LIST_KEY) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Sequence(list)) => Ok(list),
            Some(_) => Err(EditError::NotAList),
        }
    }

    fn entries_mut(&mut self) -> Result<&mut Vec<Value>, EditError> {
        let map = self
            .root
            .as_mapping_mut()
            .expect("parse only keeps mappings");
        let slot = map
            .entry(Value::from(LIST_KEY))
            .or_insert(Value::Sequence(Vec::new()));
        if slot.is_null() {
            *slot = Value::Sequence(Vec::new());
        }
        slot.as_sequence_mut().ok_or(EditError::NotAList)
    }
}

fn text_of(entry: &Value, key: &str) -> String {
    entry
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn entry_of(entry: &Value) -> Entry {
    Entry {
        email: text_of(entry, "email"),
        hash: text_of(entry, "hash"),
        username: text_of(entry, "username"),
        user_id: text_of(entry, "userID"),
    }
}

fn matches_email(entry: &Value, email: &str) -> bool {
    entry
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|e| e.to_lowercase() == email.to_lowercase())
}

fn set(entry: &mut Value, key: &str, value: &str) {
    if let Some(map) = entry.as_mapping_mut() {
        map.insert(Value::from(key), Value::from(value));
    }
}

/// Writes Longshore's four fields, keeping any other field an operator added.
fn write_entry(entry: &mut Value, wanted: &Entry) {
    if !entry.is_mapping() {
        *entry = Value::Mapping(Mapping::new());
    }
    set(entry, "email", &wanted.email);
    set(entry, "hash", &wanted.hash);
    set(entry, "username", &wanted.username);
    set(entry, "userID", &wanted.user_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "issuer: http://dex/dex
storage:
  type: kubernetes
enablePasswordDB: true
staticPasswords:
- email: Admin@Example.com
  hash: $2y$10$old
  username: admin
  userID: id-admin
  extra: kept
connectors: []
";

    fn alice(hash: &str) -> Entry {
        Entry {
            email: "alice@example.com".into(),
            hash: hash.into(),
            username: "alice".into(),
            user_id: "id-alice".into(),
        }
    }

    #[test]
    fn creating_appends_an_entry_and_keeps_every_other_key_in_order() {
        let mut config = DexConfig::parse(CONFIG).unwrap();
        let edited = config.apply(&Edit::Create(alice("h1"))).unwrap();
        assert!(edited.changed);
        let text = config.render();
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with([' ', '-']))
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "issuer",
                "storage",
                "enablePasswordDB",
                "staticPasswords",
                "connectors"
            ]
        );
        let again = DexConfig::parse(&text).unwrap();
        assert_eq!(again.find("ALICE@example.com").unwrap(), Some(alice("h1")));
        assert!(text.contains("extra: kept"), "{text}");
    }

    #[test]
    fn the_same_create_twice_changes_nothing_and_another_hash_is_refused() {
        let mut config = DexConfig::parse(CONFIG).unwrap();
        config.apply(&Edit::Create(alice("h1"))).unwrap();
        let before = config.render();
        assert!(!config.apply(&Edit::Create(alice("h1"))).unwrap().changed);
        assert_eq!(config.render(), before);
        let err = config.apply(&Edit::Create(alice("h2"))).unwrap_err();
        assert!(matches!(err, EditError::Exists(_)), "{err}");
    }

    #[test]
    fn setting_a_password_keeps_the_id_and_username() {
        let mut config = DexConfig::parse(CONFIG).unwrap();
        let edited = config
            .apply(&Edit::SetPassword {
                email: "admin@example.com".into(),
                hash: "$2y$10$new".into(),
            })
            .unwrap();
        assert!(edited.changed);
        let entry = edited.entry.unwrap();
        assert_eq!(
            (entry.user_id.as_str(), entry.username.as_str()),
            ("id-admin", "admin")
        );
        assert_eq!(entry.hash, "$2y$10$new");
        let missing = config.apply(&Edit::SetPassword {
            email: "nobody@example.com".into(),
            hash: "x".into(),
        });
        assert!(matches!(missing, Err(EditError::Missing(_))));
    }

    #[test]
    fn deleting_removes_only_that_user_and_a_missing_one_is_fine() {
        let mut config = DexConfig::parse(CONFIG).unwrap();
        config.apply(&Edit::Create(alice("h1"))).unwrap();
        let gone = config
            .apply(&Edit::Delete {
                email: "admin@example.com".into(),
            })
            .unwrap();
        assert!(gone.changed);
        assert_eq!(config.find("admin@example.com").unwrap(), None);
        assert!(config.find("alice@example.com").unwrap().is_some());
        let again = config
            .apply(&Edit::Delete {
                email: "admin@example.com".into(),
            })
            .unwrap();
        assert!(!again.changed);
    }

    #[test]
    fn a_missing_or_empty_list_fingerprints_alike_and_users_change_it() {
        let empty = DexConfig::parse("issuer: x\nstaticPasswords: []\n").unwrap();
        let absent = DexConfig::parse("issuer: x\n").unwrap();
        assert_eq!(empty.fingerprint().unwrap(), absent.fingerprint().unwrap());
        let mut config = absent.clone();
        config.apply(&Edit::Create(alice("h1"))).unwrap();
        assert_ne!(config.fingerprint().unwrap(), absent.fingerprint().unwrap());
    }

    #[test]
    fn malformed_configurations_are_refused() {
        assert_eq!(
            DexConfig::parse("- a\n- b\n").unwrap_err(),
            EditError::NotAMapping
        );
        let mut odd = DexConfig::parse("staticPasswords: nope\n").unwrap();
        assert_eq!(
            odd.apply(&Edit::Create(alice("h"))).unwrap_err(),
            EditError::NotAList
        );
        assert!(matches!(
            DexConfig::parse("a: [").unwrap_err(),
            EditError::Unparseable(_)
        ));
    }
}
