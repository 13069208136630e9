//! The pages' stylesheet, script and pictures, compiled into the binary (nothing to deploy
//! beside it) and served from `/assets/{name}` with a content hash in the link, so a browser
//! keeps them for a year and a new build is fetched at once. Gzipped once at start for the
//! browsers that take it.

use std::io::Write as _;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    gzipped: Vec<u8>,
    /// The first 12 hex digits of the SHA-256 of the body: the `?v=` of its links.
    pub hash: String,
}

const FILES: [(&str, &str, &[u8]); 5] = [
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../assets/app.css")),
    ("fan.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/fan.js")),
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/console.js")),
    ("product.svg", "image/svg+xml", include_bytes!("../../assets/product.svg")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../assets/favicon.svg")),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, content_type, body)| Asset {
            name,
            content_type,
            body,
            gzipped: gzip(body),
            hash: hex::encode(&Sha256::digest(body)[..6]),
        })
        .collect()
});

/// `bytes` gzipped at the best level (the pages' size budget is counted gzipped).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The link of an embedded file, with its content hash.
pub fn url(name: &str) -> String {
    let asset = find(name).expect("linked assets are embedded");
    format!("/assets/{}?v={}", asset.name, asset.hash)
}

/// `GET /assets/{name}`.
pub async fn serve(request: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some(asset) = find(&name) else { return super::not_found_page() };
    let current = web::Query::<std::collections::HashMap<String, String>>::from_query(request.query_string())
        .ok()
        .and_then(|q| q.get("v").cloned())
        .is_some_and(|v| v == asset.hash);
    // A link with the current hash never changes; anything else may change with a deploy.
    let cache = if current { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    let takes_gzip = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut answer = HttpResponse::Ok();
    answer
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, format!("\"{}\"", asset.hash)))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if takes_gzip {
        answer.insert_header((header::CONTENT_ENCODING, "gzip")).body(asset.gzipped.clone())
    } else {
        answer.body(asset.body)
    }
}
