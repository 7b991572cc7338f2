//! The lateral-movement graph: a deterministic layered layout, drawn as
//! inline SVG.
//!
//! Why this layout: the reader's questions are "where did they come in,
//! where did they go next, and which parts of the network did they not
//! reach". So the picture has
//! * **columns by first contact**: a machine sits one column right of the
//!   machine it was *first* reached from (edges are taken in time order),
//!   so reading left to right follows the attack;
//! * **horizontal lanes by network zone**, in the order the scope lists
//!   them, each with its reached / not-reached / unknown status, so an
//!   isolated zone that was never reached is visibly empty of red and
//!   says so;
//! * machines with no observed link (not reached, or reached by a path
//!   the logs do not show) in a last column of their own, rather than
//!   pretending they were an entry point.
//!
//! Everything is computed from plain input with no randomness and with
//! explicit tie-breaks, so the same scope always gives the same picture
//! (the browser test and the docs screenshot rely on it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use vigie_event::Timestamp;

use crate::html::{escape, escape_truncated};
use crate::text::Voice;
use crate::tone::Tone;

/// A network zone, drawn as a horizontal lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub id: String,
    pub title: String,
    /// Short status word shown in the lane header ("not reached").
    pub status: String,
    pub tone: Tone,
    /// Longer text for the tooltip (the evidence behind the status).
    pub note: String,
}

/// A machine (or an outside address) in the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub label: String,
    /// Second line: role or zone.
    pub detail: String,
    /// [`Lane::id`] of its zone; unknown lanes are added at the bottom.
    pub lane: String,
    pub tone: Tone,
    pub first_seen: Option<Timestamp>,
}

/// One observed movement (or several merged, see [`Edge::count`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// How: `RDP`, `PsExec`, `GPO scheduled task`, `VPN`, ...
    pub method: String,
    pub account: Option<String>,
    pub first: Option<Timestamp>,
    /// How many times this movement was seen.
    pub count: u64,
}

/// Input of the graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub lanes: Vec<Lane>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// At most this many boxes per (lane, column) cell; the rest are folded
/// into one "+N more" box, so that a GPO pushed to 180 workstations stays
/// readable.
pub const MAX_PER_CELL: usize = 5;

/// At most this many hop columns after the entry; deeper machines share
/// the last one ("Hop 8+"). With [`MAX_PER_CELL`], the picture is bounded
/// whatever the scope.
pub const MAX_HOPS: usize = 8;

const NODE_W: f64 = 196.0;
const NODE_H: f64 = 56.0;
const COL_GAP: f64 = 50.0;
const ROW_GAP: f64 = 10.0;
/// Lane title row, above the lane's boxes.
const LANE_HEAD: f64 = 28.0;
const LANE_PAD: f64 = 10.0;
const HEADER_H: f64 = 30.0;
const MARGIN: f64 = 12.0;

/// A drawn box: one node, or several folded into one.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedBox {
    /// Indices into [`Graph::nodes`] (after missing endpoints were added).
    pub nodes: Vec<usize>,
    pub lane: usize,
    pub column: usize,
    pub x: f64,
    pub y: f64,
    pub tone: Tone,
    pub label: String,
    pub detail: String,
    /// How the machine was first reached (`← PsExec · svc_x`), empty for
    /// entry points and unlinked machines.
    pub via: String,
    pub tooltip: String,
}

/// A drawn edge between two boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEdge {
    pub from: usize,
    pub to: usize,
    pub path: String,
    /// `method · account` (shown on the target box when first contact).
    pub label: String,
    /// The movement by which the target was first reached: drawn solid;
    /// later movements are drawn dashed and lighter.
    pub first_contact: bool,
    pub count: u64,
    pub tooltip: String,
}

/// The computed picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Node list actually used (input nodes plus any edge endpoint the
    /// input did not describe, added as "unknown").
    pub nodes: Vec<Node>,
    pub lanes: Vec<Lane>,
    /// Lane top y and height, in lane order.
    pub lane_geometry: Vec<(f64, f64)>,
    /// Column titles, left to right (only non-empty columns).
    pub columns: Vec<String>,
    pub boxes: Vec<PlacedBox>,
    pub edges: Vec<PlacedEdge>,
    pub width: f64,
    pub height: f64,
}

impl Layout {
    /// Column index of the box holding node `id`, if drawn.
    pub fn column_of(&self, id: &str) -> Option<usize> {
        let n = self.nodes.iter().position(|n| n.id == id)?;
        self.boxes
            .iter()
            .find(|b| b.nodes.contains(&n))
            .map(|b| b.column)
    }
}

struct Merged {
    from: usize,
    to: usize,
    methods: Vec<String>,
    accounts: Vec<String>,
    first: Option<Timestamp>,
    count: u64,
    first_contact: bool,
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !s.is_empty() && !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

fn cmp_time(a: &Option<Timestamp>, b: &Option<Timestamp>) -> std::cmp::Ordering {
    // Known times first, in order; unknown last.
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

fn min_time(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Longest tooltip (characters): names come from logs and can be huge.
const TOOLTIP_CHARS: usize = 1000;

/// `a, b, c +N`: the first `max` names of a folded box.
fn clip_list(names: &[&str], max: usize) -> String {
    let mut s = names
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > max {
        let _ = write!(s, " +{}", names.len() - max);
    }
    s
}

/// Cuts a label to `max` characters with an ellipsis (SVG text does not wrap).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Computes the layout. Pure and deterministic.
pub fn layout(graph: &Graph, t: &Voice) -> Layout {
    // 1. Nodes, with any edge endpoint the input forgot added as unknown.
    let mut nodes = graph.nodes.clone();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        index.entry(n.id.clone()).or_insert(i);
    }
    for e in &graph.edges {
        for id in [&e.from, &e.to] {
            if !index.contains_key(id) {
                index.insert(id.clone(), nodes.len());
                nodes.push(Node {
                    id: id.clone(),
                    label: id.clone(),
                    detail: t.unknown.to_string(),
                    lane: String::new(),
                    tone: Tone::Grey,
                    first_seen: None,
                });
            }
        }
    }

    // 2. Lanes, with any lane a node names but the input forgot added last.
    let mut lanes = graph.lanes.clone();
    for n in &nodes {
        if !lanes.iter().any(|l| l.id == n.lane) {
            lanes.push(Lane {
                id: n.lane.clone(),
                title: if n.lane.is_empty() {
                    t.unknown.to_string()
                } else {
                    n.lane.clone()
                },
                status: String::new(),
                tone: Tone::Grey,
                note: String::new(),
            });
        }
    }
    let lane_of: Vec<usize> = nodes
        .iter()
        .map(|n| lanes.iter().position(|l| l.id == n.lane).unwrap_or(0))
        .collect();

    // 3. Parallel edges merged; self-loops are not movements between machines.
    let mut merged: BTreeMap<(usize, usize), Merged> = BTreeMap::new();
    for e in &graph.edges {
        let (from, to) = (index[&e.from], index[&e.to]);
        if from == to {
            continue;
        }
        let m = merged.entry((from, to)).or_insert(Merged {
            from,
            to,
            methods: Vec::new(),
            accounts: Vec::new(),
            first: None,
            count: 0,
            first_contact: false,
        });
        push_unique(&mut m.methods, &e.method);
        if let Some(a) = &e.account {
            push_unique(&mut m.accounts, a);
        }
        m.first = min_time(m.first, e.first);
        m.count += e.count.max(1);
    }
    let mut edges: Vec<Merged> = merged.into_values().collect();
    edges.sort_by(|a, b| {
        cmp_time(&a.first, &b.first)
            .then_with(|| nodes[a.from].id.cmp(&nodes[b.from].id))
            .then_with(|| nodes[a.to].id.cmp(&nodes[b.to].id))
    });

    // 4. Layers by first contact.
    let has_in: BTreeSet<usize> = edges.iter().map(|e| e.to).collect();
    let linked: BTreeSet<usize> = edges.iter().flat_map(|e| [e.from, e.to]).collect();
    let mut layer: Vec<Option<usize>> = vec![None; nodes.len()];
    // Index into `edges` of the movement that first reached each node.
    let mut via: Vec<Option<usize>> = vec![None; nodes.len()];
    for &n in &linked {
        if !has_in.contains(&n) {
            layer[n] = Some(0);
        }
    }
    // Candidate roots for cycles with no root (A→B→A only), earliest
    // activity first; computed once so that many small cycles stay cheap.
    let mut activity: Vec<Option<Timestamp>> = nodes.iter().map(|n| n.first_seen).collect();
    for e in &edges {
        activity[e.from] = min_time(activity[e.from], e.first);
        activity[e.to] = min_time(activity[e.to], e.first);
    }
    let mut roots: Vec<usize> = linked.iter().copied().collect();
    roots.sort_by(|&a, &b| {
        cmp_time(&activity[a], &activity[b]).then_with(|| nodes[a].id.cmp(&nodes[b].id))
    });
    let mut roots = roots.into_iter();
    loop {
        // Edges in time order: a target takes its layer from the earliest
        // edge whose source is already placed. Repeat for edges whose
        // source was placed later in the same pass (clock skew).
        let mut changed = true;
        while changed {
            changed = false;
            for (i, e) in edges.iter().enumerate() {
                if let (Some(l), None) = (layer[e.from], layer[e.to]) {
                    layer[e.to] = Some(l + 1);
                    via[e.to] = Some(i);
                    changed = true;
                }
            }
        }
        // Root the next cycle still unplaced at its earliest node.
        match roots.find(|&n| layer[n].is_none()) {
            Some(n) => layer[n] = Some(0),
            None => break,
        }
    }
    // Hops past MAX_HOPS share the last hop column (folded like any
    // crowded cell): a chain of 20,000 machines is not 20,000 columns.
    for l in layer.iter_mut().flatten() {
        *l = (*l).min(MAX_HOPS);
    }
    let max_layer = layer.iter().flatten().copied().max();
    let unlinked_col = max_layer.map_or(0, |m| m + 1);
    let column: Vec<usize> = layer.iter().map(|l| l.unwrap_or(unlinked_col)).collect();

    // First contact of each node: its earliest incoming edge, else its own time.
    let mut contact: Vec<Option<Timestamp>> = vec![None; nodes.len()];
    for e in &edges {
        contact[e.to] = min_time(contact[e.to], e.first);
    }
    for (c, n) in contact.iter_mut().zip(&nodes) {
        *c = c.or(n.first_seen);
    }

    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, e) in edges.iter().enumerate() {
        incoming[e.to].push(i);
    }

    // 5. Cells, ordered so children sit near their parents.
    let ncols = unlinked_col + 1;
    let mut rank: Vec<usize> = vec![usize::MAX; nodes.len()];
    let mut cells: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for n in 0..nodes.len() {
        cells.entry((column[n], lane_of[n])).or_default().push(n);
    }
    let mut next_rank = 0;
    for col in 0..ncols {
        for lane in 0..lanes.len() {
            let Some(cell) = cells.get_mut(&(col, lane)) else {
                continue;
            };
            let parent_rank = |n: usize| {
                incoming[n]
                    .iter()
                    .map(|&i| edges[i].from)
                    .filter(|&from| column[from] < col)
                    .map(|from| rank[from])
                    .min()
                    .unwrap_or(usize::MAX)
            };
            let mut keyed: Vec<(usize, usize)> =
                cell.iter().map(|&n| (parent_rank(n), n)).collect();
            keyed.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| cmp_time(&contact[a.1], &contact[b.1]))
                    .then_with(|| nodes[a.1].label.cmp(&nodes[b.1].label))
                    .then_with(|| nodes[a.1].id.cmp(&nodes[b.1].id))
            });
            *cell = keyed.into_iter().map(|(_, n)| n).collect();
            for &n in cell.iter() {
                rank[n] = next_rank;
                next_rank += 1;
            }
        }
    }

    // 6. Boxes (folding crowded cells), column compaction, geometry.
    let used_cols: Vec<usize> = (0..ncols)
        .filter(|c| cells.keys().any(|(col, _)| col == c))
        .collect();
    let col_pos = |c: usize| used_cols.iter().position(|&u| u == c).unwrap_or(0);
    let mut rows_in_lane = vec![0usize; lanes.len()];
    for ((_, lane), cell) in &cells {
        rows_in_lane[*lane] = rows_in_lane[*lane].max(cell.len().min(MAX_PER_CELL));
    }
    let mut lane_geometry = Vec::with_capacity(lanes.len());
    let mut y = MARGIN + HEADER_H;
    for &rows in &rows_in_lane {
        let rows = rows.max(1) as f64;
        let h = LANE_HEAD + LANE_PAD + rows * NODE_H + (rows - 1.0) * ROW_GAP;
        lane_geometry.push((y, h));
        y += h;
    }
    let height = y + MARGIN;
    let col_x = |c: usize| MARGIN + 12.0 + col_pos(c) as f64 * (NODE_W + COL_GAP);
    let width = (col_x(*used_cols.last().unwrap_or(&0)) + NODE_W + 12.0 + MARGIN).max(720.0);
    let via_label = |n: usize| {
        via[n]
            .map(|i| format!("← {}", edge_label(&edges[i], t)))
            .unwrap_or_default()
    };

    let mut boxes: Vec<PlacedBox> = Vec::new();
    let mut box_of: Vec<usize> = vec![usize::MAX; nodes.len()];
    for (&(col, lane), cell) in &cells {
        let shown = if cell.len() > MAX_PER_CELL {
            MAX_PER_CELL - 1
        } else {
            cell.len()
        };
        let mut groups: Vec<Vec<usize>> = cell[..shown].iter().map(|&n| vec![n]).collect();
        if shown < cell.len() {
            groups.push(cell[shown..].to_vec());
        }
        for (row, group) in groups.into_iter().enumerate() {
            let x = col_x(col);
            let y = lane_geometry[lane].0 + LANE_HEAD + row as f64 * (NODE_H + ROW_GAP);
            let tone = group
                .iter()
                .fold(nodes[group[0]].tone, |a, &n| a.worst(nodes[n].tone));
            let (label, detail, tooltip) = if group.len() == 1 {
                let n = &nodes[group[0]];
                let mut tip = format!("{} — {}", n.label, n.detail);
                if let Some(c) = contact[group[0]] {
                    let _ = write!(tip, "\n{}: {}", t.c_first, t.long_time(&c));
                }
                if let Some(i) = via[group[0]] {
                    let _ = write!(
                        tip,
                        "\n{}: {} → {}",
                        t.g_hop,
                        nodes[edges[i].from].label,
                        edge_label(&edges[i], t)
                    );
                }
                (n.label.clone(), n.detail.clone(), tip)
            } else {
                let names: Vec<&str> = group.iter().map(|&n| nodes[n].label.as_str()).collect();
                (
                    format!("+{} {}", group.len(), t.g_more),
                    clip(&names.join(", "), 40),
                    clip_list(&names, 40),
                )
            };
            let vias: Vec<String> = group.iter().map(|&n| via_label(n)).collect();
            let via = if vias.iter().all(|v| v == &vias[0]) {
                vias[0].clone()
            } else {
                format!("{} …", vias[0])
            };
            for &n in &group {
                box_of[n] = boxes.len();
            }
            boxes.push(PlacedBox {
                nodes: group,
                lane,
                column: col_pos(col),
                x,
                y,
                tone,
                label,
                detail,
                via,
                tooltip,
            });
        }
    }

    // 7. Edges between boxes (merging again where folding made duplicates).
    let mut box_edges: BTreeMap<(usize, usize), Merged> = BTreeMap::new();
    for (i, e) in edges.iter().enumerate() {
        let (from, to) = (box_of[e.from], box_of[e.to]);
        if from == to {
            continue;
        }
        let m = box_edges.entry((from, to)).or_insert(Merged {
            from,
            to,
            methods: Vec::new(),
            accounts: Vec::new(),
            first: None,
            count: 0,
            first_contact: false,
        });
        m.first_contact |= via[e.to] == Some(i);
        for s in &e.methods {
            push_unique(&mut m.methods, s);
        }
        for s in &e.accounts {
            push_unique(&mut m.accounts, s);
        }
        m.first = min_time(m.first, e.first);
        m.count += e.count;
    }
    let placed: Vec<PlacedEdge> = box_edges
        .values()
        .map(|m| place_edge(m, &boxes, t))
        .collect();

    let columns = used_cols
        .iter()
        .map(|&c| {
            if c == unlinked_col && layer.iter().any(Option::is_none) {
                t.g_unlinked.to_string()
            } else if c == 0 {
                t.g_entry.to_string()
            } else {
                let first = (0..nodes.len())
                    .filter(|&n| column[n] == c)
                    .fold(None, |acc, n| min_time(acc, contact[n]));
                match first {
                    Some(f) if c < MAX_HOPS => format!("{} {} · {}", t.g_hop, c, t.short_time(&f)),
                    _ if c == MAX_HOPS => format!("{} {}+", t.g_hop, c),
                    _ => format!("{} {}", t.g_hop, c),
                }
            }
        })
        .collect();

    Layout {
        nodes,
        lanes,
        lane_geometry,
        columns,
        boxes,
        edges: placed,
        width,
        height,
    }
}

/// `PsExec · svc_sauvegarde` (methods and accounts merged).
fn edge_label(m: &Merged, t: &Voice) -> String {
    let mut label = m.methods.join(" / ");
    if label.is_empty() {
        label = t.unknown.to_string();
    }
    if !m.accounts.is_empty() {
        let _ = write!(label, " · {}", m.accounts.join(", "));
    }
    label
}

fn place_edge(m: &Merged, boxes: &[PlacedBox], t: &Voice) -> PlacedEdge {
    let (a, b) = (&boxes[m.from], &boxes[m.to]);
    let label = edge_label(m, t);
    let mut tooltip = format!("{} → {}\n{}", a.label, b.label, label);
    if let Some(f) = m.first {
        let _ = write!(tooltip, "\n{}", t.long_time(&f));
    }
    if m.count > 1 {
        let _ = write!(tooltip, "  ×{}", m.count);
    }
    let path = if b.column > a.column {
        // Forward: right side to left side.
        let (x1, y1) = (a.x + NODE_W, a.y + NODE_H / 2.0);
        let (x2, y2) = (b.x - 4.0, b.y + NODE_H / 2.0);
        let d = ((x2 - x1) / 2.0).clamp(20.0, COL_GAP);
        format!(
            "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
            x1 + d,
            x2 - d
        )
    } else {
        // Same column or backwards (reached again from a later machine):
        // an arc over the boxes' right edges, so it does not cross them.
        let (x1, y1) = (a.x + NODE_W, a.y + NODE_H / 2.0);
        let (x2, y2) = (b.x + NODE_W + 4.0, b.y + NODE_H / 2.0);
        let bulge = x1.max(x2) + COL_GAP * 0.7;
        format!("M{x1:.1},{y1:.1} C{bulge:.1},{y1:.1} {bulge:.1},{y2:.1} {x2:.1},{y2:.1}")
    };
    PlacedEdge {
        from: m.from,
        to: m.to,
        path,
        label,
        first_contact: m.first_contact,
        count: m.count,
        tooltip,
    }
}

/// Renders the graph as an inline `<svg>` element.
pub fn render(graph: &Graph, t: &Voice) -> String {
    let l = layout(graph, t);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" role="img" aria-label="{aria}" font-family="inherit">"#,
        w = l.width,
        h = l.height,
        aria = escape(t.s_graph)
    );
    s.push_str(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#344054"/></marker><marker id="arrow-light" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#98a2b3"/></marker></defs>"##,
    );
    // Lanes: a band per zone, its name and status on its top row.
    for (i, (lane, &(y, h))) in l.lanes.iter().zip(&l.lane_geometry).enumerate() {
        let fill = if i % 2 == 0 { "#f9fafb" } else { "#ffffff" };
        let title = clip(&lane.title, 40);
        let _ = write!(
            s,
            r##"<g class="lane" data-zone="{id}"><title>{tip}</title><rect x="{x}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}" stroke="#eaecf0"/><rect x="{x}" y="{y:.1}" width="4" height="{h:.1}" fill="{c}"/><text x="{tx}" y="{ty:.1}" font-size="12.5" font-weight="700" fill="#344054">{title}</text>"##,
            id = escape(&lane.id),
            tip = escape_truncated(
                &format!("{} — {}\n{}", lane.title, lane.status, lane.note),
                TOOLTIP_CHARS
            ),
            x = MARGIN,
            w = l.width - 2.0 * MARGIN,
            c = lane.tone.strong(),
            tx = MARGIN + 12.0,
            ty = y + 18.0,
            title = escape(&title),
        );
        if !lane.status.is_empty() {
            let label = clip(&lane.status, 24);
            let px = MARGIN + 12.0 + title.chars().count() as f64 * 7.4 + 10.0;
            let pw = label.chars().count() as f64 * 6.2 + 14.0;
            let _ = write!(
                s,
                r##"<rect x="{px:.1}" y="{py:.1}" rx="8" width="{pw:.1}" height="16" fill="{tint}" stroke="{c}"/><text x="{tx:.1}" y="{ty:.1}" font-size="10.5" font-weight="700" fill="{c}">{label}</text>"##,
                py = y + 6.0,
                tint = lane.tone.tint(),
                c = lane.tone.strong(),
                tx = px + 7.0,
                ty = y + 17.5,
                label = escape(&label),
            );
        }
        s.push_str("</g>");
    }
    // Column headers.
    for (c, title) in l.columns.iter().enumerate() {
        let x = MARGIN + 12.0 + c as f64 * (NODE_W + COL_GAP);
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{y:.1}" font-size="12" font-weight="700" fill="#475467">{}</text>"##,
            escape(title),
            y = MARGIN + 18.0
        );
    }
    // Later movements first (dashed, light), then first contacts on top.
    for first in [false, true] {
        for e in l.edges.iter().filter(|e| e.first_contact == first) {
            let style = if first {
                r##"stroke="#344054" stroke-width="1.6" marker-end="url(#arrow)""##
            } else {
                r##"stroke="#98a2b3" stroke-width="1.2" stroke-dasharray="5 4" marker-end="url(#arrow-light)""##
            };
            let _ = write!(
                s,
                r##"<path class="edge" d="{}" fill="none" {style}><title>{}</title></path>"##,
                e.path,
                escape_truncated(&e.tooltip, TOOLTIP_CHARS)
            );
        }
    }
    // Boxes.
    for b in &l.boxes {
        let dashed = if matches!(b.tone, Tone::Green | Tone::Grey) {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        // The hosts a box stands for (tests and scripts find boxes by it),
        // bounded like everything else that comes from logs.
        let ids: Vec<String> = b
            .nodes
            .iter()
            .take(40)
            .map(|&n| clip(&l.nodes[n].id, 200))
            .collect();
        let _ = write!(
            s,
            r##"<g class="node {cls}" data-host="{id}"><title>{tip}</title><rect x="{x:.1}" y="{y:.1}" width="{w}" height="{h}" rx="6" fill="{tint}" stroke="{c}" stroke-width="1.3"{dashed}/><rect x="{x:.1}" y="{y:.1}" width="5" height="{h}" rx="2" fill="{c}"/><text x="{tx:.1}" y="{ty1:.1}" font-size="13" font-weight="700" fill="#101828">{label}</text><text x="{tx:.1}" y="{ty2:.1}" font-size="10.5" fill="#475467">{detail}</text>"##,
            cls = b.tone.class(),
            id = escape(&ids.join(" ")),
            tip = escape_truncated(&b.tooltip, TOOLTIP_CHARS),
            x = b.x,
            y = b.y,
            w = NODE_W,
            h = NODE_H,
            tint = b.tone.tint(),
            c = b.tone.strong(),
            tx = b.x + 12.0,
            ty1 = b.y + 18.0,
            ty2 = b.y + 33.0,
            label = escape(&clip(&b.label, 22)),
            detail = escape(&clip(&b.detail, 32)),
        );
        if !b.via.is_empty() {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#344054" font-weight="600">{}</text>"##,
                b.x + 12.0,
                b.y + 48.0,
                escape(&clip(&b.via, 31))
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Voice;
    use vigie_lang::{Lang, Zone};

    fn en() -> Voice {
        Voice::new(Lang::En, Zone::Utc)
    }
    use chrono::{TimeZone, Utc};

    fn at(d: u32, h: u32) -> Option<Timestamp> {
        Some(Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap())
    }
    fn node(id: &str, lane: &str, tone: Tone) -> Node {
        Node {
            id: id.into(),
            label: id.into(),
            detail: String::new(),
            lane: lane.into(),
            tone,
            first_seen: None,
        }
    }
    fn edge(from: &str, to: &str, method: &str, first: Option<Timestamp>) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            method: method.into(),
            account: Some("presta.maint".into()),
            first,
            count: 1,
        }
    }
    fn lane(id: &str) -> Lane {
        Lane {
            id: id.into(),
            title: id.into(),
            status: String::new(),
            tone: Tone::Red,
            note: String::new(),
        }
    }

    #[test]
    fn columns_follow_first_contact_not_later_contacts() {
        let g = Graph {
            lanes: vec![lane("ext"), lane("servers"), lane("core"), lane("isolated")],
            nodes: vec![
                node("203.0.113.45", "ext", Tone::External),
                node("SRV-RDS01", "servers", Tone::Red),
                node("DC01", "core", Tone::Red),
                node("SRV-FIC01", "servers", Tone::Red),
                node("TES-01", "isolated", Tone::Green),
            ],
            edges: vec![
                edge("203.0.113.45", "SRV-RDS01", "VPN+RDP", at(8, 2)),
                edge("SRV-RDS01", "DC01", "RDP", at(10, 3)),
                // DC01 later touches FIC01, but FIC01 was first reached from RDS01.
                edge("DC01", "SRV-FIC01", "GPO", at(14, 0)),
                edge("SRV-RDS01", "SRV-FIC01", "PsExec", at(11, 9)),
            ],
        };
        let l = layout(&g, &en());
        assert_eq!(l.column_of("203.0.113.45"), Some(0));
        assert_eq!(l.column_of("SRV-RDS01"), Some(1));
        assert_eq!(l.column_of("DC01"), Some(2));
        assert_eq!(l.column_of("SRV-FIC01"), Some(2));
        // Unlinked machine in its own last column, titled as such.
        assert_eq!(l.column_of("TES-01"), Some(3));
        assert_eq!(l.columns[3], en().g_unlinked);
        assert_eq!(l.columns[0], en().g_entry);
        assert!(
            l.columns[1].contains("2026-03-08 02:00 UTC"),
            "{:?}",
            l.columns
        );
        // Deterministic.
        assert_eq!(l, layout(&g, &en()));
    }

    #[test]
    fn crowded_cells_are_folded_and_edges_merged() {
        let mut g = Graph {
            lanes: vec![lane("core"), lane("ws")],
            nodes: vec![node("DC01", "core", Tone::Red)],
            edges: vec![],
        };
        for i in 0..40 {
            let id = format!("PC-ACCUEIL-{i:02}");
            g.nodes.push(node(&id, "ws", Tone::Red));
            g.edges
                .push(edge("DC01", &id, "GPO scheduled task", at(14, 0)));
        }
        let l = layout(&g, &en());
        let in_ws: Vec<&PlacedBox> = l.boxes.iter().filter(|b| b.lane == 1).collect();
        assert_eq!(in_ws.len(), MAX_PER_CELL);
        let folded = in_ws.iter().find(|b| b.nodes.len() > 1).unwrap();
        assert_eq!(folded.nodes.len(), 40 - (MAX_PER_CELL - 1));
        assert_eq!(folded.label, format!("+{} more", 40 - (MAX_PER_CELL - 1)));
        // One drawn edge per box, the folded one counting every movement.
        assert_eq!(l.edges.len(), MAX_PER_CELL);
        let into_folded = l
            .edges
            .iter()
            .find(|e| l.boxes[e.to].nodes.len() > 1)
            .unwrap();
        assert_eq!(into_folded.count, 40 - (MAX_PER_CELL as u64 - 1));
        assert!(into_folded.first_contact);
        assert_eq!(
            l.boxes[into_folded.to].via,
            "← GPO scheduled task · presta.maint"
        );
    }

    #[test]
    fn unknown_endpoints_and_cycles_are_still_drawn() {
        let g = Graph {
            lanes: vec![lane("servers")],
            nodes: vec![node("A", "servers", Tone::Red)],
            edges: vec![
                edge("A", "B", "SMB", at(9, 1)),
                edge("B", "A", "SMB", at(9, 2)),
                edge("A", "A", "local", at(9, 3)),
            ],
        };
        let l = layout(&g, &en());
        assert_eq!(l.nodes.len(), 2);
        assert_eq!(l.nodes[1].tone, Tone::Grey);
        assert_eq!(l.column_of("A"), Some(0));
        assert_eq!(l.column_of("B"), Some(1));
        assert_eq!(l.edges.len(), 2, "self-loop is not a movement");
        // The back edge B→A is a later movement, drawn as an arc.
        let back = l
            .edges
            .iter()
            .find(|e| l.boxes[e.from].label == "B")
            .unwrap();
        assert!(!back.first_contact);
        let fwd = l
            .edges
            .iter()
            .find(|e| l.boxes[e.from].label == "A")
            .unwrap();
        assert!(fwd.first_contact);
        assert_eq!(l.boxes[fwd.to].via, "← SMB · presta.maint");
        assert_eq!(l.boxes[fwd.from].via, "");
    }

    #[test]
    fn large_graphs_with_many_rootless_cycles_lay_out_quickly() {
        let mut g = Graph {
            lanes: vec![lane("ws")],
            ..Graph::default()
        };
        for i in 0..1000 {
            let (a, b) = (format!("PC-{i:04}-A"), format!("PC-{i:04}-B"));
            g.nodes.push(node(&a, "ws", Tone::Red));
            g.nodes.push(node(&b, "ws", Tone::Red));
            g.edges.push(edge(&a, &b, "SMB", at(9, 1)));
            g.edges.push(edge(&b, &a, "SMB", at(9, 2)));
        }
        let start = std::time::Instant::now();
        let l = layout(&g, &en());
        // Every pair rooted at its earlier node (A, by time), B one hop right.
        assert_eq!(l.column_of("PC-0999-A"), Some(0));
        assert_eq!(l.column_of("PC-0999-B"), Some(1));
        assert!(l.boxes.len() <= 2 * MAX_PER_CELL);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn long_chains_share_the_last_hop_column() {
        let mut g = Graph {
            lanes: vec![lane("ws")],
            ..Graph::default()
        };
        for i in 0..2000 {
            g.nodes.push(node(&format!("PC-{i:04}"), "ws", Tone::Red));
            g.edges.push(edge(
                &format!("PC-{i:04}"),
                &format!("PC-{:04}", i + 1),
                "SMB",
                at(9, 1),
            ));
        }
        let l = layout(&g, &en());
        assert_eq!(l.column_of("PC-0000"), Some(0));
        assert_eq!(l.column_of("PC-1999"), Some(MAX_HOPS));
        assert_eq!(l.columns.len(), MAX_HOPS + 1);
        assert_eq!(l.columns[MAX_HOPS], format!("Hop {MAX_HOPS}+"));
        assert!(l.boxes.len() <= (MAX_HOPS + 1) * MAX_PER_CELL);
        assert!(render(&g, &en()).len() < 100_000);
    }

    #[test]
    fn svg_escapes_hostile_labels() {
        let g = Graph {
            lanes: vec![lane("<z>")],
            nodes: vec![node("<script>alert(1)</script>", "<z>", Tone::Red)],
            edges: vec![edge(
                "\"><img src=x onerror=alert(1)>",
                "<script>alert(1)</script>",
                "<b>",
                at(9, 1),
            )],
        };
        let svg = render(&g, &en());
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("<img"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;"));
    }
}
