//! Method names as the results CSV spells them (`e2e`, `greedy-sl`, ...), turned into the
//! labels and the order of InfoPro's Table 2: E2E first, then Greedy SL, DGL, InfoPro
//! (Softmax), InfoPro (Contrast), and GLCAN last.

/// The end-to-end baseline every local method is compared against.
pub const REFERENCE: &str = "e2e";

/// Known methods in table order, with their printed labels.
const KNOWN: [(&str, &str); 6] = [
    ("e2e", "E2E"),
    ("greedy-sl", "Greedy SL"),
    ("dgl", "DGL"),
    ("infopro-softmax", "InfoPro (Softmax)"),
    ("infopro-contrast", "InfoPro (Contrast)"),
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
        let mut methods = ["glcan", "mine", "infopro-contrast", "dgl", "e2e", "Greedy_SL", "infopro-softmax"];
        methods.sort_by_key(|m| order(m));
        let labels: Vec<String> = methods.iter().map(|m| label(m)).collect();
        assert_eq!(labels, ["E2E", "Greedy SL", "DGL", "InfoPro (Softmax)", "InfoPro (Contrast)", "GLCAN", "mine"]);
        assert!(is_reference("E2E") && !is_reference("glcan"));
    }
}
