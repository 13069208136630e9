//! A product's pictures: PNG or JPEG, checked by signature, size and the dimensions in the
//! header before anything is decoded; a thumbnail (longest side `thumbnail_side`, aspect kept,
//! PNG) made off the async threads with the `image` crate; both stored behind the
//! [`ObjectStore`] by content hash; the order of upload kept until the merchant reorders.

use engine::{MerchantId, ProductId};
use persistence::catalogue::{self as stored, ImageRecord, NewImage};
use sha2::{Digest, Sha256};

use super::Catalogue;
use crate::merchants::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no such product")]
    NotFound,
    #[error("a picture may have at most {0} bytes")]
    TooLarge(usize),
    #[error("a picture must be a PNG or JPEG file")]
    UnsupportedType,
    #[error("a picture may be at most {0} pixels on its longest side")]
    TooManyPixels(u32),
    #[error("the picture could not be decoded")]
    Undecodable,
    #[error("a product has at most {0} pictures")]
    TooMany(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Db(#[from] persistence::DbErr),
}

/// The picture's type by its signature, read as the qualification documents' are
/// (`imagesize`, the header only).
fn kind(bytes: &[u8]) -> Option<(&'static str, &'static str, image::ImageFormat)> {
    match imagesize::image_type(bytes).ok()? {
        imagesize::ImageType::Png => Some(("image/png", "png", image::ImageFormat::Png)),
        imagesize::ImageType::Jpeg => Some(("image/jpeg", "jpg", image::ImageFormat::Jpeg)),
        _ => None,
    }
}

/// A PNG thumbnail of at most `side` × `side`, aspect kept.
pub fn thumbnail(bytes: &[u8], format: image::ImageFormat, side: u32) -> Option<Vec<u8>> {
    let picture = image::load_from_memory_with_format(bytes, format).ok()?;
    let small = picture.thumbnail(side, side);
    let mut out = std::io::Cursor::new(Vec::new());
    small.write_to(&mut out, image::ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

impl Catalogue {
    /// Adds a picture at the end of the merchant's product's.
    pub async fn add_image(
        &self,
        merchant: MerchantId,
        product: ProductId,
        bytes: Vec<u8>,
    ) -> Result<ImageRecord, ImageError> {
        let detail =
            stored::detail_of_merchant(&self.db, merchant, product).await?.ok_or(ImageError::NotFound)?;
        if detail.images.len() as u64 >= self.settings.images_per_product {
            return Err(ImageError::TooMany(self.settings.images_per_product));
        }
        if bytes.len() > self.settings.image_max_bytes {
            return Err(ImageError::TooLarge(self.settings.image_max_bytes));
        }
        let (content_type, extension, format) = kind(&bytes).ok_or(ImageError::UnsupportedType)?;
        let size = imagesize::blob_size(&bytes).map_err(|_| ImageError::Undecodable)?;
        let max = self.settings.image_max_side;
        if size.width == 0 || size.height == 0 {
            return Err(ImageError::Undecodable);
        }
        if size.width > max as usize || size.height > max as usize {
            return Err(ImageError::TooManyPixels(max));
        }
        let side = self.settings.thumbnail_side;
        let (bytes, thumb) = tokio::task::spawn_blocking(move || {
            let thumb = thumbnail(&bytes, format, side);
            (bytes, thumb)
        })
        .await
        .map_err(|_| ImageError::Undecodable)?;
        let thumb = thumb.ok_or(ImageError::Undecodable)?;
        let hash = hex::encode(Sha256::digest(&bytes));
        let object_key = format!("products/{}/{hash}.{extension}", product.0);
        let thumb_key = format!("products/{}/{hash}-thumb.png", product.0);
        let length = bytes.len() as i64;
        self.store.put(&object_key, bytes).await?;
        self.store.put(&thumb_key, thumb).await?;
        let image = NewImage {
            object_key,
            thumb_key,
            content_type: content_type.to_owned(),
            bytes: length,
            width: size.width as i64,
            height: size.height as i64,
        };
        stored::add_image(&self.db, product, image, self.settings.images_per_product, self.clock.now())
            .await?
            .ok_or(ImageError::TooMany(self.settings.images_per_product))
    }

    /// A picture's bytes (or its thumbnail's) and content type.
    pub async fn image_bytes(&self, id: i64, thumb: bool) -> Result<(String, Vec<u8>), ImageError> {
        let image = stored::image(&self.db, id).await?.ok_or(ImageError::NotFound)?;
        let (key, content_type) = if thumb {
            (image.thumb_key, "image/png".to_owned())
        } else {
            (image.object_key, image.content_type)
        };
        let bytes = self.store.get(&key).await.map_err(|e| match e {
            StoreError::NotFound(_) => ImageError::NotFound,
            other => ImageError::Store(other),
        })?;
        Ok((content_type, bytes))
    }
}
