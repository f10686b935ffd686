//! The `--check-web` cases: each file type the seeds name, a missing file, the requests the
//! classroom clients send (no `Host`, HTTP/1.0), a large binary, a slow client, and paths that
//! try to leave the web root. Each case asks on connections of its own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::causes;
use super::http::{Pace, Response, exchange};
use super::site::{File, Kind, Site};
use crate::check::cases::Case;
use crate::check::wire::{Checked, Ctx, fail, show};

/// Each kind of deviation and the case whose subject it is.
pub const DEVIATION_HOMES: &[(&str, &str)] = &[
    ("bare line feeds", "html"),
    ("no empty line", "missing"),
    ("jpeg type", "jpg"),
    ("mp3 type", "mp3"),
    ("mp4 type", "mp4"),
    ("400 without host", "no-host"),
    ("http10 open", "http10"),
];

const SEED_TYPES: &str = r##"seed 000 Part I (iv)-(vi): "parse the request to determine the specific file and file type being requested; ... create an HTTP response message consisting of the requested file preceded by proper header lines. Specifically, the HTTP response code, Content-size Content-type fields should be set properly.""##;

const SEED_MEDIA: &str = r##"seed 004 3.2: "You should be able to handle text and image data. Optionally, for an additional sense of achievement try to handle mp3 and mp4 data which should really only take you an additional if statement for each type." (seed 000 Part I (vi): "Content-size Content-type fields should be set properly"; a wrong type here is a deviation: the seed makes these types optional)"##;

/// A case whose function gets the site and its own deadline (a little under the case's, so
/// a hang is reported with this checker's cause, not the seed-001 one).
fn case<F>(
    site: &Arc<Site>,
    (case_timeout, budget): (Duration, u32),
    id: &'static str,
    section: &'static str,
    title: &'static str,
    seed: &'static str,
    f: fn(Ctx, Arc<Site>) -> F,
) -> Case
where
    F: Future<Output = Checked> + Send + 'static,
{
    let site = Arc::clone(site);
    let deadline = case_timeout.mul_f64(0.9 * f64::from(budget));
    Case {
        id,
        section,
        title,
        seed,
        budget,
        run: Box::new(move |ctx| {
            let stops = (causes::STOPS_ANSWERING, "the server stopped answering");
            Box::pin(bounded(ctx.clone(), deadline, stops, f(ctx, site.clone())))
        }),
    }
}

/// Runs `case` until `deadline`; past it the case fails with `stops`: its cause, and what
/// happened ("the server stopped answering").
pub async fn bounded(
    ctx: Ctx,
    deadline: Duration,
    stops: (&'static str, &str),
    case: impl Future<Output = Checked>,
) -> Checked {
    match tokio::time::timeout(deadline, case).await {
        Ok(outcome) => outcome,
        Err(_) => {
            let why = format!(
                "no result within {:.1} s (the case's deadline): {}",
                deadline.as_secs_f64(),
                stops.1
            );
            ctx.cause(stops.0, why.clone());
            fail(why)
        }
    }
}

pub fn web_cases(site: &Arc<Site>, case_timeout: Duration) -> Vec<Case> {
    let mut cases = type_cases(site, (case_timeout, 1));
    cases.extend(request_cases(site, case_timeout));
    cases
}

/// One case per file type the seeds name.
fn type_cases(site: &Arc<Site>, d: (Duration, u32)) -> Vec<Case> {
    vec![
        case(
            site,
            d,
            "html",
            "I.vi",
            "GET a .html file: 200, text/html, its length and bytes",
            SEED_TYPES,
            html,
        ),
        case(
            site,
            d,
            "txt",
            "I.vi",
            "GET a .txt file: 200, text/plain, its length and bytes",
            SEED_TYPES,
            txt,
        ),
        case(
            site,
            d,
            "jpg",
            "I.vi",
            "GET a .jpg file: 200, image/jpeg, its length and bytes",
            r##"seed 000 Part I: "index.html and hello_world.jpg files for testing"; (vi): "the HTTP response code, Content-size Content-type fields should be set properly.""##,
            jpg,
        ),
        case(
            site,
            d,
            "png",
            "I.vi",
            "GET a .png file: 200, image/png, its length and bytes",
            r##"seed 000 Part I: "retrieving static HTML files that contains links to images"; (vi): "the HTTP response code, Content-size Content-type fields should be set properly.""##,
            png,
        ),
        case(
            site,
            d,
            "mp3",
            "I.vi",
            "GET a .mp3 file: 200, audio/mpeg, its length and bytes",
            SEED_MEDIA,
            mp3,
        ),
        case(
            site,
            d,
            "mp4",
            "I.vi",
            "GET a .mp4 file: 200, video/mp4, its length and bytes",
            SEED_MEDIA,
            mp4,
        ),
    ]
}

/// A missing file, the requests the classroom clients send, a large file, a slow client and
/// ways out of the root.
fn request_cases(site: &Arc<Site>, case_timeout: Duration) -> Vec<Case> {
    let d = (case_timeout, 1);
    // The slow client takes 1 s to send its request: enough case timeouts for that and more.
    let slow_budget = (2.5 / (0.9 * case_timeout.as_secs_f64())).ceil().max(1.0) as u32;
    vec![
        case(
            site,
            d,
            "missing",
            "I.vii",
            "GET a file not there: 404 Not Found",
            r##"seed 000 Part I (vii): "If a browser requests a file that is not present in your server, your server should return a "404 Not Found" error message.""##,
            missing,
        ),
        case(
            site,
            d,
            "no-host",
            "I.iii",
            "a request without Host (as the seed-004 clients send it): served",
            r##"seed 000 Part I (iii): "receive the HTTP request from this connection"; seed 004 3.1: "python client.py 127.0.0.1 12345 text.txt which will result in the contents of text.txt being printed" (the classroom client's request line has no Host header)"##,
            no_host,
        ),
        case(
            site,
            d,
            "http10",
            "I.iii",
            "an HTTP/1.0 request: served, then the connection closed",
            r##"seed 000 Part I (iii): "receive the HTTP request from this connection" (an HTTP/1.0 client, which knows no keep-alive, reads until the server closes)"##,
            http10,
        ),
        case(
            site,
            d,
            "large",
            "I.vii",
            "GET a 5 MiB binary: its length, byte-exact",
            r##"seed 000 Part I (vi)-(vii): "an HTTP response message consisting of the requested file ... send the response over the TCP connection"; seed 004 4.2: "for large messages you will not be able to download all of them in one go""##,
            large,
        ),
        case(
            site,
            (case_timeout, slow_budget),
            "slow",
            "I.iii",
            "a request sent in pieces, 150 ms apart: served",
            r##"seed 000 Part I (iii): "receive the HTTP request from this connection" (TCP delivers a request in as many pieces as it likes; a slow client sends it so)"##,
            slow,
        ),
        case(
            site,
            d,
            "escape",
            "I.v",
            "paths that try to leave the web root: refused, the server serves on",
            r##"seed 000 Part I (v): "get the requested file from the server's file system" (the files it serves, not any file: SPEC 5, "paths that escape the root ... never reach a file outside it")"##,
            escape,
        ),
    ]
}

/// A browser's request for `/name`.
fn browser_request(ctx: &Ctx, name: &str) -> Vec<u8> {
    format!(
        "GET /{name} HTTP/1.1\r\nHost: {}\r\nUser-Agent: p2p-tui-check\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        ctx.addr
    )
    .into_bytes()
}

async fn html(ctx: Ctx, site: Arc<Site>) -> Checked {
    typed(&ctx, site.file(Kind::Html), false).await
}

async fn txt(ctx: Ctx, site: Arc<Site>) -> Checked {
    typed(&ctx, site.file(Kind::Txt), false).await
}

async fn jpg(ctx: Ctx, site: Arc<Site>) -> Checked {
    typed(&ctx, site.file(Kind::Jpg), false).await
}

async fn png(ctx: Ctx, site: Arc<Site>) -> Checked {
    typed(&ctx, site.file(Kind::Png), false).await
}

async fn mp3(ctx: Ctx, site: Arc<Site>) -> Checked {
    typed(&ctx, site.file(Kind::Mp3), true).await
}

async fn mp4(ctx: Ctx, site: Arc<Site>) -> Checked {
    typed(&ctx, site.file(Kind::Mp4), true).await
}

/// GET `file` as a browser: 200, its type (`optional`: a wrong type is a deviation), its
/// length, its bytes. Every problem is a cause of its own; the first is the failure.
async fn typed(ctx: &Ctx, file: &File, optional: bool) -> Checked {
    let r = exchange(ctx, "c1", &browser_request(ctx, &file.name), Pace::Whole).await?;
    status(ctx, &r, 200, &file.name)?;
    let problems: Vec<String> = [
        media_type(ctx, &r, file, optional),
        length(ctx, &r, file),
        body(ctx, &r, file),
    ]
    .into_iter()
    .flatten()
    .collect();
    match problems.into_iter().next() {
        Some(first) => fail(first),
        None => Ok(()),
    }
}

/// Fails unless the status is `want`.
fn status(ctx: &Ctx, r: &Response, want: u16, name: &str) -> Checked {
    if r.status == want {
        return Ok(());
    }
    let hint = match r.cut {
        Some((sent, of)) => format!(
            " (it answered when {sent} of the request's {of} bytes had arrived: it took the first piece for the whole request)"
        ),
        None if r.status == 404 => {
            " (is --web-root the directory the server serves its files from?)".to_string()
        }
        None => String::new(),
    };
    let why = format!(
        "GET /{name} was answered \"{}\", not {want}{hint}",
        r.status_line
    );
    ctx.cause(causes::WRONG_STATUS, why.clone());
    fail(why)
}

/// The `Content-Type` problem, if any (recorded as a cause, or a deviation).
fn media_type(ctx: &Ctx, r: &Response, file: &File, optional: bool) -> Option<String> {
    let got = r.media_type();
    let shown = r.header("content-type").unwrap_or("(none)");
    if got.as_deref() == Some(file.media_type) {
        return None;
    }
    let what = format!("Content-Type: {shown}; the file is {}", file.media_type);
    let kind = match file.media_type {
        "audio/mpeg" => Some("mp3 type"),
        "video/mp4" => Some("mp4 type"),
        _ => None,
    };
    let alias = got.as_deref().is_some_and(|g| file.also.contains(&g));
    if optional || alias {
        ctx.deviation(kind.unwrap_or("jpeg type"), what);
        return None;
    }
    ctx.cause(causes::WRONG_TYPE, what.clone());
    Some(what)
}

/// The `Content-Length` problem, if any.
fn length(ctx: &Ctx, r: &Response, file: &File) -> Option<String> {
    let size = file.bytes.len();
    let what = match (r.header("content-length"), r.content_length()) {
        (_, Some(n)) if n == size => return None,
        (None, _) => {
            let size_field = r
                .header("content-size")
                .map(|v| format!(" (a Content-Size: {v} field, which HTTP does not know)"))
                .unwrap_or_default();
            format!("no Content-Length{size_field}; the file has {size} bytes")
        }
        (Some(v), _) => format!("Content-Length: {v}; the file has {size} bytes"),
    };
    ctx.cause(causes::WRONG_LENGTH, what.clone());
    Some(what)
}

/// The body problem, if any.
fn body(ctx: &Ctx, r: &Response, file: &File) -> Option<String> {
    if r.body == file.bytes {
        return None;
    }
    let what = format!("the body is not the file: {}", differ(&r.body, &file.bytes));
    ctx.cause(causes::NOT_THE_FILE, what.clone());
    Some(what)
}

/// How `got` differs from `want`, in a few words.
pub fn differ(got: &[u8], want: &[u8]) -> String {
    if got.len() > want.len() && got.starts_with(want) {
        return format!(
            "the file's {} bytes and then {} more, {}",
            want.len(),
            got.len() - want.len(),
            show(&got[want.len()..], 40)
        );
    }
    if got.len() < want.len() && want.starts_with(got) {
        return format!(
            "only the first {} of the file's {} bytes",
            got.len(),
            want.len()
        );
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
    format!(
        "{} bytes (the file has {}), different from byte {at} on: {}",
        got.len(),
        want.len(),
        show(&got[at..], 24)
    )
}

/// The body is the file's bytes, or the case fails.
fn same_bytes(ctx: &Ctx, r: &Response, file: &File) -> Checked {
    match body(ctx, r, file) {
        Some(why) => fail(why),
        None => Ok(()),
    }
}

async fn missing(ctx: Ctx, site: Arc<Site>) -> Checked {
    let r = exchange(
        &ctx,
        "c1",
        &browser_request(&ctx, &site.missing),
        Pace::Whole,
    )
    .await?;
    status(&ctx, &r, 404, &site.missing)
}

async fn no_host(ctx: Ctx, site: Arc<Site>) -> Checked {
    let file = site.file(Kind::Txt);
    let request = format!("GET /{} HTTP/1.1\r\n\r\n", file.name);
    let r = exchange(&ctx, "c1", request.as_bytes(), Pace::Whole).await?;
    if r.status == 400 {
        ctx.deviation(
            "400 without host",
            format!("\"{}\" to a request without Host (HTTP/1.1 asks for it; the seed-004 clients do not send it)", r.status_line),
        );
        return Ok(());
    }
    status(&ctx, &r, 200, &file.name)?;
    same_bytes(&ctx, &r, file)
}

async fn http10(ctx: Ctx, site: Arc<Site>) -> Checked {
    let file = site.file(Kind::Txt);
    // With Host (as HTTP/1.0 clients such as curl -0 send it): the case is about the version.
    let request = format!("GET /{} HTTP/1.0\r\nHost: {}\r\n\r\n", file.name, ctx.addr);
    let r = exchange(&ctx, "c1", request.as_bytes(), Pace::Whole).await?;
    status(&ctx, &r, 200, &file.name)?;
    same_bytes(&ctx, &r, file)?;
    if !r.closed {
        ctx.deviation(
            "http10 open",
            format!(
                "the connection stays open after the response to an HTTP/1.0 request (without keep-alive, HTTP/1.0 ends at close; {} ms waited)",
                ctx.grace.as_millis()
            ),
        );
    }
    Ok(())
}

async fn large(ctx: Ctx, site: Arc<Site>) -> Checked {
    let file = site.file(Kind::Large);
    let r = exchange(&ctx, "c1", &browser_request(&ctx, &file.name), Pace::Whole).await?;
    status(&ctx, &r, 200, &file.name)?;
    let problems = [length(&ctx, &r, file), body(&ctx, &r, file)];
    match problems.into_iter().flatten().next() {
        Some(first) => fail(first),
        None => Ok(()),
    }
}

async fn slow(ctx: Ctx, site: Arc<Site>) -> Checked {
    let file = site.file(Kind::Txt);
    let pace = Pace::Drip(8, Duration::from_millis(150));
    let r = exchange(&ctx, "c1", &browser_request(&ctx, &file.name), pace).await?;
    status(&ctx, &r, 200, &file.name)?;
    same_bytes(&ctx, &r, file)
}

/// Three ways out of the root; none may return the secret file's bytes. A refusal of any kind
/// (an error status, a closed connection) is fine, as long as the server then serves on.
async fn escape(ctx: Ctx, site: Arc<Site>) -> Checked {
    let (path, secret) = &site.secret;
    let absolute = path.to_string_lossy().trim_start_matches('/').to_string();
    let up = "../".repeat(24);
    let encoded = "%2e%2e/".repeat(24);
    let targets = [
        format!("/{up}{absolute}"),
        format!("/{encoded}{absolute}"),
        format!("//{absolute}"),
    ];
    let mut leaks = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            ctx.addr
        );
        let label = format!("c{}", i + 1);
        if let Ok(r) = exchange(&ctx, &label, request.as_bytes(), Pace::Whole).await {
            if r.body.windows(secret.len()).any(|w| w == secret.as_slice()) {
                leaks.push(format!(
                    "GET {} (\"{}\")",
                    show(target.as_bytes(), 40),
                    r.status_line
                ));
            }
        }
    }
    if !leaks.is_empty() {
        ctx.forget_causes();
        let why = format!(
            "{} of {} requests got the bytes of {}, a file outside the web root: {}",
            leaks.len(),
            targets.len(),
            path.display(),
            leaks.join(", ")
        );
        ctx.cause(causes::LEAVES_ROOT, why.clone());
        return fail(why);
    }
    // A refusal by closing is not this case's failure; serving on is.
    ctx.forget_causes();
    let file = site.file(Kind::Txt);
    let r = exchange(&ctx, "c4", &browser_request(&ctx, &file.name), Pace::Whole).await?;
    status(&ctx, &r, 200, &file.name)?;
    same_bytes(&ctx, &r, file)
}
