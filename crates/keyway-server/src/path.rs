//! The part of a request path under `/integrations/NAME`, made safe to append to a
//! connector's base path: dot-segments resolved as RFC 3986 §5.2.4 says (`%2e` counts as
//! `.`, and `..;` as `..`, as Tomcat reads it), and refused when they would climb above
//! the base path or when a segment hides a separator (`%2f`, `%5c`, `\`) or a NUL that
//! the partner's server might decode into one.

/// Why a path is refused (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathRefusal {
    /// `..` segments climb above the connector's base path.
    LeavesBase,
    /// A segment holds an encoded `/` or `\`, a raw `\`, or a NUL.
    HiddenSeparator,
}

impl PathRefusal {
    /// In words, for the audit log.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            PathRefusal::LeavesBase => "the path climbs above the connector's base path (..)",
            PathRefusal::HiddenSeparator => {
                "the path hides a separator in a segment (%2f, %5c, \\ or %00)"
            }
        }
    }
}

/// `tail` (empty or starting with `/`) with its dot-segments resolved.
pub(crate) fn normalize_tail(tail: &str) -> Result<String, PathRefusal> {
    let Some(rest) = tail.strip_prefix('/') else {
        // hyper hands over an absolute path, so the tail is empty here.
        return Ok(tail.to_string());
    };
    let mut kept: Vec<&str> = Vec::new();
    let mut ends_in_slash = false;
    for segment in rest.split('/') {
        let lower = segment.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") {
            return Err(PathRefusal::HiddenSeparator);
        }
        if segment.contains('\\') {
            return Err(PathRefusal::HiddenSeparator);
        }
        let plain = lower.replace("%2e", ".");
        let plain = plain.split(';').next().unwrap_or_default();
        match plain {
            "." => ends_in_slash = true,
            ".." => {
                kept.pop().ok_or(PathRefusal::LeavesBase)?;
                ends_in_slash = true;
            }
            _ => {
                kept.push(segment);
                ends_in_slash = segment.is_empty();
            }
        }
    }
    // An empty last segment was kept as "" and already gives the trailing slash.
    let mut out = format!("/{}", kept.join("/"));
    if ends_in_slash && !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_inside_the_base_are_resolved() {
        for (given, expected) in [
            ("", ""),
            ("/", "/"),
            ("/orders/42", "/orders/42"),
            ("/orders/", "/orders/"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/a/b/..", "/a/"),
            ("/a/%2E/b", "/a/b"),
            ("/a/%2e%2e/b", "/b"),
            ("/a/..;/b", "/b"),
            ("/a/x%2e/b", "/a/x%2e/b"),
            ("/a//b", "/a//b"),
        ] {
            assert_eq!(normalize_tail(given).as_deref(), Ok(expected), "{given}");
        }
    }

    #[test]
    fn paths_that_leave_the_base_or_hide_a_separator_are_refused() {
        for given in [
            "/..",
            "/../../../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc",
            "/%2E%2E/%2e%2e/etc",
            "/.%2e/x",
            "/..;/x",
        ] {
            assert_eq!(
                normalize_tail(given),
                Err(PathRefusal::LeavesBase),
                "{given}"
            );
        }
        for given in [
            "/..%2f..%2fetc",
            "/..%2F",
            "/..%5c..%5cwin.ini",
            "/a\\..\\b",
            "/a%00b",
        ] {
            assert_eq!(
                normalize_tail(given),
                Err(PathRefusal::HiddenSeparator),
                "{given}"
            );
        }
    }
}
