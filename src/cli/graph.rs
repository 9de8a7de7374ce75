//! Drawing a task's DAG with each step's state: an indented text tree, a Mermaid flowchart or a
//! Graphviz digraph. Pure functions over [`GraphStep`]s, in template order.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// A step as the graph needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphStep {
    /// Step name (unique within the task).
    pub name: String,
    /// Its state.
    pub state: String,
    /// Names of the steps it depends on, in template order.
    pub parents: Vec<String>,
}

impl GraphStep {
    /// A step from the JSON of the step list (`name`, `state`, `depends_on`).
    pub fn from_json(v: &Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let parents = v
            .get("depends_on")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        Self { name: s("name"), state: s("state"), parents }
    }
}

/// The children of each step (by index), in template order; parents that are not steps are ignored.
fn children(steps: &[GraphStep]) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = steps.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let mut out = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        let mut seen = HashSet::new();
        for p in &s.parents {
            if let Some(&pi) = index.get(p.as_str()) {
                if seen.insert(pi) {
                    out[pi].push(i);
                }
            }
        }
    }
    out
}

/// Whether the step has a parent among the steps.
fn has_known_parent(steps: &[GraphStep], s: &GraphStep) -> bool {
    s.parents.iter().any(|p| steps.iter().any(|o| &o.name == p))
}

/// An indented tree: roots first, children under their parent. A step with several parents is
/// drawn under the first one reached and shown as `name (see above)` under the others.
pub fn text(steps: &[GraphStep]) -> String {
    let kids = children(steps);
    let mut drawn = vec![false; steps.len()];
    let mut out = String::new();
    let roots: Vec<usize> = (0..steps.len()).filter(|&i| !has_known_parent(steps, &steps[i])).collect();
    for i in roots {
        draw(steps, &kids, i, "", None, &mut drawn, &mut out);
    }
    // Steps no root reaches (only possible with a cycle): drawn as roots so none is lost.
    while let Some(i) = drawn.iter().position(|d| !d) {
        draw(steps, &kids, i, "", None, &mut drawn, &mut out);
    }
    out
}

fn draw(
    steps: &[GraphStep],
    kids: &[Vec<usize>],
    i: usize,
    prefix: &str,
    last: Option<bool>,
    drawn: &mut [bool],
    out: &mut String,
) {
    let (branch, child_prefix) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{prefix}└── "), format!("{prefix}    ")),
        Some(false) => (format!("{prefix}├── "), format!("{prefix}│   ")),
    };
    let s = &steps[i];
    if drawn[i] {
        out.push_str(&format!("{branch}{} (see above)\n", s.name));
        return;
    }
    drawn[i] = true;
    out.push_str(&format!("{branch}{} [{}]\n", s.name, s.state));
    let n = kids[i].len();
    for (k, &c) in kids[i].iter().enumerate() {
        draw(steps, kids, c, &child_prefix, Some(k + 1 == n), drawn, out);
    }
}

/// Node ids safe in Mermaid and DOT: the name with anything but letters, digits and `_`
/// replaced by `_`, made unique with a suffix.
fn node_ids(steps: &[GraphStep]) -> Vec<String> {
    let mut used = HashSet::new();
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut id: String =
                s.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
                id.insert_str(0, "s_");
            }
            if !used.insert(id.clone()) {
                id = format!("{id}_{i}");
                used.insert(id.clone());
            }
            id
        })
        .collect()
}

/// Fill colours per state (Mermaid classDef and DOT fillcolor).
fn colour(state: &str) -> &'static str {
    match state {
        "complete" => "#c8e6c9",
        "resolved_manually" => "#dcedc8",
        "error" => "#ffcdd2",
        "cancelled" => "#e0e0e0",
        "in_progress" | "enqueued" => "#bbdefb",
        "waiting_for_retry" => "#ffe0b2",
        _ => "#ffffff",
    }
}

/// Edges (parent index, child index) in template order of the child.
fn edges(steps: &[GraphStep]) -> Vec<(usize, usize)> {
    let kids = children(steps);
    let mut out: Vec<(usize, usize)> =
        kids.iter().enumerate().flat_map(|(p, cs)| cs.iter().map(move |&c| (p, c))).collect();
    out.sort_by_key(|&(p, c)| (c, p));
    out
}

/// A Mermaid flowchart (`flowchart TD`): one node per step labelled with its name and state,
/// an edge per dependency, and a class per state.
pub fn mermaid(steps: &[GraphStep]) -> String {
    let ids = node_ids(steps);
    let mut out = String::from("flowchart TD\n");
    for (s, id) in steps.iter().zip(&ids) {
        let label = format!("{}<br/>{}", s.name, s.state).replace('"', "#quot;");
        out.push_str(&format!("    {id}[\"{label}\"]:::{}\n", class_name(&s.state)));
    }
    for (p, c) in edges(steps) {
        out.push_str(&format!("    {} --> {}\n", ids[p], ids[c]));
    }
    let mut states: Vec<&str> = steps.iter().map(|s| s.state.as_str()).collect();
    states.sort_unstable();
    states.dedup();
    for st in states {
        out.push_str(&format!("    classDef {} fill:{},stroke:#555\n", class_name(st), colour(st)));
    }
    out
}

fn class_name(state: &str) -> String {
    let c: String = state.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if c.is_empty() {
        "unknown".into()
    } else {
        c
    }
}

/// A DOT string literal.
fn dot_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A Graphviz digraph named `title`: one box per step (name and state, filled by state), an
/// edge per dependency.
pub fn dot(title: &str, steps: &[GraphStep]) -> String {
    let ids = node_ids(steps);
    let mut out = format!("digraph {} {{\n", dot_str(title));
    out.push_str("    rankdir=TB;\n    node [shape=box, style=\"rounded,filled\"];\n");
    for (s, id) in steps.iter().zip(&ids) {
        out.push_str(&format!(
            "    {id} [label={}, fillcolor=\"{}\"];\n",
            dot_str(&format!("{}\n{}", s.name, s.state)).replace('\n', "\\n"),
            colour(&s.state)
        ));
    }
    for (p, c) in edges(steps) {
        out.push_str(&format!("    {} -> {};\n", ids[p], ids[c]));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, state: &str, parents: &[&str]) -> GraphStep {
        GraphStep {
            name: name.into(),
            state: state.into(),
            parents: parents.iter().map(|p| (*p).to_string()).collect(),
        }
    }

    fn orders() -> Vec<GraphStep> {
        vec![
            step("validate_order", "complete", &[]),
            step("reserve_inventory", "complete", &["validate_order"]),
            step("charge_payment", "error", &["validate_order"]),
            step("ship_order", "pending", &["reserve_inventory", "charge_payment"]),
            step("notify_customer", "pending", &["ship_order"]),
        ]
    }

    #[test]
    fn text_tree_nests_children_and_references_shared_ones() {
        let expected = "\
validate_order [complete]
├── reserve_inventory [complete]
│   └── ship_order [pending]
│       └── notify_customer [pending]
└── charge_payment [error]
    └── ship_order (see above)
";
        assert_eq!(text(&orders()), expected);
    }

    #[test]
    fn text_tree_has_every_root_and_survives_cycles() {
        let steps = vec![step("a", "complete", &[]), step("b", "pending", &[]), step("c", "x", &["missing"])];
        assert_eq!(text(&steps), "a [complete]\nb [pending]\nc [x]\n");
        let cyclic = vec![step("a", "p", &["b"]), step("b", "p", &["a"])];
        assert_eq!(text(&cyclic), "a [p]\n└── b [p]\n    └── a (see above)\n");
    }

    #[test]
    fn mermaid_has_nodes_edges_and_classes() {
        let m = mermaid(&orders());
        assert!(m.starts_with("flowchart TD\n"), "{m}");
        assert!(m.contains("    validate_order[\"validate_order<br/>complete\"]:::complete\n"), "{m}");
        assert!(m.contains("    reserve_inventory --> ship_order\n"), "{m}");
        assert!(m.contains("    charge_payment --> ship_order\n"), "{m}");
        assert!(m.contains("    ship_order --> notify_customer\n"), "{m}");
        assert_eq!(m.matches("-->").count(), 5, "{m}");
        assert!(m.contains("classDef error fill:#ffcdd2"), "{m}");
    }

    #[test]
    fn dot_has_nodes_and_edges_and_escapes() {
        let d = dot("task 1", &orders());
        assert!(d.starts_with("digraph \"task 1\" {\n"), "{d}");
        assert!(
            d.contains("    validate_order [label=\"validate_order\\ncomplete\", fillcolor=\"#c8e6c9\"];\n"),
            "{d}"
        );
        assert!(d.contains("    validate_order -> reserve_inventory;\n"), "{d}");
        assert_eq!(d.matches(" -> ").count(), 5, "{d}");
        assert!(d.ends_with("}\n"));
        assert_eq!(dot_str("a\"b\\"), "\"a\\\"b\\\\\"");
    }

    #[test]
    fn node_ids_are_safe_and_unique() {
        let steps = vec![step("a.b", "p", &[]), step("a_b", "p", &[]), step("1st", "p", &[])];
        assert_eq!(node_ids(&steps), vec!["a_b", "a_b_1", "s_1st"]);
    }

    #[test]
    fn steps_read_from_json() {
        let v = serde_json::json!({"name": "n", "state": "complete", "depends_on": ["a", "b"]});
        assert_eq!(GraphStep::from_json(&v), step("n", "complete", &["a", "b"]));
    }
}
