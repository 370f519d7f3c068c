//! The dashboard's page layout and building blocks, rendered with maud (compile-time
//! checked, every value escaped): the header with the object search, relative times, and
//! links whose ids are percent-encoded. CSS and script are static files embedded in the
//! binary (no CDN).

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use outsync_core::ObjectRef;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// The stylesheet.
pub(crate) const STYLE: &str = include_str!("static/dashboard.css");
/// The script: select a page of rows, live updates.
pub(crate) const SCRIPT: &str = include_str!("static/dashboard.js");
/// The mapping editor's script.
pub(crate) const EDITOR_SCRIPT: &str = include_str!("static/editor.js");

/// A query string from `pairs` (empty values left out), every value percent-encoded.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The dashboard page of `object`. The type and id travel in the query string, so any id
/// (with `/`, `..`, `%`, `#`, spaces or non-ASCII) reaches the page unchanged.
pub(crate) fn object_href(object: &ObjectRef) -> String {
    format!(
        "/dashboard/object?{}",
        query(&[("type", &object.object_type), ("id", &object.id)])
    )
}

/// A link to `object`'s page.
pub(crate) fn object_link(object: &ObjectRef) -> Markup {
    html! { a href=(object_href(object)) { (object.object_type) " " (object.id) } }
}

/// "3 min ago" (or "in 2 min"), with the absolute UTC time on hover.
pub(crate) fn ago(now_ms: i64, at_ms: i64) -> Markup {
    let absolute = outsync_queue::to_datetime(at_ms);
    let seconds = (now_ms - at_ms) / 1000;
    let (amount, future) = (seconds.abs(), seconds < 0);
    let text = match amount {
        0..=4 => "just now".to_owned(),
        5..=59 => format!("{amount} s"),
        60..=3599 => format!("{} min", amount / 60),
        3600..=86_399 => format!("{} h", amount / 3600),
        _ => format!("{} days", amount / 86_400),
    };
    let text = match (text.as_str(), future) {
        ("just now", _) => text,
        (_, true) => format!("in {text}"),
        (_, false) => format!("{text} ago"),
    };
    html! {
        time datetime=(absolute.to_rfc3339()) title=(absolute.format("%Y-%m-%d %H:%M:%S UTC")) { (text) }
    }
}

/// A whole page: the header (navigation, object search, log out) and `body`. `live` pages
/// refresh their content every few seconds.
pub(crate) fn page(title: &str, live: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · outsync" }
                link rel="stylesheet" href="/dashboard/static/dashboard.css";
            }
            body data-live[live] {
                header {
                    strong { "outsync" }
                    a href="/dashboard" { "Overview" }
                    a href="/dashboard/problems" { "Sync problems" }
                    form.search method="get" action="/dashboard/object" {
                        input name="type" placeholder="type (optional)" aria-label="object type";
                        input name="id" placeholder="object id" aria-label="object id" required;
                        button { "Find" }
                    }
                    span #live .muted {}
                    form method="post" action="/dashboard/logout" { button { "Log out" } }
                }
                main { h1 { (title) } (body) }
                script src="/dashboard/static/dashboard.js" {}
            }
        }
    }
}

/// A page as an HTML response with `status`.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A message page (an error, a refusal) with `status`.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    respond(status, page(title, false, html! { p.bad { (text) } }))
}

/// The login page, with `problem` shown above the form.
pub(crate) fn login_page(problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Log in · outsync" } link rel="stylesheet" href="/dashboard/static/dashboard.css"; }
            body { main {
                h1 { "outsync" }
                @if let Some(problem) = problem { p.bad { (problem) } }
                form method="post" action="/dashboard/login" {
                    p { label { "API token " input type="password" name="token" autofocus; } " " button { "Log in" } }
                }
            } }
        }
    }
}

/// Serves the embedded stylesheet and script (no session needed: they hold no data).
pub(crate) async fn static_file(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let (body, kind) = match file.as_str() {
        "dashboard.css" => (STYLE, "text/css; charset=utf-8"),
        "dashboard.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "editor.js" => (EDITOR_SCRIPT, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_percent_encoded_in_links() {
        let odd = ObjectRef::new("Order", "../a b/%#ü");
        assert_eq!(
            object_href(&odd),
            "/dashboard/object?type=Order&id=%2E%2E%2Fa%20b%2F%25%23%C3%BC"
        );
        let link = object_link(&ObjectRef::new("Order", "<x>\"")).into_string();
        assert!(
            link.contains("&lt;x&gt;&quot;") || link.contains("&lt;x&gt;\""),
            "{link}"
        );
    }

    #[test]
    fn times_read_relative_with_the_absolute_time_on_hover() {
        let now = 1_800_000_000_000;
        let text = ago(now, now - 180_000).into_string();
        assert!(
            text.contains(">3 min ago<") && text.contains("title=\"2027-01-15 07:57:00 UTC\""),
            "{text}"
        );
        assert!(ago(now, now + 7_200_000).into_string().contains(">in 2 h<"));
        assert!(ago(now, now).into_string().contains(">just now<"));
    }
}
