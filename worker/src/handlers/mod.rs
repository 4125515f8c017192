//! The handlers of every implemented kind, one module per family.

pub mod diag;

use crate::Registry;

/// A registry with every handler this build implements.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(diag::noop);
    registry
}
