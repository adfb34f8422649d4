//! Arbitrary bytes through the loader `validate` and `plan` run on every file of a tree
//! (`config_repo::load::parse_str`, with its bounds on nesting and aliases). It must return
//! documents or an error: never panic, overflow the stack or grow without bound.

#![no_main]

use conferencing_operator::config_repo::load::{self, MAX_ALIAS_NODES, MAX_DEPTH, Node, NodeKind};
use libfuzzer_sys::fuzz_target;

/// Nodes (a mapping's keys counted) and height of a node.
fn measure(node: &Node) -> (usize, usize) {
    match &node.kind {
        NodeKind::Scalar { .. } => (1, 0),
        NodeKind::Seq(items) => items.iter().map(measure).fold((1, 1), |(n, h), (cn, ch)| (n + cn, h.max(ch + 1))),
        NodeKind::Map(entries) => {
            entries.iter().map(|e| measure(&e.value)).fold((1, 1), |(n, h), (cn, ch)| (n + cn + 1, h.max(ch + 1)))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Files are read as UTF-8 (`read_to_string`); other bytes never reach the parser.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(documents) = load::parse_str("fuzz.yaml", text) else { return };
    for d in &documents {
        let (nodes, height) = measure(&d.root);
        assert!(height <= MAX_DEPTH, "a document {height} levels deep was accepted");
        // Without aliases a node takes at least one byte of input (a key and its empty value
        // two nodes for `a:`); aliases may add MAX_ALIAS_NODES more per document.
        assert!(nodes <= 2 * text.len() + 2 + MAX_ALIAS_NODES, "{nodes} nodes from {} bytes", text.len());
        let json = d.root.to_json();
        // What the tree is checked and planned from: the JSON an API server would receive.
        let _ = json.to_string();
        for k in &d.duplicate_keys {
            let _ = d.root.locate(&k.path);
        }
    }
});
