//! Text decoding per source encoding (docs/inputs.md#csv): UTF-8, GB18030 or GBK.
//! GBK is read with the GB18030 decoder, its superset, as browsers do.

use std::borrow::Cow;

use crate::config::Encoding;

/// Decodes `bytes`; `None` when they are not valid in `encoding`.
pub fn decode_strict(encoding: Encoding, bytes: &[u8]) -> Option<Cow<'_, str>> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Encoding::Gb18030 | Encoding::Gbk => {
            if bytes.is_ascii() {
                // ASCII is the same in GB18030; skip the decoder.
                return std::str::from_utf8(bytes).ok().map(Cow::Borrowed);
            }
            encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes)
        }
    }
}

/// Decodes `bytes`, replacing what is not valid with U+FFFD.
pub fn decode_lossy(encoding: Encoding, bytes: &[u8]) -> Cow<'_, str> {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes),
        Encoding::Gb18030 | Encoding::Gbk => {
            encoding_rs::GB18030.decode_without_bom_handling(bytes).0
        }
    }
}

pub fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Utf8 => "UTF-8",
        Encoding::Gb18030 => "GB18030",
        Encoding::Gbk => "GBK",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_text_decodes_and_bad_bytes_are_refused() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("北京,张伟");
        assert_eq!(
            decode_strict(Encoding::Gb18030, &bytes).unwrap(),
            "北京,张伟"
        );
        assert_eq!(decode_strict(Encoding::Gbk, &bytes).unwrap(), "北京,张伟");
        assert!(decode_strict(Encoding::Gb18030, b"\x81\x20").is_none());
        assert!(decode_strict(Encoding::Utf8, &bytes).is_none());
        assert!(decode_lossy(Encoding::Utf8, &bytes).contains('\u{FFFD}'));
    }
}
