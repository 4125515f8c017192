//! Reading typed values out of `Any` rows, where uuids and JSON travel as text.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::StoreError;

pub(crate) fn text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(col).map_err(StoreError::Query)
}

pub(crate) fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>, StoreError> {
    row.try_get::<Option<String>, _>(col)
        .map_err(StoreError::Query)
}

pub(crate) fn int(row: &AnyRow, col: &str) -> Result<i64, StoreError> {
    // INTEGER columns come back as i32 from PostgreSQL and i64 from SQLite.
    row.try_get::<i64, _>(col)
        .or_else(|_| row.try_get::<i32, _>(col).map(i64::from))
        .map_err(StoreError::Query)
}

pub(crate) fn opt_int(row: &AnyRow, col: &str) -> Result<Option<i64>, StoreError> {
    row.try_get::<Option<i64>, _>(col)
        .or_else(|_| row.try_get::<Option<i32>, _>(col).map(|v| v.map(i64::from)))
        .map_err(StoreError::Query)
}

pub(crate) fn uuid(row: &AnyRow, col: &str) -> Result<Uuid, StoreError> {
    let s = text(row, col)?;
    Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

/// Column `col` as a comma-separated list of uuids (`STRING_AGG` of job ids); none when
/// the column is NULL.
pub(crate) fn uuid_list(row: &AnyRow, col: &str) -> Result<Option<Vec<Uuid>>, StoreError> {
    opt_text(row, col)?
        .map(|list| {
            list.split(',')
                .map(|id| {
                    Uuid::parse_str(id).map_err(|_| StoreError::Corrupt(format!("{col}: `{id}`")))
                })
                .collect()
        })
        .transpose()
}

pub(crate) fn json(row: &AnyRow, col: &str) -> Result<serde_json::Value, StoreError> {
    let s = text(row, col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn opt_json(row: &AnyRow, col: &str) -> Result<Option<serde_json::Value>, StoreError> {
    opt_text(row, col)?
        .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

pub(crate) fn bytes(row: &AnyRow, col: &str) -> Result<Vec<u8>, StoreError> {
    row.try_get::<Vec<u8>, _>(col).map_err(StoreError::Query)
}

/// `$first, $first+1, …` placeholders for an IN list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
