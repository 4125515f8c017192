//! Names Longshore gives to, or reads from, Kubernetes objects. Each newtype holds the
//! rule of the place the name ends up (an object name, a namespace, a label value, an
//! environment variable), so a name that parses is one the API server will accept.

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::newtype::string_newtype;

/// The longest RFC 1123 label: a namespace or most object names.
pub const MAX_LABEL_LEN: usize = 63;
/// The longest RFC 1123 subdomain: pod, node and secret names.
pub const MAX_SUBDOMAIN_LEN: usize = 253;

/// True when `s` is an RFC 1123 label: lower-case letters, digits and `-`, starting and
/// ending with a letter or digit, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// True when `s` is an RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_SUBDOMAIN_LEN && s.split('.').all(is_dns_label)
}

fn label(input: &str, max: usize, what: &str) -> Result<String, ParseError> {
    if input.is_empty() {
        return Err(ParseError::new("must not be empty"));
    }
    if input.len() > max {
        return Err(ParseError::new(format!(
            "`{input}` is too long for {what}: at most {max} characters"
        )));
    }
    if !is_dns_label(input) {
        return Err(ParseError::new(format!(
            "`{input}` is not a valid {what}: use lower-case letters, digits and `-`, \
             starting and ending with a letter or digit"
        )));
    }
    Ok(input.to_owned())
}

/// An RFC 1123 label (`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters): a
/// namespace, a workspace or instance name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DnsLabel(String);

string_newtype!(DnsLabel, {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "description": "An RFC 1123 label: lower-case letters, digits and `-`, at most 63 characters."
});

impl DnsLabel {
    pub fn parse(input: &str) -> Result<DnsLabel, ParseError> {
        label(input, MAX_LABEL_LEN, "DNS label").map(DnsLabel)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An RFC 1123 subdomain (dot-separated labels, at most 253 characters): pod, node and
/// secret names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DnsSubdomain(String);

string_newtype!(DnsSubdomain, {
    "type": "string",
    "minLength": 1,
    "maxLength": 253,
    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    "description": "An RFC 1123 subdomain: dot-separated DNS labels, at most 253 characters."
});

impl DnsSubdomain {
    pub fn parse(input: &str) -> Result<DnsSubdomain, ParseError> {
        if input.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        if !is_dns_subdomain(input) {
            return Err(ParseError::new(format!(
                "`{input}` is not a valid DNS subdomain: dot-separated labels of lower-case \
                 letters, digits and `-`, at most 253 characters"
            )));
        }
        Ok(DnsSubdomain(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a configured Kubernetes cluster a command acts on (`default` when there
/// is one); an RFC 1123 label so it can appear in metric labels and queue names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TargetName(String);

string_newtype!(TargetName, {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "description": "A configured target cluster: an RFC 1123 label such as `default` or `gpu-east`."
});

impl TargetName {
    pub fn parse(input: &str) -> Result<TargetName, ParseError> {
        label(input, MAX_LABEL_LEN, "target cluster name").map(TargetName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TargetName {
    fn default() -> Self {
        TargetName("default".to_owned())
    }
}

/// A tenant: whoever quotas are counted against. It is stamped as a label value on
/// every object Longshore creates, so it follows the label-value rule (at most 63
/// characters of letters, digits, `-`, `_`, `.`, starting and ending alphanumeric),
/// which also admits the usernames the reference platforms use (`john_doe`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantName(String);

string_newtype!(TenantName, {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
    "description": "A tenant name, valid as a Kubernetes label value (e.g. `john_doe`, `team-a`)."
});

impl TenantName {
    pub fn parse(input: &str) -> Result<TenantName, ParseError> {
        let inner_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        let bytes = input.as_bytes();
        match bytes {
            [] => Err(ParseError::new("must not be empty")),
            _ if input.len() > MAX_LABEL_LEN => Err(ParseError::new(format!(
                "`{input}` is too long for a tenant name: at most 63 characters"
            ))),
            [first, .., last] | [first @ last]
                if first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && bytes.iter().copied().all(inner_ok) =>
            {
                Ok(TenantName(input.to_owned()))
            }
            _ => Err(ParseError::new(format!(
                "`{input}` is not a valid tenant name: use letters, digits, `-`, `_` and `.`, \
                 starting and ending with a letter or digit"
            ))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most instances one cluster may have; bounds the `<name>-<n>` suffix.
/// Bounds one job's fan-out; a cluster-wide operation acts on every instance.
pub const MAX_CLUSTER_INSTANCES: u32 = 500;
/// Leaves room for `-ns` (its namespace) and `-500` (its last instance) within 63.
pub const MAX_CLUSTER_NAME_LEN: usize = MAX_LABEL_LEN - "-500".len();

/// A VM or container cluster: an RFC 1123 label of at most 59 characters, so its
/// namespace `<name>-ns` and its instances `<name>-1` … `<name>-500` are valid labels too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClusterName(String);

string_newtype!(ClusterName, {
    "type": "string",
    "minLength": 1,
    "maxLength": 59,
    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "description": "A cluster name (RFC 1123 label, at most 59 characters); its namespace is `<name>-ns`."
});

impl ClusterName {
    pub fn parse(input: &str) -> Result<ClusterName, ParseError> {
        label(input, MAX_CLUSTER_NAME_LEN, "cluster name").map(ClusterName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cluster's own namespace, `<name>-ns`.
    pub fn namespace(&self) -> DnsLabel {
        DnsLabel(format!("{}-ns", self.0))
    }

    /// The name of the `index`-th instance (from 1), `<name>-<index>`.
    ///
    /// # Panics
    /// When `index` is 0 or above [`MAX_CLUSTER_INSTANCES`]: callers iterate over a
    /// validated instance count.
    pub fn instance(&self, index: u32) -> DnsLabel {
        assert!(
            (1..=MAX_CLUSTER_INSTANCES).contains(&index),
            "instance {index}"
        );
        DnsLabel(format!("{}-{index}", self.0))
    }
}

/// The prefix of every object an app owns; kept short so ids stay readable.
pub const APP_PREFIX: &str = "app-";

/// An app's id as the portal knows it (a project or student id, e.g. `42` or `alice-hw3`).
/// Its objects are named `app-<id>`, so the id is an RFC 1123 label of at most 59
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppId(String);

string_newtype!(AppId, {
    "type": "string",
    "minLength": 1,
    "maxLength": 59,
    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "description": "An app id (RFC 1123 label, at most 59 characters); its objects are named `app-<id>`."
});

impl AppId {
    pub fn parse(input: &str) -> Result<AppId, ParseError> {
        label(input, MAX_LABEL_LEN - APP_PREFIX.len(), "app id").map(AppId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the app's Deployment, Service and Ingress: `app-<id>`.
    pub fn object_name(&self) -> DnsLabel {
        DnsLabel(format!("{APP_PREFIX}{}", self.0))
    }
}

/// An environment variable name as Kubernetes accepts it: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvVarName(String);

string_newtype!(EnvVarName, {
    "type": "string",
    "minLength": 1,
    "maxLength": 256,
    "pattern": "^[-._a-zA-Z][-._a-zA-Z0-9]*$",
    "description": "An environment variable name: letters, digits, `_`, `-`, `.`, not starting with a digit."
});

/// Far above any real name; stops a payload from smuggling a blob in as a key.
pub const MAX_ENV_VAR_NAME_LEN: usize = 256;

impl EnvVarName {
    pub fn parse(input: &str) -> Result<EnvVarName, ParseError> {
        let valid_first = |b: &u8| b.is_ascii_alphabetic() || matches!(b, b'_' | b'-' | b'.');
        let valid_rest = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        if input.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        if input.len() > MAX_ENV_VAR_NAME_LEN {
            return Err(ParseError::new(
                "is too long for an environment variable name: at most 256 characters",
            ));
        }
        let bytes = input.as_bytes();
        if !bytes.first().is_some_and(valid_first) || !bytes.iter().copied().all(valid_rest) {
            return Err(ParseError::new(format!(
                "`{input}` is not a valid environment variable name: use letters, digits, \
                 `_`, `-` and `.`, not starting with a digit"
            )));
        }
        Ok(EnvVarName(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_follow_rfc_1123() {
        for ok in ["a", "my-cluster", "42", "a1-b2"] {
            assert!(DnsLabel::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "My-Cluster", "a_b", "a.b", &"a".repeat(64)] {
            assert!(DnsLabel::parse(bad).is_err(), "{bad}");
        }
        assert!(DnsLabel::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn subdomains_allow_dots_between_labels() {
        assert!(DnsSubdomain::parse("worker-7.gpu.internal").is_ok());
        assert!(DnsSubdomain::parse("app-7-tls").is_ok());
        for bad in ["a..b", ".a", "a.", "A.b", "a_b.c"] {
            assert!(DnsSubdomain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cluster_names_its_namespace_and_instances() {
        let name = ClusterName::parse("my-cluster").unwrap();
        assert_eq!(name.namespace().as_str(), "my-cluster-ns");
        assert_eq!(name.instance(3).as_str(), "my-cluster-3");
    }

    #[test]
    fn the_longest_cluster_name_still_yields_valid_labels() {
        let name = ClusterName::parse(&"c".repeat(59)).unwrap();
        assert!(is_dns_label(name.namespace().as_str()));
        assert!(is_dns_label(name.instance(MAX_CLUSTER_INSTANCES).as_str()));
        let err = ClusterName::parse(&"c".repeat(60)).unwrap_err();
        assert!(err.message().contains("at most 59"), "{err}");
    }

    #[test]
    fn an_app_id_names_its_objects_app_dash_id() {
        assert_eq!(AppId::parse("42").unwrap().object_name().as_str(), "app-42");
        assert!(AppId::parse(&"a".repeat(60)).is_err());
    }

    #[test]
    fn tenant_names_admit_reference_usernames() {
        for ok in ["john_doe", "team-a", "T1", "a.b"] {
            assert!(TenantName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "_x", "x_", "a b", "ä"] {
            assert!(TenantName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_var_names_follow_kubernetes() {
        for ok in ["DB_HOST", "_x", "my.var", "a-1"] {
            assert!(EnvVarName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1ABC", "A=B", "A B", "ÄB"] {
            assert!(EnvVarName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_target_is_called_default() {
        assert_eq!(TargetName::default().as_str(), "default");
        assert!(TargetName::parse("Default").is_err());
    }
}
