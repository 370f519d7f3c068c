//! HTML building blocks: escaping and the page layout (no external CDN, inline CSS).

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}\
header{background:#243b53;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:center}\
header a{color:#fff;text-decoration:none}main{padding:1em 1.2em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left;vertical-align:top}\
th{background:#f0f4f8}.bad{color:#b00020}.ok{color:#1b7f3b}code,pre,textarea{font-family:ui-monospace,monospace}\
textarea{width:100%;min-height:20em}.muted{color:#777}button{padding:.3em .8em}";

/// A whole page.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · outsync</title>\
         <style>{STYLE}</style></head><body><header><strong>outsync</strong>\
         <a href=\"/dashboard\">Overview</a><a href=\"/dashboard/problems\">Sync problems</a>\
         <form method=\"post\" action=\"/dashboard/logout\" style=\"margin-left:auto\"><button>Log out</button></form>\
         </header><main><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title)
    )
}

/// A table; cells are HTML already.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><tr>");
    for cell in header {
        out.push_str(&format!("<th>{}</th>", escape(cell)));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    if rows.is_empty() {
        out.push_str(&format!(
            "<tr><td colspan=\"{}\" class=\"muted\">none</td></tr>",
            header.len()
        ));
    }
    out.push_str("</table>");
    out
}
