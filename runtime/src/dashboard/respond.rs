//! Page responses: an ETag from the body's SHA-256 with `304 Not Modified` for a tab that has the
//! page already, and gzip for clients that accept it.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use std::io::Write;

/// Bodies smaller than this are sent as they are: compressing them saves nothing.
const GZIP_FROM: usize = 1024;

/// What a page may load and run: its own files only, and no framing by another site. (Style
/// attributes draw the waterfall's bars; artifacts are saved through `blob:` links.)
const POLICY: &str =
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'none'";

/// The ETag of a body: a strong validator from its SHA-256.
pub(crate) fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether the request's `If-None-Match` names `tag` (or is `*`).
fn fresh(request: &HeaderMap, tag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

fn accepts_gzip(request: &HeaderMap) -> bool {
    request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("gzip") && !refused
        },
    )
}

/// A `200` with `body`, or a `304` when the client has it; gzipped when accepted and worth it.
pub(crate) fn cached(request: &HeaderMap, content_type: &'static str, body: Vec<u8>, cache: &'static str) -> Response {
    let tag = etag(&body);
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    let common = [
        (header::ETAG, tag_value),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::VARY, HeaderValue::from_static("accept-encoding")),
    ];
    if fresh(request, &tag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let ct = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    if body.len() >= GZIP_FROM && accepts_gzip(request) {
        if let Some(zipped) = gzip(&body) {
            let enc = [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))];
            return (common, ct, enc, Body::from(zipped)).into_response();
        }
    }
    (common, ct, Body::from(body)).into_response()
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    enc.write_all(body).ok()?;
    enc.finish().ok()
}

/// An HTML page, revalidated on every view.
pub(crate) fn html(request: &HeaderMap, page: &str) -> Response {
    cached(request, "text/html; charset=utf-8", page.as_bytes().to_vec(), "no-cache")
}

/// A page saying what is missing, with its status.
pub(crate) fn not_found(message: &str) -> Response {
    let page = super::layout::page("Not found", "", maud::html! { p.error { (message) } });
    let headers = [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, POLICY)];
    (StatusCode::NOT_FOUND, headers, page.into_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_known_etag_gets_304_and_a_changed_page_gets_200() {
        let body = b"<p>hello</p>".to_vec();
        let first = cached(&HeaderMap::new(), "text/html", body.clone(), "no-cache");
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_string();
        let again = cached(&headers(&[(header::IF_NONE_MATCH, &tag)]), "text/html", body, "no-cache");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let changed = cached(&headers(&[(header::IF_NONE_MATCH, &tag)]), "text/html", b"<p>bye</p>".to_vec(), "");
        assert_eq!(changed.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn large_pages_are_gzipped_for_clients_that_accept_it() {
        let body = "<tr><td>row</td></tr>".repeat(500).into_bytes();
        let plain = cached(&headers(&[(header::ACCEPT_ENCODING, "gzip;q=0, br")]), "text/html", body.clone(), "");
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let zipped = cached(&headers(&[(header::ACCEPT_ENCODING, "br, gzip")]), "text/html", body.clone(), "");
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        let bytes = axum::body::to_bytes(zipped.into_body(), usize::MAX).await.unwrap();
        assert!(bytes.len() < body.len() / 10, "{} bytes", bytes.len());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, body);
    }
}
