//! Parse-only domain types: each newtype's only constructor validates, so a value that
//! exists is a valid one, and each failure names the field it came from.
//!
//! Serde goes through the same constructors (`#[serde(try_from = …)]`), so a command
//! payload that deserializes holds only valid names, addresses and quantities, and the
//! JSON Schema each type publishes states the same rule.

pub mod email;
pub mod field_error;
pub mod image_ref;
pub mod keyed_map;
pub mod names;
pub mod newtype;
pub mod password;
pub mod path;
pub mod profile_name;
pub mod quantity;
pub mod quota;
pub mod quota_key;
pub mod units;

pub use email::Email;
pub use field_error::FieldError;
pub use image_ref::ImageRef;
pub use names::{
    AppId, ClusterName, DnsLabel, DnsSubdomain, EnvVarName, MAX_LABEL_LEN, TargetName, TenantName,
    is_dns_label, is_dns_subdomain,
};
pub use newtype::ParseError;
pub use password::{BcryptHash, generate_password, hash_password};
pub use path::AbsolutePath;
pub use profile_name::ProfileName;
pub use quantity::Quantity;
pub use quota::{QuotaDefaults, QuotaRequest, initial_quota, is_gpu_key, merge_quota};
pub use quota_key::QuotaKey;
pub use units::{CpuQuantity, Gibibytes};
