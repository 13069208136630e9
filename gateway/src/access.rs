//! Operators' duties as types, and the audit log of what operators did.
//!
//! A route names the duty it needs in its signature (`OperatorAuth<Finance>`), so a route
//! without a role check does not compile. The policy itself, which role may do which duty, is
//! [`workflows::accounts::roles`].

use std::marker::PhantomData;

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use persistence::access;
use serde_json::Value;
use workflows::accounts::roles;
pub use workflows::accounts::roles::{DutyKind, OperatorRole, entry};

use crate::AppState;
use crate::auth::{self, Staff};
use crate::error::ApiError;

/// A duty as a type, for [`OperatorAuth`].
pub trait Duty {
    const KIND: DutyKind;
    /// Who may, for the 403 message.
    const ROLES: &'static str;
}

macro_rules! duty {
    ($name:ident, $roles:literal) => {
        pub struct $name;
        impl Duty for $name {
            const KIND: DutyKind = DutyKind::$name;
            const ROLES: &'static str = $roles;
        }
    };
}

duty!(AmlReview, "reviewer or admin");
duty!(Kyc, "reviewer or admin");
duty!(ContentReview, "reviewer or admin");
duty!(Finance, "finance or admin");
duty!(Partners, "admin");
duty!(Admin, "admin");

/// A request by an operator whose role may do `D`; others get 403.
pub struct OperatorAuth<D> {
    pub staff: Staff,
    duty: PhantomData<D>,
}

impl<D: Duty + 'static> FromRequest for OperatorAuth<D> {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let staff = auth::operator(req);
        Box::pin(async move {
            let staff = staff.await?;
            if !staff.role.may(D::KIND) {
                return Err(ApiError::forbidden(format!("this needs the {} role", D::ROLES)));
            }
            Ok(OperatorAuth { staff, duty: PhantomData })
        })
    }
}

impl<D> OperatorAuth<D> {
    /// Writes the audit row of an action that was done. A failure to write it is an error
    /// answer (logged with the action), so an unrecorded action never looks like success.
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: impl Into<String>,
        details: Value,
    ) -> Result<(), ApiError> {
        record(state, Some(&self.staff), action, target.into(), details).await
    }
}

/// Appends one audit row; `staff` is `None` for the command line.
pub async fn record(
    state: &AppState,
    staff: Option<&Staff>,
    action: &str,
    target: String,
    details: Value,
) -> Result<(), ApiError> {
    let entry = entry(staff, action, target, details, state.clock.now());
    access::insert_audit(&state.db, &entry).await.map_err(|error| {
        tracing::error!(%error, action, target = %entry.target, "audit row not written");
        ApiError::internal(format!("audit log: {error}"))
    })?;
    Ok(())
}

/// An operator username: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter.
pub fn username(raw: &str) -> Result<String, ApiError> {
    roles::username(raw).map_err(|invalid| ApiError::invalid("invalid_username", invalid.to_string()))
}
