//! What a storage operation can fail with.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique field (named) already holds this value.
    #[error("{0} is already taken")]
    Duplicate(&'static str),
    /// The database could not be reached or refused the operation.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored document no longer satisfies the domain's rules.
    #[error("stored document is invalid: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
