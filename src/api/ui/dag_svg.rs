//! The DAG as inline SVG: one box per step (coloured by state class, with the state written in
//! it), one arrow per dependency, laid out by [`super::dag_layout`]. Each box links to its step.

use std::collections::HashMap;
use std::fmt::Write as _;

use maud::{html, Markup, PreEscaped};

use super::dag_layout::{layout, Layout, DEFAULT_CONFIG};

/// A step to draw.
#[derive(Debug, Clone)]
pub struct DagNode {
    /// Step name (unique in its template).
    pub name: String,
    /// Names of its parents.
    pub depends_on: Vec<String>,
    /// The second line: the step's state (for a task) or its handler (for a template).
    pub label: String,
    /// CSS state class suffix (`complete`, …, or `template`).
    pub state: String,
    /// Where a click on the box goes.
    pub href: Option<String>,
    /// Whether this is the step shown in detail.
    pub selected: bool,
}

/// Lays out and draws `nodes`.
pub fn render(nodes: &[DagNode], caption: &str) -> Markup {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
    let parents: Vec<Vec<usize>> =
        nodes.iter().map(|n| n.depends_on.iter().filter_map(|p| index.get(p.as_str()).copied()).collect()).collect();
    let l = layout(&parents, &DEFAULT_CONFIG);
    draw(nodes, &l, caption)
}

fn draw(nodes: &[DagNode], l: &Layout, caption: &str) -> Markup {
    let cfg = DEFAULT_CONFIG;
    let edges = edge_paths(l);
    html! {
        figure class="dag" {
            svg xmlns="http://www.w3.org/2000/svg" class="dag-svg" role="group" aria-label=(caption)
                width=(fmt(l.width)) height=(fmt(l.height)) viewBox={ "0 0 " (fmt(l.width)) " " (fmt(l.height)) }
                data-nodes=(nodes.len()) data-crossings=(l.crossings) {
                defs {
                    marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"
                        orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" {}
                    }
                }
                g class="edges" aria-hidden="true" { (PreEscaped(edges)) }
                g class="nodes" {
                    @for p in &l.nodes {
                        @let n = &nodes[p.index];
                        @let body = node_body(n, p.x, p.y, cfg.node_width, cfg.node_height);
                        @match &n.href {
                            Some(href) => a href=(href) class="node-link" { (body) },
                            None => (body),
                        }
                    }
                }
            }
            figcaption { (caption) }
        }
    }
}

fn node_body(n: &DagNode, x: f64, y: f64, w: f64, h: f64) -> Markup {
    let class = if n.selected { format!("node state-{} selected", n.state) } else { format!("node state-{}", n.state) };
    html! {
        g class=(class) data-step=(n.name) data-state=(n.state) {
            title { (n.name) ": " (n.label) }
            rect x=(fmt(x)) y=(fmt(y)) width=(fmt(w)) height=(fmt(h)) rx="6" {}
            text x=(fmt(x + w / 2.0)) y=(fmt(y + 18.0)) class="node-name" { (ellipsize(&n.name, 20)) }
            text x=(fmt(x + w / 2.0)) y=(fmt(y + 34.0)) class="node-state" { (ellipsize(&n.label.replace('_', " "), 22)) }
        }
    }
}

/// SVG path data of every edge: a curve out of the parent and into the child, straight lines
/// between (down a lane, through virtual nodes).
fn edge_paths(l: &Layout) -> String {
    let mut out = String::new();
    for e in &l.edges {
        let Some(&(x0, y0)) = e.points.first() else { continue };
        let mut d = format!("M {} {}", fmt(x0), fmt(y0));
        let last = e.points.len() - 1;
        let mut prev = (x0, y0);
        for (k, &(x, y)) in e.points.iter().enumerate().skip(1) {
            if k == 1 || k == last {
                let my = (prev.1 + y) / 2.0;
                let _ = write!(d, " C {} {} {} {} {} {}", fmt(prev.0), fmt(my), fmt(x), fmt(my), fmt(x), fmt(y));
            } else {
                let _ = write!(d, " L {} {}", fmt(x), fmt(y));
            }
            prev = (x, y);
        }
        let _ = write!(out, r#"<path class="edge" d="{d}" marker-end="url(#arrow)"/>"#);
    }
    out
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_one_node_with_its_state_and_names_are_escaped() {
        let nodes = vec![
            DagNode {
                name: "a<b".into(),
                depends_on: vec![],
                label: "complete".into(),
                state: "complete".into(),
                href: Some("/ui/x".into()),
                selected: false,
            },
            DagNode {
                name: "c".into(),
                depends_on: vec!["a<b".into()],
                label: "in_progress".into(),
                state: "in_progress".into(),
                href: None,
                selected: true,
            },
        ];
        let svg = render(&nodes, "DAG").into_string();
        assert_eq!(svg.matches("class=\"node state-").count(), 2);
        assert!(svg.contains("data-state=\"in_progress\""));
        assert!(svg.contains("a&lt;b"));
        assert_eq!(svg.matches("class=\"edge\"").count(), 1);
    }
}
