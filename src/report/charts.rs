//! The report's charts, drawn by plotters as SVG text to inline in the
//! page: bars with their value written above each, and lines with a dot at
//! each data point. Text is left to the page's fonts (CJK included).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

/// One bar: its category, its height, and the text written above it.
pub struct Bar {
    pub category: String,
    pub value: f64,
    pub label: String,
    /// A part of the bar drawn darker from its foot (B rising within B).
    pub inner: Option<f64>,
}

/// One line: its colour (the page's legend names it), and a value (or a
/// gap) per x label.
pub struct Line {
    pub color: RGBColor,
    pub values: Vec<Option<f64>>,
}

const FONT: &str = "sans-serif";

fn drawing(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("drawing a chart: {e}"))
}

/// A bar chart of one measure per category.
pub fn bars(title: &str, bars: &[Bar], color: RGBColor) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (340, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let (low, high) = span(bars.iter().map(|b| b.value));
        let categories = bars.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d((0..categories - 1).into_segmented(), low..high)
            .map_err(drawing)?;
        let names: Vec<&str> = bars.iter().map(|b| b.category.as_str()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(bars.len().max(1))
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                    .get(*i as usize)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .y_label_formatter(&|y| super::format::compact(*y))
            .draw()
            .map_err(drawing)?;
        let rect = |i: i32, from: f64, to: f64, style: ShapeStyle| {
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), from),
                    (SegmentValue::Exact(i + 1), to),
                ],
                style,
            );
            r.set_margin(0, 0, 10, 10);
            r
        };
        chart
            .draw_series(
                bars.iter()
                    .enumerate()
                    .map(|(i, b)| rect(i as i32, 0.0, b.value, color.filled())),
            )
            .map_err(drawing)?;
        let inner = bars.iter().enumerate().filter_map(|(i, b)| {
            b.inner
                .map(|v| rect(i as i32, 0.0, v, color.mix(0.55).filled()))
        });
        chart.draw_series(inner).map_err(drawing)?;
        let above = Pos::new(HPos::Center, VPos::Bottom);
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let style = TextStyle::from((FONT, 13).into_font()).pos(above);
                Text::new(
                    b.label.clone(),
                    (SegmentValue::CenterOf(i as i32), b.value.max(0.0)),
                    style,
                )
            }))
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// A line chart over the months: one line per series, a dot per value.
/// The legend is the page's (HTML), so it never hides a point.
pub fn lines(
    title: &str,
    months: &[String],
    lines: &[Line],
    y_label: impl Fn(f64) -> String,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let (low, high) = span(
            lines
                .iter()
                .flat_map(|l| l.values.iter().flatten().copied()),
        );
        let last = months.len().max(1) as i32 - 1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 16))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(28)
            .y_label_area_size(64)
            .build_cartesian_2d(0..last.max(1), low..high)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(months.len().max(1))
            .x_label_formatter(&|i| months.get(*i as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|y| y_label(*y))
            .draw()
            .map_err(drawing)?;
        for line in lines {
            let color = line.color;
            for run in runs(&line.values) {
                chart
                    .draw_series(LineSeries::new(run, color.stroke_width(2)))
                    .map_err(drawing)?;
            }
            let points = line
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as i32, v)));
            chart
                .draw_series(points.map(|p| Circle::new(p, 3, color.filled())))
                .map_err(drawing)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// The unbroken stretches of a series, as points to join.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(i32, f64)>> {
    let mut out = vec![Vec::new()];
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => out.last_mut().expect("one run").push((i as i32, *v)),
            None => out.push(Vec::new()),
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// The y range: from 0 (or below, for negative values) to a little above
/// the highest value, so the labels above the bars fit.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut low, mut high) = (0.0_f64, 0.0_f64);
    for v in values.filter(|v| v.is_finite()) {
        low = low.min(v);
        high = high.max(v);
    }
    if high <= low {
        high = low + 1.0;
    }
    let pad = (high - low) * 0.15;
    (if low < 0.0 { low - pad } else { 0.0 }, high + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn a_line_chart_has_a_dot_per_value_and_none_for_a_gap() {
        let months: Vec<String> = (1..=4).map(|m| format!("2026-{m:02}")).collect();
        let lines = [
            Line {
                color: BLACK,
                values: vec![Some(1.0), Some(2.0), None, Some(3.0)],
            },
            Line {
                color: BLUE,
                values: vec![Some(5.0); 4],
            },
        ];
        let svg = super::lines("ARPU", &months, &lines, |y| format!("{y}")).unwrap();
        assert_eq!(count(&svg, "<circle"), 7);
        assert!(svg.contains("2026-03"));
    }

    #[test]
    fn a_chart_without_data_is_drawn_empty() {
        let svg = super::bars("Customers per ABC class", &[], BLUE).unwrap();
        assert!(svg.starts_with("<svg"));
        let svg = super::lines("ARPU", &[], &[], |y| format!("{y}")).unwrap();
        assert_eq!(count(&svg, "<circle"), 0);
    }

    #[test]
    fn a_bar_chart_writes_each_value_above_its_bar_and_names_its_category() {
        let bars: Vec<Bar> = [("MVC", 3.0), ("BZ", -2.0), ("华东", 0.0)]
            .into_iter()
            .map(|(c, v)| Bar {
                category: c.into(),
                value: v,
                label: format!("{v} customers"),
                inner: None,
            })
            .collect();
        let svg = super::bars("Customers", &bars, BLUE).unwrap();
        for label in ["3 customers", "-2 customers", "0 customers", "华东", "BZ"] {
            assert!(svg.contains(label), "{label} missing");
        }
    }
}
