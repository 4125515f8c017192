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
    /// One failure answered to several callers (a batch that could not be written).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// The database cannot be reached or is going away: nothing about the request is
    /// at fault, and the same request may succeed once the database is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect(_) => true,
            StoreError::Query(err) => match err {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed => true,
                // connection_exception (08…), operator_intervention (57P…: shutdown,
                // crash shutdown, cannot connect now)
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
                _ => false,
            },
            StoreError::Shared(inner) => inner.is_unavailable(),
            _ => false,
        }
    }

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
