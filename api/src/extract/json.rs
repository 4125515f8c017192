//! A JSON body extractor whose every rejection names what is wrong and where: not JSON
//! (400), not the expected shape (422 with the field), too large (413), wrong content
//! type (415).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("the request body is larger than the api accepts".into())
            } else {
                ApiError::BadRequest {
                    message: rejection.body_text(),
                    field: Some("body".into()),
                }
            }
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
                message: format!("the body is not valid JSON: {e}"),
                field: Some("body".into()),
            })?;
        let parsed = longshore_shared::domain::field_error::deserialize_at("", &value).map_err(
            |mut e| {
                if e.field.is_empty() {
                    e.field = "body".into();
                }
                ApiError::Invalid(e)
            },
        )?;
        Ok(Json(parsed))
    }
}
