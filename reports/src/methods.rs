//! Method names as the results CSV spells them (`e2e`, `greedy-sl`, ...), turned into the
//! labels and the order of InfoPro's Table 2: E2E first, then Greedy SL, DGL, InfoPro
//! (Softmax), InfoPro (Contrast); then the later baselines PredSim and AugLocal, and GLCAN
//! last. Super-resolution adds the untrained bicubic baseline row (`bicubic`), printed above
//! E2E.

/// The end-to-end baseline every local method is compared against.
pub const REFERENCE: &str = "e2e";

/// The super-resolution baseline: bicubic up-scaling, nothing trained.
pub const BICUBIC: &str = "bicubic";

/// Known methods in table order, with their printed labels.
const KNOWN: [(&str, &str); 9] = [
    (BICUBIC, "Bicubic"),
    ("e2e", "E2E"),
    ("greedy-sl", "Greedy SL"),
    ("dgl", "DGL"),
    ("infopro-softmax", "InfoPro (Softmax)"),
    ("infopro-contrast", "InfoPro (Contrast)"),
    ("predsim", "PredSim"),
    ("auglocal", "AugLocal"),
    ("glcan", "GLCAN"),
];

/// `Greedy_SL` and `greedy-sl` are the same method; the CSV uses the second form.
fn canonical(method: &str) -> String {
    method.trim().to_ascii_lowercase().replace('_', "-")
}

/// Whether `method` is the end-to-end baseline.
pub fn is_reference(method: &str) -> bool {
    canonical(method) == REFERENCE
}

/// Whether `method` trains nothing (so it has no per-epoch curve, memory or speed).
pub fn is_untrained(method: &str) -> bool {
    canonical(method) == BICUBIC
}

/// The label printed in tables and legends; unknown methods keep their own name.
pub fn label(method: &str) -> String {
    let name = canonical(method);
    KNOWN.iter().find(|(key, _)| *key == name).map_or_else(|| method.to_string(), |(_, label)| label.to_string())
}

/// Sort key: known methods in Table 2 order, unknown ones after them by name.
pub fn order(method: &str) -> (usize, String) {
    let name = canonical(method);
    let rank = KNOWN.iter().position(|(key, _)| *key == name).unwrap_or(KNOWN.len());
    (rank, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_and_labels() {
        let mut methods =
            ["glcan", "mine", "auglocal", "infopro-contrast", "dgl", "predsim", "e2e", "bicubic", "Greedy_SL", "infopro-softmax"];
        methods.sort_by_key(|m| order(m));
        let labels: Vec<String> = methods.iter().map(|m| label(m)).collect();
        assert_eq!(
            labels,
            ["Bicubic", "E2E", "Greedy SL", "DGL", "InfoPro (Softmax)", "InfoPro (Contrast)", "PredSim", "AugLocal", "GLCAN", "mine"]
        );
        assert!(is_reference("E2E") && !is_reference("glcan") && !is_reference("bicubic"));
        assert!(is_untrained("bicubic") && !is_untrained("e2e"));
    }
}
