//! Parse-only domain types: each newtype's only constructor validates, so a value that
//! exists is a valid one, and each failure names the field it came from.

pub mod field_error;

pub use field_error::FieldError;
