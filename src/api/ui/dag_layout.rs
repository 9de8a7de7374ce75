//! Layered drawing of a task's DAG (Sugiyama style), pure code with no I/O.
//!
//! 1. **Layers by longest path**: a step with no parents is in layer 0, any other in
//!    `1 + max(layer of its parents)`, so every edge points down at least one layer.
//! 2. **Virtual nodes**: an edge spanning several layers gets one virtual node per layer it
//!    crosses, so that crossings can be counted and reduced between adjacent layers only.
//! 3. **Crossing reduction**: the barycenter heuristic, sweeping down then up a few times; each
//!    sweep's order is kept only if it has fewer crossings than the best so far, starting from
//!    the template order. So the result never has more crossings than the naive order.
//! 4. **Coordinates**: each layer is a band of rows; a layer wider than [`LayoutConfig::max_row_width`]
//!    wraps onto several rows (a 100-step fan-out stays readable instead of 12,000 px wide). Rows
//!    are centred; edges are drawn through their virtual nodes.

use std::collections::HashMap;

/// Sizes of the drawing, in SVG user units (pixels at 100 %).
#[derive(Debug, Clone, Copy)]
pub struct LayoutConfig {
    /// Width of a step's box.
    pub node_width: f64,
    /// Height of a step's box.
    pub node_height: f64,
    /// Width a virtual node (a long edge passing through a layer) takes in its row.
    pub virtual_width: f64,
    /// Horizontal space between boxes.
    pub h_gap: f64,
    /// Vertical space between layers.
    pub layer_gap: f64,
    /// Vertical space between the rows of one wrapped layer.
    pub row_gap: f64,
    /// Widest row before a layer wraps.
    pub max_row_width: f64,
    /// Margin around the drawing.
    pub margin: f64,
    /// Barycenter sweeps (each one down and one up).
    pub sweeps: usize,
}

/// The sizes the dashboard draws with.
pub const DEFAULT_CONFIG: LayoutConfig = LayoutConfig {
    node_width: 150.0,
    node_height: 44.0,
    virtual_width: 12.0,
    h_gap: 24.0,
    layer_gap: 64.0,
    row_gap: 18.0,
    max_row_width: 1320.0,
    margin: 16.0,
    sweeps: 12,
};

/// A placed step: its index in the input, layer and box.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    /// Index of the step in the input.
    pub index: usize,
    /// Its layer (0 = roots).
    pub layer: usize,
    /// Left edge of the box.
    pub x: f64,
    /// Top edge of the box.
    pub y: f64,
}

/// A drawn edge, parent to child, as a polyline through its virtual nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEdge {
    /// Index of the parent.
    pub from: usize,
    /// Index of the child.
    pub to: usize,
    /// Points from the bottom of the parent's box to the top of the child's.
    pub points: Vec<(f64, f64)>,
}

/// The whole drawing.
#[derive(Debug, Clone)]
pub struct Layout {
    /// One per input step, in input order.
    pub nodes: Vec<PlacedNode>,
    /// One per dependency.
    pub edges: Vec<PlacedEdge>,
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// Edge crossings of the chosen order (between adjacent layers).
    pub crossings: usize,
    /// Edge crossings of the template order, for comparison.
    pub naive_crossings: usize,
}

/// A slot in a layer's order: a step, or a virtual node of a long edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Real(usize),
    /// (edge index, layer).
    Virtual(usize, usize),
}

/// Longest-path layers of `parents` (indices of each node's parents). Parents out of range
/// are ignored; nodes on a cycle (never in a valid template) go below everything else.
pub fn longest_path_layers(parents: &[Vec<usize>]) -> Vec<usize> {
    let n = parents.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pending: Vec<usize> = vec![0; n];
    for (child, ps) in parents.iter().enumerate() {
        for &p in ps.iter().filter(|&&p| p < n && p != child) {
            children[p].push(child);
            pending[child] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut queue: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut done = vec![false; n];
    let mut head = 0;
    while head < queue.len() {
        let v = queue[head];
        head += 1;
        done[v] = true;
        for &c in &children[v] {
            layer[c] = layer[c].max(layer[v] + 1);
            pending[c] -= 1;
            if pending[c] == 0 {
                queue.push(c);
            }
        }
    }
    let deepest = layer.iter().copied().max().unwrap_or(0);
    for (i, d) in done.iter().enumerate() {
        if !d {
            layer[i] = deepest + 1;
        }
    }
    layer
}

/// Lays out `n` steps whose parents are `parents[i]` (indices).
pub fn layout(parents: &[Vec<usize>], cfg: &LayoutConfig) -> Layout {
    let n = parents.len();
    let layer = longest_path_layers(parents);
    let depth = layer.iter().copied().max().map_or(0, |d| d + 1);
    // Edges that point down (always, for a DAG), parent before child.
    let edges: Vec<(usize, usize)> = parents
        .iter()
        .enumerate()
        .flat_map(|(c, ps)| ps.iter().filter(move |&&p| p < n && p != c).map(move |&p| (p, c)))
        .filter(|&(p, c)| layer[p] < layer[c])
        .collect();
    // The template order, virtual nodes after the real ones of their layer.
    let mut order: Vec<Vec<Slot>> = vec![Vec::new(); depth];
    for (i, &l) in layer.iter().enumerate() {
        order[l].push(Slot::Real(i));
    }
    for (e, &(p, c)) in edges.iter().enumerate() {
        for (l, row) in order.iter_mut().enumerate().take(layer[c]).skip(layer[p] + 1) {
            row.push(Slot::Virtual(e, l));
        }
    }
    let chain = |e: usize| -> Vec<Slot> {
        let (p, c) = edges[e];
        let mut s = vec![Slot::Real(p)];
        s.extend((layer[p] + 1..layer[c]).map(|l| Slot::Virtual(e, l)));
        s.push(Slot::Real(c));
        s
    };
    // Segments between adjacent layers, as (upper slot, lower slot).
    let mut segments: Vec<Vec<(Slot, Slot)>> = vec![Vec::new(); depth.saturating_sub(1)];
    for e in 0..edges.len() {
        let c = chain(e);
        for w in c.windows(2) {
            let l = slot_layer(w[0], &layer);
            segments[l].push((w[0], w[1]));
        }
    }
    let naive_crossings = total_crossings(&order, &segments);
    let (order, crossings) = reduce_crossings(order, &segments, &layer, naive_crossings, cfg.sweeps);
    let placed = place(&order, cfg);
    let at = |s: &Slot| placed.slots.get(s).copied().unwrap_or_default();
    let nodes = (0..n)
        .map(|i| {
            let p = at(&Slot::Real(i));
            PlacedNode { index: i, layer: layer[i], x: p.x, y: p.y }
        })
        .collect();
    let edges = (0..edges.len())
        .map(|e| {
            let (p, c) = edges[e];
            let slots = chain(e);
            let mut points = Vec::new();
            for (k, s) in slots.iter().enumerate() {
                let q = at(s);
                match s {
                    Slot::Real(_) if k == 0 => {
                        let (cx, bottom) = (q.x + cfg.node_width / 2.0, q.y + cfg.node_height);
                        points.push((cx, bottom));
                        if q.row + 1 < q.rows {
                            // Out of a wrapped block: down the lane right of the box, below the block.
                            let lane = q.x + cfg.node_width + cfg.h_gap / 2.0;
                            points.push((lane, bottom + cfg.row_gap / 2.0));
                            points.push((lane, placed.layer_bottom[q.layer] + cfg.layer_gap / 3.0));
                        }
                    }
                    Slot::Real(_) => {
                        let cx = q.x + cfg.node_width / 2.0;
                        if q.row > 0 {
                            // Into a wrapped block: from above it, down the lane left of the box.
                            let lane = q.x - cfg.h_gap / 2.0;
                            points.push((lane, placed.layer_top[q.layer] - cfg.layer_gap / 3.0));
                            points.push((lane, q.y - cfg.row_gap / 2.0));
                        }
                        points.push((cx, q.y));
                    }
                    Slot::Virtual(..) => points.push((q.x + cfg.virtual_width / 2.0, q.y + cfg.node_height / 2.0)),
                }
            }
            PlacedEdge { from: p, to: c, points }
        })
        .collect();
    let (width, height) = (placed.width, placed.height);
    Layout { nodes, edges, width, height, crossings, naive_crossings }
}

fn slot_layer(s: Slot, layer: &[usize]) -> usize {
    match s {
        Slot::Real(i) => layer[i],
        Slot::Virtual(_, l) => l,
    }
}

/// Crossings between two adjacent layers: pairs of segments whose ends are in opposite order.
fn crossings_between(upper: &HashMap<Slot, usize>, lower: &HashMap<Slot, usize>, segs: &[(Slot, Slot)]) -> usize {
    let mut pairs: Vec<(usize, usize)> =
        segs.iter().filter_map(|(a, b)| Some((*upper.get(a)?, *lower.get(b)?))).collect();
    pairs.sort_unstable();
    // Count inversions of the lower positions (O(s^2) is fine for a few hundred segments).
    let mut count = 0;
    for i in 0..pairs.len() {
        for j in i + 1..pairs.len() {
            if pairs[i].0 < pairs[j].0 && pairs[i].1 > pairs[j].1 {
                count += 1;
            }
        }
    }
    count
}

fn positions_of(row: &[Slot]) -> HashMap<Slot, usize> {
    row.iter().enumerate().map(|(i, s)| (*s, i)).collect()
}

/// Edge crossings of an order, summed over adjacent layers.
fn total_crossings(order: &[Vec<Slot>], segments: &[Vec<(Slot, Slot)>]) -> usize {
    let pos: Vec<HashMap<Slot, usize>> = order.iter().map(|r| positions_of(r)).collect();
    segments.iter().enumerate().map(|(l, segs)| crossings_between(&pos[l], &pos[l + 1], segs)).sum()
}

/// Barycenter sweeps; returns the best order seen and its crossings.
fn reduce_crossings(
    order: Vec<Vec<Slot>>,
    segments: &[Vec<(Slot, Slot)>],
    layer: &[usize],
    initial: usize,
    sweeps: usize,
) -> (Vec<Vec<Slot>>, usize) {
    let mut best = order.clone();
    let mut best_count = initial;
    let mut current = order;
    for _ in 0..sweeps {
        if best_count == 0 {
            break;
        }
        for l in 1..current.len() {
            let fixed = positions_of(&current[l - 1]);
            let neighbours = |s: &Slot| -> Vec<usize> {
                segments[l - 1].iter().filter(|(_, b)| b == s).filter_map(|(a, _)| fixed.get(a).copied()).collect()
            };
            sort_by_barycenter(&mut current[l], neighbours);
        }
        for l in (0..current.len().saturating_sub(1)).rev() {
            let fixed = positions_of(&current[l + 1]);
            let neighbours = |s: &Slot| -> Vec<usize> {
                segments[l].iter().filter(|(a, _)| a == s).filter_map(|(_, b)| fixed.get(b).copied()).collect()
            };
            sort_by_barycenter(&mut current[l], neighbours);
        }
        let count = total_crossings(&current, segments);
        if count < best_count {
            best_count = count;
            best.clone_from(&current);
        }
    }
    debug_assert!(best.iter().enumerate().all(|(l, r)| r.iter().all(|s| slot_layer(*s, layer) == l)));
    (best, best_count)
}

/// Stable sort of a row by the mean position of each slot's neighbours in the fixed layer; a
/// slot without neighbours keeps its current position as its key.
fn sort_by_barycenter(row: &mut [Slot], neighbours: impl Fn(&Slot) -> Vec<usize>) {
    let mut keyed: Vec<(f64, usize, Slot)> = row
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ns = neighbours(s);
            let key = if ns.is_empty() { i as f64 } else { ns.iter().sum::<usize>() as f64 / ns.len() as f64 };
            (key, i, *s)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (dst, (_, _, s)) in row.iter_mut().zip(keyed) {
        *dst = s;
    }
}

/// Where a slot went: its box's corner, its layer, and its row within the layer's rows.
#[derive(Debug, Clone, Copy, Default)]
struct SlotPlace {
    x: f64,
    y: f64,
    layer: usize,
    row: usize,
    rows: usize,
}

/// Every slot's place, the vertical extent of each layer's block, and the drawing's size.
struct Placement {
    slots: HashMap<Slot, SlotPlace>,
    layer_top: Vec<f64>,
    layer_bottom: Vec<f64>,
    width: f64,
    height: f64,
}

/// Coordinates: each layer wrapped into rows no wider than the limit, rows centred.
fn place(order: &[Vec<Slot>], cfg: &LayoutConfig) -> Placement {
    let width_of = |s: &Slot| match s {
        Slot::Real(_) => cfg.node_width,
        Slot::Virtual(..) => cfg.virtual_width,
    };
    // Split every layer into rows.
    let mut rows_per_layer: Vec<Vec<Vec<Slot>>> = Vec::new();
    for row in order {
        let mut rows: Vec<Vec<Slot>> = vec![Vec::new()];
        let mut w = 0.0;
        for s in row {
            let sw = width_of(s);
            let last = rows.len() - 1;
            if !rows[last].is_empty() && w + cfg.h_gap + sw > cfg.max_row_width {
                rows.push(Vec::new());
                w = 0.0;
            }
            w += if w > 0.0 { cfg.h_gap + sw } else { sw };
            let last = rows.len() - 1;
            rows[last].push(*s);
        }
        rows_per_layer.push(rows);
    }
    let row_width = |r: &[Slot]| r.iter().map(width_of).sum::<f64>() + cfg.h_gap * (r.len().saturating_sub(1)) as f64;
    let inner = rows_per_layer.iter().flatten().map(|r| row_width(r)).fold(cfg.node_width, f64::max);
    let mut slots = HashMap::new();
    let (mut layer_top, mut layer_bottom) = (Vec::new(), Vec::new());
    let mut y = cfg.margin;
    for (layer, rows) in rows_per_layer.iter().enumerate() {
        layer_top.push(y);
        for (k, r) in rows.iter().enumerate() {
            if k > 0 {
                y += cfg.node_height + cfg.row_gap;
            }
            // A wrapped layer's rows start at the same left edge (that of its widest row, so
            // that every row fits), so its columns line up (lanes run between them); a single
            // row is centred.
            let mut x = if rows.len() > 1 {
                let widest = rows.iter().map(|r| row_width(r)).fold(0.0, f64::max);
                cfg.margin + (inner - widest) / 2.0
            } else {
                cfg.margin + (inner - row_width(r)) / 2.0
            };
            for s in r {
                slots.insert(*s, SlotPlace { x, y, layer, row: k, rows: rows.len() });
                x += width_of(s) + cfg.h_gap;
            }
        }
        layer_bottom.push(y + cfg.node_height);
        y += cfg.node_height + cfg.layer_gap;
    }
    let height = if order.is_empty() { 2.0 * cfg.margin } else { y - cfg.layer_gap + cfg.margin };
    Placement { slots, layer_top, layer_bottom, width: inner + 2.0 * cfg.margin, height }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// parents by name -> indices.
    fn graph(spec: &[(&str, &[&str])]) -> Vec<Vec<usize>> {
        let idx: HashMap<&str, usize> = spec.iter().enumerate().map(|(i, (n, _))| (*n, i)).collect();
        spec.iter().map(|(_, ps)| ps.iter().map(|p| idx[p]).collect()).collect()
    }

    fn order_fulfillment() -> Vec<Vec<usize>> {
        graph(&[
            ("validate_order", &[]),
            ("reserve_inventory", &["validate_order"]),
            ("charge_payment", &["validate_order"]),
            ("ship_order", &["reserve_inventory", "charge_payment"]),
            ("send_confirmation", &["ship_order"]),
        ])
    }

    fn fan_out(width: usize) -> Vec<Vec<usize>> {
        let mut g = vec![Vec::new()];
        g.extend((0..width).map(|_| vec![0]));
        g.push((1..=width).collect());
        g
    }

    /// A graph whose template order crosses: two chains listed interleaved, plus long edges.
    fn tangled() -> Vec<Vec<usize>> {
        graph(&[
            ("a", &[]),
            ("b", &[]),
            ("a1", &["b"]),
            ("b1", &["a"]),
            ("a2", &["b1"]),
            ("b2", &["a1"]),
            ("z", &["a", "b2", "a2"]),
        ])
    }

    fn check_invariants(parents: &[Vec<usize>], l: &Layout, cfg: &LayoutConfig) {
        assert_eq!(l.nodes.len(), parents.len());
        for (i, a) in l.nodes.iter().enumerate() {
            for b in &l.nodes[i + 1..] {
                let apart = a.x + cfg.node_width <= b.x
                    || b.x + cfg.node_width <= a.x
                    || a.y + cfg.node_height <= b.y
                    || b.y + cfg.node_height <= a.y;
                assert!(apart, "nodes {} and {} overlap: {a:?} {b:?}", a.index, b.index);
            }
            assert!(a.x >= 0.0 && a.y >= 0.0 && a.x + cfg.node_width <= l.width && a.y + cfg.node_height <= l.height);
        }
        let edge_count: usize = parents.iter().map(Vec::len).sum();
        assert_eq!(l.edges.len(), edge_count);
        for e in &l.edges {
            let (p, c) = (&l.nodes[e.from], &l.nodes[e.to]);
            assert!(c.layer > p.layer, "edge {} -> {} does not point down a layer", e.from, e.to);
            assert!(c.y > p.y, "edge {} -> {} is not drawn downwards", e.from, e.to);
            for w in e.points.windows(2) {
                assert!(w[1].1 >= w[0].1, "edge {} -> {} goes up: {:?}", e.from, e.to, e.points);
            }
            let (first, last) = (e.points[0], e.points[e.points.len() - 1]);
            assert!(last.1 > first.1, "edge {} -> {} does not end below its start", e.from, e.to);
        }
        assert!(l.crossings <= l.naive_crossings, "{} crossings > naive {}", l.crossings, l.naive_crossings);
    }

    #[test]
    fn layers_are_longest_paths() {
        assert_eq!(longest_path_layers(&order_fulfillment()), vec![0, 1, 1, 2, 3]);
        assert_eq!(longest_path_layers(&tangled()), vec![0, 0, 1, 1, 2, 2, 3]);
        // A cycle (rejected by template validation) still gets a layer.
        assert_eq!(longest_path_layers(&[vec![1], vec![0], vec![]]), vec![1, 1, 0]);
    }

    #[test]
    fn order_fulfillment_has_no_overlap_no_upward_edge_and_no_crossing() {
        let g = order_fulfillment();
        let l = layout(&g, &DEFAULT_CONFIG);
        check_invariants(&g, &l, &DEFAULT_CONFIG);
        assert_eq!(l.crossings, 0);
    }

    #[test]
    fn a_hundred_wide_fan_out_wraps_and_keeps_every_invariant() {
        let g = fan_out(100);
        let l = layout(&g, &DEFAULT_CONFIG);
        check_invariants(&g, &l, &DEFAULT_CONFIG);
        assert!(l.width <= DEFAULT_CONFIG.max_row_width + 2.0 * DEFAULT_CONFIG.margin, "width {}", l.width);
        let rows: std::collections::BTreeSet<i64> =
            l.nodes.iter().filter(|n| n.layer == 1).map(|n| n.y as i64).collect();
        assert!(rows.len() > 1, "the wide layer should wrap onto several rows");
        assert_eq!(l.crossings, 0);
    }

    #[test]
    fn crossing_reduction_never_does_worse_than_the_template_order_and_untangles_this_one() {
        let g = tangled();
        let l = layout(&g, &DEFAULT_CONFIG);
        check_invariants(&g, &l, &DEFAULT_CONFIG);
        assert!(l.naive_crossings > 0, "the example should start tangled");
        assert!(l.crossings < l.naive_crossings, "{} vs {}", l.crossings, l.naive_crossings);
    }

    #[test]
    fn long_edges_go_through_one_virtual_node_per_layer() {
        let g = tangled();
        let l = layout(&g, &DEFAULT_CONFIG);
        let a_to_z = l.edges.iter().find(|e| e.from == 0 && e.to == 6).expect("edge a -> z");
        assert_eq!(a_to_z.points.len(), 4, "a (layer 0) -> z (layer 3) passes layers 1 and 2");
    }

    #[test]
    fn an_empty_graph_is_an_empty_drawing() {
        let l = layout(&[], &DEFAULT_CONFIG);
        assert!(l.nodes.is_empty() && l.edges.is_empty());
        assert_eq!(l.crossings, 0);
    }

    proptest::proptest! {
        #[test]
        fn random_dags_keep_every_invariant(seed in proptest::collection::vec((0usize..40, 0usize..40), 0..120), n in 1usize..40) {
            // Edges only from lower to higher index: a DAG.
            let mut g: Vec<Vec<usize>> = vec![Vec::new(); n];
            for (a, b) in seed {
                let (a, b) = (a % n, b % n);
                if a < b && !g[b].contains(&a) {
                    g[b].push(a);
                }
            }
            let l = layout(&g, &DEFAULT_CONFIG);
            check_invariants(&g, &l, &DEFAULT_CONFIG);
        }
    }
}
