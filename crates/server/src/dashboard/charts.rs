//! Charts as inline SVG and the tables they show.
//!
//! Every chart is drawn from a [`Table`] and rendered followed by it (in a
//! disclosure), so what the picture says is also there as text for screen
//! readers, for copying and as CSV. Colours are SVG presentation attributes
//! (not inline styles, which the Content-Security-Policy forbids).

use maud::{Markup, html};
use ntsb_model::query::BreakdownRow;

use super::text::{Text, int, pct};

/// One cell of a table.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    /// Text from the data.
    Text(String),
    /// Text linking to a view (href, text).
    Link(String, String),
    /// A count.
    Int(u64),
    /// A share in 0..=1.
    Rate(f64),
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(t) | Cell::Link(_, t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Rate(x) => format!("{x:.6}"),
        }
    }
}

/// A table of a page: shown under its chart and downloadable as CSV.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// Identifier within the page (`table=ID` downloads it).
    pub id: &'static str,
    /// What it shows.
    pub caption: String,
    /// Column headings.
    pub columns: Vec<&'static str>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The table as HTML.
    pub fn render(&self) -> Markup {
        html! {
            div.table-wrap tabindex="0" role="region" aria-label=(self.caption) {
                table id=(format!("table-{}", self.id)) {
                    caption { (self.caption) }
                    thead { tr { @for c in &self.columns { th scope="col" { (c) } } } }
                    tbody {
                        @for row in &self.rows {
                            tr {
                                @for (i, cell) in row.iter().enumerate() {
                                    @let numeric = matches!(cell, Cell::Int(_) | Cell::Rate(_));
                                    @if i == 0 {
                                        th scope="row" { (cell_html(cell)) }
                                    } @else if numeric {
                                        td.num { (cell_html(cell)) }
                                    } @else {
                                        td { (cell_html(cell)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The table as CSV (RFC 4180, header row first).
    pub fn csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| c.to_string()).collect();
        crate::csv::write_record(&mut out, &header);
        for row in &self.rows {
            crate::csv::write_record(&mut out, &row.iter().map(Cell::csv).collect::<Vec<_>>());
        }
        out
    }
}

fn cell_html(cell: &Cell) -> Markup {
    match cell {
        Cell::Text(t) => html! { (Text(t)) },
        Cell::Link(href, t) => html! { a href=(href) { (Text(t)) } },
        Cell::Int(n) => html! { data value=(n) { (int(*n)) } },
        Cell::Rate(x) => html! { data value=(format!("{x:.6}")) { (pct(*x)) } },
    }
}

/// Columns of a breakdown table after its key column.
pub(crate) const BREAKDOWN_COLUMNS: [&str; 7] =
    ["events", "fatal events", "fatal rate", "95% low", "95% high", "fatalities", "serious injuries"];

/// A breakdown as a table; `link` gives each key's view (a filter on it).
pub(crate) fn breakdown_table(
    id: &'static str,
    caption: impl Into<String>,
    key: &'static str,
    rows: &[BreakdownRow],
    label: impl Fn(&BreakdownRow) -> String,
    link: Option<&dyn Fn(&BreakdownRow) -> String>,
) -> Table {
    let mut columns = vec![key];
    columns.extend(BREAKDOWN_COLUMNS);
    Table {
        id,
        caption: caption.into(),
        columns,
        rows: rows
            .iter()
            .map(|r| {
                let name = label(r);
                vec![
                    match link {
                        Some(f) => Cell::Link(f(r), name),
                        None => Cell::Text(name),
                    },
                    Cell::Int(r.events),
                    Cell::Int(r.fatal_events),
                    Cell::Rate(r.fatal_rate),
                    Cell::Rate(r.fatal_rate_ci95[0]),
                    Cell::Rate(r.fatal_rate_ci95[1]),
                    Cell::Int(r.fatalities),
                    Cell::Int(r.serious_injuries),
                ]
            })
            .collect(),
    }
}

/// A figure: the chart, its caption and its table in a disclosure.
pub(crate) fn figure(title: &str, chart: Markup, table: &Table, csv_href: &str) -> Markup {
    html! {
        figure.chart {
            figcaption { h3 { (title) } }
            (chart)
            details {
                summary { "Table: " (title) }
                (table.render())
                p { a href=(csv_href) download { "Download this table (CSV)" } }
            }
        }
    }
}

/// Colours (WCAG AA against white for text; bars are decoration of the numbers beside them).
pub(crate) const BLUE: &str = "#1f5f99";
/// Fatal share.
pub(crate) const RED: &str = "#b42318";
/// Interval band.
const BAND: &str = "#f4c7c3";
const GRID: &str = "#d0d5dd";
const INK: &str = "#1d2939";

/// One bar of a ranked chart.
pub(crate) struct Bar {
    /// Label.
    pub label: String,
    /// Length.
    pub value: u64,
    /// Part of it drawn in red (fatal events), if any.
    pub part: Option<u64>,
    /// Where the bar leads.
    pub href: Option<String>,
}

/// Horizontal bars, longest first as given, labels at the left.
pub(crate) fn bars(id: &str, title: &str, items: &[Bar]) -> Markup {
    const W: f64 = 640.0;
    const LABEL: f64 = 170.0;
    const ROW: f64 = 22.0;
    let max = items.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let span = W - LABEL - 70.0;
    let h = ROW * items.len() as f64 + 8.0;
    let title_id = format!("{id}-title");
    // An image's content is presentational: bars that are links make the chart a group instead
    // (axe-core: nested-interactive), each link named by its title.
    let role = if items.iter().any(|b| b.href.is_some()) { "group" } else { "img" };
    html! {
        svg.bars id=(id) viewBox=(format!("0 0 {W} {h}")) role=(role) aria-labelledby=(title_id) preserveAspectRatio="xMinYMin meet" {
            title id=(title_id) { (title) }
            @for (i, b) in items.iter().enumerate() {
                @let y = 4.0 + ROW * i as f64;
                @let len = (b.value as f64 / max * span).max(if b.value > 0 { 1.0 } else { 0.0 });
                @let part = b.part.map(|p| p as f64 / max * span);
                @let body = html! {
                    text x=(LABEL - 6.0) y=(y + 15.0) text-anchor="end" fill=(INK) { (Text(&shorten(&b.label, 24))) }
                    rect x=(LABEL) y=(y + 3.0) width=(fmt(len)) height="15" fill=(BLUE) {}
                    @if let Some(p) = part { rect x=(LABEL) y=(y + 3.0) width=(fmt(p)) height="15" fill=(RED) {} }
                    text x=(fmt(LABEL + len + 5.0)) y=(y + 15.0) fill=(INK) { (int(b.value)) }
                };
                @match &b.href {
                    Some(href) => a href=(href) { title { (Text(&b.label)) ": " (int(b.value)) " events" } (body) },
                    None => g { title { (Text(&b.label)) ": " (int(b.value)) } (body) },
                }
            }
        }
    }
}

/// Fill of a heat map cell by its share of the largest cell (a sequential blue
/// scale), and whether its number is written in white.
fn heat(share: f64) -> (&'static str, bool) {
    const STEPS: [&str; 6] = ["#eaf2fa", "#c6dbef", "#9ecae1", "#2f6fa8", "#1f5f99", "#0b3766"];
    let i = ((share * STEPS.len() as f64).ceil() as usize).clamp(1, STEPS.len()) - 1;
    (STEPS[i], i >= 3)
}

/// A heat map: one row per `rows` label, one column per `cols` label, the
/// count of each (row, column) in `value` (absent: 0), darker for more.
pub(crate) fn heat_map(
    id: &str,
    title: &str,
    rows: &[String],
    cols: &[String],
    value: impl Fn(usize, usize) -> u64,
) -> Markup {
    const LABEL: f64 = 220.0;
    const HEAD: f64 = 70.0;
    const CELL_H: f64 = 24.0;
    let cell_w = ((PLOT_W - LABEL - 10.0) / cols.len().max(1) as f64).min(70.0);
    let w = LABEL + cell_w * cols.len() as f64 + 60.0; // room for the last slanted heading
    let h = HEAD + CELL_H * rows.len() as f64 + 6.0;
    let max = (0..rows.len()).flat_map(|r| (0..cols.len()).map(move |c| (r, c))).map(|(r, c)| value(r, c)).max();
    let max = max.unwrap_or(0).max(1) as f64;
    let title_id = format!("{id}-title");
    html! {
        svg.heat id=(id) viewBox=(format!("0 0 {} {}", fmt(w), fmt(h))) role="img" aria-labelledby=(title_id) preserveAspectRatio="xMinYMin meet" {
            title id=(title_id) { (title) }
            @for (c, col) in cols.iter().enumerate() {
                @let x = LABEL + cell_w * (c as f64 + 0.5);
                text x=(fmt(x)) y=(fmt(HEAD - 6.0)) fill=(INK) text-anchor="start"
                    transform=(format!("rotate(-45 {} {})", fmt(x), fmt(HEAD - 6.0))) { (Text(&shorten(col, 12))) }
            }
            @for (r, row) in rows.iter().enumerate() {
                @let y = HEAD + CELL_H * r as f64;
                text x=(LABEL - 6.0) y=(fmt(y + 16.0)) text-anchor="end" fill=(INK) { (Text(&shorten(row, 30))) }
                @for (c, col) in cols.iter().enumerate() {
                    @let n = value(r, c);
                    @let x = LABEL + cell_w * c as f64;
                    g {
                        title { (Text(row)) ", " (Text(col)) ": " (int(n)) " events" }
                        @if n == 0 {
                            rect x=(fmt(x + 1.0)) y=(fmt(y + 1.0)) width=(fmt(cell_w - 2.0)) height=(fmt(CELL_H - 2.0)) fill="#ffffff" stroke=(GRID) {}
                        } @else {
                            @let (fill, light) = heat(n as f64 / max);
                            rect x=(fmt(x + 1.0)) y=(fmt(y + 1.0)) width=(fmt(cell_w - 2.0)) height=(fmt(CELL_H - 2.0)) fill=(fill) {}
                            text x=(fmt(x + cell_w / 2.0)) y=(fmt(y + 16.0)) text-anchor="middle" font-size="11"
                                fill=(if light { "#ffffff" } else { INK }) { (int(n)) }
                        }
                    }
                }
            }
        }
    }
}

/// One point of a time series.
pub(crate) struct Point {
    /// Label of the period (`2010`, `Jan`).
    pub label: String,
    /// Events.
    pub events: u64,
    /// Fatal events.
    pub fatal: u64,
    /// Fatal rate and its 95% interval.
    pub rate: (f64, f64, f64),
}

impl Point {
    /// A point from a breakdown row, labelled `label`.
    pub fn of(label: String, r: &BreakdownRow) -> Point {
        Point {
            label,
            events: r.events,
            fatal: r.fatal_events,
            rate: (r.fatal_rate, r.fatal_rate_ci95[0], r.fatal_rate_ci95[1]),
        }
    }
}

const PLOT_W: f64 = 800.0;
const PLOT_H: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 26.0;
const TOP: f64 = 10.0;

/// Event counts per period as columns (fatal events in red inside them).
pub(crate) fn columns(id: &str, title: &str, points: &[Point]) -> Markup {
    let max = nice_max(points.iter().map(|p| p.events).max().unwrap_or(0) as f64);
    let n = points.len().max(1) as f64;
    let step = (PLOT_W - LEFT - 10.0) / n;
    let y = |v: f64| TOP + (PLOT_H - TOP - BOTTOM) * (1.0 - v / max);
    let title_id = format!("{id}-title");
    html! {
        svg.plot id=(id) viewBox=(format!("0 0 {PLOT_W} {PLOT_H}")) role="img" aria-labelledby=(title_id) {
            title id=(title_id) { (title) }
            (y_axis(max, false))
            @for (i, p) in points.iter().enumerate() {
                @let x = LEFT + step * i as f64;
                g {
                    title { (Text(&p.label)) ": " (int(p.events)) " events, " (int(p.fatal)) " fatal" }
                    rect x=(fmt(x + step * 0.1)) y=(fmt(y(p.events as f64))) width=(fmt(step * 0.8))
                        height=(fmt(y(0.0) - y(p.events as f64))) fill=(BLUE) {}
                    rect x=(fmt(x + step * 0.1)) y=(fmt(y(p.fatal as f64))) width=(fmt(step * 0.8))
                        height=(fmt(y(0.0) - y(p.fatal as f64))) fill=(RED) {}
                }
            }
            (x_labels(points, step))
        }
    }
}

/// The fatal rate per period as a line with its 95% interval as a band.
pub(crate) fn rate_band(id: &str, title: &str, points: &[Point]) -> Markup {
    let max = nice_max(points.iter().map(|p| p.rate.2).fold(0.0, f64::max).max(0.01));
    let n = points.len().max(1) as f64;
    let step = (PLOT_W - LEFT - 10.0) / n;
    let x = |i: usize| LEFT + step * (i as f64 + 0.5);
    let y = |v: f64| TOP + (PLOT_H - TOP - BOTTOM) * (1.0 - v / max);
    let shown: Vec<(usize, &Point)> = points.iter().enumerate().filter(|(_, p)| p.events > 0).collect();
    let mut band = String::new();
    for (i, p) in &shown {
        band.push_str(&format!("{},{} ", fmt(x(*i)), fmt(y(p.rate.2))));
    }
    for (i, p) in shown.iter().rev() {
        band.push_str(&format!("{},{} ", fmt(x(*i)), fmt(y(p.rate.1))));
    }
    let line: Vec<String> = shown.iter().map(|(i, p)| format!("{},{}", fmt(x(*i)), fmt(y(p.rate.0)))).collect();
    let title_id = format!("{id}-title");
    html! {
        svg.plot id=(id) viewBox=(format!("0 0 {PLOT_W} {PLOT_H}")) role="img" aria-labelledby=(title_id) {
            title id=(title_id) { (title) }
            (y_axis(max, true))
            polygon points=(band.trim_end()) fill=(BAND) {}
            polyline points=(line.join(" ")) fill="none" stroke=(RED) stroke-width="2" {}
            @for (i, p) in &shown {
                circle cx=(fmt(x(*i))) cy=(fmt(y(p.rate.0))) r="3" fill=(RED) {
                    title { (Text(&p.label)) ": " (pct(p.rate.0)) " (95% " (pct(p.rate.1)) "–" (pct(p.rate.2)) ")" }
                }
            }
            (x_labels(points, step))
        }
    }
}

/// One series of a comparison: its name, colour, and per label the value with
/// its 95% interval (`None` where the series has no event).
pub(crate) struct Series {
    /// Name in the legend (`A`, `B`).
    pub name: String,
    /// Line and band colour.
    pub colour: &'static str,
    /// (value, low, high) per label of the chart.
    pub values: Vec<Option<(f64, f64, f64)>>,
}

/// Colours of the two sets of a comparison (AA against white).
pub(crate) const SERIES: [&str; 2] = [BLUE, "#a1420b"];

/// Several series over the same labels, each a line with its 95% interval as a
/// translucent band (drawn where low < high), shares when `percent`.
pub(crate) fn lines(id: &str, title: &str, labels: &[String], series: &[Series], percent: bool) -> Markup {
    let top = series.iter().flat_map(|s| s.values.iter().flatten().map(|v| v.2.max(v.0))).fold(0.0, f64::max);
    let max = nice_max(if percent { top.max(0.01) } else { top });
    let n = labels.len().max(1) as f64;
    let step = (PLOT_W - LEFT - 10.0) / n;
    let x = |i: usize| LEFT + step * (i as f64 + 0.5);
    let y = |v: f64| TOP + (PLOT_H - TOP - BOTTOM) * (1.0 - v / max);
    let points: Vec<Point> =
        labels.iter().map(|l| Point { label: l.clone(), events: 0, fatal: 0, rate: (0.0, 0.0, 0.0) }).collect();
    let title_id = format!("{id}-title");
    html! {
        svg.plot id=(id) viewBox=(format!("0 0 {PLOT_W} {PLOT_H}")) role="img" aria-labelledby=(title_id) {
            title id=(title_id) { (title) }
            (y_axis(max, percent))
            @for s in series {
                @let shown: Vec<(usize, (f64, f64, f64))> = s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
                @let banded = shown.iter().any(|(_, v)| v.2 > v.1);
                @if banded {
                    @let band = shown.iter().map(|(i, v)| format!("{},{}", fmt(x(*i)), fmt(y(v.2))))
                        .chain(shown.iter().rev().map(|(i, v)| format!("{},{}", fmt(x(*i)), fmt(y(v.1)))))
                        .collect::<Vec<_>>().join(" ");
                    polygon points=(band) fill=(s.colour) fill-opacity="0.18" {}
                }
                polyline points=(shown.iter().map(|(i, v)| format!("{},{}", fmt(x(*i)), fmt(y(v.0)))).collect::<Vec<_>>().join(" "))
                    fill="none" stroke=(s.colour) stroke-width="2" {}
                @for (i, v) in &shown {
                    circle cx=(fmt(x(*i))) cy=(fmt(y(v.0))) r="3" fill=(s.colour) {
                        title {
                            (Text(&s.name)) ", " (Text(&labels[*i])) ": "
                            @if percent { (pct(v.0)) " (95% " (pct(v.1)) "–" (pct(v.2)) ")" } @else { (int(v.0.round() as u64)) }
                        }
                    }
                }
            }
            @for (k, s) in series.iter().enumerate() {
                rect x=(fmt(LEFT + 10.0 + 90.0 * k as f64)) y=(TOP) width="14" height="10" fill=(s.colour) {}
                text x=(fmt(LEFT + 28.0 + 90.0 * k as f64)) y=(TOP + 9.0) fill=(INK) { (Text(&s.name)) }
            }
            (x_labels(&points, step))
        }
    }
}

fn y_axis(max: f64, percent: bool) -> Markup {
    let h = PLOT_H - TOP - BOTTOM;
    html! {
        @for k in 0..=4 {
            @let v = max * k as f64 / 4.0;
            @let y = TOP + h * (1.0 - k as f64 / 4.0);
            line x1=(LEFT) x2=(PLOT_W - 10.0) y1=(fmt(y)) y2=(fmt(y)) stroke=(GRID) {}
            text x=(LEFT - 6.0) y=(fmt(y + 4.0)) text-anchor="end" fill=(INK) {
                @if percent { (pct(v)) } @else { (int(v.round() as u64)) }
            }
        }
    }
}

fn x_labels(points: &[Point], step: f64) -> Markup {
    let every = (points.len() as f64 * 40.0 / (PLOT_W - LEFT)).ceil().max(1.0) as usize;
    html! {
        @for (i, p) in points.iter().enumerate() {
            @if i.is_multiple_of(every) {
                text x=(fmt(LEFT + step * (i as f64 + 0.5))) y=(PLOT_H - 8.0) text-anchor="middle" fill=(INK) { (Text(&p.label)) }
            }
        }
    }
}

/// A round number at or above `v` for an axis maximum.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

/// A coordinate with one decimal.
pub(crate) fn fmt(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { s.chars().take(max - 1).chain(['…']).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let t = Table {
            id: "t",
            caption: "c".into(),
            columns: vec!["name", "n"],
            rows: vec![
                vec![Cell::Text("a, \"b\"".into()), Cell::Int(3)],
                vec![Cell::Text("=HYPERLINK(1)".into()), Cell::Rate(0.5)],
                vec![Cell::Text("-12.5".into()), Cell::Int(0)],
            ],
        };
        assert_eq!(t.csv(), "name,n\r\n\"a, \"\"b\"\"\",3\r\n\"'=HYPERLINK(1)\",0.500000\r\n-12.5,0\r\n");
    }

    #[test]
    fn heat_cells_darken_with_their_count_and_write_white_on_dark() {
        assert_eq!(heat(0.01), ("#eaf2fa", false));
        assert_eq!(heat(1.0), ("#0b3766", true));
        assert!(heat(0.6).1 && !heat(0.4).1);
        let svg = heat_map("h", "t", &["<row>".into()], &["a".into(), "b".into()], |_, c| [5, 0][c]).into_string();
        assert!(svg.contains("&lt;row&gt;: ") || svg.contains("&lt;row&gt;, a: 5 events"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(1234.0), 2000.0);
        assert_eq!(nice_max(0.23), 0.25);
        assert_eq!(fmt(12.04), "12");
        assert_eq!(fmt(12.36), "12.4");
    }
}
