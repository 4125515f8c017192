//! API tokens. Only a SHA-256 of each token is kept: tokens are long random strings, so
//! a fast hash is safe and keeps authentication cheap on every request.

use super::rows::{int, opt_int, opt_text, text};
use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    /// When set, the token acts only for this tenant.
    pub tenant: Option<String>,
    /// When set, the token may only target these clusters.
    pub targets: Option<Vec<String>>,
    pub created_at: Millis,
    pub created_by: String,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub tenant: Option<String>,
    pub targets: Option<Vec<String>>,
    pub token_hash: String,
    pub created_by: String,
    pub created_at: Millis,
}

const TOKEN_COLUMNS: &str =
    "id, name, role, tenant, targets, created_at, created_by, last_used_at, revoked_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<TokenRecord, StoreError> {
    let targets = opt_text(row, "targets")?
        .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("targets: {e}"))))
        .transpose()?;
    Ok(TokenRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        role: text(row, "role")?,
        tenant: opt_text(row, "tenant")?,
        targets,
        created_at: int(row, "created_at")?,
        created_by: text(row, "created_by")?,
        last_used_at: opt_int(row, "last_used_at")?,
        revoked_at: opt_int(row, "revoked_at")?,
    })
}

impl Store {
    pub async fn create_token(&self, token: &NewToken) -> Result<(), StoreError> {
        let targets = token
            .targets
            .as_ref()
            .map(|t| serde_json::to_string(t).expect("strings serialize"));
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, tenant, targets, token_hash, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(&token.role)
        .bind(token.tenant.clone())
        .bind(targets)
        .bind(&token.token_hash)
        .bind(token.created_at)
        .bind(&token.created_by)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live (not revoked) token with this hash.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
        );
        sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Revokes a token by id or by name; true when a live token was revoked.
    pub async fn revoke_token(&self, id_or_name: &str, now: Millis) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 \
             WHERE (id = $1 OR name = $1) AND revoked_at IS NULL",
        )
        .bind(id_or_name)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub async fn touch_token(&self, id: &str, now: Millis) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
