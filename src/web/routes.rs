//! Where a request goes: the tracker's pages, else `ServeDir`, whose bare error answers become
//! pages and whose whole cached files leave as they are.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::time::Instant;
use tower::ServiceExt;
use tower_http::services::fs::ServeFileSystemResponseBody;

use super::cache::{self, Memory};
use super::site::{Body, Site, TRACKER_REFRESH_SECS};
use super::{pages, zero_copy};
use crate::tracker::Tracker;

/// The tracker's two pages.
#[derive(Clone, Copy)]
enum TrackerPage {
    Html,
    Json,
}

impl TrackerPage {
    fn at(path: &str) -> Option<TrackerPage> {
        match path {
            "/tracker" | "/tracker/" => Some(TrackerPage::Html),
            "/tracker.json" => Some(TrackerPage::Json),
            _ => None,
        }
    }
}

impl Site {
    pub(super) async fn route(
        &self,
        req: Request<Incoming>,
        sends: &zero_copy::Sends,
    ) -> Response<Body> {
        if let Some(tracker) = &self.tracker
            && let Some(page) = TrackerPage::at(req.uri().path())
        {
            return tracker_page(tracker, page, req.method());
        }
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (response, memory) = cache::with_memory_body(self.files.clone().oneshot(req)).await;
        let response = match response {
            Ok(r) => r,
            Err(never) => match never {},
        };
        if let Some(memory) = memory
            && is_whole_file(&response, &method, &memory)
        {
            return whole_from_memory(response, memory, sends);
        }
        from_files(response, &method, &path)
    }
}

fn tracker_page(tracker: &Tracker, page: TrackerPage, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed(method);
    }
    let view = tracker.directory().view(Instant::now());
    match page {
        TrackerPage::Json => full(
            StatusCode::OK,
            "application/json",
            pages::tracker_json(&view),
        ),
        TrackerPage::Html => {
            let mut r = full(
                StatusCode::OK,
                "text/html; charset=utf-8",
                pages::tracker_html(&view, TRACKER_REFRESH_SECS),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

/// Whether `response` is a whole file `ServeDir` read from memory (a range or a HEAD keeps
/// ServeDir's body).
fn is_whole_file(
    response: &Response<ServeFileSystemResponseBody>,
    method: &Method,
    memory: &Memory,
) -> bool {
    response.status() == StatusCode::OK
        && method == Method::GET
        && response.headers().get(header::CONTENT_LENGTH)
            == Some(&HeaderValue::from(memory.bytes.len()))
}

/// A whole file from memory: sent as it is, one frame and no copy, rather than copied out by
/// ServeDir in chunks; a sealed copy leaves by `sendfile`.
fn whole_from_memory(
    response: Response<ServeFileSystemResponseBody>,
    memory: Memory,
    sends: &zero_copy::Sends,
) -> Response<Body> {
    if let Some(sealed) = memory.sealed {
        sends.expect(sealed);
    }
    response.map(|_| {
        Full::new(memory.bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    })
}

/// ServeDir's answer, its empty error answers turned into pages people read.
fn from_files(
    response: Response<ServeFileSystemResponseBody>,
    method: &Method,
    path: &str,
) -> Response<Body> {
    match response.status() {
        // A name longer than any file system allows cannot be a file here; ServeDir
        // reports the open's ENAMETOOLONG as a 500.
        StatusCode::INTERNAL_SERVER_ERROR if name_too_long(path) => full(
            StatusCode::NOT_FOUND,
            "text/html; charset=utf-8",
            pages::not_found(path),
        ),
        StatusCode::NOT_FOUND => {
            // (For HEAD, hyper sends these headers and leaves the body out.)
            full(
                StatusCode::NOT_FOUND,
                "text/html; charset=utf-8",
                pages::not_found(path),
            )
        }
        StatusCode::METHOD_NOT_ALLOWED => method_not_allowed(method),
        _ => response.map(|b| b.boxed_unsync()),
    }
}

/// Whether the URL path `path` names a file no file system could hold: a segment of more than
/// 255 bytes or a whole of more than 4095 once percent-decoded (each `%XX` is one byte).
fn name_too_long(path: &str) -> bool {
    let decoded = |s: &str| s.len().saturating_sub(2 * s.matches('%').count());
    decoded(path) > 4095 || path.split('/').any(|segment| decoded(segment) > 255)
}

fn method_not_allowed(method: &Method) -> Response<Body> {
    let mut r = full(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/html; charset=utf-8",
        pages::method_not_allowed(method.as_str()),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

fn full(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let length = HeaderValue::from(body.len());
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CONTENT_LENGTH, length);
    r
}

#[cfg(test)]
mod tests {
    use super::name_too_long;

    #[test]
    fn names_too_long_for_a_file_system() {
        assert!(!name_too_long("/docs/index.html"));
        assert!(!name_too_long(&format!("/{}", "a".repeat(255))));
        assert!(name_too_long(&format!("/{}", "a".repeat(256))));
        // Percent-encoded bytes count once.
        assert!(!name_too_long(&format!("/{}", "%c3%a9".repeat(127))));
        assert!(name_too_long(&format!("/{}", "%c3%a9".repeat(128))));
        assert!(name_too_long(&"/a".repeat(2048)));
    }
}
