//! Bearer-token authentication. Tokens are looked up by their SHA-256 in the store and
//! cached briefly, so authentication costs a hash and a map lookup per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use longshore_shared::access::{Role, hash_token};
use longshore_shared::clock::now_ms;
use longshore_shared::store::{Store, TokenRecord};

use crate::AppState;
use crate::error::ApiError;

/// How long a token lookup is trusted; a revocation made on another replica takes
/// effect within this time (at once on the replica that revoked).
const CACHE_TTL: Duration = Duration::from_secs(5);
/// `last_used_at` is written at most this often per token.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct TokenCache {
    store: Store,
    entries: Arc<RwLock<HashMap<String, Cached>>>,
}

#[derive(Clone)]
struct Cached {
    token: Option<TokenRecord>,
    fetched: Instant,
    touched: Option<Instant>,
}

impl TokenCache {
    pub fn new(store: Store) -> Self {
        TokenCache {
            store,
            entries: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    async fn lookup(&self, hash: &str) -> Result<Option<TokenRecord>, ApiError> {
        if let Some(hit) = self.entries.read().expect("not poisoned").get(hash)
            && hit.fetched.elapsed() < CACHE_TTL
        {
            return Ok(hit.token.clone());
        }
        let token = self.store.token_by_hash(hash).await?;
        let mut entries = self.entries.write().expect("not poisoned");
        if entries.len() > 10_000 {
            entries.retain(|_, c| c.fetched.elapsed() < CACHE_TTL);
        }
        let touched = entries.get(hash).and_then(|c| c.touched);
        entries.insert(
            hash.to_owned(),
            Cached {
                token: token.clone(),
                fetched: Instant::now(),
                touched,
            },
        );
        Ok(token)
    }

    fn touch(&self, hash: &str, id: &str) {
        let due = {
            let mut entries = self.entries.write().expect("not poisoned");
            match entries.get_mut(hash) {
                Some(c) if c.touched.is_none_or(|t| t.elapsed() >= TOUCH_EVERY) => {
                    c.touched = Some(Instant::now());
                    true
                }
                _ => false,
            }
        };
        if due {
            let store = self.store.clone();
            let id = id.to_owned();
            tokio::spawn(async move {
                if let Err(err) = store.touch_token(&id, now_ms()).await {
                    tracing::debug!(error = %err, "could not record token use");
                }
            });
        }
    }

    /// Forgets every cached lookup (after a revocation).
    pub fn clear(&self) {
        self.entries.write().expect("not poisoned").clear();
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub name: String,
    pub role: Role,
    pub tenant: Option<String>,
    pub targets: Option<Vec<String>>,
}

impl Caller {
    /// Refuses the request unless the caller's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; token `{}` has {}",
                needed.as_str(),
                self.name,
                self.role.as_str()
            )))
        }
    }

    /// The tenant a request acts for: the token's own when it is tenant-scoped.
    pub fn tenant_for(&self, asked: Option<String>) -> Result<Option<String>, ApiError> {
        match (&self.tenant, asked) {
            (None, asked) => Ok(asked),
            (Some(own), None) => Ok(Some(own.clone())),
            (Some(own), Some(asked)) if *own == asked => Ok(Some(asked)),
            (Some(own), Some(asked)) => Err(ApiError::Forbidden {
                message: format!(
                    "token `{}` acts only for tenant `{own}`, not `{asked}`",
                    self.name
                ),
                field: Some("tenant".into()),
            }),
        }
    }

    /// Whether the caller may see and change an object owned by tenant `owner`: the
    /// tenant rule of [`longshore_shared::tenancy`], the same the intake and the worker
    /// apply to writes.
    pub fn owns(&self, owner: Option<&str>) -> bool {
        longshore_shared::tenancy::permits(self.tenant.as_deref(), owner)
    }

    pub fn check_target(&self, target: &str) -> Result<(), ApiError> {
        match &self.targets {
            Some(allowed) if !allowed.iter().any(|t| t == target) => Err(ApiError::Forbidden {
                message: format!(
                    "token `{}` may not act on target `{target}` (allowed: {})",
                    self.name,
                    allowed.join(", ")
                ),
                field: Some("target".into()),
            }),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("missing `Authorization: Bearer <token>` header".into())
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header is not a bearer token".into())
            })?;
        let hash = hash_token(token);
        let record = state
            .tokens
            .lookup(&hash)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked token".into()))?;
        let role = Role::parse(&record.role)
            .ok_or_else(|| ApiError::Unauthorized("the token's role is not recognised".into()))?;
        state.tokens.touch(&hash, &record.id);
        tracing::Span::current().record("caller", record.name.as_str());
        Ok(Caller {
            token_id: record.id,
            name: record.name,
            role,
            tenant: record.tenant,
            targets: record.targets,
        })
    }
}
