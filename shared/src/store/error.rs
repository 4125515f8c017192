//! Store failures. All of them are worth retrying from the runtime's point of view
//! except a URL Longshore cannot use.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}` (use postgres://… or sqlite://…)")]
    UnsupportedUrl(String),
    #[error("cannot connect to the job store: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migrating the job store failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("job store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("binding a query argument failed: {0}")]
    Bind(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("job store row is unreadable: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A unique-constraint violation, which callers turn into "already exists".
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Query(sqlx::Error::Database(db)) => db.is_unique_violation(),
            _ => false,
        }
    }

    /// The database refused a text value it cannot hold (PostgreSQL keeps no NUL
    /// characters): the caller's input is at fault, and sending it again cannot help.
    pub fn is_unstorable_text(&self) -> bool {
        match self {
            StoreError::Query(sqlx::Error::Database(db)) => {
                // character_not_in_repertoire, untranslatable_character
                matches!(db.code().as_deref(), Some("22021" | "22P05"))
            }
            _ => false,
        }
    }
}
