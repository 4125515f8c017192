//! The handlers of every implemented kind, one module per family.

pub mod apps;
pub mod dex;
pub mod diag;
pub mod identity;
pub mod projects;

use crate::Registry;

/// A registry with every handler this build implements.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register(apps::deploy)
        .register(apps::restart)
        .register(apps::delete);
    registry.register(diag::noop);
    registry
        .register(identity::create)
        .register(identity::set_password)
        .register(identity::delete);
    registry
        .register(projects::create)
        .register(projects::update)
        .register(projects::delete);
    registry
}
