//! The error answer of the API: `{"error":{"code":"…","message":"…"}}` with a 4xx/5xx status.
//!
//! Route groups have their own error enums for their expected outcomes (each implements
//! `ResponseError` through [`route_error!`], answering with an [`ApiError`]): the single wire
//! shape, with `code` stable and meant for programs, `message` for people.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, sent as `Retry-After` on 429 and 503.
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_after: u32) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message).retry_after(retry_after)
    }

    pub fn rate_limited(retry_after: u32) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests, slow down")
            .retry_after(retry_after)
    }

    /// Something that should not happen: logged with its cause, answered without it.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::unexpected()
    }

    /// The answer to something that should not happen, for a caller that logs the cause.
    pub fn unexpected() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Implements `ResponseError` for a route group's error enum through its
/// `fn api(&self) -> ApiError`; a 500 is logged with its cause (the enum's `Display`), which
/// the answer never carries.
#[macro_export]
macro_rules! route_error {
    ($group:ty) => {
        impl actix_web::ResponseError for $group {
            fn status_code(&self) -> actix_web::http::StatusCode {
                self.api().status
            }

            fn error_response(&self) -> actix_web::HttpResponse {
                let api = self.api();
                if api.status == actix_web::http::StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(cause = %self, "internal error");
                }
                actix_web::ResponseError::error_response(&api)
            }
        }
    };
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        response.json(Body { error: Inner { code: self.code, message: &self.message } })
    }
}

impl From<persistence::DbErr> for ApiError {
    fn from(err: persistence::DbErr) -> Self {
        ApiError::internal(format!("database: {err}"))
    }
}
