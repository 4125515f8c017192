//! The handlers of every implemented kind, one module per family.

pub mod apps;
pub mod cleanup;
pub mod clusters;
pub mod dex;
pub mod diag;
pub mod identity;
pub mod images;
pub mod projects;
pub mod workspaces;

use crate::Registry;

/// A registry with every handler this build implements.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register(apps::deploy)
        .register(apps::restart)
        .register(apps::delete);
    registry
        .register(clusters::create)
        .register(clusters::delete)
        .register(clusters::suspend)
        .register(clusters::resume)
        .register(clusters::start_instance)
        .register(clusters::stop_instance)
        .register(clusters::suspend_instance)
        .register(clusters::resume_instance);
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
        .register(workspaces::create)
        .register(workspaces::delete)
        .register(workspaces::protect);
    registry.register(cleanup::cleanup);
    registry.register(images::commit);
    registry
}

#[cfg(test)]
mod tests {
    use longshore_shared::command::catalogue::CATALOGUE;

    #[test]
    fn the_catalogue_says_built_for_exactly_the_kinds_with_a_handler() {
        let registry = super::registry();
        for spec in CATALOGUE {
            assert_eq!(
                spec.built,
                registry.contains(spec.kind),
                "`{}`: the catalogue's `built` must match the registry",
                spec.kind
            );
        }
    }
}
