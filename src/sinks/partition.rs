//! Hive partition values, escaped as Hive and Spark do (docs/outputs.md#layout).

/// The text of `key=value` for a path segment.
pub fn segment(key: &str, value: &str) -> String {
    format!("{key}={}", escape(value))
}

/// Escapes `"#%'*/:=?\^{[]`, DEL and control characters as `%XX` of each
/// UTF-8 byte; an empty value is `__HIVE_DEFAULT_PARTITION__`.
pub fn escape(value: &str) -> String {
    if value.is_empty() {
        return "__HIVE_DEFAULT_PARTITION__".to_owned();
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if needs_escape(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '"' | '#'
            | '%'
            | '\''
            | '*'
            | '/'
            | ':'
            | '='
            | '?'
            | '\\'
            | '^'
            | '{'
            | '['
            | ']'
            | '\u{7F}'
    ) || c.is_ascii_control()
}

/// Reverses [`escape`].
pub fn unescape(text: &str) -> String {
    if text == "__HIVE_DEFAULT_PARTITION__" {
        return String::new();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_escaped_like_hive() {
        assert_eq!(escape("MVC"), "MVC");
        assert_eq!(escape("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(escape("北京"), "北京");
        assert_eq!(escape("x\ty\u{7F}"), "x%09y%7F");
        assert_eq!(escape(""), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(escape("50% {off}"), "50%25 %7Boff}");
    }

    #[test]
    fn partition_values_read_back_exactly() {
        for v in ["a/b=c", "北京", "50% {off}", "", "x\ty", "%41"] {
            assert_eq!(unescape(&escape(v)), v);
        }
    }
}
