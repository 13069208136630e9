//! Tencent Cloud's verification APIs (API 3.0): FaceID `IdCardVerification` (2018-03-01) and
//! OCR `VerifyEnterpriseFourFactors` (2018-11-19). The bundled sandbox speaks the same
//! protocol with its own keys.

pub mod client;
pub mod protocol;

pub use client::{TencentVerification, TencentVerificationConfig};
