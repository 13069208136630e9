//! Operator accounts: log-in, the admin's management of accounts (create, list, revoke) and
//! the audit log. Accounts are also created on the server's command line
//! (`flashsale operator add`), the only way in production before the first admin exists.

use std::time::Instant;

use actix_web::{HttpResponse, get, post, web};
use persistence::DbErr;
use persistence::access::{self, AuditEntry, AuditFilter, OperatorAccount};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use workflows::accounts::login::{self, Throttled, WorkError};
use workflows::accounts::operators::{self, CreateError};
use workflows::accounts::passwords::{HashError, generate_password};
use workflows::accounts::versions::{Current, Holder};

use crate::AppState;
use crate::access::{Admin, OperatorAuth, OperatorRole, username};
use crate::auth::{Staff, hash_password};
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::routes::{throttled, work_error};
use crate::time::rfc3339;

/// What the operator account routes answer besides success.
#[derive(Debug, Error)]
pub enum OperatorsError {
    #[error("username or password is wrong")]
    InvalidCredentials,
    #[error("role must be reviewer, finance or admin")]
    InvalidRole,
    #[error("an operator with this username exists")]
    UsernameTaken,
    #[error("no such operator")]
    NotFound,
    #[error("limit must be 1 to 500")]
    InvalidLimit,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Work(#[from] WorkError),
    /// A check shared with other groups (fields, usernames, the audit log).
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("stored operator role {0:?}")]
    StoredRole(String),
    #[error("database: {0}")]
    Internal(#[from] DbErr),
}

impl OperatorsError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::InvalidCredentials => ApiError::unauthorized("invalid_credentials", message),
            Self::InvalidRole => ApiError::invalid("invalid_role", message),
            Self::UsernameTaken => ApiError::conflict("username_taken", message),
            Self::NotFound => ApiError::not_found("operator_not_found", message),
            Self::InvalidLimit => ApiError::invalid("invalid_query", message),
            Self::Throttled(e) => throttled(e),
            Self::Work(e) => work_error(e),
            Self::Shared(api) => api.clone(),
            Self::Hash(_) | Self::StoredRole(_) | Self::Internal(_) => ApiError::unexpected(),
        }
    }
}

crate::route_error!(OperatorsError);

impl From<CreateError> for OperatorsError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::Duplicate(_) => Self::UsernameTaken,
            CreateError::Db(e) => Self::Internal(e),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LogIn {
    username: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/sessions",
    tag = "operators",
    summary = "Log in as an operator",
    request_body = LogIn,
    responses(
        (status = 200, description = "an operator token with its role"),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 429, description = "`login_throttled`", body = ErrorBody),
        (status = 503, description = "busy (`overloaded`), with Retry-After", body = ErrorBody),
    ),
)]
#[post("/operator/sessions")]
pub async fn log_in(
    state: web::Data<AppState>,
    body: web::Json<LogIn>,
) -> Result<HttpResponse, OperatorsError> {
    let (token, expires_at, staff) = issue_token(&state, &body.username, &body.password).await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "expires_at": rfc3339(expires_at),
        "operator_id": staff.id,
        "role": staff.role.as_str(),
    })))
}

/// An operator's token for a username and password, its log-in audited: the log-in of the API
/// and of the operator console's cookie alike.
pub(crate) async fn issue_token(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<(String, engine::Timestamp, Staff), OperatorsError> {
    let name = username.trim().to_lowercase();
    let throttle_key = format!("operator:{name}");
    state.logins.admit(&throttle_key, Instant::now())?;
    let account = access::operator_by_username(&state.db, &name).await?.filter(|a| a.disabled_at.is_none());
    // An unknown or closed account costs the same hash as a wrong password.
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let matches =
        login::judge(&state.passwords, &state.logins, &throttle_key, stored, password.to_owned()).await?;
    let Some(account) = account.filter(|_| matches) else {
        return Err(OperatorsError::InvalidCredentials);
    };
    // The version just read is the one the token carries; remember it, in case this node
    // still remembers an older one.
    let holder = Holder::Operator(account.id);
    state.token_versions.remember(holder, Current::Version(account.token_version), Instant::now());
    let role =
        OperatorRole::parse(&account.role).ok_or_else(|| OperatorsError::StoredRole(account.role.clone()))?;
    let staff = Staff { id: account.id, username: account.username.clone(), role };
    let ttl = state.settings.operator.token_ttl_secs;
    let (token, expires_at) =
        state.tokens.issue_operator(staff.clone(), account.token_version, state.clock.now(), ttl);
    crate::access::record(
        state,
        Some(&staff),
        "session.create",
        format!("operator:{}", account.id),
        json!({}),
    )
    .await?;
    Ok((token, expires_at, staff))
}

fn render(account: &OperatorAccount) -> serde_json::Value {
    json!({
        "operator_id": account.id,
        "username": account.username,
        "role": account.role,
        "disabled": account.disabled_at.is_some(),
        "created_at": rfc3339(account.created_at),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/operator/operators",
    tag = "operators",
    summary = "Operator accounts (admin)",
    responses(
        (status = 200, description = "accounts"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/operators")]
pub async fn list(
    state: web::Data<AppState>,
    _: OperatorAuth<Admin>,
) -> Result<HttpResponse, OperatorsError> {
    let accounts = access::operators(&state.db).await?;
    Ok(HttpResponse::Ok().json(json!({ "operators": accounts.iter().map(render).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewOperator {
    username: String,
    role: String,
    /// Absent: one is generated and returned once.
    password: Option<String>,
}

/// A new operator account; the password, when generated, is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/operator/operators",
    tag = "operators",
    summary = "Create an operator account (admin)",
    request_body = NewOperator,
    responses(
        (status = 201, description = "the account; a generated password is in this answer only"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/operators")]
pub async fn create(
    state: web::Data<AppState>,
    operator: OperatorAuth<Admin>,
    body: web::Json<NewOperator>,
) -> Result<HttpResponse, OperatorsError> {
    let name = username(&body.username)?;
    let role = OperatorRole::parse(&body.role).ok_or(OperatorsError::InvalidRole)?;
    let (password, generated) = match &body.password {
        Some(given) => (crate::routes::merchants::password_field(given)?.to_owned(), false),
        None => (generate_password(), true),
    };
    let secret = password.clone();
    let hash = state.passwords.run(move || hash_password(&secret)).await??;
    let id =
        operators::create(&state.db, Some(&operator.staff), &name, role, &hash, state.clock.now()).await?;
    let mut answer = json!({ "operator_id": id, "username": name, "role": role.as_str() });
    if generated {
        answer["password"] = json!(password);
    }
    Ok(HttpResponse::Created().json(answer))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct Revoke {
    /// Also close the account: it can no longer log in.
    #[serde(default)]
    disable: bool,
}

/// Every token of the operator stops working at once (on this node; on others within
/// `auth.token_version_cache_secs`).
#[utoipa::path(
    post,
    path = "/api/v1/operator/operators/{id}/revoke",
    tag = "operators",
    summary = "Revoke an operator's tokens, optionally disable the account (admin)",
    params(("id" = i64, Path, description = "operator id")),
    request_body = Revoke,
    responses(
        (status = 200, description = "the new token version"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`operator_not_found`", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/operators/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    operator: OperatorAuth<Admin>,
    id: web::Path<i64>,
    body: Option<web::Json<Revoke>>,
) -> Result<HttpResponse, OperatorsError> {
    let id = id.into_inner();
    let disable = body.is_some_and(|b| b.disable);
    let version = operators::revoke(&state.db, Some(&operator.staff), id, disable, state.clock.now())
        .await?
        .ok_or(OperatorsError::NotFound)?;
    let current = if disable { Current::Closed } else { Current::Version(version) };
    state.token_versions.remember(Holder::Operator(id), current, Instant::now());
    Ok(HttpResponse::Ok().json(json!({ "operator_id": id, "token_version": version, "disabled": disable })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    operator_id: Option<i64>,
    action: Option<String>,
    before_id: Option<i64>,
    limit: Option<u64>,
}

/// The audit log, newest first; page with `before_id` = the last `id` seen.
#[utoipa::path(
    get,
    path = "/api/v1/operator/audit",
    tag = "operators",
    summary = "The audit log (admin)",
    params(AuditQuery),
    responses(
        (status = 200, description = "entries, newest first"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 422, description = "a field is invalid (`invalid_*`)", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    _: OperatorAuth<Admin>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, OperatorsError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(OperatorsError::InvalidLimit);
    }
    let filter = AuditFilter {
        operator_id: query.operator_id,
        action: query.action.clone(),
        before_id: query.before_id,
        limit,
    };
    let entries = access::audit_entries(&state.db, &filter).await?;
    Ok(HttpResponse::Ok().json(json!({ "entries": entries.iter().map(render_entry).collect::<Vec<_>>() })))
}

fn render_entry(entry: &AuditEntry) -> serde_json::Value {
    json!({
        "id": entry.id,
        "operator_id": entry.operator_id,
        "username": entry.username,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "details": serde_json::from_str::<serde_json::Value>(&entry.details).unwrap_or_default(),
        "at": rfc3339(entry.created_at),
    })
}
