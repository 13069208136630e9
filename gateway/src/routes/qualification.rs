//! A merchant's qualification: the form (`PUT /merchants/me/qualification`, reviewed in the
//! background), its document images (`POST /merchants/me/documents`, multipart), where it
//! stands (`GET /merchants/me`), and the operators' queue of what the automated review could
//! not decide (`/operator/qualifications`).

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, get, post, put, web};
use engine::MerchantId;
use engine::qualification::{FieldReason, PermitInput, QualificationInput, ReviewState};
use futures_util::StreamExt as _;
use persistence::qualification::{self as stored, NumberKind};
use persistence::{DbErr, repo};
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;
use workflows::merchants::documents::UploadError;
use workflows::merchants::review::SubmitError;

use crate::AppState;
use crate::access::{Kyc, OperatorAuth};
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::time::rfc3339;

/// What the qualification routes answer besides success.
#[derive(Debug, Error)]
pub enum QualificationError {
    /// The form's own problems, every one.
    #[error("the qualification has {} problem(s)", .0.len())]
    Invalid(Vec<FieldReason>),
    /// A number barred by a ban in force.
    #[error("a number of this qualification belongs to a banned merchant")]
    NumberBanned(Vec<FieldReason>),
    #[error(transparent)]
    Upload(UploadError),
    #[error("{0}")]
    BadUpload(String),
    #[error("this qualification is not waiting for a person (it is {0})")]
    NotInReview(&'static str),
    #[error("no qualification of this merchant")]
    NotFound,
    #[error(transparent)]
    Shared(#[from] ApiError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn reasons_json(reasons: &[FieldReason]) -> Vec<Value> {
    reasons.iter().map(|r| json!({"field": r.field, "reason": r.code, "message": r.message})).collect()
}

impl QualificationError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::Invalid(_) => ApiError::invalid("invalid_qualification", message),
            Self::NumberBanned(_) => ApiError::new(StatusCode::FORBIDDEN, "number_banned", message),
            Self::Upload(error) => match error {
                UploadError::UnknownKind(_) => ApiError::invalid("invalid_kind", message),
                UploadError::Empty => ApiError::invalid("empty_file", message),
                UploadError::TooLarge { .. } => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", message)
                }
                UploadError::NotAnImage => {
                    ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image_type", message)
                }
                UploadError::ContentTypeMismatch { .. } => {
                    ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_mismatch", message)
                }
                UploadError::Dimensions { .. } => ApiError::invalid("invalid_dimensions", message),
                UploadError::TooMany { .. } => ApiError::conflict("too_many_documents", message),
                UploadError::Store(_) | UploadError::Db(_) => ApiError::internal(message),
            },
            Self::BadUpload(_) => ApiError::bad_request("bad_upload", message),
            Self::NotInReview(_) => ApiError::conflict("not_in_review", message),
            Self::NotFound => ApiError::not_found("qualification_not_found", message),
            Self::Shared(api) => api.clone(),
            Self::Db(_) => ApiError::unexpected(),
        }
    }
}

impl ResponseError for QualificationError {
    fn status_code(&self) -> StatusCode {
        self.api().status
    }

    /// The one error shape, with the reasons per field when there are some.
    fn error_response(&self) -> HttpResponse {
        let api = self.api();
        match self {
            Self::Invalid(reasons) | Self::NumberBanned(reasons) => {
                HttpResponse::build(api.status).json(json!({
                    "error": {"code": api.code, "message": api.message, "reasons": reasons_json(reasons)}
                }))
            }
            _ => {
                if api.status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(cause = %self, "internal error");
                }
                ResponseError::error_response(&api)
            }
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PermitBody {
    /// A permit kind of the configured table: `food_production`, `food_operation`,
    /// `cosmetics_production`, …
    kind: String,
    number: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct QualificationBody {
    /// `individual`, `individual_business` or `company`.
    entity_type: String,
    /// The registered name (businesses).
    #[serde(default)]
    business_name: Option<String>,
    /// The unified social credit code on the business licence (businesses).
    #[serde(default)]
    licence_number: Option<String>,
    legal_person_name: String,
    legal_person_id_no: String,
    contact_name: String,
    contact_phone: String,
    #[serde(default)]
    categories: Vec<String>,
    /// One per regulated category's permit.
    #[serde(default)]
    permits: Vec<PermitBody>,
}

impl QualificationBody {
    fn input(self) -> QualificationInput {
        QualificationInput {
            entity_type: self.entity_type,
            business_name: self.business_name,
            licence_number: self.licence_number,
            legal_person_name: self.legal_person_name,
            legal_person_id_no: self.legal_person_id_no,
            contact_name: self.contact_name,
            contact_phone: self.contact_phone,
            categories: self.categories,
            permits: self
                .permits
                .into_iter()
                .map(|p| PermitInput { kind: p.kind, number: p.number })
                .collect(),
        }
    }
}

/// The numbers of `input` that a ban in force bars, as reasons.
async fn barred(state: &AppState, input: &QualificationInput) -> Result<Vec<FieldReason>, DbErr> {
    let mut reasons = Vec::new();
    let mut numbers = vec![("legal_person_id_no", NumberKind::IdNo, input.legal_person_id_no.trim())];
    if let Some(licence) = input.licence_number.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        numbers.push(("licence_number", NumberKind::LicenceNumber, licence));
    }
    for (field, kind, number) in numbers {
        if stored::number_is_banned(&state.db, kind, number).await? {
            reasons.push(FieldReason::new(field, "banned", "this number belongs to a banned merchant"));
        }
    }
    Ok(reasons)
}

#[utoipa::path(
    put,
    path = "/api/v1/merchants/me/qualification",
    tag = "merchants",
    summary = "Submit (or resubmit) your qualification; reviewed automatically in the background",
    request_body(content = QualificationBody, example = json!({"entity_type": "company", "business_name": "福州示例科技有限公司", "licence_number": "91350100M000100Y43", "legal_person_name": "张三", "legal_person_id_no": "11010519491231002X", "contact_name": "李四", "contact_phone": "13800000000", "categories": ["food"], "permits": [{"kind": "food_operation", "number": "JY14403050012345"}]})),
    responses(
        (status = 202, description = "stored, `pending`; see `GET /merchants/me`", example = json!({"revision": 1, "review_state": "pending"})),
        (status = 400, description = "malformed request (`bad_request`, `malformed_json`)", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "`number_banned`: the licence or ID number belongs to a banned merchant", body = ErrorBody),
        (status = 422, description = "`invalid_qualification`, with `reasons` per field", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[put("/merchants/me/qualification")]
pub async fn submit(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    body: web::Json<QualificationBody>,
) -> Result<HttpResponse, QualificationError> {
    let input = body.into_inner().input();
    let banned = barred(&state, &input).await?;
    if !banned.is_empty() {
        return Err(QualificationError::NumberBanned(banned));
    }
    let revision = state.trust.reviews.submit(merchant.0, &input).await.map_err(|e| match e {
        SubmitError::Invalid(reasons) => QualificationError::Invalid(reasons),
        SubmitError::Db(e) => QualificationError::Db(e),
    })?;
    state.trust.review_later(merchant.0, revision);
    Ok(HttpResponse::Accepted().json(json!({ "revision": revision, "review_state": "pending" })))
}

/// The multipart's `kind` and `file` (its declared type and bytes, at most `max_bytes + 1`).
async fn read_upload(
    mut payload: Multipart,
    max_bytes: usize,
) -> Result<(String, Option<String>, Vec<u8>), QualificationError> {
    let bad = |e: actix_multipart::MultipartError| QualificationError::BadUpload(format!("multipart: {e}"));
    let (mut kind, mut file) = (None, None);
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(bad)?;
        let name = field.name().map(str::to_owned);
        let limit = match name.as_deref() {
            Some("kind") => 64,
            Some("file") => max_bytes + 1,
            _ => 0,
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(bad)?;
            if bytes.len() + chunk.len() > limit {
                if name.as_deref() == Some("file") {
                    return Err(QualificationError::Upload(UploadError::TooLarge { max_bytes }));
                }
                if limit > 0 {
                    return Err(QualificationError::BadUpload(format!(
                        "{} is too long",
                        name.unwrap_or_default()
                    )));
                }
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_deref() {
            Some("kind") => {
                kind = Some(
                    String::from_utf8(bytes)
                        .map_err(|_| QualificationError::BadUpload("kind is not text".into()))?,
                )
            }
            Some("file") => {
                let declared = field.content_type().map(|m| m.essence_str().to_owned());
                file = Some((declared, bytes));
            }
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| {
        QualificationError::BadUpload("send the document's kind as the field `kind`".into())
    })?;
    let (declared, bytes) =
        file.ok_or_else(|| QualificationError::BadUpload("send the image as the field `file`".into()))?;
    Ok((kind.trim().to_owned(), declared, bytes))
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/me/documents",
    tag = "merchants",
    summary = "Upload a document image of your qualification (multipart: `kind`, `file`)",
    request_body(content_type = "multipart/form-data", description = "`kind`: business_licence, id_card_front, id_card_back or a permit kind; `file`: a PNG or JPEG"),
    responses(
        (status = 201, description = "stored: `document_id`, `kind`, `content_type`, `size_bytes`, `width`, `height`"),
        (status = 400, description = "`bad_upload`: not a multipart with `kind` and `file`", body = ErrorBody),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 409, description = "`too_many_documents`", body = ErrorBody),
        (status = 413, description = "`file_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_image_type`, `content_type_mismatch`", body = ErrorBody),
        (status = 422, description = "`invalid_kind`, `empty_file`, `invalid_dimensions`", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[post("/merchants/me/documents")]
pub async fn upload(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
    payload: Multipart,
) -> Result<HttpResponse, QualificationError> {
    let max_bytes = state.trust.documents.settings().max_bytes;
    let (kind, declared, bytes) = read_upload(payload, max_bytes).await?;
    let record = state
        .trust
        .documents
        .upload(merchant.0, &kind, declared.as_deref(), bytes)
        .await
        .map_err(QualificationError::Upload)?;
    Ok(HttpResponse::Created().json(json!({
        "document_id": record.id,
        "kind": record.kind,
        "content_type": record.content_type,
        "size_bytes": record.size_bytes,
        "width": record.width,
        "height": record.height,
    })))
}

/// A merchant as it sees itself: review state and reasons, documents, ban, held-back sales.
pub(crate) async fn merchant_view(state: &AppState, merchant: MerchantId) -> Result<Value, DbErr> {
    let display_name = repo::merchant_display_name(&state.db, merchant).await?;
    let qualification = stored::qualification(&state.db, merchant).await?;
    let documents = stored::documents_of(&state.db, merchant, 100).await?;
    let ban = stored::active_ban(&state.db, merchant).await?;
    let held = persistence::trust::suspended_sales_of(&state.db, merchant, 100).await?;
    let (review_state, reasons) = qualification
        .as_ref()
        .map_or((ReviewState::None, Vec::new()), |q| (q.review_state, q.review_reasons.clone()));
    Ok(json!({
        "merchant_id": merchant,
        "display_name": display_name,
        "review_state": review_state.as_str(),
        "review_reasons": reasons_json(&reasons),
        "qualification": qualification.map(|q| json!({
            "revision": q.revision,
            "entity_type": q.entity_type.as_str(),
            "business_name": q.business_name,
            "licence_number": q.licence_number,
            "legal_person_name": q.legal_person_name,
            "legal_person_id_no": engine::qualification::ResidentId::parse(&q.legal_person_id_no, engine::BeijingDay::of(state.clock.now()))
                .map_or_else(|_| "****".to_owned(), |id| id.masked()),
            "contact_name": q.contact_name,
            "contact_phone": q.contact_phone,
            "categories": q.categories,
            "permits": q.permits,
            "submitted_at": rfc3339(q.submitted_at),
            "reviewed_at": q.reviewed_at.map(rfc3339),
        })),
        "documents": documents.iter().map(|d| json!({
            "document_id": d.id, "kind": d.kind, "content_type": d.content_type,
            "width": d.width, "height": d.height, "uploaded_at": rfc3339(d.uploaded_at),
        })).collect::<Vec<_>>(),
        "banned": ban.map(|b| json!({"reason": b.reason, "banned_at": rfc3339(b.banned_at)})),
        "suspended_sales": held.iter().map(|(id, reason)| json!({"flash_sale_id": id, "reason": reason})).collect::<Vec<_>>(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/me",
    tag = "merchants",
    summary = "You as a merchant: review state and reasons, documents, held-back sales",
    responses(
        (status = 200, description = "the merchant", example = json!({"merchant_id": 1, "review_state": "rejected", "review_reasons": [{"field": "legal_person_name", "reason": "mismatch", "message": "does not match the authority's records"}], "suspended_sales": []})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/merchants/me")]
pub async fn me(
    state: web::Data<AppState>,
    merchant: MerchantAuth,
) -> Result<HttpResponse, QualificationError> {
    Ok(HttpResponse::Ok().json(merchant_view(&state, merchant.0).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct QueueQuery {
    /// `manual` (the default), `pending`, `rejected` or `approved`.
    state: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/operator/qualifications",
    tag = "operator console",
    summary = "Qualifications by review state, oldest first: `manual` is the queue a person decides (reviewer)",
    params(QueueQuery),
    responses(
        (status = 200, description = "at most 100"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 422, description = "`invalid_state`", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[get("/operator/qualifications")]
pub async fn queue(
    state: web::Data<AppState>,
    _operator: OperatorAuth<Kyc>,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, QualificationError> {
    let wanted = query.state.as_deref().unwrap_or("manual");
    let review_state = ReviewState::parse(wanted).filter(|s| *s != ReviewState::None).ok_or_else(|| {
        ApiError::invalid("invalid_state", "state is manual, pending, rejected or approved")
    })?;
    let now = state.clock.now().plus_millis(1);
    let records = stored::in_state(&state.db, review_state, now, 100).await?;
    let items: Vec<Value> = records
        .iter()
        .map(|q| {
            json!({
                "merchant_id": q.merchant_id,
                "revision": q.revision,
                "entity_type": q.entity_type.as_str(),
                "business_name": q.business_name,
                "licence_number": q.licence_number,
                "legal_person_name": q.legal_person_name,
                "contact_name": q.contact_name,
                "contact_phone": q.contact_phone,
                "categories": q.categories,
                "permits": q.permits,
                "review_state": q.review_state.as_str(),
                "review_reasons": reasons_json(&q.review_reasons),
                "submitted_at": rfc3339(q.submitted_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReasonBody {
    field: String,
    reason: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// The revision decided (as listed): a newer submission is not decided by mistake.
    revision: i64,
    approve: bool,
    /// Per field, for a rejection.
    #[serde(default)]
    reasons: Vec<ReasonBody>,
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/qualifications/{merchant_id}/decision",
    tag = "operator console",
    summary = "Approve or reject (with reasons per field) a qualification waiting for a person (reviewer)",
    params(("merchant_id" = i64, Path, description = "merchant id")),
    request_body(content = Decision, example = json!({"revision": 1, "approve": false, "reasons": [{"field": "business_licence", "reason": "unreadable", "message": "the licence image is blurred"}]})),
    responses(
        (status = 200, description = "decided, audited"),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "the token is not of the role this needs", body = ErrorBody),
        (status = 404, description = "`qualification_not_found`", body = ErrorBody),
        (status = 409, description = "`not_in_review`: not waiting for a person, or another revision", body = ErrorBody),
        (status = 422, description = "`reasons_required`: a rejection names its reasons", body = ErrorBody),
    ),
    security(("operator" = [])),
)]
#[post("/operator/qualifications/{merchant_id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    operator: OperatorAuth<Kyc>,
    merchant_id: web::Path<i64>,
    body: web::Json<Decision>,
) -> Result<HttpResponse, QualificationError> {
    let merchant = MerchantId(merchant_id.into_inner());
    let reasons: Vec<FieldReason> = body
        .reasons
        .iter()
        .take(20)
        .map(|r| {
            let field: String = r.field.trim().chars().take(64).collect();
            let code: String = r.reason.trim().chars().take(64).collect();
            let message: String = r.message.trim().chars().take(300).collect();
            FieldReason { field, code, message }
        })
        .filter(|r| !r.field.is_empty() && !r.code.is_empty())
        .collect();
    if !body.approve && reasons.is_empty() {
        return Err(
            ApiError::invalid("reasons_required", "a rejection names at least one field and reason").into()
        );
    }
    let to = if body.approve { ReviewState::Approved } else { ReviewState::Rejected };
    let reasons = if body.approve { Vec::new() } else { reasons };
    let from = [ReviewState::Manual, ReviewState::Pending];
    let written =
        stored::record_review(&state.db, merchant, body.revision, &from, to, &reasons, state.clock.now())
            .await?;
    if !written {
        let current =
            stored::qualification(&state.db, merchant).await?.ok_or(QualificationError::NotFound)?;
        return Err(QualificationError::NotInReview(current.review_state.as_str()));
    }
    let action = if body.approve { "qualification.approve" } else { "qualification.reject" };
    let details = json!({ "revision": body.revision, "reasons": reasons_json(&reasons) });
    operator.audit(&state, action, format!("merchant:{merchant}"), details).await?;
    Ok(HttpResponse::Ok().json(json!({
        "merchant_id": merchant,
        "revision": body.revision,
        "review_state": to.as_str(),
        "review_reasons": reasons_json(&reasons),
    })))
}
