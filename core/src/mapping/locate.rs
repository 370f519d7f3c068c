//! Locating a JSON syntax error within an array of objects, so that the error can name
//! the mapping or entry it is in.

/// The error text with its position (serde_json puts line and column in the message).
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    error.to_string()
}

/// For a syntax error in a JSON array of objects: the 0-based index of the object the
/// error is in, and the value of the first of `keys` found in that object before the error.
pub(crate) fn element_at(
    text: &str,
    error: &serde_json::Error,
    keys: &[&str],
) -> (Option<usize>, Option<String>) {
    let offset = byte_offset(text, error.line(), error.column());
    let scanned = &text[..offset];
    let Some((index, start)) = enclosing_element(scanned) else {
        return (None, None);
    };
    let element = &scanned[start..];
    let value = keys.iter().find_map(|key| value_after_key(element, key));
    (Some(index), value)
}

fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (number, content) in text.split_inclusive('\n').enumerate() {
        if number + 1 == line {
            offset += column.min(content.len());
            break;
        }
        offset += content.len();
    }
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Index and start of the object at depth 2 (inside the top-level array) that `scanned`
/// ends in.
fn enclosing_element(scanned: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut count = 0usize;
    let mut start = None;
    for (position, character) in scanned.char_indices() {
        if in_string {
            match character {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match character {
            '"' => in_string = true,
            '[' | '{' => {
                if depth == 1 && character == '{' {
                    count += 1;
                    start = Some(position);
                }
                depth += 1;
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    start.map(|start| (count - 1, start))
}

fn value_after_key(element: &str, key: &str) -> Option<String> {
    let quoted_key = format!("\"{key}\"");
    let after = &element[element.find(&quoted_key)? + quoted_key.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    if let Some(rest) = after.strip_prefix('"') {
        let end = rest.find('"')?;
        Some(rest[..end].to_owned())
    } else {
        let end = after
            .find(|c: char| c == ',' || c == '}' || c.is_whitespace())
            .unwrap_or(after.len());
        (end > 0).then(|| after[..end].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_element_with_the_trailing_comma() {
        let text = "[\n {\"id\": 1, \"a\": 2},\n {\"id\": \"second\", \"a\": 3,}\n]";
        let error = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        assert_eq!(
            element_at(text, &error, &["id"]),
            (Some(1), Some("second".to_owned()))
        );
    }

    #[test]
    fn errors_outside_elements_have_no_location() {
        let text = "[1, 2,]";
        let error = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        assert_eq!(element_at(text, &error, &["id"]), (None, None));
    }
}
