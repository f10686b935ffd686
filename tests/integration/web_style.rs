//! One stylesheet for every page the web server shows (issue 27): the front page links
//! assets/www/style.css, and every page the server generates embeds that same file, so /tracker,
//! a 404 and a 405 look like the rest of the site (font, width, colours).

use std::path::PathBuf;

use crate::util::free_port;
use crate::web::Web;

#[test]
fn every_generated_page_has_the_front_pages_stylesheet() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/www");
    let tracker = format!("127.0.0.1:{}", free_port());
    let web = Web::start(&root, &["--tracker", &tracker]);
    let front = web.get("/");
    assert_eq!(front.status, 200);
    let front = String::from_utf8_lossy(&front.body).into_owned();
    assert!(
        front.contains("<link rel=\"stylesheet\" href=\"style.css\">"),
        "{front}"
    );
    let css = web.get("/style.css");
    assert_eq!(css.status, 200);
    let css = String::from_utf8(css.body).expect("utf-8");
    assert!(css.contains("font-family"), "{css}");
    let post = web
        .connect()
        .ask("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let generated = [
        ("/tracker", web.get("/tracker")),
        ("a 404", web.get("/missing.html")),
        ("a 405", post),
    ];
    for (what, reply) in generated {
        let html = String::from_utf8_lossy(&reply.body);
        assert!(
            html.contains(&format!("<style>\n{css}</style>")),
            "{what} ({}) does not embed style.css:\n{html}",
            reply.status
        );
        assert_eq!(html.matches("<style").count(), 1, "{what}: another style");
        // The stylesheet's width and margins apply to <main>, as on the front page.
        assert!(html.contains("<body>\n<main>\n"), "{what}:\n{html}");
    }
}
