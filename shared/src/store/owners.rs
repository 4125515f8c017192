//! Who owns a managed object: the tenant recorded on each read-model row it names
//! (see [`crate::tenancy`]).

use super::rows::opt_text;
use super::{Store, StoreError};
use crate::tenancy::ObjectRef;

impl Store {
    /// The owning tenant of every row `object` names; empty when the store knows none.
    pub async fn owners_of(&self, object: &ObjectRef) -> Result<Vec<Option<String>>, StoreError> {
        let (sql, key) = match object {
            ObjectRef::User(email) => ("SELECT tenant FROM users WHERE email = $1", email),
            ObjectRef::Project(name) => ("SELECT tenant FROM projects WHERE name = $1", name),
            ObjectRef::ProjectsOf(owner) => ("SELECT tenant FROM projects WHERE owner = $1", owner),
            ObjectRef::App(id) => ("SELECT tenant FROM apps WHERE app_id = $1", id),
        };
        let rows = sqlx::query(sql).bind(key).fetch_all(self.pool()).await?;
        rows.iter().map(|row| opt_text(row, "tenant")).collect()
    }
}
