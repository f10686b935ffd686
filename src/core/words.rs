//! Counted nouns in user-facing sentences: "1 peer", "2 peers", never "1 peers".

/// `n` and the noun, singular for exactly one.
pub fn count(n: impl Into<u64>, singular: &str, plural: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// `count` for nouns whose plural adds an "s".
pub fn counted(n: impl Into<u64>, singular: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(counted(1u32, "peer"), "1 peer");
        assert_eq!(counted(0u32, "peer"), "0 peers");
        assert_eq!(counted(2u32, "file"), "2 files");
        assert_eq!(count(1u32, "live holder", "live holders"), "1 live holder");
        assert_eq!(count(3u32, "entry", "entries"), "3 entries");
    }
}
