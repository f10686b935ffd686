//! File-name rules (SPEC §1): one path component, printable, no whitespace, at most 255 bytes.

use thiserror::Error;

/// Longest accepted name, in bytes (the usual file-system limit).
pub const MAX_NAME_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("empty file name")]
    Empty,
    #[error("file name longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    #[error("file name {0:?} is not allowed")]
    Reserved(String),
    #[error("file name contains whitespace, a control character or a path separator")]
    BadCharacter,
}

/// Checks that `name` may be served: a single path component that cannot escape served_files/.
pub fn validate_file_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if name == "." || name == ".." {
        return Err(NameError::Reserved(name.to_string()));
    }
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '/' || c == '\\';
    if name.chars().any(bad) {
        return Err(NameError::BadCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "f1.txt",
            "photo.JPG",
            "a",
            ".hidden",
            "#odd#",
            "ünïcode.txt",
        ] {
            assert_eq!(validate_file_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn escaping_or_odd_names_fail() {
        assert_eq!(validate_file_name(""), Err(NameError::Empty));
        assert_eq!(
            validate_file_name(".."),
            Err(NameError::Reserved("..".into()))
        );
        assert_eq!(
            validate_file_name("."),
            Err(NameError::Reserved(".".into()))
        );
        for name in [
            "../x",
            "/etc/passwd",
            "a\\b",
            "a b",
            "a\tb",
            "a\u{7}",
            "a\nb",
        ] {
            assert_eq!(
                validate_file_name(name),
                Err(NameError::BadCharacter),
                "{name:?}"
            );
        }
        assert_eq!(
            validate_file_name(&"x".repeat(256)),
            Err(NameError::TooLong)
        );
        assert_eq!(validate_file_name(&"x".repeat(255)), Ok(()));
    }
}
