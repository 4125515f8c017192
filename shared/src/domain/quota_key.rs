//! `QuotaKey`: a ResourceQuota `spec.hard` key. The reference lets a project set "any
//! Kubernetes ResourceQuota key" (`requests.nvidia.com/l4`, `persistentvolumeclaims`,
//! `count/deployments.apps`), so Longshore checks the syntax the API server checks
//! rather than a list: a domain-qualified name (`<DNS subdomain>/<name>`), or, without
//! a `/`, one of the standard quota names.

use serde::{Deserialize, Serialize};

use super::newtype::string_newtype;
use super::{MAX_LABEL_LEN, ParseError, is_dns_subdomain};

/// Quota names without a domain that Kubernetes understands.
pub const STANDARD_QUOTA_NAMES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "services.loadbalancers",
    "services.nodeports",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
];

/// A ResourceQuota key such as `cpu`, `requests.nvidia.com/l4` or
/// `count/deployments.apps`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QuotaKey(String);

string_newtype!(QuotaKey, {
    "type": "string",
    "minLength": 1,
    "maxLength": 317,
    "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
    "description": "A ResourceQuota key: a standard name (`cpu`, `memory`, `pods`, `services`, `persistentvolumeclaims`, `requests.storage`, …) or a domain-qualified one (`requests.nvidia.com/l4`, `count/deployments.apps`)."
});

impl QuotaKey {
    pub fn parse(input: &str) -> Result<QuotaKey, ParseError> {
        let refuse = |why: &str| {
            ParseError::new(format!("`{input}` is not a valid ResourceQuota key: {why}"))
        };
        match input.split_once('/') {
            Some((prefix, name)) => {
                if !is_dns_subdomain(prefix) {
                    return Err(refuse(
                        "the part before `/` must be a DNS subdomain such as `nvidia.com`",
                    ));
                }
                if !is_qualified_name_part(name) {
                    return Err(refuse(
                        "the part after `/` must be at most 63 letters, digits, `-`, `_` or \
                         `.`, starting and ending with a letter or digit",
                    ));
                }
            }
            None if input.is_empty() => return Err(ParseError::new("must not be empty")),
            None if !is_standard(input) => {
                return Err(refuse(
                    "a key without a domain must be a standard quota name such as `cpu`, \
                     `memory`, `pods`, `services`, `persistentvolumeclaims` or \
                     `requests.storage`",
                ));
            }
            None => {}
        }
        Ok(QuotaKey(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_standard(name: &str) -> bool {
    STANDARD_QUOTA_NAMES.contains(&name)
        || ["hugepages-", "requests.hugepages-"]
            .iter()
            .any(|prefix| name.strip_prefix(prefix).is_some_and(is_hugepage_size))
}

/// Huge page sizes are quantities such as `2Mi` or `1Gi`.
fn is_hugepage_size(size: &str) -> bool {
    super::Quantity::parse(size).is_ok_and(|q| !q.is_zero())
}

/// The name part of a Kubernetes qualified name.
fn is_qualified_name_part(name: &str) -> bool {
    let bytes = name.as_bytes();
    let inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    !bytes.is_empty()
        && bytes.len() <= MAX_LABEL_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_the_reference_are_accepted() {
        for ok in [
            "cpu",
            "memory",
            "requests.storage",
            "requests.nvidia.com/l4",
            "requests.nvidia.com/gpu",
            "requests.nvidia.com/h100",
            "nvidia.com/gpu",
            "amd.com/gpu",
            "persistentvolumeclaims",
            "services",
            "count/deployments.apps",
            "count/pods",
            "gold.storageclass.storage.k8s.io/requests.storage",
            "hugepages-2Mi",
            "requests.hugepages-1Gi",
        ] {
            assert!(QuotaKey::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn malformed_keys_are_refused_with_the_reason() {
        let cases = [
            ("gpus", "standard quota name"),
            ("requests.gpu", "standard quota name"),
            ("Nvidia.com/l4", "DNS subdomain"),
            ("nvidia.com/", "part after `/`"),
            ("nvidia.com/l4/x", "part after `/`"),
            ("nvidia com/l4", "DNS subdomain"),
            ("hugepages-x", "standard quota name"),
        ];
        for (input, why) in cases {
            let err = QuotaKey::parse(input).unwrap_err();
            assert!(err.message().contains(why), "{input}: {err}");
        }
        assert!(QuotaKey::parse("").is_err());
    }
}
