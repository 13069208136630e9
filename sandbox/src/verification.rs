//! The bundled verification sandbox: Tencent Cloud FaceID `IdCardVerification` and OCR
//! `VerifyEnterpriseFourFactors` (API 3.0) with their own SecretId/SecretKey, answering from a
//! registry of known companies and people instead of the national records.
//!
//! - `POST /sandbox/verification/faceid` and `POST /sandbox/verification/ocr`: the two APIs,
//!   each checking the TC3 signature for its own service (`faceid`, `ocr`), the ±5 minute
//!   window, the action and version; refusals are HTTP 200 with `Response.Error`, as API 3.0
//!   answers.
//! - `POST /sandbox/verification/companies {uscc, name, legal_person_name,
//!   legal_person_id_no}`: registers a company and its legal person (201); `POST
//!   /sandbox/verification/people {name, id_no}` a person alone.
//! - `POST /sandbox/verification/unsure {key, unsure}`: makes the entry with this credit code
//!   or ID number answer "cannot say" (a person `-4`, the source failing; a company state 3,
//!   no record) until unset.
//! - `POST /sandbox/verification/down {down}`: every API call answers 503, as an outage would.
//!
//! Unknown people are `-5` (no record) and unknown companies state 3. Of several mismatching
//! facts of a company, the answer names the first of: the enterprise name (-24), the person's
//! name (-22), the person's number (-23), as the real `Detail` names one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpRequest, HttpResponse, web};
use engine::BeijingDay;
use engine::qualification::{CreditCode, ResidentId};
use engine::time::Clock;
use parking_lot::Mutex;
use providers::tencent_cloud::tc3::{self, ApiError, Received};
use providers::tencent_cloud::{answer_json, refusal_json};
use providers::verification::tencent::protocol::{
    self, EnterpriseDetail, IdCardVerificationRequest, IdCardVerificationResponse,
    VerifyEnterpriseFourFactorsRequest, VerifyEnterpriseFourFactorsResponse, enterprise_result,
    person_result,
};
use rand::Rng as _;
use serde::Deserialize;
use serde_json::json;

/// The sandbox's keys and the bound of its registry.
#[derive(Clone)]
pub struct VerificationSandboxSettings {
    pub secret_id: String,
    pub secret_key: String,
    /// Companies and people it holds at most (each).
    pub capacity: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Company {
    pub uscc: String,
    pub name: String,
    pub legal_person_name: String,
    pub legal_person_id_no: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Person {
    pub name: String,
    pub id_no: String,
}

#[derive(Default)]
struct Registry {
    companies: HashMap<String, Company>,
    /// ID number → name.
    people: HashMap<String, String>,
    /// Credit codes and ID numbers that answer "cannot say".
    unsure: HashSet<String>,
}

/// Why an entry was not registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    Invalid(String),
    Full,
}

pub struct VerificationSandbox {
    settings: VerificationSandboxSettings,
    registry: Mutex<Registry>,
    down: AtomicBool,
    clock: Arc<dyn Clock>,
}

impl VerificationSandbox {
    pub fn new(settings: VerificationSandboxSettings, clock: Arc<dyn Clock>) -> Self {
        assert!(settings.capacity > 0, "the registry holds at least one entry");
        Self { settings, registry: Mutex::new(Registry::default()), down: AtomicBool::new(false), clock }
    }

    pub fn secret_id(&self) -> &str {
        &self.settings.secret_id
    }

    fn today(&self) -> BeijingDay {
        BeijingDay::of(self.clock.now())
    }

    /// Registers a person; the same number again replaces the name.
    pub fn add_person(&self, person: Person) -> Result<(), RegisterError> {
        let id = ResidentId::parse(&person.id_no, self.today())
            .map_err(|e| RegisterError::Invalid(e.to_string()))?;
        if person.name.trim().is_empty() {
            return Err(RegisterError::Invalid("name is empty".into()));
        }
        let mut registry = self.registry.lock();
        if registry.people.len() >= self.settings.capacity && !registry.people.contains_key(id.as_str()) {
            return Err(RegisterError::Full);
        }
        registry.people.insert(id.as_str().to_owned(), person.name.trim().to_owned());
        Ok(())
    }

    /// Registers a company and its legal person; the same code again replaces it.
    pub fn add_company(&self, company: Company) -> Result<(), RegisterError> {
        let code = CreditCode::parse(&company.uscc).map_err(|e| RegisterError::Invalid(e.to_string()))?;
        if company.name.trim().is_empty() {
            return Err(RegisterError::Invalid("name is empty".into()));
        }
        {
            let registry = self.registry.lock();
            if registry.companies.len() >= self.settings.capacity
                && !registry.companies.contains_key(code.as_str())
            {
                return Err(RegisterError::Full);
            }
        }
        self.add_person(Person {
            name: company.legal_person_name.clone(),
            id_no: company.legal_person_id_no.clone(),
        })?;
        let company = Company {
            uscc: code.as_str().to_owned(),
            name: company.name.trim().to_owned(),
            legal_person_name: company.legal_person_name.trim().to_owned(),
            legal_person_id_no: company.legal_person_id_no.trim().to_owned(),
        };
        self.registry.lock().companies.insert(code.as_str().to_owned(), company);
        Ok(())
    }

    /// Makes the entry with this credit code or ID number answer "cannot say", or not.
    pub fn set_unsure(&self, key: &str, unsure: bool) {
        let mut registry = self.registry.lock();
        if unsure {
            if registry.unsure.len() < self.settings.capacity {
                registry.unsure.insert(key.trim().to_owned());
            }
        } else {
            registry.unsure.remove(key.trim());
        }
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    fn request_id() -> String {
        let n: u128 = rand::rng().random();
        let hex = format!("{n:032x}");
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }

    /// One API call to `service` (`faceid` or `ocr`), as API 3.0 answers it: the JSON body.
    pub fn handle(
        &self,
        service: &str,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> serde_json::Value {
        let request_id = Self::request_id();
        match self.answer(service, header, body, &request_id) {
            Ok(answer) => answer,
            Err(error) => refusal_json(&error, &request_id),
        }
    }

    fn answer(
        &self,
        service: &str,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
        request_id: &str,
    ) -> Result<serde_json::Value, ApiError> {
        let received = Received { method: "POST", query: "", header, payload: body };
        let now_secs = self.clock.now().as_millis().div_euclid(1_000);
        tc3::verify(&received, service, now_secs, |id| {
            (id == self.settings.secret_id).then(|| self.settings.secret_key.clone())
        })?;
        let (action, version) = match service {
            protocol::FACEID_SERVICE => (protocol::ID_CARD_VERIFICATION, protocol::FACEID_VERSION),
            _ => (protocol::VERIFY_ENTERPRISE_FOUR_FACTORS, protocol::OCR_VERSION),
        };
        let asked = header("x-tc-action").unwrap_or_default();
        if asked != action {
            return Err(ApiError::new("InvalidAction", format!("the action {asked:?} is not found")));
        }
        let asked = header("x-tc-version").unwrap_or_default();
        if asked != version {
            return Err(ApiError::new("NoSuchVersion", format!("the version {asked:?} does not exist")));
        }
        let invalid = |e: serde_json::Error| {
            ApiError::new("InvalidParameter", format!("the request body is invalid: {e}"))
        };
        if service == protocol::FACEID_SERVICE {
            let request: IdCardVerificationRequest = serde_json::from_slice(body).map_err(invalid)?;
            Ok(answer_json(&self.person(&request, request_id)))
        } else {
            if header("x-tc-region").is_none_or(|r| r.trim().is_empty()) {
                return Err(ApiError::new(
                    "MissingParameter",
                    "the request is missing the X-TC-Region header",
                ));
            }
            let request: VerifyEnterpriseFourFactorsRequest =
                serde_json::from_slice(body).map_err(invalid)?;
            Ok(answer_json(&self.enterprise(&request, request_id)))
        }
    }

    fn person(&self, request: &IdCardVerificationRequest, request_id: &str) -> IdCardVerificationResponse {
        use person_result::*;
        let (result, description) = if ResidentId::parse(&request.id_card, self.today()).is_err() {
            (INVALID_ID, "非法身份证号（长度、校验位等不正确）")
        } else if request.name.trim().is_empty() {
            (INVALID_NAME, "非法姓名（长度、格式等不正确）")
        } else {
            let registry = self.registry.lock();
            match registry.people.get(&request.id_card) {
                _ if registry.unsure.contains(&request.id_card) => (SOURCE_FAILING, "证件库服务异常"),
                None => (NO_RECORD, "证件库中无此身份证记录"),
                Some(name) if *name == request.name => (MATCH, "姓名和身份证号一致"),
                Some(_) => (MISMATCH, "姓名和身份证号不一致"),
            }
        };
        IdCardVerificationResponse {
            result: result.into(),
            description: description.into(),
            request_id: request_id.to_owned(),
        }
    }

    fn enterprise(
        &self,
        request: &VerifyEnterpriseFourFactorsRequest,
        request_id: &str,
    ) -> VerifyEnterpriseFourFactorsResponse {
        use enterprise_result::*;
        let registry = self.registry.lock();
        let found = registry
            .companies
            .get(&request.enterprise_mark)
            .filter(|_| !registry.unsure.contains(&request.enterprise_mark));
        let (state, detail) = match found {
            None => (NO_RECORD, None),
            Some(company) if company.name != request.enterprise_name => {
                (INCONSISTENT, Some((ENTERPRISE_NAME, "企业名称不一致")))
            }
            Some(company) if company.legal_person_name != request.real_name => {
                (INCONSISTENT, Some((PERSON_NAME, "姓名不一致")))
            }
            Some(company) if company.legal_person_id_no != request.id_card => {
                (INCONSISTENT, Some((PERSON_ID, "证件号码不一致")))
            }
            Some(_) => (CONSISTENT, Some((LEGAL_PERSON, "企业法人/负责人"))),
        };
        VerifyEnterpriseFourFactorsResponse {
            state,
            detail: detail.map(|(result, desc)| EnterpriseDetail { result, desc: desc.into() }),
            request_id: request_id.to_owned(),
        }
    }
}

/// A fresh SecretId/SecretKey pair in Tencent's shapes.
pub fn generate_keys() -> (String, String) {
    crate::sms::generate_keys()
}

fn off() -> HttpResponse {
    HttpResponse::NotFound().json(json!({
        "error": {"code": "not_found", "message": "the verification sandbox is not served here"}
    }))
}

fn api(sandbox: &VerificationSandbox, service: &str, request: &HttpRequest, body: &[u8]) -> HttpResponse {
    if sandbox.is_down() {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    HttpResponse::Ok().content_type("application/json").json(sandbox.handle(service, &header, body))
}

async fn faceid(
    sandbox: Option<web::Data<VerificationSandbox>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    api(&sandbox, protocol::FACEID_SERVICE, &request, &body)
}

async fn ocr(
    sandbox: Option<web::Data<VerificationSandbox>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    api(&sandbox, protocol::OCR_SERVICE, &request, &body)
}

fn registered(outcome: Result<(), RegisterError>) -> HttpResponse {
    match outcome {
        Ok(()) => HttpResponse::Created().json(json!({"registered": true})),
        Err(RegisterError::Invalid(message)) => {
            HttpResponse::BadRequest().json(json!({"error": {"code": "invalid", "message": message}}))
        }
        Err(RegisterError::Full) => HttpResponse::Conflict()
            .json(json!({"error": {"code": "registry_full", "message": "the sandbox registry is full"}})),
    }
}

async fn add_company(
    sandbox: Option<web::Data<VerificationSandbox>>,
    body: web::Json<Company>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    registered(sandbox.add_company(body.into_inner()))
}

async fn add_person(
    sandbox: Option<web::Data<VerificationSandbox>>,
    body: web::Json<Person>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    registered(sandbox.add_person(body.into_inner()))
}

#[derive(Deserialize)]
struct UnsureBody {
    key: String,
    unsure: bool,
}

async fn unsure(
    sandbox: Option<web::Data<VerificationSandbox>>,
    body: web::Json<UnsureBody>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    sandbox.set_unsure(&body.key, body.unsure);
    HttpResponse::Ok().json(json!({"key": body.key, "unsure": body.unsure}))
}

#[derive(Deserialize)]
struct DownBody {
    down: bool,
}

async fn down(sandbox: Option<web::Data<VerificationSandbox>>, body: web::Json<DownBody>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    sandbox.set_down(body.down);
    HttpResponse::Ok().json(json!({"down": body.down}))
}

/// Mounts the verification sandbox; call inside `web::scope("/sandbox")` with
/// `web::Data<VerificationSandbox>` (without it the routes answer 404).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/verification/faceid", web::post().to(faceid))
        .route("/verification/ocr", web::post().to(ocr))
        .route("/verification/companies", web::post().to(add_company))
        .route("/verification/people", web::post().to(add_person))
        .route("/verification/unsure", web::post().to(unsure))
        .route("/verification/down", web::post().to(down));
}

/// Serves the verification sandbox alone on `listener`.
pub fn serve(
    listener: std::net::TcpListener,
    sandbox: Arc<VerificationSandbox>,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::from(sandbox);
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(data.clone()).service(web::scope("/sandbox").configure(configure))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

#[cfg(test)]
mod tests;
