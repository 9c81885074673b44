//! The page and its assets, embedded in the binary: no CDN, no build step, works offline.

/// The page: the fleet view and the target view.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// The page's script (plain JavaScript; renders data with `textContent` only).
pub const APP_JS: &str = include_str!("assets/app.js");
/// The page's styles.
pub const APP_CSS: &str = include_str!("assets/app.css");

/// The page-weight budget: page + script + styles, uncompressed bytes.
pub const PAGE_WEIGHT_BUDGET_BYTES: usize = 100 * 1024;

/// The page's weight: page + script + styles, uncompressed bytes.
pub fn page_weight_bytes() -> usize {
    INDEX_HTML.len() + APP_JS.len() + APP_CSS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_weight_is_within_budget() {
        let weight = page_weight_bytes();
        assert!(
            weight <= PAGE_WEIGHT_BUDGET_BYTES,
            "the UI weighs {weight} bytes, over the {PAGE_WEIGHT_BUDGET_BYTES}-byte budget"
        );
    }

    #[test]
    fn the_script_never_writes_html() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!APP_JS.contains(forbidden), "app.js uses {forbidden}");
        }
        // Nothing is loaded from another origin (the SVG namespace is a name, not a download).
        let script = APP_JS.replace("\"http://www.w3.org/2000/svg\"", "");
        for text in [INDEX_HTML, &script, APP_CSS] {
            assert!(
                !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn")
            );
        }
    }
}
