//! Document images behind a qualification: business licence, both sides of the legal
//! person's ID card, each permit. An upload is checked before anything is stored: its kind is
//! one the form knows, its size within bounds, its bytes a PNG or a JPEG (by their signature,
//! whatever the client declared), its dimensions, read from the image header, within bounds,
//! and the merchant under its document cap. It is then stored under a key made of the
//! merchant and the content's SHA-256 (the same image twice is one object), and recorded.
//!
//! Images are not decoded: a file with a valid header and a broken body passes these checks;
//! a person looking at it in review sees that.

use std::sync::Arc;

use engine::MerchantId;
use engine::time::Clock;
use persistence::qualification::{self as stored, DocumentRecord};
use persistence::{DatabaseConnection, DbErr};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::store::{ObjectStore, StoreError};

/// Limits of uploads; from configuration.
#[derive(Debug, Clone)]
pub struct DocumentSettings {
    pub max_bytes: usize,
    pub min_side_px: u32,
    pub max_side_px: u32,
    pub max_per_merchant: u64,
    /// The kinds accepted: `business_licence`, `id_card_front`, `id_card_back` and the permit
    /// kinds of the qualification rules.
    pub kinds: Vec<String>,
}

impl DocumentSettings {
    pub const BUSINESS_LICENCE: &'static str = "business_licence";
    pub const ID_CARD_FRONT: &'static str = "id_card_front";
    pub const ID_CARD_BACK: &'static str = "id_card_back";

    /// The defaults, accepting the permits of `permit_kinds`.
    pub fn with_permits<'a>(permit_kinds: impl IntoIterator<Item = &'a str>) -> Self {
        let mut kinds: Vec<String> =
            [Self::BUSINESS_LICENCE, Self::ID_CARD_FRONT, Self::ID_CARD_BACK].map(str::to_owned).to_vec();
        kinds.extend(permit_kinds.into_iter().map(str::to_owned));
        Self { max_bytes: 5 * 1024 * 1024, min_side_px: 300, max_side_px: 8_000, max_per_merchant: 40, kinds }
    }
}

/// Why an upload was refused; nothing was stored.
#[derive(Debug, Error)]
pub enum UploadError {
    #[error("kind must be one of: {0}")]
    UnknownKind(String),
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: usize },
    #[error("the file is not a PNG or JPEG image")]
    NotAnImage,
    #[error("the file was declared {declared} but is {found}")]
    ContentTypeMismatch { declared: String, found: &'static str },
    #[error("the image is {width}x{height} pixels; each side must be from {min} to {max}")]
    Dimensions { width: u64, height: u64, min: u32, max: u32 },
    #[error("a merchant keeps at most {max} documents")]
    TooMany { max: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFacts {
    pub content_type: &'static str,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Checks size, type and dimensions of `bytes` (and the declared content type, if any).
pub fn inspect(
    bytes: &[u8],
    declared: Option<&str>,
    settings: &DocumentSettings,
) -> Result<ImageFacts, UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if bytes.len() > settings.max_bytes {
        return Err(UploadError::TooLarge { max_bytes: settings.max_bytes });
    }
    let (content_type, extension) = match imagesize::image_type(bytes) {
        Ok(imagesize::ImageType::Png) => ("image/png", "png"),
        Ok(imagesize::ImageType::Jpeg) => ("image/jpeg", "jpg"),
        _ => return Err(UploadError::NotAnImage),
    };
    if let Some(declared) =
        declared.map(|d| d.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
    {
        let same = declared == content_type || (content_type == "image/jpeg" && declared == "image/jpg");
        if !same && declared != "application/octet-stream" {
            return Err(UploadError::ContentTypeMismatch { declared, found: content_type });
        }
    }
    let size = imagesize::blob_size(bytes).map_err(|_| UploadError::NotAnImage)?;
    let (width, height) = (size.width as u64, size.height as u64);
    let within =
        |side: u64| (u64::from(settings.min_side_px)..=u64::from(settings.max_side_px)).contains(&side);
    if !within(width) || !within(height) {
        return Err(UploadError::Dimensions {
            width,
            height,
            min: settings.min_side_px,
            max: settings.max_side_px,
        });
    }
    Ok(ImageFacts { content_type, extension, width: width as u32, height: height as u32 })
}

/// The document workflow's context.
pub struct Documents {
    db: DatabaseConnection,
    store: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    settings: DocumentSettings,
}

impl Documents {
    pub fn new(
        db: DatabaseConnection,
        store: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        settings: DocumentSettings,
    ) -> Self {
        Self { db, store, clock, settings }
    }

    pub fn settings(&self) -> &DocumentSettings {
        &self.settings
    }

    /// Checks and stores one upload of `kind`; its record.
    pub async fn upload(
        &self,
        merchant: MerchantId,
        kind: &str,
        declared_content_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<DocumentRecord, UploadError> {
        if !self.settings.kinds.iter().any(|k| k == kind) {
            return Err(UploadError::UnknownKind(self.settings.kinds.join(", ")));
        }
        let facts = inspect(&bytes, declared_content_type, &self.settings)?;
        if stored::document_count(&self.db, merchant).await? >= self.settings.max_per_merchant {
            return Err(UploadError::TooMany { max: self.settings.max_per_merchant });
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let path = format!("merchants/{}/{sha256}.{}", merchant.0, facts.extension);
        let size_bytes = bytes.len() as u64;
        self.store.put(&path, bytes).await?;
        let mut record = DocumentRecord {
            id: 0,
            merchant_id: merchant,
            kind: kind.to_owned(),
            path,
            content_type: facts.content_type.to_owned(),
            size_bytes,
            width: facts.width,
            height: facts.height,
            sha256,
            uploaded_at: self.clock.now(),
        };
        record.id = stored::insert_document(&self.db, &record).await?;
        Ok(record)
    }

    /// The kinds of the merchant's documents (for the review's completeness check).
    pub async fn kinds_of(&self, merchant: MerchantId) -> Result<Vec<String>, DbErr> {
        let documents = stored::documents_of(&self.db, merchant, self.settings.max_per_merchant).await?;
        Ok(documents.into_iter().map(|d| d.kind).collect())
    }
}

/// Test images: real headers (a PNG signature and IHDR, a JPEG SOI and SOF0) of any size.
#[cfg(test)]
pub(crate) mod fixtures {
    pub fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        // bit depth 8, colour type 2, compression, filter, interlace, then the chunk's CRC
        bytes.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend(b"\x00\x00\x00\x00IEND\xae\x42\x60\x82");
        bytes
    }

    pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        bytes.extend(b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00");
        bytes.extend([0xFF, 0xC0, 0x00, 0x11, 0x08]);
        bytes.extend(height.to_be_bytes());
        bytes.extend(width.to_be_bytes());
        bytes.extend([0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
        bytes.extend([0xFF, 0xD9]);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{jpeg, png};
    use super::*;

    fn settings() -> DocumentSettings {
        let mut settings = DocumentSettings::with_permits(["food_operation"]);
        settings.max_bytes = 1_000;
        settings
    }

    #[test]
    fn type_and_dimensions_come_from_the_bytes() {
        let facts = inspect(&png(800, 600), Some("image/png"), &settings()).unwrap();
        assert_eq!(
            facts,
            ImageFacts { content_type: "image/png", extension: "png", width: 800, height: 600 }
        );
        let facts = inspect(&jpeg(1024, 768), None, &settings()).unwrap();
        assert_eq!(
            facts,
            ImageFacts { content_type: "image/jpeg", extension: "jpg", width: 1024, height: 768 }
        );
        assert!(inspect(&jpeg(1024, 768), Some("image/jpg"), &settings()).is_ok());
    }

    #[test]
    fn each_bad_upload_gets_its_reason() {
        let settings = settings();
        assert!(matches!(inspect(&[], None, &settings), Err(UploadError::Empty)));
        assert!(matches!(
            inspect(&[0; 1_001], None, &settings),
            Err(UploadError::TooLarge { max_bytes: 1_000 })
        ));
        assert!(matches!(inspect(b"GIF89a\x01\x00\x01\x00", None, &settings), Err(UploadError::NotAnImage)));
        assert!(matches!(inspect(b"%PDF-1.7 ...", None, &settings), Err(UploadError::NotAnImage)));
        assert!(matches!(
            inspect(&png(800, 600), Some("image/jpeg"), &settings),
            Err(UploadError::ContentTypeMismatch { found: "image/png", .. })
        ));
        assert!(matches!(
            inspect(&png(299, 600), None, &settings),
            Err(UploadError::Dimensions { width: 299, height: 600, .. })
        ));
        assert!(matches!(
            inspect(&jpeg(800, 8_001), None, &settings),
            Err(UploadError::Dimensions { width: 800, height: 8_001, .. })
        ));
    }
}
