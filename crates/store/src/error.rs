//! Store errors: what callers can act on (conflict, not found) versus internals.

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot connect to the database ({url}): {reason}")]
    Connect { url: String, reason: String },
    /// A unique constraint was violated; carries the database's message.
    #[error("duplicate value: {0}")]
    Conflict(String),
    /// A foreign key constraint was violated.
    #[error("referenced row missing or still referenced: {0}")]
    Reference(String),
    #[error("row not found")]
    NotFound,
    #[error("corrupt value in column {0}")]
    Corrupt(String),
    #[error("migration {version} ({name}) failed: {reason}")]
    Migration { version: i64, name: String, reason: String },
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_string());
            }
            if db.is_foreign_key_violation() {
                return StoreError::Reference(db.message().to_string());
            }
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Sqlx(e)
    }
}
